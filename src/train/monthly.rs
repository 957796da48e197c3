//! Converts the long-format monthly status history (`../shared/data/monthly_credit_status.csv`:
//! `ID, MONTHS_BALANCE, STATUS`, 1,048,575 rows) into the canonical tables, with a
//! forward-looking label.
//!
//! The data has no calendar, amounts or profile, so the converter documents its choices:
//! - Month 0 is [`MONTH_ZERO`] (an arbitrary month end); month `-k` ends `k` months earlier.
//! - Each account is scored as of the end of month [`AS_OF_MONTH`] (-7) from its history up to
//!   then, and **defaults** when it is 30 or more days past due (`STATUS` 1..5) in any month of
//!   the outcome window -6..0: the label looks only forward from the scoring date.
//! - Accounts need at least [`MIN_HISTORY_MONTHS`] months of history up to -7 and at least one
//!   month in the outcome window (else their outcome is unknown); the others are counted, not
//!   written.
//! - A history row per month up to -7: `days_past_due` from `STATUS` (`0` = 1-29 days → 15,
//!   `1` → 45, `2` → 75, `3` → 105, `4` → 135, `5` = written off or 150+ → 150, `C` paid off
//!   and `X` no loan → 0). Amounts are unknown, so `amount_due`, `minimum_due` and
//!   `amount_paid` are 0 (payment features are then missing or zero, and delinquency carries
//!   the signal).
//! - Profile: `credit_limit` and `current_balance` 0 (unknown), `months_on_book` = months from
//!   the first record to -7, one credit line, no prior delinquencies, bureau score, income or
//!   hardship.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDate;

use super::tables::{Errors, Kind, ReadOptions, Table};
use super::uci::create_tables;
use super::{RowError, TrainError};
use crate::tables::Columns;

/// The month end taken as month 0.
pub const MONTH_ZERO: (i32, u32) = (2020, 12);
/// The scoring month.
pub const AS_OF_MONTH: i64 = -7;
/// Months of history (up to the scoring month) an account needs.
pub const MIN_HISTORY_MONTHS: usize = 6;
/// Oldest month in the data.
const OLDEST_MONTH: i64 = -60;

/// What the converter wrote and left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvertedMonthly {
    /// Accounts written.
    pub accounts: usize,
    /// Of them, accounts that defaulted in the outcome window.
    pub defaulted: usize,
    /// History rows written.
    pub cycles: usize,
    /// Accounts in the input without enough history or without an outcome window.
    pub skipped: usize,
}

/// The end of month `m` (0 = [`MONTH_ZERO`]).
pub fn month_end(m: i64) -> NaiveDate {
    months_after(MONTH_ZERO, m)
}

/// The end of the month `k` months after (`k < 0`: before) the month `(year, month)`.
pub fn months_after(first: (i32, u32), k: i64) -> NaiveDate {
    let total = i64::from(first.0) * 12 + i64::from(first.1) - 1 + k + 1;
    let first_of_next = NaiveDate::from_ymd_opt((total / 12) as i32, (total % 12) as u32 + 1, 1);
    first_of_next
        .and_then(|d| d.pred_opt())
        .unwrap_or(NaiveDate::MIN)
}

/// Days past due of a `STATUS` code.
fn days_past_due(status: &str) -> Option<u32> {
    Some(match status {
        "0" => 15,
        "1" => 45,
        "2" => 75,
        "3" => 105,
        "4" => 135,
        "5" => 150,
        "C" | "X" => 0,
        _ => return None,
    })
}

/// Reads the monthly status CSV at `input` and writes the canonical tables into `dir`.
pub fn convert(input: &Path, dir: &Path) -> Result<ConvertedMonthly, TrainError> {
    let t = Table::read(
        input,
        &[
            ("ID", Kind::Int),
            ("MONTHS_BALANCE", Kind::Int),
            ("STATUS", Kind::Text),
        ],
        &[],
        |_| None,
        // The source file's other columns are not needed.
        &ReadOptions {
            ignore_unknown_columns: true,
            ..ReadOptions::default()
        },
    )?;
    let (ids, months, statuses) = (t.ints("ID")?, t.ints("MONTHS_BALANCE")?, t.texts("STATUS")?);
    let mut errors = Errors::default();
    // Per account, per month: days past due.
    let mut by_account: BTreeMap<i64, BTreeMap<i64, u32>> = BTreeMap::new();
    for i in 0..t.len() {
        let id = errors.need(&t, "ID", Kind::Int, i, ids[i]);
        let month = errors.need(&t, "MONTHS_BALANCE", Kind::Int, i, months[i]);
        let status = errors.need(&t, "STATUS", Kind::Text, i, statuses[i]);
        let (Some(id), Some(month), Some(status)) = (id, month, status) else {
            continue;
        };
        let row = t.rows[i];
        if !(OLDEST_MONTH..=0).contains(&month) {
            errors.0.push(RowError::new(
                &t.file,
                row,
                "MONTHS_BALANCE",
                format!("must be between {OLDEST_MONTH} and 0, got {month}"),
            ));
            continue;
        }
        let Some(dpd) = days_past_due(status) else {
            errors.0.push(RowError::new(
                &t.file,
                row,
                "STATUS",
                format!("must be 0-5, C or X, got `{status}`"),
            ));
            continue;
        };
        if by_account
            .entry(id)
            .or_default()
            .insert(month, dpd)
            .is_some()
        {
            errors.0.push(RowError::new(
                &t.file,
                row,
                "MONTHS_BALANCE",
                format!("a second status for account {id} in month {month}"),
            ));
        }
    }
    if !errors.0.is_empty() {
        return Err(TrainError::data(errors.0));
    }

    let (mut accounts, mut history, mut outcomes) = create_tables(dir)?;
    let as_of = month_end(AS_OF_MONTH);
    let mut written = ConvertedMonthly {
        accounts: 0,
        defaulted: 0,
        cycles: 0,
        skipped: 0,
    };
    for (id, months) in &by_account {
        let past: Vec<(i64, u32)> = months
            .range(..=AS_OF_MONTH)
            .map(|(&m, &d)| (m, d))
            .collect();
        let mut window = months.range(AS_OF_MONTH + 1..=0).peekable();
        if past.len() < MIN_HISTORY_MONTHS || window.peek().is_none() {
            written.skipped += 1;
            continue;
        }
        let defaulted = window.any(|(_, &d)| d >= 30);
        let first = past[0].0;
        accounts.line(format_args!(
            "{id},{as_of},0,0,{},1,0,,,0",
            AS_OF_MONTH - first + 1
        ))?;
        for (m, dpd) in &past {
            history.line(format_args!("{id},{},0,0,0,{dpd}", month_end(*m)))?;
            written.cycles += 1;
        }
        outcomes.line(format_args!("{id},{}", u8::from(!defaulted)))?;
        written.accounts += 1;
        written.defaulted += usize::from(defaulted);
    }
    accounts.finish()?;
    history.finish()?;
    outcomes.finish()?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_end_on_calendar_month_ends() {
        assert_eq!(month_end(0).to_string(), "2020-12-31");
        assert_eq!(month_end(-1).to_string(), "2020-11-30");
        assert_eq!(month_end(-10).to_string(), "2020-02-29");
        assert_eq!(month_end(-12).to_string(), "2019-12-31");
        assert_eq!(month_end(-60).to_string(), "2015-12-31");
    }
}
