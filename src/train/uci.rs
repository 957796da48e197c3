//! Converts the UCI "Default of Credit Card Clients" data (`../shared/data/uci_credit_default.csv`)
//! into the canonical tables.
//!
//! Each client becomes an account scored as of 2005-09-30 with six monthly cycles, April to
//! September 2005 (statement dates at month end):
//! - `amount_due` = `BILL_AMT` of the month, floored at 0 (a credit balance owes nothing);
//!   `current_balance` = the September bill, floored at 0.
//! - `minimum_due` = 10 % of `amount_due` (the data set has no minimum payment; this is the
//!   converter's documented assumption).
//! - `amount_paid` = `PAY_AMT` of the month: the payment made during that month toward the
//!   previous month's statement, which is exactly the contract's meaning of `amount_paid`.
//! - `days_past_due` = 30 x the month's `PAY_` status when it is 1..8 months of delay, else 0
//!   (-2 no consumption, -1 paid in full, 0 revolving: none of them is past due).
//! - `credit_limit` = `LIMIT_BAL`. Not in the data, so constant: `months_on_book` 6,
//!   `open_credit_lines` 1, `prior_delinquencies` 0, no bureau score or income, no hardship.
//! - `repaid` = 1 - `default.payment.next.month`.
//!
//! `SEX`, `EDUCATION`, `MARRIAGE` and `AGE` are dropped: protected attributes are never inputs.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use super::tables::{Errors, Kind, ReadOptions, Table, TablePaths};
use super::TrainError;
use crate::tables::Columns;

/// Month-end statement dates, oldest first (April to September 2005).
const STATEMENT_DATES: [&str; 6] = [
    "2005-04-30",
    "2005-05-31",
    "2005-06-30",
    "2005-07-31",
    "2005-08-31",
    "2005-09-30",
];
/// The scoring date of every converted account.
pub const AS_OF: &str = "2005-09-30";
/// `minimum_due` as a share of `amount_due`.
pub const MINIMUM_DUE_SHARE: f64 = 0.10;
/// Status, bill and payment columns, oldest month first.
const STATUS: [&str; 6] = ["PAY_6", "PAY_5", "PAY_4", "PAY_3", "PAY_2", "PAY_0"];
const BILL: [&str; 6] = [
    "BILL_AMT6",
    "BILL_AMT5",
    "BILL_AMT4",
    "BILL_AMT3",
    "BILL_AMT2",
    "BILL_AMT1",
];
const PAID: [&str; 6] = [
    "PAY_AMT6", "PAY_AMT5", "PAY_AMT4", "PAY_AMT3", "PAY_AMT2", "PAY_AMT1",
];
const LABEL: &str = "default.payment.next.month";

/// What the converter wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Converted {
    /// Accounts written.
    pub accounts: usize,
    /// Payment-history rows written.
    pub cycles: usize,
}

/// The canonical table paths inside `dir`.
pub fn table_paths(dir: &Path) -> TablePaths {
    TablePaths {
        accounts: dir.join("accounts.csv"),
        history: dir.join("payment_history.csv"),
        outcomes: dir.join("outcomes.csv"),
        read: ReadOptions::default(),
    }
}

/// Reads the UCI CSV at `input` and writes `accounts.csv`, `payment_history.csv` and
/// `outcomes.csv` into `dir` (created if needed).
pub fn convert(input: &Path, dir: &Path) -> Result<Converted, TrainError> {
    let mut columns: Vec<(&str, Kind)> = vec![("ID", Kind::Float), ("LIMIT_BAL", Kind::Float)];
    for c in STATUS.iter().chain(&BILL).chain(&PAID) {
        columns.push((c, Kind::Float));
    }
    columns.push((LABEL, Kind::Float));
    // The source file's other columns (sex, education, age, ...) are not read.
    let read = ReadOptions {
        ignore_unknown_columns: true,
        ..ReadOptions::default()
    };
    let t = Table::read(input, &columns, &[], |_| None, &read)?;
    let values: Vec<std::borrow::Cow<[Option<f64>]>> = columns
        .iter()
        .map(|(c, _)| t.floats(c))
        .collect::<Result<_, _>>()?;
    let col = |name: &str| columns.iter().position(|(c, _)| *c == name).unwrap_or(0);

    let (mut accounts, mut history, mut outcomes) = create_tables(dir)?;

    let mut errors = Errors::default();
    let mut written = Converted {
        accounts: 0,
        cycles: 0,
    };
    // Row-wise over column vectors: `i` indexes every column and the row numbers.
    #[allow(clippy::needless_range_loop)]
    for i in 0..t.len() {
        let mut get = |name: &str| errors.need(&t, name, Kind::Float, i, values[col(name)][i]);
        let (Some(id), Some(limit), Some(label)) = (get("ID"), get("LIMIT_BAL"), get(LABEL)) else {
            continue;
        };
        let mut cycles = [(0.0, 0.0, 0.0); 6];
        let mut complete = true;
        for (m, cycle) in cycles.iter_mut().enumerate() {
            match (get(STATUS[m]), get(BILL[m]), get(PAID[m])) {
                (Some(s), Some(b), Some(p)) => *cycle = (s, b, p),
                _ => complete = false,
            }
        }
        if !complete {
            continue;
        }
        if label != 0.0 && label != 1.0 {
            errors.0.push(super::RowError::new(
                &t.file,
                t.rows[i],
                LABEL,
                "must be 0 or 1",
            ));
            continue;
        }
        let id = id as i64;
        let balance = cycles[5].1.max(0.0);
        accounts.line(format_args!("{id},{AS_OF},{limit},{balance},6,1,0,,,0"))?;
        for (m, &(status, bill, paid)) in cycles.iter().enumerate() {
            let due = bill.max(0.0);
            let dpd = if status >= 1.0 { 30 * status as u32 } else { 0 };
            history.line(format_args!(
                "{id},{},{due},{},{},{dpd}",
                STATEMENT_DATES[m],
                due * MINIMUM_DUE_SHARE,
                paid.max(0.0)
            ))?;
            written.cycles += 1;
        }
        outcomes.line(format_args!("{id},{}", 1 - label as i64))?;
        written.accounts += 1;
    }
    if !errors.0.is_empty() {
        return Err(TrainError::data(errors.0));
    }
    accounts.finish()?;
    history.finish()?;
    outcomes.finish()?;
    Ok(written)
}

/// Creates `dir` and the three canonical CSV tables in it, headers written: (accounts,
/// payment history, outcomes). Both converters write through this.
pub(super) fn create_tables(dir: &Path) -> Result<(Writer, Writer, Writer), TrainError> {
    std::fs::create_dir_all(dir).map_err(|source| TrainError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let paths = table_paths(dir);
    let mut accounts = Writer::create(&paths.accounts)?;
    let mut history = Writer::create(&paths.history)?;
    let mut outcomes = Writer::create(&paths.outcomes)?;
    accounts.line(format_args!(
        "account_id,as_of,credit_limit,current_balance,months_on_book,open_credit_lines,prior_delinquencies,bureau_score,annual_income,hardship"
    ))?;
    history.line(format_args!(
        "account_id,statement_date,amount_due,minimum_due,amount_paid,days_past_due"
    ))?;
    outcomes.line(format_args!("account_id,repaid"))?;
    Ok((accounts, history, outcomes))
}

/// A buffered CSV file being written.
pub(super) struct Writer {
    path: std::path::PathBuf,
    out: BufWriter<File>,
}

impl Writer {
    pub(super) fn create(path: &Path) -> Result<Writer, TrainError> {
        let file = File::create(path).map_err(|source| TrainError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Writer {
            path: path.to_path_buf(),
            out: BufWriter::new(file),
        })
    }

    pub(super) fn line(&mut self, args: std::fmt::Arguments<'_>) -> Result<(), TrainError> {
        self.out
            .write_fmt(args)
            .and_then(|()| self.out.write_all(b"\n"))
            .map_err(|source| TrainError::Io {
                path: self.path.clone(),
                source,
            })
    }

    pub(super) fn finish(mut self) -> Result<(), TrainError> {
        self.out.flush().map_err(|source| TrainError::Io {
            path: self.path.clone(),
            source,
        })
    }
}
