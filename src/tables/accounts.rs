//! Building accounts from validated rows: the accounts table, then each account's payment
//! history (sorted, one cycle per date), then the outcomes.

use std::borrow::Cow;
use std::collections::HashMap;

use super::rows::Errors;
use super::{Columns, Kind, RowError, TableError, ATTRIBUTE_COLUMN_PREFIX};
use crate::domain::{
    rules, Account, Compliance, CreditProfile, PaymentCycle, ProtectedList, MAX_DAYS_PAST_DUE,
};

/// `attr_<name>` columns: (column, attribute name). Protected names are refused.
pub(super) fn attribute_columns(
    accounts: &dyn Columns,
    protected: &ProtectedList,
    errors: &mut Errors,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for name in accounts.names() {
        let Some(attr) = name.strip_prefix(ATTRIBUTE_COLUMN_PREFIX) else {
            continue;
        };
        if let Some(why) = protected.refuses(attr) {
            errors.push(RowError::new(
                accounts.file(),
                0,
                name,
                format!(
                    "protected attribute: it can never be a model input ({why}); remove the column"
                ),
            ));
        } else if !attr.is_empty() {
            out.push((name.to_string(), attr.to_owned()));
        }
    }
    out
}

/// The optional 0/1 compliance columns of the accounts table, and the flag each sets.
type SetFlag = fn(&mut Compliance);
const COMPLIANCE_FLAGS: [(&str, SetFlag); 5] = [
    ("cease_communication", |c| c.cease_communication = true),
    ("dispute_pending", |c| c.dispute_pending = true),
    ("bankruptcy", |c| c.bankruptcy = true),
    ("attorney_represented", |c| c.attorney_represented = true),
    ("deceased", |c| c.deceased = true),
];

pub(super) struct AccountSet {
    pub(super) accounts: Vec<Account>,
    /// The accounts table's data row of each account.
    pub(super) rows: Vec<u64>,
    pub(super) index: HashMap<String, usize>,
    /// Accounts whose row was refused: id → that row. Their history and outcome rows are not
    /// reported again as "not in the accounts table"; a lenient load lists them as going with
    /// the refused account.
    pub(super) refused: HashMap<String, u64>,
    /// Whether rows of refused accounts get a line of their own (lenient loads).
    pub(super) list_followers: bool,
}

impl AccountSet {
    /// What to say of a history or outcome row for `id`, which is not among the accounts:
    /// nothing in a strict load when its account row was refused (that row's error says why).
    fn missing(&self, id: &str, what: &str) -> Option<String> {
        match self.refused.get(id) {
            Some(_) if !self.list_followers => None,
            Some(row) => Some(format!(
                "{what} for account `{id}`, whose row {row} in the accounts table was refused: it goes with it"
            )),
            None => Some(format!(
                "{what} for account `{id}`, which is not in the accounts table"
            )),
        }
    }
}

pub(super) fn build_accounts(
    t: &dyn Columns,
    attributes: &[(String, String)],
    errors: &mut Errors,
) -> Result<AccountSet, TableError> {
    let ids = t.texts("account_id")?;
    let as_of = t.dates("as_of")?;
    let lines = t.ints("open_credit_lines")?;
    let prior = t.ints("prior_delinquencies")?;
    let optional_floats = |name: &str| -> Result<Option<Cow<[Option<f64>]>>, TableError> {
        if t.has(name) {
            t.floats(name).map(Some)
        } else {
            Ok(None)
        }
    };
    let optional_ints = |name: &str| -> Result<Option<Cow<[Option<i64>]>>, TableError> {
        if t.has(name) {
            t.ints(name).map(Some)
        } else {
            Ok(None)
        }
    };
    // Unknown is allowed (an empty cell, or no column): the features built from it are missing.
    let limit = optional_floats("credit_limit")?;
    let balance = optional_floats("current_balance")?;
    let mob = optional_ints("months_on_book")?;
    let hardship = optional_ints("hardship")?;
    let flags = COMPLIANCE_FLAGS
        .iter()
        .map(|(name, set)| {
            let values = if t.has(name) {
                Some(t.ints(name)?)
            } else {
                None
            };
            Ok((*name, *set, values))
        })
        .collect::<Result<Vec<_>, TableError>>()?;
    let optional_texts = |name: &str| -> Result<Option<Vec<Option<&str>>>, TableError> {
        if t.has(name) {
            t.texts(name).map(Some)
        } else {
            Ok(None)
        }
    };
    let opted_out = optional_texts("opted_out_channels")?;
    let zones = optional_texts("time_zone")?;
    let bureau = optional_floats("bureau_score")?;
    let income = optional_floats("annual_income")?;
    let attr_values: Vec<Cow<[Option<f64>]>> = attributes
        .iter()
        .map(|(c, _)| t.floats(c))
        .collect::<Result<_, _>>()?;

    let mut accounts = Vec::with_capacity(t.len());
    let mut rows = Vec::with_capacity(t.len());
    let mut index = HashMap::with_capacity(t.len());
    let mut refused = HashMap::new();
    for i in 0..t.len() {
        let row = t.row(i);
        errors.at(ids[i]);
        let id = errors
            .need(t, "account_id", Kind::Text, i, ids[i])
            .map(str::to_owned);
        if let Some(id) = &id {
            if let Err(message) = rules::account_id(id) {
                errors.push(RowError::new(t.file(), row, "account_id", message));
            } else if index.contains_key(id) {
                errors.push(RowError::new(
                    t.file(),
                    row,
                    "account_id",
                    format!("duplicate account `{id}`"),
                ));
            }
        }
        let as_of = errors.need(t, "as_of", Kind::Date, i, as_of[i]);
        let mut unknown_or =
            |name: &str, kind: Kind, value: Option<f64>, rule: fn(f64) -> Result<f64, String>| {
                let v = errors.optional(t, name, kind, i, value)?;
                errors.rule(t, name, i, rule(v))
            };
        let credit_limit = limit
            .as_ref()
            .and_then(|v| unknown_or("credit_limit", Kind::Float, v[i], rules::amount));
        let current_balance = balance
            .as_ref()
            .and_then(|v| unknown_or("current_balance", Kind::Float, v[i], rules::amount));
        let mut optional_count = |name: &str, values: &Option<Cow<[Option<i64>]>>, max: u32| {
            let v = errors.optional(t, name, Kind::Int, i, values.as_ref()?[i])?;
            errors.rule(t, name, i, rules::count(v, max))
        };
        let months_on_book = optional_count("months_on_book", &mob, 1200);
        let hardship = optional_count("hardship", &hardship, 1).map(|h| h == 1);
        let open_credit_lines = errors.count(t, "open_credit_lines", i, lines[i], 1000);
        let prior_delinquencies = errors.count(t, "prior_delinquencies", i, prior[i], 1000);
        let bureau_score = bureau.as_ref().and_then(|v| {
            let s = errors.optional(t, "bureau_score", Kind::Float, i, v[i])?;
            errors.rule(t, "bureau_score", i, rules::bureau_score(s))
        });
        let annual_income = income.as_ref().and_then(|v| {
            let s = errors.optional(t, "annual_income", Kind::Float, i, v[i])?;
            errors.rule(t, "annual_income", i, rules::amount(s))
        });
        let mut compliance = Compliance::default();
        for (name, set, values) in &flags {
            let Some(values) = values else { continue };
            let Some(v) = errors.optional(t, name, Kind::Int, i, values[i]) else {
                continue;
            };
            if errors.rule(t, name, i, rules::count(v, 1)) == Some(1) {
                set(&mut compliance);
            }
        }
        if let Some(text) = opted_out.as_ref().and_then(|v| v[i]) {
            let channels: Vec<&str> = text
                .split(';')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect();
            let name = "opted_out_channels";
            if errors
                .rule(t, name, i, rules::opt_out_count(channels.len()))
                .is_some()
            {
                for c in channels {
                    if errors.rule(t, name, i, rules::channel(c)).is_some() {
                        compliance.opted_out.push(c.to_owned());
                    }
                }
            }
        }
        if let Some(zone) = zones.as_ref().and_then(|v| v[i]) {
            compliance.time_zone = errors
                .rule(t, "time_zone", i, rules::time_zone(zone.trim()))
                .flatten();
        }
        let mut attrs = HashMap::new();
        for ((column, name), values) in attributes.iter().zip(&attr_values) {
            if let Some(v) = errors.optional(t, column, Kind::Float, i, values[i]) {
                if let Some(v) = errors.rule(t, column, i, rules::attribute(v)) {
                    attrs.insert(name.clone(), v);
                }
            }
        }
        let refused_id = id.clone();
        if let (Some(account_id), Some(as_of), Some(open_credit_lines), Some(prior_delinquencies)) =
            (id, as_of, open_credit_lines, prior_delinquencies)
        {
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
                    hardship,
                },
                history: Vec::new(),
                attributes: attrs,
                contacts: Vec::new(),
                promises: Vec::new(),
                compliance,
            });
        } else if let Some(id) = refused_id {
            refused.entry(id).or_insert(row);
        }
    }
    Ok(AccountSet {
        accounts,
        rows,
        index,
        refused,
        list_followers: false,
    })
}

pub(super) fn attach_history(
    t: &dyn Columns,
    set: &mut AccountSet,
    errors: &mut Errors,
) -> Result<(), TableError> {
    let ids = t.texts("account_id")?;
    let dates = t.dates("statement_date")?;
    let due = t.floats("amount_due")?;
    let min = t.floats("minimum_due")?;
    let paid = t.floats("amount_paid")?;
    let dpd = t.ints("days_past_due")?;
    // Each row's account, looked up once (history is usually grouped by account: the previous
    // row's account is reused), and each account's number of rows, so that its cycles and
    // their row numbers are allocated once.
    const NONE: usize = usize::MAX;
    let mut owner = vec![NONE; t.len()];
    let mut counts = vec![0usize; set.accounts.len()];
    let mut last: Option<(&str, usize)> = None;
    for (o, id) in owner.iter_mut().zip(&ids) {
        let Some(id) = *id else { continue };
        let a = match last {
            Some((last_id, a)) if last_id == id => a,
            _ => set.index.get(id).copied().unwrap_or(NONE),
        };
        if let Some(c) = counts.get_mut(a) {
            *c += 1;
            last = Some((id, a));
        }
        *o = a;
    }
    for (account, &c) in set.accounts.iter_mut().zip(&counts) {
        account.history.reserve_exact(c);
    }
    // The history rows of each account, to find repeated statement dates once sorted.
    let mut source_rows: Vec<Vec<u64>> = counts.iter().map(|&c| Vec::with_capacity(c)).collect();
    for i in 0..t.len() {
        let row = t.row(i);
        errors.at(ids[i]);
        let Some(id) = errors.need(t, "account_id", Kind::Text, i, ids[i]) else {
            continue;
        };
        let a = owner[i];
        if a >= counts.len() {
            if let Some(message) = set.missing(id, "history") {
                errors.push(RowError::new(t.file(), row, "account_id", message));
            }
            continue;
        }
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
                    t.file(),
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
                t.file(),
                rows.iter().copied().min().unwrap_or(account_row),
                "account_id",
                format!("account `{}` {message}", account.account_id),
            ));
        }
    }
    Ok(())
}

pub(super) fn read_outcomes(
    t: &dyn Columns,
    set: &AccountSet,
    errors: &mut Errors,
) -> Result<Vec<Option<bool>>, TableError> {
    let (index, n) = (&set.index, set.accounts.len());
    let ids = t.texts("account_id")?;
    let repaid = t.ints("repaid")?;
    let mut labels = vec![None; n];
    for i in 0..t.len() {
        let row = t.row(i);
        errors.at(ids[i]);
        let Some(id) = errors.need(t, "account_id", Kind::Text, i, ids[i]) else {
            continue;
        };
        let value = errors.count(t, "repaid", i, repaid[i], 1);
        let Some(&a) = index.get(id) else {
            if let Some(message) = set.missing(id, "outcome") {
                errors.push(RowError::new(t.file(), row, "account_id", message));
            }
            continue;
        };
        if labels[a].is_some() {
            errors.push(RowError::new(
                t.file(),
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
