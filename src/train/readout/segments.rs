//! Customer segments: any attribute of the accounts table (`months_on_book`, `credit_limit`,
//! `hardship`, ..., or an extra `attr_<name>` column), or any feature the feature engine
//! derives (`dpd_max_12`, `utilisation`, `attr.<name>`), computed for each account of the
//! canonical tables, and labelled.
//!
//! Rules, in order:
//! 0. A name is looked up as an accounts-table column first, then as a feature.
//! 1. At most [`MAX_LEVELS`] distinct values: one segment per value (`hardship = 1`).
//! 2. More: quintiles of the accounts' values, labelled by their range (`q2: 3.1 to 4.7`).
//! 3. A missing value is the segment `missing`; an account the tables do not hold is
//!    `not in the accounts table`.

use std::collections::HashMap;

use super::table::account_key;
use crate::domain::Account;
use crate::features::FeatureSpec;
use crate::train::TrainError;

/// Distinct values kept as they are (rule 1).
pub const MAX_LEVELS: usize = 12;

/// Each account's segment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Labels {
    /// Segment labels; the last is for accounts the tables do not hold.
    pub names: Vec<String>,
    by_account: HashMap<u64, u16>,
}

impl Labels {
    /// The segment of the account with key `account` ([`account_key`]).
    pub fn code_of(&self, account: u64) -> u16 {
        self.by_account
            .get(&account)
            .copied()
            .unwrap_or((self.names.len() - 1) as u16)
    }
}

/// The accounts-table column `name` of `a` (NaN when unknown), or `None` when no column has
/// that name.
fn column(a: &Account, name: &str) -> Option<f64> {
    let p = &a.profile;
    let known = |v: Option<f64>| v.unwrap_or(f64::NAN);
    Some(match name {
        "credit_limit" => known(p.credit_limit),
        "current_balance" => known(p.current_balance),
        "months_on_book" => known(p.months_on_book.map(f64::from)),
        "open_credit_lines" => f64::from(p.open_credit_lines),
        "prior_delinquencies" => f64::from(p.prior_delinquencies),
        "bureau_score" => known(p.bureau_score),
        "annual_income" => known(p.annual_income),
        "hardship" => known(p.hardship.map(|h| f64::from(u8::from(h)))),
        _ => {
            let attribute = name.strip_prefix("attr_")?;
            known(a.attributes.get(attribute).copied())
        }
    })
}

/// Segments `accounts` by the attribute or feature `name` (rules 0-3).
pub fn by_feature(accounts: &[Account], name: &str) -> Result<Labels, TrainError> {
    let is_column = accounts.first().is_some_and(|a| column(a, name).is_some());
    let values: Vec<f64> = if is_column {
        accounts
            .iter()
            .map(|a| column(a, name).unwrap_or(f64::NAN))
            .collect()
    } else {
        let spec = FeatureSpec::from_names([name]).map_err(|e| {
            TrainError::Config(format!(
                "segment: `{name}` is neither an accounts-table column nor a feature ({e})"
            ))
        })?;
        let mut out = [0.0];
        accounts
            .iter()
            .map(|a| {
                spec.derive(a, &mut out);
                out[0]
            })
            .collect()
    };
    let mut distinct: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    distinct.sort_by(f64::total_cmp);
    distinct.dedup();
    let label_of: Box<dyn Fn(f64) -> usize> = if distinct.len() <= MAX_LEVELS {
        let levels = distinct.clone();
        Box::new(move |v| levels.partition_point(|&l| l < v))
    } else {
        let mut sorted: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let cuts: Vec<f64> = (1..5).map(|q| sorted[q * n / 5]).collect();
        Box::new(move |v| cuts.partition_point(|&c| c <= v))
    };
    let mut names: Vec<String> = if distinct.len() <= MAX_LEVELS {
        distinct.iter().map(|v| format!("{name} = {v}")).collect()
    } else {
        // Each quintile labelled by the range of values it holds.
        let mut ranges = [(f64::INFINITY, f64::NEG_INFINITY); 5];
        for &v in values.iter().filter(|v| !v.is_nan()) {
            let r = &mut ranges[label_of(v)];
            *r = (r.0.min(v), r.1.max(v));
        }
        ranges
            .iter()
            .enumerate()
            .map(|(q, (lo, hi))| format!("{name} q{}: {lo:.4} to {hi:.4}", q + 1))
            .collect()
    };
    let missing = names.len();
    names.push(format!("{name} missing"));
    names.push("not in the accounts table".into());
    let by_account = accounts
        .iter()
        .zip(&values)
        .map(|(a, &v)| {
            let code = if v.is_nan() { missing } else { label_of(v) };
            (account_key(&a.account_id), code as u16)
        })
        .collect();
    Ok(Labels { names, by_account })
}
