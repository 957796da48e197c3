//! Row errors collected while values are built, each tagged with the account of its row, and
//! the domain's rules ([`crate::domain::rules`]) reported as row errors.

use super::{Columns, Kind, RowError};
use crate::domain::rules;

/// Collects row errors while building values, tagged with the account of the row being read.
#[derive(Default)]
pub(crate) struct Errors(pub(crate) Vec<RowError>, Current);

/// The account id of the row being read, in a buffer reused from row to row.
#[derive(Default)]
pub(crate) struct Current {
    pub(crate) id: String,
    pub(crate) known: bool,
}

impl Errors {
    pub(crate) fn push(&mut self, mut e: RowError) {
        if e.row > 0 && self.1.known {
            e.account_id = Some(self.1.id.clone());
        }
        self.0.push(e);
    }

    /// The account whose row is being read (`None`: its id is missing).
    pub(crate) fn at(&mut self, account_id: Option<&str>) {
        self.1.id.clear();
        self.1.id.push_str(account_id.unwrap_or(""));
        self.1.known = account_id.is_some();
    }

    /// The value, or records why there is none.
    pub(crate) fn need<T>(
        &mut self,
        table: &dyn Columns,
        name: &str,
        kind: Kind,
        i: usize,
        value: Option<T>,
    ) -> Option<T> {
        self.cell(table, name, kind, i, value, true)
    }

    /// An optional value: empty is fine, unparseable is not.
    pub(crate) fn optional<T>(
        &mut self,
        table: &dyn Columns,
        name: &str,
        kind: Kind,
        i: usize,
        value: Option<T>,
    ) -> Option<T> {
        self.cell(table, name, kind, i, value, false)
    }

    fn cell<T>(
        &mut self,
        table: &dyn Columns,
        name: &str,
        kind: Kind,
        i: usize,
        value: Option<T>,
        required: bool,
    ) -> Option<T> {
        if value.is_none() {
            if let Some(e) = table.cell_error(name, kind, i, required) {
                self.push(e);
            }
        }
        value
    }

    /// The value if `rule` holds; otherwise records why not at row `i`, column `name`.
    pub(crate) fn rule<T>(
        &mut self,
        table: &dyn Columns,
        name: &str,
        i: usize,
        rule: Result<T, String>,
    ) -> Option<T> {
        match rule {
            Ok(v) => Some(v),
            Err(message) => {
                self.push(RowError::new(table.file(), table.row(i), name, message));
                None
            }
        }
    }

    pub(crate) fn amount(
        &mut self,
        table: &dyn Columns,
        name: &str,
        i: usize,
        v: Option<f64>,
    ) -> Option<f64> {
        let v = self.need(table, name, Kind::Float, i, v)?;
        self.rule(table, name, i, rules::amount(v))
    }

    pub(crate) fn count(
        &mut self,
        table: &dyn Columns,
        name: &str,
        i: usize,
        v: Option<i64>,
        max: u32,
    ) -> Option<u32> {
        let v = self.need(table, name, Kind::Int, i, v)?;
        self.rule(table, name, i, rules::count(v, max))
    }
}
