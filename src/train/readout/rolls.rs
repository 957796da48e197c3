//! Roll rates: how accounts move between aging buckets from one monthly statement to the next,
//! from the payment history, for the portfolio and by segment.
//!
//! Rules, in order:
//! 1. Buckets are the industry's 30-day aging buckets of days past due ([`BUCKETS`]).
//! 2. A transition is a pair of an account's consecutive statements 20 to 45 days apart (a
//!    month); pairs further apart (a gap in the history) are counted apart, not read as one
//!    month's movement.
//! 3. Each matrix row is a bucket a month started in; its shares sum to 1 over the bucket the
//!    next month ended in. Roll forward is the share that moved to a later bucket, cure the
//!    share that returned to current.

use serde::Serialize;

use super::segments::Labels;
use super::table::account_key;
use crate::domain::Account;

/// Aging buckets by days past due (rule 1).
pub const BUCKETS: [&str; 7] = [
    "current", "1-29", "30-59", "60-89", "90-119", "120-149", "150+",
];

/// The bucket of `days_past_due`.
pub fn bucket(days_past_due: u32) -> usize {
    match days_past_due {
        0 => 0,
        d => (1 + d as usize / 30).min(BUCKETS.len() - 1),
    }
}

/// The roll-rate matrices.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RollRates {
    /// The buckets, in row and column order.
    pub buckets: Vec<String>,
    /// Statement pairs too far apart to be one month (rule 2).
    pub gaps: u64,
    /// The whole portfolio.
    pub portfolio: RollMatrix,
    /// The segment's name, when segmented.
    pub segment_by: Option<String>,
    /// One matrix per segment.
    pub segments: Vec<RollMatrix>,
}

/// One roll-rate matrix.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RollMatrix {
    /// `portfolio` or the segment's label.
    pub name: String,
    /// Transitions counted.
    pub transitions: u64,
    /// `counts[from][to]`.
    pub counts: Vec<Vec<u64>>,
    /// `shares[from][to]`: counts over the row's total (`None` for an empty row).
    pub shares: Vec<Vec<Option<f64>>>,
    /// Per starting bucket: the share that moved to a later bucket.
    pub roll_forward: Vec<Option<f64>>,
    /// Per starting bucket: the share that returned to current.
    pub cure: Vec<Option<f64>>,
}

impl RollMatrix {
    fn new(name: String) -> RollMatrix {
        let k = BUCKETS.len();
        RollMatrix {
            name,
            transitions: 0,
            counts: vec![vec![0; k]; k],
            shares: Vec::new(),
            roll_forward: Vec::new(),
            cure: Vec::new(),
        }
    }

    fn finish(mut self) -> RollMatrix {
        self.shares = self
            .counts
            .iter()
            .map(|row| {
                let total: u64 = row.iter().sum();
                row.iter()
                    .map(|&c| (total > 0).then(|| c as f64 / total as f64))
                    .collect()
            })
            .collect();
        self.roll_forward = self
            .shares
            .iter()
            .enumerate()
            .map(|(from, row)| {
                row[0]?;
                // A fold from +0: an empty sum of floats is -0.
                Some(
                    row.iter()
                        .skip(from + 1)
                        .fold(0.0, |sum, s| sum + s.unwrap_or(0.0)),
                )
            })
            .collect();
        self.cure = self.shares.iter().map(|row| row[0]).collect();
        self
    }
}

/// The roll rates of `accounts`' payment histories, by `segment` when given (rules 1-3).
pub fn roll_rates(accounts: &[Account], segment: Option<(&str, &Labels)>) -> RollRates {
    let mut portfolio = RollMatrix::new("portfolio".into());
    let mut segments: Vec<RollMatrix> = segment
        .map(|(_, labels)| labels.names.iter().cloned().map(RollMatrix::new).collect())
        .unwrap_or_default();
    let mut gaps = 0;
    for a in accounts {
        let code = segment.map(|(_, labels)| labels.code_of(account_key(&a.account_id)) as usize);
        for pair in a.history.windows(2) {
            let days = (pair[1].statement_date - pair[0].statement_date).num_days();
            if !(20..=45).contains(&days) {
                gaps += 1;
                continue;
            }
            let (from, to) = (bucket(pair[0].days_past_due), bucket(pair[1].days_past_due));
            portfolio.counts[from][to] += 1;
            portfolio.transitions += 1;
            if let Some(c) = code {
                segments[c].counts[from][to] += 1;
                segments[c].transitions += 1;
            }
        }
    }
    RollRates {
        buckets: BUCKETS.iter().map(|b| (*b).to_owned()).collect(),
        gaps,
        portfolio: portfolio.finish(),
        segment_by: segment.map(|(name, _)| name.to_owned()),
        segments: segments
            .into_iter()
            .filter(|m| m.transitions > 0)
            .map(RollMatrix::finish)
            .collect(),
    }
}

/// The matrix as a text table of row shares, for the terminal.
pub fn text(m: &RollMatrix) -> String {
    use std::fmt::Write;
    let mut out = format!(
        "{} ({} transitions)\n{:>9}",
        m.name, m.transitions, "from \\ to"
    );
    for b in BUCKETS {
        let _ = write!(out, " {b:>8}");
    }
    let _ = writeln!(out, " {:>8}", "months");
    for (from, row) in m.shares.iter().enumerate() {
        let _ = write!(out, "{:>9}", BUCKETS[from]);
        for s in row {
            match s {
                Some(s) => {
                    let _ = write!(out, " {:>7.1}%", 100.0 * s);
                }
                None => {
                    let _ = write!(out, " {:>8}", "-");
                }
            }
        }
        let _ = writeln!(out, " {:>8}", m.counts[from].iter().sum::<u64>());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Buckets are 30-day bands with current apart and 150+ last.
    #[test]
    fn buckets_are_thirty_day_bands() {
        let cases = [
            (0, 0),
            (1, 1),
            (29, 1),
            (30, 2),
            (59, 2),
            (60, 3),
            (149, 5),
            (150, 6),
            (900, 6),
        ];
        for (dpd, b) in cases {
            assert_eq!(bucket(dpd), b, "{dpd}");
        }
    }
}
