//! The canonical tables, from typed columns to validated accounts: one definition of their
//! schema, their row rules and their joins, whatever reads the files.
//!
//! A reader turns a file or an in-memory table into [`Columns`]: typed columns, each cell's
//! text as written (for messages) and each row's number in its source. `payrisk-train` reads CSV
//! and Parquet with Polars (`train::tables`); the Python package reads Arrow record batches.
//! Everything after that is here, in this order:
//!
//! 1. **Columns** ([`check_columns`]): the required columns of the table's [`Schema`] exist;
//!    every other column is an optional one of the schema, an `attr_<name>` attribute of the
//!    accounts table, or refused with the nearest known name (unless
//!    [`ReadOptions::ignore_unknown_columns`]).
//! 2. **Accounts** (one row each): the account id (unique, printable, bounded), `as_of`, counts
//!    and amounts by [`crate::domain::rules`]; unknown values (an empty cell, or an optional
//!    column left out) are `None`; protected attributes refused as a whole column; the 0/1
//!    compliance flags, opted-out channels (`;`-separated) and IANA time zone.
//! 3. **Payment history** (long format, one row per account and cycle): rows of unknown
//!    accounts refused (or, for an account whose own row was refused, listed with it); each
//!    account's cycles sorted by statement date, a second cycle on the same date refused, the
//!    cycle count bounded.
//! 4. **Outcomes** (`account_id, repaid`): one 0/1 label per account; an account without one
//!    is an error.
//!
//! Every problem is a [`RowError`] with the source's name, the row (1-based, header excluded)
//! and the column. A strict read stops with all of them ([`TableError::Data`]); a lenient one
//! ([`labeled`] with `lenient`) leaves out the accounts concerned with all their rows and lists
//! every row left out.
//!
//! - **accounts**: `account_id, as_of, credit_limit?, current_balance?, months_on_book?,
//!   open_credit_lines, prior_delinquencies, bureau_score?, annual_income?, hardship? (0/1)`
//!   (`?`: the column may be absent and a cell empty), optional numeric `attr_<name>` columns
//!   (the features `attr.<name>`), and the optional compliance columns `cease_communication?,
//!   dispute_pending?, bankruptcy?, attorney_represented?, deceased?` (0/1, empty = 0),
//!   `opted_out_channels?` and `time_zone?`.
//! - **payment history**: `account_id, statement_date, amount_due, minimum_due, amount_paid,
//!   days_past_due`.
//! - **outcomes**: `account_id, repaid (0/1)`.

mod accounts;
mod rows;
mod schema;

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use chrono::NaiveDate;

use crate::domain::{Account, ProtectedList};

pub(crate) use rows::Errors;
pub use schema::{check_columns, Schema, ACCOUNTS, HISTORY, OUTCOMES};

/// Prefix of attribute columns in the accounts table.
pub const ATTRIBUTE_COLUMN_PREFIX: &str = "attr_";

/// How many row errors a data error shows before it counts the rest.
const SHOWN_ROW_ERRORS: usize = 20;

/// The type a column is read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Text (ids, channels, time zones).
    Text,
    /// A number.
    Float,
    /// A whole number (`13.0` counts as one; `13.5` does not).
    Int,
    /// A `YYYY-MM-DD` date.
    Date,
}

impl Kind {
    /// How a message names the kind.
    pub fn describe(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Float => "a number",
            Kind::Int => "a whole number",
            Kind::Date => "a YYYY-MM-DD date",
        }
    }
}

/// How the tables are read, beyond their schema.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// Skip columns no table defines, instead of refusing them (a misspelt column would
    /// otherwise vanish without a word).
    pub ignore_unknown_columns: bool,
    /// Cell texts that mean "missing", besides the empty cell (for example `NA` as R writes it,
    /// or `nan`).
    pub null_values: Vec<String>,
    /// Attribute columns refused or allowed beyond the built-in protected characteristics (the
    /// training config's `[protected]`).
    pub protected: ProtectedList,
}

/// A problem in one cell (or, with row 0, a column) of an input table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// The file (or the name the caller gave an in-memory table).
    pub file: String,
    /// 1-based data row (the header is not counted); 0 for the whole column.
    pub row: u64,
    /// The column.
    pub column: String,
    /// What is wrong.
    pub message: String,
    /// The account the row belongs to, when its id could be read.
    pub account_id: Option<String>,
}

impl RowError {
    /// A row error.
    pub fn new(file: &str, row: u64, column: &str, message: impl Into<String>) -> RowError {
        RowError {
            file: file.to_owned(),
            row,
            column: column.to_owned(),
            message: message.into(),
            account_id: None,
        }
    }
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Messages quote the rows' own text (account ids): escaped for the terminal.
        let message = crate::domain::printable(&self.message);
        if self.column.is_empty() {
            // A whole line (of a JSON Lines file).
            write!(f, "{}: line {}: {message}", self.file, self.row)
        } else if self.row == 0 {
            write!(f, "{}: column `{}`: {message}", self.file, self.column)
        } else {
            write!(
                f,
                "{}: row {}, column `{}`: {message}",
                self.file, self.row, self.column
            )
        }
    }
}

/// Why tables could not become accounts.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    /// Input rows broke the schema or the domain rules.
    #[error("{}", format_row_errors(.errors, *.total))]
    Data {
        /// The first errors found.
        errors: Vec<RowError>,
        /// How many errors there were in all.
        total: usize,
    },
    /// The reader could not give a column at all (a type it cannot cast, a damaged file).
    #[error("{context}: {source}")]
    Read {
        /// What was being read.
        context: String,
        /// The reader's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl TableError {
    /// A data error from all row errors found (keeps the first ones, counts the rest).
    pub fn data(mut errors: Vec<RowError>) -> TableError {
        let total = errors.len();
        errors.truncate(SHOWN_ROW_ERRORS);
        TableError::Data { errors, total }
    }
}

pub(crate) fn format_row_errors(errors: &[RowError], total: usize) -> String {
    let mut s = format!("{total} problem(s) in the input data:");
    for e in errors {
        s.push_str("\n  ");
        s.push_str(&e.to_string());
    }
    if total > errors.len() {
        s.push_str(&format!("\n  ... and {} more", total - errors.len()));
    }
    s
}

/// A table as a reader gives it: typed columns (cast by the column's [`Kind`], a cell that does
/// not read as its kind is `None`), each cell's text as written, and each row's number in the
/// source. Only the columns [`check_columns`] kept are asked for.
pub trait Columns {
    /// The source's name for messages (a path, or a name given to an in-memory table).
    fn file(&self) -> &str;
    /// Number of rows.
    fn len(&self) -> usize;
    /// Whether the table has no rows.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The 1-based row number in the source of row `i`.
    fn row(&self, i: usize) -> u64;
    /// The names of all the source's columns, in its order.
    fn names(&self) -> Vec<&str>;
    /// Whether the table has the column.
    fn has(&self, name: &str) -> bool;
    /// A text column, trimmed; empty cells are `None`.
    fn texts(&self, name: &str) -> Result<Vec<Option<&str>>, TableError>;
    /// A number column (borrowed where the reader already holds it so).
    fn floats(&self, name: &str) -> Result<Cow<'_, [Option<f64>]>, TableError>;
    /// A whole-number column.
    fn ints(&self, name: &str) -> Result<Cow<'_, [Option<i64>]>, TableError>;
    /// A date column.
    fn dates(&self, name: &str) -> Result<Cow<'_, [Option<NaiveDate>]>, TableError>;
    /// The cell's text as written, trimmed (`None` when empty or a null token), for messages.
    fn raw(&self, name: &str, i: usize) -> Option<String>;

    /// The error for an unparseable or missing cell, or `None` when the cell is empty and
    /// allowed to be.
    fn cell_error(&self, name: &str, kind: Kind, i: usize, required: bool) -> Option<RowError> {
        let (file, row) = (self.file(), self.row(i));
        match self.raw(name, i) {
            Some(raw) if required => Some(RowError::new(
                file,
                row,
                name,
                format!("cannot read `{raw}` as {}", kind.describe()),
            )),
            Some(raw) => Some(RowError::new(
                file,
                row,
                name,
                format!(
                    "cannot read `{raw}` as {} (an empty cell means missing; \
                     `--null-values {raw}` reads this text as missing too)",
                    kind.describe()
                ),
            )),
            None if required => Some(RowError::new(file, row, name, "value is missing")),
            None => None,
        }
    }
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
    pub protected: ProtectedList,
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

/// An unlabelled portfolio (accounts and payment history) for scoring, with the names of the
/// accounts table's attributes (without their prefix, sorted); any problem stops it with every
/// row error.
pub fn portfolio(
    accounts: &dyn Columns,
    history: &dyn Columns,
    protected: &ProtectedList,
) -> Result<(Vec<Account>, Vec<String>), TableError> {
    let mut errors = Errors::default();
    let attributes = accounts::attribute_columns(accounts, protected, &mut errors);
    let mut set = accounts::build_accounts(accounts, &attributes, &mut errors)?;
    accounts::attach_history(history, &mut set, &mut errors)?;
    if !errors.0.is_empty() {
        return Err(TableError::data(errors.0));
    }
    let mut names: Vec<String> = attributes.into_iter().map(|(_, name)| name).collect();
    names.sort();
    Ok((set.accounts, names))
}

/// Accounts, payment history and outcomes joined into labelled accounts. Strict (`lenient =
/// false`): any problem stops the join with every row error. Lenient: a problem in any row
/// rejects that row's whole account (its account row, all its history rows and its outcome), so
/// no account is trained on with part of its data; rows whose account id cannot be read are
/// rejected on their own. Problems with a whole column (a protected attribute, a missing
/// column) still stop it. Nothing is dropped without a line in [`Loaded::rejects`].
pub fn labeled(
    accounts: &dyn Columns,
    history: &dyn Columns,
    outcomes: &dyn Columns,
    protected: &ProtectedList,
    lenient: bool,
) -> Result<Loaded, TableError> {
    let mut errors = Errors::default();
    let attributes = accounts::attribute_columns(accounts, protected, &mut errors);
    let mut set = accounts::build_accounts(accounts, &attributes, &mut errors)?;
    set.list_followers = lenient;
    accounts::attach_history(history, &mut set, &mut errors)?;
    let labels = accounts::read_outcomes(outcomes, &set, &mut errors)?;

    if !errors.0.is_empty() && !lenient {
        return Err(TableError::data(errors.0));
    }
    for (i, account) in set.accounts.iter().enumerate() {
        if labels[i].is_none() {
            errors.at(Some(&account.account_id));
            errors.push(RowError::new(
                accounts.file(),
                set.rows[i],
                "account_id",
                format!(
                    "account `{}` has no row in {}",
                    account.account_id,
                    outcomes.file()
                ),
            ));
        }
    }
    if !errors.0.is_empty() && (!lenient || errors.0.iter().any(|e| e.row == 0)) {
        return Err(TableError::data(
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
                    accounts.file(),
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
            protected: protected.clone(),
        },
        rejected_accounts: rejected.len(),
        rejects,
    })
}
