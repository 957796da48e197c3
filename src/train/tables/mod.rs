//! The canonical tables read from files with Polars (CSV or Parquet): the schema, row rules and
//! joins are [`crate::tables`]'; this reads the files into its [`Columns`](crate::tables::Columns)
//! and writes `rejects.csv`.
//!
//! Dates are `YYYY-MM-DD`. Polars reads the files, casts the columns (CSV cells are read as text
//! and cast, so a bad cell becomes a row error with its text), and numbers the rows from 1,
//! header excluded.

mod read;

use std::path::{Path, PathBuf};

use super::TrainError;
use crate::domain::{printable, Account};
use crate::tables::{self as shared, Schema};

pub(in crate::train) use crate::tables::{Errors, Kind};
pub use crate::tables::{
    Labeled, Loaded, ReadOptions, RowError, TrainingSet, ATTRIBUTE_COLUMN_PREFIX,
};
pub(in crate::train) use read::{is_parquet, slices, Table};

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

/// Reads and validates the three tables and joins them into labelled accounts; any problem
/// stops the load with row-level errors.
pub fn load(paths: &TablePaths) -> Result<TrainingSet, TrainError> {
    load_with(paths, false).map(|loaded| loaded.set)
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

/// Reads and validates the three tables: strict (`lenient = false`) as [`load`], or lenient,
/// leaving out the accounts of refused rows with every row listed ([`crate::tables::labeled`]).
pub fn load_with(paths: &TablePaths, lenient: bool) -> Result<Loaded, TrainError> {
    let accounts = read_table(&paths.accounts, &shared::ACCOUNTS, &paths.read)?;
    let history = read_table(&paths.history, &shared::HISTORY, &paths.read)?;
    let outcomes = read_table(&paths.outcomes, &shared::OUTCOMES, &paths.read)?;
    Ok(shared::labeled(
        &accounts,
        &history,
        &outcomes,
        &paths.read.protected,
        lenient,
    )?)
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
    let accounts = read_table(accounts, &shared::ACCOUNTS, read)?;
    let history = read_table(history, &shared::HISTORY, read)?;
    Ok(shared::portfolio(&accounts, &history, &read.protected)?)
}

/// Reads one canonical table with its schema.
fn read_table(path: &Path, schema: &Schema, read: &ReadOptions) -> Result<Table, TrainError> {
    Table::read(path, schema.required, schema.optional, schema.extra, read)
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
