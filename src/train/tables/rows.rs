//! Row errors collected while values are built, each tagged with the account of its row, and
//! the domain's rules ([`crate::domain::rules`]) reported as row errors.

use super::read::{Kind, Table};
use crate::domain::rules;
use crate::train::RowError;

/// Collects row errors while building values, tagged with the account of the row being read.
#[derive(Default)]
pub(in crate::train) struct Errors(pub(in crate::train) Vec<RowError>, Current);

/// The account id of the row being read, in a buffer reused from row to row.
#[derive(Default)]
pub(in crate::train) struct Current {
    pub(in crate::train) id: String,
    pub(in crate::train) known: bool,
}

impl Errors {
    pub(in crate::train) fn push(&mut self, mut e: RowError) {
        if e.row > 0 && self.1.known {
            e.account_id = Some(self.1.id.clone());
        }
        self.0.push(e);
    }

    /// The account whose row is being read (`None`: its id is missing).
    pub(in crate::train) fn at(&mut self, account_id: Option<&str>) {
        self.1.id.clear();
        self.1.id.push_str(account_id.unwrap_or(""));
        self.1.known = account_id.is_some();
    }

    /// The value, or records why there is none.
    pub(in crate::train) fn need<T>(
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
    pub(in crate::train) fn optional<T>(
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
    pub(in crate::train) fn rule<T>(
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

    pub(in crate::train) fn amount(
        &mut self,
        table: &Table,
        name: &str,
        i: usize,
        v: Option<f64>,
    ) -> Option<f64> {
        let v = self.need(table, name, Kind::Float, i, v)?;
        self.rule(table, name, i, rules::amount(v))
    }

    pub(in crate::train) fn count(
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
