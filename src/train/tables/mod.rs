//! The canonical training tables, read with Polars (CSV or Parquet) and validated row by row.
//!
//! - **accounts**: `account_id, as_of, credit_limit?, current_balance?, months_on_book?,
//!   open_credit_lines, prior_delinquencies, bureau_score?, annual_income?, hardship? (0/1)`
//!   (`?`: the column may be absent and a cell empty, meaning unknown: the features built from
//!   it are missing), plus
//!   optional numeric `attr_<name>` columns that become `attr.<name>` features, and the optional
//!   compliance columns the worklist honours: `cease_communication?, dispute_pending?,
//!   bankruptcy?, attorney_represented?, deceased?` (0/1, empty = 0), `opted_out_channels?`
//!   (channels separated by `;`) and `time_zone?` (IANA, empty = the policy's default).
//! - **payment history** (long format, one row per account and cycle): `account_id,
//!   statement_date, amount_due, minimum_due, amount_paid, days_past_due`.
//! - **outcomes**: `account_id, repaid (0/1)`.
//!
//! Dates are `YYYY-MM-DD`. Polars reads the files, casts the columns and sorts the history by
//! account and date; the rules of [`crate::domain`] are then checked on every row, and every
//! failure is reported with its file, row (1-based, header excluded) and column.

mod accounts;
mod read;
mod rows;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::{RowError, TrainError};
use crate::domain::{printable, Account};

use accounts::{attach_history, attribute_columns, build_accounts, read_outcomes};
pub use read::ReadOptions;
pub(in crate::train) use read::{is_parquet, slices, Kind, Table};
pub(in crate::train) use rows::Errors;

/// Prefix of attribute columns in the accounts table.
pub const ATTRIBUTE_COLUMN_PREFIX: &str = "attr_";
const ROW: &str = "__row";
const RAW: &str = "__raw.";

/// Paths of the three input tables, and how to read them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TablePaths {
    /// Accounts table.
    pub accounts: PathBuf,
    /// Payment-history table.
    pub history: PathBuf,
    /// Outcomes table.
    pub outcomes: PathBuf,
    /// Unknown columns and null tokens.
    pub read: ReadOptions,
}

/// An account with its known outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct Labeled {
    /// The account.
    pub account: Account,
    /// True when the account repaid.
    pub repaid: bool,
}

/// The validated training set.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainingSet {
    /// Accounts in the accounts table's order.
    pub rows: Vec<Labeled>,
    /// Attribute names found in the accounts table (without prefix), sorted.
    pub attributes: Vec<String>,
    /// The protected list the attributes were checked against; the model's artifact records it.
    pub protected: crate::domain::ProtectedList,
}

/// Reads and validates the three tables and joins them into labelled accounts; any problem
/// stops the load with row-level errors.
pub fn load(paths: &TablePaths) -> Result<TrainingSet, TrainError> {
    load_with(paths, false).map(|loaded| loaded.set)
}

/// A lenient load: the valid accounts, and every row left out with the reason.
#[derive(Debug)]
pub struct Loaded {
    /// The accounts that passed every rule, with all their rows.
    pub set: TrainingSet,
    /// Rows left out: each problem found, then one line per rejected account saying which of
    /// its rows in the other tables went with it.
    pub rejects: Vec<RowError>,
    /// Accounts left out.
    pub rejected_accounts: usize,
}

/// Writes rejected rows as CSV with a header: file, row, column, account_id, reason (every text
/// field quoted, so ids and reasons holding commas or quotes stay one field).
pub fn write_rejects(path: &Path, rejects: &[RowError]) -> Result<(), TrainError> {
    // Control characters escaped, quotes doubled: one line per reject whatever the ids hold.
    let quote = |s: &str| format!("\"{}\"", printable(s).replace('"', "\"\""));
    let mut out = String::from("file,row,column,account_id,reason\n");
    for e in rejects {
        out.push_str(&format!(
            "{},{},{},{},{}\n",
            quote(&e.file),
            e.row,
            quote(&e.column),
            quote(e.account_id.as_deref().unwrap_or("")),
            quote(&e.message)
        ));
    }
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| TrainError::Io { path, source }
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
    }
    std::fs::write(path, out).map_err(io(path))
}

/// Reads and validates the three tables. Strict (`lenient = false`): as [`load`]. Lenient: a
/// problem in any row rejects that row's whole account (its account row, all its history rows
/// and its outcome), so no account is trained on with part of its data; rows whose account id
/// cannot be read are rejected on their own. Problems with a whole column (a protected
/// attribute, a missing column) still stop the load. Nothing is dropped without a line in
/// [`Loaded::rejects`].
pub fn load_with(paths: &TablePaths, lenient: bool) -> Result<Loaded, TrainError> {
    use Kind::*;
    let (accounts, history) =
        read_accounts_and_history(&paths.accounts, &paths.history, &paths.read)?;
    let outcomes = Table::read(
        &paths.outcomes,
        &[("account_id", Text), ("repaid", Int)],
        &[],
        |_| None,
        &paths.read,
    )?;

    let mut errors = Errors::default();
    let attributes = attribute_columns(&accounts, &paths.read.protected, &mut errors);
    let mut set = build_accounts(&accounts, &attributes, &mut errors)?;
    set.list_followers = lenient;
    attach_history(&history, &mut set, &mut errors)?;
    let labels = read_outcomes(&outcomes, &set, &mut errors)?;

    if !errors.0.is_empty() && !lenient {
        return Err(TrainError::data(errors.0));
    }
    for (i, account) in set.accounts.iter().enumerate() {
        if labels[i].is_none() {
            errors.at(Some(&account.account_id));
            errors.push(RowError::new(
                &accounts.file,
                set.rows[i],
                "account_id",
                format!(
                    "account `{}` has no row in {}",
                    account.account_id, outcomes.file
                ),
            ));
        }
    }
    if !errors.0.is_empty() && (!lenient || errors.0.iter().any(|e| e.row == 0)) {
        return Err(TrainError::data(
            errors
                .0
                .into_iter()
                .filter(|e| !lenient || e.row == 0)
                .collect(),
        ));
    }
    let rejected: HashSet<String> = errors
        .0
        .iter()
        .filter_map(|e| e.account_id.clone())
        .collect();
    let mut rejects = errors.0;
    let mut rows = Vec::with_capacity(set.accounts.len());
    for (i, account) in set.accounts.into_iter().enumerate() {
        if rejected.contains(&account.account_id) {
            rejects.push(RowError {
                account_id: Some(account.account_id.clone()),
                ..RowError::new(
                    &accounts.file,
                    set.rows[i],
                    "account_id",
                    format!(
                        "account `{}` rejected with its {} history row(s) and its outcome",
                        account.account_id,
                        account.history.len()
                    ),
                )
            });
        } else if let Some(repaid) = labels[i] {
            rows.push(Labeled { account, repaid });
        }
    }
    let mut names: Vec<String> = attributes.into_iter().map(|(_, a)| a).collect();
    names.sort();
    Ok(Loaded {
        set: TrainingSet {
            rows,
            attributes: names,
            protected: paths.read.protected.clone(),
        },
        rejected_accounts: rejected.len(),
        rejects,
    })
}

/// Reads and validates an unlabelled portfolio (accounts and payment history, no outcomes) for
/// scoring: the same rules as [`load`], and any problem stops the load with row-level errors.
pub fn load_portfolio(
    accounts: &Path,
    history: &Path,
    read: &ReadOptions,
) -> Result<Vec<Account>, TrainError> {
    load_portfolio_with_attributes(accounts, history, read).map(|(accounts, _)| accounts)
}

/// As [`load_portfolio`], with the names of the accounts table's attributes (without their
/// prefix, sorted), as a [`TrainingSet`] has them.
pub fn load_portfolio_with_attributes(
    accounts: &Path,
    history: &Path,
    read: &ReadOptions,
) -> Result<(Vec<Account>, Vec<String>), TrainError> {
    let (accounts_table, history_table) = read_accounts_and_history(accounts, history, read)?;
    let mut errors = Errors::default();
    let attributes = attribute_columns(&accounts_table, &read.protected, &mut errors);
    let mut set = build_accounts(&accounts_table, &attributes, &mut errors)?;
    attach_history(&history_table, &mut set, &mut errors)?;
    if !errors.0.is_empty() {
        return Err(TrainError::data(errors.0));
    }
    let mut names: Vec<String> = attributes.into_iter().map(|(_, name)| name).collect();
    names.sort();
    Ok((set.accounts, names))
}

fn read_accounts_and_history(
    accounts: &Path,
    history: &Path,
    read: &ReadOptions,
) -> Result<(Table, Table), TrainError> {
    use Kind::*;
    let accounts = Table::read(
        accounts,
        &[
            ("account_id", Text),
            ("as_of", Date),
            ("open_credit_lines", Int),
            ("prior_delinquencies", Int),
        ],
        &[
            ("credit_limit", Float),
            ("current_balance", Float),
            ("months_on_book", Int),
            ("hardship", Int),
            ("bureau_score", Float),
            ("annual_income", Float),
            ("cease_communication", Int),
            ("dispute_pending", Int),
            ("bankruptcy", Int),
            ("attorney_represented", Int),
            ("deceased", Int),
            ("opted_out_channels", Text),
            ("time_zone", Text),
        ],
        |c| c.starts_with(ATTRIBUTE_COLUMN_PREFIX).then_some(Float),
        read,
    )?;
    let history = Table::read(
        history,
        &[
            ("account_id", Text),
            ("statement_date", Date),
            ("amount_due", Float),
            ("minimum_due", Float),
            ("amount_paid", Float),
            ("days_past_due", Int),
        ],
        &[],
        |_| None,
        read,
    )?;
    Ok((accounts, history))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_are_written_one_quoted_row_each() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("m/1/rejects.csv");
        let mut e = RowError::new(
            "accounts.csv",
            7,
            "balance",
            "must not be negative, got \"-1\"",
        );
        e.account_id = Some("a,1".into());
        write_rejects(
            &path,
            &[e, RowError::new("outcomes.csv", 0, "repaid", "is missing")],
        )
        .expect("written");
        let text = std::fs::read_to_string(&path).expect("read");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "file,row,column,account_id,reason");
        assert_eq!(
            lines[1],
            r#""accounts.csv",7,"balance","a,1","must not be negative, got ""-1""""#
        );
        assert_eq!(lines[2], r#""outcomes.csv",0,"repaid","","is missing""#);
        assert_eq!(lines.len(), 3);
        // Control characters in ids and messages are escaped: still one line per reject.
        let mut e = RowError::new("a.csv", 2, "account_id", "duplicate account `x\ny`");
        e.account_id = Some("x\ny\u{1b}".into());
        assert!(e.to_string().ends_with("duplicate account `x\\ny`"), "{e}");
        write_rejects(&path, &[e]).expect("written");
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(text.lines().count(), 2, "{text:?}");
        assert!(text.contains(r#""x\ny\u{1b}""#), "{text:?}");
    }
}
