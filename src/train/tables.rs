//! The canonical training tables, read with Polars (CSV or Parquet) and validated row by row.
//!
//! - **accounts**: `account_id, as_of, credit_limit, current_balance, months_on_book,
//!   open_credit_lines, prior_delinquencies, bureau_score?, annual_income?, hardship (0/1)`, plus
//!   optional numeric `attr_<name>` columns that become `attr.<name>` features.
//! - **payment history** (long format, one row per account and cycle): `account_id,
//!   statement_date, amount_due, minimum_due, amount_paid, days_past_due`.
//! - **outcomes**: `account_id, repaid (0/1)`.
//!
//! Dates are `YYYY-MM-DD`. Polars reads the files, casts the columns and sorts the history by
//! account and date; the rules of [`crate::domain`] are then checked on every row, and every
//! failure is reported with its file, row (1-based, header excluded) and column.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use polars::prelude::*;

use super::{RowError, TrainError};
use crate::domain::{
    is_protected_attribute, rules, Account, CreditProfile, PaymentCycle, MAX_DAYS_PAST_DUE,
};

/// Prefix of attribute columns in the accounts table.
pub const ATTRIBUTE_COLUMN_PREFIX: &str = "attr_";
const ROW: &str = "__row";
const RAW: &str = "__raw.";

/// Paths of the three input tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TablePaths {
    /// Accounts table.
    pub accounts: PathBuf,
    /// Payment-history table.
    pub history: PathBuf,
    /// Outcomes table.
    pub outcomes: PathBuf,
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Text,
    Float,
    Int,
    Date,
}

impl Kind {
    fn describe(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Float => "a number",
            Kind::Int => "a whole number",
            Kind::Date => "a YYYY-MM-DD date",
        }
    }
}

/// A table read with Polars: typed columns plus the raw text of each, for error messages.
pub(super) struct Table {
    pub(super) file: String,
    df: DataFrame,
    pub(super) rows: Vec<u64>,
}

fn scan(path: &Path) -> Result<LazyFrame, TrainError> {
    let name = path.to_string_lossy().to_string();
    let polars = |source| TrainError::Polars {
        context: format!("reading {name}"),
        source,
    };
    if !path.exists() {
        return Err(TrainError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        });
    }
    let is_parquet = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet"));
    if is_parquet {
        LazyFrame::scan_parquet(PlRefPath::new(name.as_str()), ScanArgsParquet::default())
            .map_err(polars)
    } else {
        // Every CSV column is read as text and cast below, so that a bad cell becomes a row
        // error instead of a failed or silently re-typed column.
        LazyCsvReader::new(PlRefPath::new(name.as_str()))
            .with_has_header(true)
            .with_infer_schema_length(Some(0))
            .finish()
            .map_err(polars)
    }
}

impl Table {
    /// Reads `path`, checks that `required` columns exist, and casts every listed column.
    pub(super) fn read(
        path: &Path,
        required: &[(&str, Kind)],
        optional: &[(&str, Kind)],
        extra: impl Fn(&str) -> Option<Kind>,
    ) -> Result<Table, TrainError> {
        let file = path.display().to_string();
        let mut lf = scan(path)?;
        let schema = lf.collect_schema().map_err(|source| TrainError::Polars {
            context: format!("reading the header of {file}"),
            source,
        })?;
        let missing: Vec<RowError> = required
            .iter()
            .filter(|(c, _)| !schema.contains(c))
            .map(|(c, _)| RowError::new(&file, 0, c, "required column is missing"))
            .collect();
        if !missing.is_empty() {
            return Err(TrainError::data(missing));
        }
        let mut columns: Vec<(String, Kind)> = required
            .iter()
            .chain(optional.iter().filter(|(c, _)| schema.contains(c)))
            .map(|(c, k)| ((*c).to_owned(), *k))
            .collect();
        for name in schema.iter_names() {
            if let Some(kind) = extra(name.as_str()) {
                columns.push((name.to_string(), kind));
            }
        }
        let mut exprs = vec![col(ROW)];
        for (name, kind) in &columns {
            // A column already stored with a fitting type (Parquet) is cast losslessly and
            // needs no text: an empty cell there is a missing value, never an unreadable one.
            let source = schema.get(name.as_str());
            let native = match (kind, source) {
                (Kind::Float, Some(t)) => t.is_primitive_numeric(),
                (Kind::Int, Some(t)) => t.is_integer(),
                (Kind::Date, Some(t)) => *t == DataType::Date,
                (Kind::Text, Some(t)) => t.is_string(),
                (_, None) => false,
            };
            if native && *kind != Kind::Text {
                let target = match kind {
                    Kind::Float => DataType::Float64,
                    Kind::Int => DataType::Int64,
                    _ => DataType::Int32,
                };
                exprs.push(col(name.as_str()).cast(target).alias(name.as_str()));
                continue;
            }
            let raw = col(name.as_str()).cast(DataType::String);
            let typed = match kind {
                Kind::Text => raw.clone(),
                Kind::Float => raw.clone().cast(DataType::Float64),
                // Whole numbers stored as floats (data that went through a NaN-aware tool)
                // are fine; fractions are not.
                Kind::Int if source.is_some_and(DataType::is_float) => {
                    let c = col(name.as_str());
                    when((c.clone() % lit(1.0)).eq(lit(0.0)))
                        .then(c.cast(DataType::Int64))
                        .otherwise(lit(NULL).cast(DataType::Int64))
                }
                Kind::Int => raw.clone().cast(DataType::Int64),
                Kind::Date => raw
                    .clone()
                    .str()
                    .to_date(StrptimeOptions {
                        format: Some("%Y-%m-%d".into()),
                        strict: false,
                        exact: true,
                        cache: true,
                    })
                    .cast(DataType::Int32),
            };
            exprs.push(typed.alias(name.as_str()));
            exprs.push(raw.alias(format!("{RAW}{name}")));
        }
        let df = lf
            .with_row_index(ROW, Some(1))
            .select(exprs)
            .collect()
            .map_err(|source| TrainError::Polars {
                context: format!("reading {file}"),
                source,
            })?;
        let rows = u64_column(&df, ROW)?;
        Ok(Table { file, df, rows })
    }

    fn raw(&self, name: &str, i: usize) -> Option<String> {
        let column = self.df.column(&format!("{RAW}{name}")).ok()?;
        let s = column.str().ok()?.get(i)?.trim().to_owned();
        (!s.is_empty()).then_some(s)
    }

    /// The error for an unparseable or missing cell, or `None` when the cell is empty and
    /// allowed to be.
    fn cell_error(&self, name: &str, kind: Kind, i: usize, required: bool) -> Option<RowError> {
        match self.raw(name, i) {
            Some(raw) => Some(RowError::new(
                &self.file,
                self.rows[i],
                name,
                format!("cannot read `{raw}` as {}", kind.describe()),
            )),
            None if required => Some(RowError::new(
                &self.file,
                self.rows[i],
                name,
                "value is missing",
            )),
            None => None,
        }
    }

    pub(super) fn floats(&self, name: &str) -> Result<Vec<Option<f64>>, TrainError> {
        Ok(self
            .column(name)?
            .f64()
            .map_err(self.polars())?
            .iter()
            .collect())
    }

    pub(super) fn ints(&self, name: &str) -> Result<Vec<Option<i64>>, TrainError> {
        Ok(self
            .column(name)?
            .i64()
            .map_err(self.polars())?
            .iter()
            .collect())
    }

    fn dates(&self, name: &str) -> Result<Vec<Option<NaiveDate>>, TrainError> {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
        Ok(self
            .column(name)?
            .i32()
            .map_err(self.polars())?
            .iter()
            .map(|d| d.and_then(|d| epoch.checked_add_signed(chrono::Duration::days(d.into()))))
            .collect())
    }

    /// The column's text cells, trimmed; empty cells are `None`. Borrowed from the table: no
    /// allocation per row.
    pub(super) fn texts(&self, name: &str) -> Result<Vec<Option<&str>>, TrainError> {
        Ok(self
            .column(name)?
            .str()
            .map_err(self.polars())?
            .iter()
            .map(|s| s.map(str::trim).filter(|s| !s.is_empty()))
            .collect())
    }

    fn column(&self, name: &str) -> Result<&Column, TrainError> {
        self.df.column(name).map_err(self.polars())
    }

    fn polars(&self) -> impl Fn(PolarsError) -> TrainError + '_ {
        move |source| TrainError::Polars {
            context: format!("reading {}", self.file),
            source,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.rows.len()
    }
}

fn u64_column(df: &DataFrame, name: &str) -> Result<Vec<u64>, TrainError> {
    let polars = |source| TrainError::Polars {
        context: format!("column {name}"),
        source,
    };
    let c = df
        .column(name)
        .map_err(polars)?
        .cast(&DataType::UInt64)
        .map_err(polars)?;
    Ok(c.u64()
        .map_err(polars)?
        .iter()
        .map(|v| v.unwrap_or(0))
        .collect())
}

/// Collects row errors while building values, tagged with the account of the row being read.
#[derive(Default)]
pub(super) struct Errors(pub(super) Vec<RowError>, Current);

/// The account id of the row being read, in a buffer reused from row to row.
#[derive(Default)]
pub(super) struct Current {
    id: String,
    known: bool,
}

impl Errors {
    fn push(&mut self, mut e: RowError) {
        if e.row > 0 && self.1.known {
            e.account_id = Some(self.1.id.clone());
        }
        self.0.push(e);
    }

    /// The account whose row is being read (`None`: its id is missing).
    fn at(&mut self, account_id: Option<&str>) {
        self.1.id.clear();
        self.1.id.push_str(account_id.unwrap_or(""));
        self.1.known = account_id.is_some();
    }

    /// The value, or records why there is none.
    pub(super) fn need<T>(
        &mut self,
        table: &Table,
        name: &str,
        kind: Kind,
        i: usize,
        value: Option<T>,
    ) -> Option<T> {
        if value.is_none() {
            if let Some(e) = table.cell_error(name, kind, i, true) {
                self.push(e);
            }
        }
        value
    }

    /// An optional value: empty is fine, unparseable is not.
    fn optional<T>(
        &mut self,
        table: &Table,
        name: &str,
        kind: Kind,
        i: usize,
        value: Option<T>,
    ) -> Option<T> {
        if value.is_none() {
            if let Some(e) = table.cell_error(name, kind, i, false) {
                self.push(e);
            }
        }
        value
    }

    /// The value if `rule` holds; otherwise records why not at row `i`, column `name`.
    fn rule<T>(
        &mut self,
        table: &Table,
        name: &str,
        i: usize,
        rule: Result<T, String>,
    ) -> Option<T> {
        match rule {
            Ok(v) => Some(v),
            Err(message) => {
                self.push(RowError::new(&table.file, table.rows[i], name, message));
                None
            }
        }
    }

    fn amount(&mut self, table: &Table, name: &str, i: usize, v: Option<f64>) -> Option<f64> {
        let v = self.need(table, name, Kind::Float, i, v)?;
        self.rule(table, name, i, rules::amount(v))
    }

    fn count(
        &mut self,
        table: &Table,
        name: &str,
        i: usize,
        v: Option<i64>,
        max: u32,
    ) -> Option<u32> {
        let v = self.need(table, name, Kind::Int, i, v)?;
        self.rule(table, name, i, rules::count(v, max))
    }
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
    let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
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
    let (accounts, history) = read_accounts_and_history(&paths.accounts, &paths.history)?;
    let outcomes = Table::read(
        &paths.outcomes,
        &[("account_id", Text), ("repaid", Int)],
        &[],
        |_| None,
    )?;

    let mut errors = Errors::default();
    let attributes = attribute_columns(&accounts, &mut errors);
    let mut set = build_accounts(&accounts, &attributes, &mut errors)?;
    attach_history(&history, &mut set, &mut errors)?;
    let labels = read_outcomes(&outcomes, &set.index, set.accounts.len(), &mut errors)?;

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
        },
        rejected_accounts: rejected.len(),
        rejects,
    })
}

/// Reads and validates an unlabelled portfolio (accounts and payment history, no outcomes) for
/// scoring: the same rules as [`load`], and any problem stops the load with row-level errors.
pub fn load_portfolio(accounts: &Path, history: &Path) -> Result<Vec<Account>, TrainError> {
    let (accounts_table, history_table) = read_accounts_and_history(accounts, history)?;
    let mut errors = Errors::default();
    let attributes = attribute_columns(&accounts_table, &mut errors);
    let mut set = build_accounts(&accounts_table, &attributes, &mut errors)?;
    attach_history(&history_table, &mut set, &mut errors)?;
    if !errors.0.is_empty() {
        return Err(TrainError::data(errors.0));
    }
    Ok(set.accounts)
}

fn read_accounts_and_history(
    accounts: &Path,
    history: &Path,
) -> Result<(Table, Table), TrainError> {
    use Kind::*;
    let accounts = Table::read(
        accounts,
        &[
            ("account_id", Text),
            ("as_of", Date),
            ("credit_limit", Float),
            ("current_balance", Float),
            ("months_on_book", Int),
            ("open_credit_lines", Int),
            ("prior_delinquencies", Int),
            ("hardship", Int),
        ],
        &[("bureau_score", Float), ("annual_income", Float)],
        |c| c.starts_with(ATTRIBUTE_COLUMN_PREFIX).then_some(Float),
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
    )?;
    Ok((accounts, history))
}

/// `attr_<name>` columns: (column, attribute name). Protected names are refused.
fn attribute_columns(accounts: &Table, errors: &mut Errors) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for name in accounts.df.get_column_names() {
        let Some(attr) = name.strip_prefix(ATTRIBUTE_COLUMN_PREFIX) else {
            continue;
        };
        if is_protected_attribute(attr) {
            errors.push(RowError::new(
                &accounts.file,
                0,
                name,
                "protected attribute: it can never be a model input; remove the column",
            ));
        } else if !attr.is_empty() {
            out.push((name.to_string(), attr.to_owned()));
        }
    }
    out
}

struct AccountSet {
    accounts: Vec<Account>,
    /// The accounts table's data row of each account.
    rows: Vec<u64>,
    index: HashMap<String, usize>,
}

fn build_accounts(
    t: &Table,
    attributes: &[(String, String)],
    errors: &mut Errors,
) -> Result<AccountSet, TrainError> {
    let ids = t.texts("account_id")?;
    let as_of = t.dates("as_of")?;
    let limit = t.floats("credit_limit")?;
    let balance = t.floats("current_balance")?;
    let mob = t.ints("months_on_book")?;
    let lines = t.ints("open_credit_lines")?;
    let prior = t.ints("prior_delinquencies")?;
    let hardship = t.ints("hardship")?;
    let optional_floats = |name: &str| -> Result<Option<Vec<Option<f64>>>, TrainError> {
        if t.df.column(name).is_ok() {
            t.floats(name).map(Some)
        } else {
            Ok(None)
        }
    };
    let bureau = optional_floats("bureau_score")?;
    let income = optional_floats("annual_income")?;
    let attr_values: Vec<Vec<Option<f64>>> = attributes
        .iter()
        .map(|(c, _)| t.floats(c))
        .collect::<Result<_, _>>()?;

    let mut accounts = Vec::with_capacity(t.len());
    let mut rows = Vec::with_capacity(t.len());
    let mut index = HashMap::with_capacity(t.len());
    for i in 0..t.len() {
        let row = t.rows[i];
        errors.at(ids[i]);
        let id = errors
            .need(t, "account_id", Kind::Text, i, ids[i])
            .map(str::to_owned);
        if let Some(id) = &id {
            if let Err(message) = rules::account_id(id) {
                errors.push(RowError::new(&t.file, row, "account_id", message));
            } else if index.contains_key(id) {
                errors.push(RowError::new(
                    &t.file,
                    row,
                    "account_id",
                    format!("duplicate account `{id}`"),
                ));
            }
        }
        let as_of = errors.need(t, "as_of", Kind::Date, i, as_of[i]);
        let credit_limit = errors.amount(t, "credit_limit", i, limit[i]);
        let current_balance = errors.amount(t, "current_balance", i, balance[i]);
        let months_on_book = errors.count(t, "months_on_book", i, mob[i], 1200);
        let open_credit_lines = errors.count(t, "open_credit_lines", i, lines[i], 1000);
        let prior_delinquencies = errors.count(t, "prior_delinquencies", i, prior[i], 1000);
        let hardship = errors.count(t, "hardship", i, hardship[i], 1);
        let bureau_score = bureau.as_ref().and_then(|v| {
            let s = errors.optional(t, "bureau_score", Kind::Float, i, v[i])?;
            errors.rule(t, "bureau_score", i, rules::bureau_score(s))
        });
        let annual_income = income.as_ref().and_then(|v| {
            let s = errors.optional(t, "annual_income", Kind::Float, i, v[i])?;
            errors.rule(t, "annual_income", i, rules::amount(s))
        });
        let mut attrs = HashMap::new();
        for ((column, name), values) in attributes.iter().zip(&attr_values) {
            if let Some(v) = errors.optional(t, column, Kind::Float, i, values[i]) {
                if let Some(v) = errors.rule(t, column, i, rules::attribute(v)) {
                    attrs.insert(name.clone(), v);
                }
            }
        }
        if let (
            Some(account_id),
            Some(as_of),
            Some(credit_limit),
            Some(current_balance),
            Some(months_on_book),
            Some(open_credit_lines),
            Some(prior_delinquencies),
            Some(hardship),
        ) = (
            id,
            as_of,
            credit_limit,
            current_balance,
            months_on_book,
            open_credit_lines,
            prior_delinquencies,
            hardship,
        ) {
            index.insert(account_id.clone(), accounts.len());
            rows.push(row);
            accounts.push(Account {
                account_id,
                as_of,
                profile: CreditProfile {
                    credit_limit,
                    current_balance,
                    months_on_book,
                    open_credit_lines,
                    prior_delinquencies,
                    bureau_score,
                    annual_income,
                    hardship: hardship == 1,
                },
                history: Vec::new(),
                attributes: attrs,
                contacts: Vec::new(),
                promises: Vec::new(),
            });
        }
    }
    Ok(AccountSet {
        accounts,
        rows,
        index,
    })
}

fn attach_history(t: &Table, set: &mut AccountSet, errors: &mut Errors) -> Result<(), TrainError> {
    let ids = t.texts("account_id")?;
    let dates = t.dates("statement_date")?;
    let due = t.floats("amount_due")?;
    let min = t.floats("minimum_due")?;
    let paid = t.floats("amount_paid")?;
    let dpd = t.ints("days_past_due")?;
    // The history rows of each account, to find repeated statement dates once sorted.
    let mut source_rows: Vec<Vec<u64>> = vec![Vec::new(); set.accounts.len()];
    for i in 0..t.len() {
        let row = t.rows[i];
        errors.at(ids[i]);
        let Some(id) = errors.need(t, "account_id", Kind::Text, i, ids[i]) else {
            continue;
        };
        let Some(&a) = set.index.get(id) else {
            errors.push(RowError::new(
                &t.file,
                row,
                "account_id",
                format!("history for account `{id}`, which is not in the accounts table"),
            ));
            continue;
        };
        let date = errors.need(t, "statement_date", Kind::Date, i, dates[i]);
        let amount_due = errors.amount(t, "amount_due", i, due[i]);
        let minimum_due = errors.amount(t, "minimum_due", i, min[i]);
        let amount_paid = errors.amount(t, "amount_paid", i, paid[i]);
        let days_past_due = errors.count(t, "days_past_due", i, dpd[i], MAX_DAYS_PAST_DUE);
        let (Some(d), Some(amount_due), Some(minimum_due), Some(amount_paid), Some(days_past_due)) =
            (date, amount_due, minimum_due, amount_paid, days_past_due)
        else {
            continue;
        };
        if errors
            .rule(
                t,
                "minimum_due",
                i,
                rules::minimum_due(minimum_due, amount_due),
            )
            .is_none()
        {
            continue;
        }
        let account = &mut set.accounts[a];
        let as_of = account.as_of;
        if errors
            .rule(t, "statement_date", i, rules::statement_date(d, as_of))
            .is_none()
        {
            continue;
        }
        account.history.push(PaymentCycle {
            statement_date: d,
            amount_due,
            minimum_due,
            amount_paid,
            days_past_due,
        });
        source_rows[a].push(row);
    }
    for ((account, rows), &account_row) in
        set.accounts.iter_mut().zip(&mut source_rows).zip(&set.rows)
    {
        if account.history.is_empty() {
            continue;
        }
        // Sort the cycles by date (stable: equal dates keep file order) with their rows.
        let mut order: Vec<usize> = (0..account.history.len()).collect();
        order.sort_by_key(|&k| account.history[k].statement_date);
        if order.iter().enumerate().any(|(k, &o)| k != o) {
            account.history = order.iter().map(|&k| account.history[k]).collect();
            *rows = order.iter().map(|&k| rows[k]).collect();
        }
        errors.at(Some(&account.account_id));
        let mut kept = 1;
        for k in 1..account.history.len() {
            if account.history[k].statement_date == account.history[kept - 1].statement_date {
                errors.push(RowError::new(
                    &t.file,
                    rows[k],
                    "statement_date",
                    format!(
                        "a second cycle for account `{}` on {}",
                        account.account_id, account.history[k].statement_date
                    ),
                ));
            } else {
                account.history[kept] = account.history[k];
                rows[kept] = rows[k];
                kept += 1;
            }
        }
        account.history.truncate(kept);
        if let Err(message) = rules::history_cycles(account.history.len()) {
            errors.push(RowError::new(
                &t.file,
                rows.iter().copied().min().unwrap_or(account_row),
                "account_id",
                format!("account `{}` {message}", account.account_id),
            ));
        }
    }
    Ok(())
}

fn read_outcomes(
    t: &Table,
    index: &HashMap<String, usize>,
    n: usize,
    errors: &mut Errors,
) -> Result<Vec<Option<bool>>, TrainError> {
    let ids = t.texts("account_id")?;
    let repaid = t.ints("repaid")?;
    let mut labels = vec![None; n];
    for i in 0..t.len() {
        let row = t.rows[i];
        errors.at(ids[i]);
        let Some(id) = errors.need(t, "account_id", Kind::Text, i, ids[i]) else {
            continue;
        };
        let value = errors.count(t, "repaid", i, repaid[i], 1);
        let Some(&a) = index.get(id) else {
            errors.push(RowError::new(
                &t.file,
                row,
                "account_id",
                format!("outcome for account `{id}`, which is not in the accounts table"),
            ));
            continue;
        };
        if labels[a].is_some() {
            errors.push(RowError::new(
                &t.file,
                row,
                "account_id",
                format!("a second outcome for account `{id}`"),
            ));
        } else if let Some(v) = value {
            labels[a] = Some(v == 1);
        }
    }
    Ok(labels)
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
    }
}
