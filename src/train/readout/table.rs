//! The decisions a readout reads, held by column: each decision's id and date (the index the
//! events table is checked against), its account (hashed), balance and probability, and its
//! text dimensions as small codes. About 60 bytes a decision, so ten million fit in well under
//! a gigabyte.

use std::collections::HashMap;
use std::path::Path;

use chrono::{DateTime, NaiveDate};
use polars::prelude::*;

use crate::train::decisions::{parse_id, DecisionIndex, DecisionRecord};
use crate::train::{RowError, TrainError};

/// A text column as codes into its distinct values.
#[derive(Debug, Clone, Default)]
pub struct Codes {
    /// Distinct values, in order of first appearance.
    pub names: Vec<String>,
    /// Each row's value.
    pub codes: Vec<u16>,
    lookup: HashMap<String, u16>,
}

/// Distinct values a dimension keeps; any further value is counted as `(other)`.
const MAX_VALUES: usize = 4096;

impl Codes {
    fn push(&mut self, value: &str) {
        let code = match self.lookup.get(value) {
            Some(&c) => c,
            None => {
                let name = if self.names.len() < MAX_VALUES {
                    value
                } else {
                    "(other)"
                };
                match self.lookup.get(name) {
                    Some(&c) => c,
                    None => {
                        let c = self.names.len() as u16;
                        self.names.push(name.to_owned());
                        self.lookup.insert(name.to_owned(), c);
                        c
                    }
                }
            }
        };
        self.codes.push(code);
    }
}

/// The dimensions a readout sums by, in the order it reports them.
pub const DIMENSIONS: [&str; 7] = [
    "stage",
    "band",
    "treatment",
    "action",
    "channel",
    "arm",
    "model_version",
];

/// Decisions by column.
#[derive(Debug, Default)]
pub struct Decided {
    index: DecisionIndex,
    days_past_due: Vec<u32>,
    accounts: Vec<u64>,
    balances: Vec<f64>,
    probabilities: Vec<f64>,
    dimensions: [Codes; 7],
    experiments: Codes,
}

/// An account id's key in a readout (a stable 64-bit hash).
pub fn account_key(account_id: &str) -> u64 {
    crate::stable_hash::hash64(0xacc0_0117, &[account_id.as_bytes()])
}

impl Decided {
    /// Decisions read from audit records.
    pub fn of_records(records: &[DecisionRecord]) -> Decided {
        let mut d = Decided {
            index: DecisionIndex::of_records(records),
            ..Decided::default()
        };
        for r in records {
            if parse_id(&r.decision_id).is_none() {
                continue;
            }
            d.push(
                r.days_past_due,
                &r.account_id,
                r.balance,
                r.probability,
                [
                    &r.stage,
                    &r.band,
                    &r.treatment,
                    &r.action,
                    &r.channel,
                    &r.arm,
                    &r.model_version,
                ],
                r.experiment.as_deref().unwrap_or(""),
            );
        }
        d
    }

    /// Decisions read from a decisions table written by `payrisk-train decisions` (Parquet):
    /// only the columns a readout needs, a slice of rows at a time.
    pub fn read_table(path: &Path) -> Result<Decided, TrainError> {
        let mut d = Decided::default();
        let slices = crate::train::tables::slices(path)?;
        // Every column sized once: at ten million decisions a doubling's slack is gigabytes.
        let total = slices
            .iter()
            .map(|s| s.map_or(0, |r| r.1) as usize)
            .sum::<usize>();
        d.reserve(total);
        let (mut ids, mut dates) = (Vec::with_capacity(total), Vec::with_capacity(total));
        let mut errors = Vec::new();
        for rows in slices {
            d.read_slice(path, rows, (&mut ids, &mut dates), &mut errors)?;
        }
        let (index, repeats) = DecisionIndex::with_repeats(ids, dates);
        // Row numbers of refused rows are not known here; repeats are named by their id.
        errors.extend(repeats.iter().map(|&k| {
            RowError::new(
                &path.display().to_string(),
                0,
                "decision_id",
                format!(
                    "decision `{:032x}` appears more than once",
                    index.id(k as u32)
                ),
            )
        }));
        if !errors.is_empty() {
            return Err(TrainError::data(errors));
        }
        d.index = index;
        Ok(d)
    }

    fn read_slice(
        &mut self,
        path: &Path,
        rows: Option<(u64, u64)>,
        index: (&mut Vec<u128>, &mut Vec<NaiveDate>),
        errors: &mut Vec<RowError>,
    ) -> Result<(), TrainError> {
        let name = path.display().to_string();
        let polars = |source| TrainError::Polars {
            context: format!("reading {name}"),
            source,
        };
        let mut columns = vec![
            col("decision_id"),
            col("decision_time").cast(DataType::Int64),
            col("account_id"),
            col("days_past_due").cast(DataType::UInt32),
            col("balance").cast(DataType::Float64),
            col("probability").cast(DataType::Float64),
            col("experiment"),
        ];
        columns.extend(DIMENSIONS.iter().map(|c| col(*c)));
        let mut lf = LazyFrame::scan_parquet(PlRefPath::new(name.as_str()), Default::default())
            .map_err(polars)?
            .select(columns);
        let first_row = rows.map_or(0, |(offset, _)| offset);
        if let Some((offset, count)) = rows {
            lf = lf.slice(offset as i64, count as IdxSize);
        }
        let df = lf.collect().map_err(polars)?;
        let text = |c: &str| df.column(c).and_then(|c| c.str().cloned()).map_err(polars);
        let ids = text("decision_id")?;
        let times = df
            .column("decision_time")
            .and_then(|c| c.i64().cloned())
            .map_err(polars)?;
        let accounts = text("account_id")?;
        let dpd = df
            .column("days_past_due")
            .and_then(|c| c.u32().cloned())
            .map_err(polars)?;
        let balances = df
            .column("balance")
            .and_then(|c| c.f64().cloned())
            .map_err(polars)?;
        let probabilities = df
            .column("probability")
            .and_then(|c| c.f64().cloned())
            .map_err(polars)?;
        let experiments = text("experiment")?;
        let dims = DIMENSIONS
            .iter()
            .map(|c| text(c))
            .collect::<Result<Vec<_>, _>>()?;
        let rows = ids
            .iter()
            .zip(times.iter())
            .zip(accounts.iter().zip(dpd.iter()))
            .zip(balances.iter())
            .zip(probabilities.iter())
            .zip(experiments.iter());
        let mut dim_iters: Vec<_> = dims.iter().map(|c| c.iter()).collect();
        for (row, (((((id, time), (account, dpd)), balance), probability), experiment)) in
            rows.enumerate()
        {
            let values: [Option<&str>; 7] = std::array::from_fn(|k| dim_iters[k].next().flatten());
            let row = first_row + row as u64 + 1;
            let refuse = |column: &str, message: &str| RowError::new(&name, row, column, message);
            let Some(id) = id.and_then(parse_id) else {
                errors.push(refuse("decision_id", "not 32 hexadecimal digits"));
                continue;
            };
            let Some(date) = time
                .and_then(DateTime::from_timestamp_millis)
                .map(|t| t.date_naive())
            else {
                errors.push(refuse("decision_time", "missing or out of range"));
                continue;
            };
            let Some(probability) = probability.filter(|p| (0.0..=1.0).contains(p)) else {
                errors.push(refuse("probability", "missing or not in [0, 1]"));
                continue;
            };
            index.0.push(id);
            index.1.push(date);
            self.push(
                dpd.unwrap_or(0),
                account.unwrap_or(""),
                balance,
                probability,
                std::array::from_fn(|k| values[k].unwrap_or("")),
                experiment.unwrap_or(""),
            );
        }
        Ok(())
    }

    /// Appends one decision's columns (its id and date go to the index).
    fn push(
        &mut self,
        days_past_due: u32,
        account_id: &str,
        balance: Option<f64>,
        probability: f64,
        dimensions: [&str; 7],
        experiment: &str,
    ) {
        self.days_past_due.push(days_past_due);
        self.accounts.push(account_key(account_id));
        self.balances.push(balance.unwrap_or(f64::NAN));
        self.probabilities.push(probability);
        for (codes, value) in self.dimensions.iter_mut().zip(dimensions) {
            codes.push(value);
        }
        self.experiments.push(experiment);
    }

    /// Decisions.
    pub fn len(&self) -> usize {
        self.probabilities.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.probabilities.is_empty()
    }

    /// The index the events table is checked against.
    pub fn index(&self) -> &DecisionIndex {
        &self.index
    }

    /// Decision `i`'s date (UTC).
    pub fn date(&self, i: usize) -> NaiveDate {
        self.index.date(i as u32)
    }

    /// Decision `i`'s id.
    pub fn id(&self, i: usize) -> u128 {
        self.index.id(i as u32)
    }

    /// Room for `n` more decisions in every column.
    fn reserve(&mut self, n: usize) {
        self.days_past_due.reserve_exact(n);
        self.accounts.reserve_exact(n);
        self.balances.reserve_exact(n);
        self.probabilities.reserve_exact(n);
        for codes in self.dimensions.iter_mut().chain([&mut self.experiments]) {
            codes.codes.reserve_exact(n);
        }
    }

    /// Decision `i`'s days past due.
    pub fn days_past_due(&self, i: usize) -> u32 {
        self.days_past_due[i]
    }

    /// Decision `i`'s account key ([`account_key`]).
    pub fn account(&self, i: usize) -> u64 {
        self.accounts[i]
    }

    /// Decision `i`'s balance (NaN when unknown).
    pub fn balance(&self, i: usize) -> f64 {
        self.balances[i]
    }

    /// Decision `i`'s repayment probability.
    pub fn probability(&self, i: usize) -> f64 {
        self.probabilities[i]
    }

    /// The dimensions, named as [`DIMENSIONS`].
    pub fn dimensions(&self) -> impl Iterator<Item = (&'static str, &Codes)> {
        DIMENSIONS.iter().copied().zip(self.dimensions.iter())
    }

    /// The arms.
    pub fn arms(&self) -> &Codes {
        &self.dimensions[5]
    }

    /// The experiments (`""` for decisions made without one).
    pub fn experiments(&self) -> &Codes {
        &self.experiments
    }

    /// Decision `i`'s value of dimension `name`.
    pub fn value(&self, name: &str, i: usize) -> Option<&str> {
        let k = DIMENSIONS.iter().position(|d| *d == name)?;
        let codes = &self.dimensions[k];
        Some(codes.names[codes.codes[i] as usize].as_str())
    }
}
