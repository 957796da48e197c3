//! A simulator of what decisions lead to: events that respond to the treatment applied, with a
//! known, heterogeneous effect per account, so the whole loop (server → audit → decisions →
//! events → readout) can be tested against a truth, and the readout benchmarked at scale.
//!
//! # The truth
//! For a decision with repayment probability `p` (clamped to [0.02, 0.98]), balance `b`
//! (0 when unknown), treatment `t` and channel `c`:
//! - The account **cures** within 90 days with probability `q = sigmoid(logit(p) + effect)`,
//!   where `effect` is ([`effect`]):
//!   - no contact (channel `none`): -0.8, whatever the treatment (nobody reminded to pay);
//!   - soft: 0;
//!   - firm on a high-balance (`b` ≥ [`HIGH_BALANCE`]) account likely to default (`p` < 0.5):
//!     +0.8 (pressure works on wilful defaulters with much at stake);
//!   - firm on an account likely to pay (`p` ≥ 0.8): -0.6 (pressure on a payer backfires);
//!   - firm otherwise: +0.1.
//! - A cured account pays `b × u`, `u ~ U(0.2, 0.6)`, on a day `~ U(1, 80)` after the decision,
//!   and is `cured` the next day.
//! - One that does not cure pays part, `b × v`, `v ~ U(0.02, 0.10)`, with probability 0.35 on
//!   a day `~ U(1, 60)`, and then rolls forward (`rolled`, to the next 30-day bucket, on day 30)
//!   with probability 0.7.
//! - Phone actions get a promise to pay with probability 0.3: kept when the account cures,
//!   broken otherwise, dated 7 days after the decision.
//! - Every action costs by channel ([`cost`]), dated the decision's day.
//!
//! So over a window of 90 days or more the expected recovery of a decision is
//! `b × (0.4 q + 0.35 × 0.06 × (1 - q))` ([`expected_recovery`]) and its cure probability `q`
//! ([`cure_probability`]); no event falls later than day 81.
//!
//! Each decision's events are drawn from a generator seeded by the simulation seed and the
//! decision id, so they do not depend on the order of the decisions or their number.

use std::path::Path;

use chrono::{Duration, NaiveDate};
use polars::prelude::*;

use super::readout::Decided;
use super::TrainError;
use crate::boost::Rng;
use crate::model::logistic::sigmoid;

/// Balance from which firm treatment works on accounts likely to default.
pub const HIGH_BALANCE: f64 = 2_500.0;

/// The treatment's effect on the log-odds of curing (see the module docs).
pub fn effect(probability: f64, balance: f64, treatment: &str, channel: &str) -> f64 {
    if channel == "none" {
        return -0.8;
    }
    match treatment {
        "firm" if balance >= HIGH_BALANCE && probability < 0.5 => 0.8,
        "firm" if probability >= 0.8 => -0.6,
        "firm" => 0.1,
        _ => 0.0,
    }
}

/// The probability that the account cures within 90 days.
pub fn cure_probability(probability: f64, balance: f64, treatment: &str, channel: &str) -> f64 {
    let p = probability.clamp(0.02, 0.98);
    sigmoid((p / (1.0 - p)).ln() + effect(p, balance, treatment, channel))
}

/// The expected amount recovered within 90 days.
pub fn expected_recovery(probability: f64, balance: f64, treatment: &str, channel: &str) -> f64 {
    let b = if balance.is_finite() {
        balance.max(0.0)
    } else {
        0.0
    };
    let q = cure_probability(probability, b, treatment, channel);
    b * (0.4 * q + 0.35 * 0.06 * (1.0 - q))
}

/// What an action costs, by channel.
pub fn cost(channel: &str) -> f64 {
    match channel {
        "phone" => 4.0,
        "sms" => 0.05,
        "email" => 0.01,
        "letter" => 1.2,
        "agency" => 25.0,
        "legal" => 120.0,
        _ => 0.0,
    }
}

/// Simulated events, by column (the events table's schema).
#[derive(Debug, Default)]
struct Simulated {
    decision_ids: Vec<String>,
    dates: Vec<i32>,
    events: Vec<&'static str>,
    amounts: Vec<Option<f64>>,
    stages: Vec<Option<&'static str>>,
}

impl Simulated {
    fn len(&self) -> usize {
        self.dates.len()
    }

    fn push(&mut self, id: &str, date: NaiveDate, event: &'static str, amount: Option<f64>) {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
        self.decision_ids.push(id.to_owned());
        self.dates.push((date - epoch).num_days() as i32);
        self.events.push(event);
        self.amounts.push(amount);
        self.stages.push(None);
    }

    /// The events as a table.
    fn frame(self) -> PolarsResult<DataFrame> {
        let dates = Series::new("date".into(), self.dates).cast(&DataType::Date)?;
        DataFrame::new_infer_height(vec![
            Column::new("decision_id".into(), self.decision_ids),
            Column::from(dates),
            Column::new("event".into(), self.events),
            Column::new("amount".into(), self.amounts),
            Column::new("stage".into(), self.stages),
        ])
    }
}

/// Decisions simulated and written at a time by [`write_simulated`].
const CHUNK: usize = 1_000_000;

/// Simulates the events of every decision of `decided` with `seed` and writes them to `path`
/// (Parquet for `.parquet`, else CSV) a million decisions at a time, so any number of decisions
/// is simulated in bounded memory. Returns the number of events.
pub fn write_simulated(decided: &Decided, seed: u64, path: &Path) -> Result<usize, TrainError> {
    let polars = polars_error(path);
    let io = |source| TrainError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut written = 0;
    if super::tables::is_parquet(path) {
        let mut out = ParquetBatches::create(path)?;
        for start in (0..decided.len().max(1)).step_by(CHUNK) {
            let events = simulate_range(decided, seed, start..(start + CHUNK).min(decided.len()));
            written += events.len();
            out.write(&events.frame().map_err(&polars)?)?;
        }
        out.finish()?;
    } else {
        let mut out = std::io::BufWriter::new(std::fs::File::create(path).map_err(io)?);
        for start in (0..decided.len().max(1)).step_by(CHUNK) {
            let events = simulate_range(decided, seed, start..(start + CHUNK).min(decided.len()));
            written += events.len();
            CsvWriter::new(&mut out)
                .include_header(start == 0)
                .finish(&mut events.frame().map_err(&polars)?)
                .map_err(&polars)?;
        }
        std::io::Write::flush(&mut out).map_err(io)?;
    }
    Ok(written)
}

fn polars_error(path: &Path) -> impl Fn(PolarsError) -> TrainError + '_ {
    move |source| TrainError::Polars {
        context: format!("writing {}", path.display()),
        source,
    }
}

/// A Parquet file written a batch at a time, its schema the first batch's.
struct ParquetBatches<'p> {
    path: &'p Path,
    file: std::fs::File,
    writer: Option<polars::io::parquet::write::BatchedWriter<std::fs::File>>,
}

impl<'p> ParquetBatches<'p> {
    fn create(path: &'p Path) -> Result<Self, TrainError> {
        let file = std::fs::File::create(path).map_err(|source| TrainError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(ParquetBatches {
            path,
            file,
            writer: None,
        })
    }

    fn write(&mut self, df: &DataFrame) -> Result<(), TrainError> {
        let polars = polars_error(self.path);
        if self.writer.is_none() {
            let file = self.file.try_clone().map_err(|source| TrainError::Io {
                path: self.path.to_path_buf(),
                source,
            })?;
            self.writer = Some(
                ParquetWriter::new(file)
                    .batched(df.schema())
                    .map_err(&polars)?,
            );
        }
        if let Some(w) = self.writer.as_mut() {
            w.write_batch(df).map_err(&polars)?;
        }
        Ok(())
    }

    fn finish(self) -> Result<(), TrainError> {
        if let Some(w) = self.writer {
            w.finish().map_err(polars_error(self.path))?;
        }
        Ok(())
    }
}

/// The next 30-day bucket after `stage`'s (the roll-rate buckets).
fn next_bucket(days_past_due: u32) -> &'static str {
    let buckets = super::readout::rolls::BUCKETS;
    buckets[(super::readout::rolls::bucket(days_past_due) + 1).min(buckets.len() - 1)]
}

/// Simulates the events of decisions `range` of `decided`.
fn simulate_range(decided: &Decided, seed: u64, range: std::ops::Range<usize>) -> Simulated {
    let mut out = Simulated::default();
    for i in range {
        let id = decided.id(i);
        let mut rng = Rng::new(seed ^ (id as u64) ^ ((id >> 64) as u64).rotate_left(17));
        rng.next();
        let day = decided.date(i);
        let on = |days: f64| day + Duration::days(days as i64);
        let p = decided.probability(i);
        let b = decided.balance(i);
        let b = if b.is_finite() { b.max(0.0) } else { 0.0 };
        let treatment = decided.value("treatment", i).unwrap_or("");
        let channel = decided.value("channel", i).unwrap_or("");
        let id = format!("{id:032x}");
        out.push(&id, day, "cost", Some(cost(channel)));
        let cured = rng.uniform() < cure_probability(p, b, treatment, channel);
        if channel == "phone" && rng.uniform() < 0.3 {
            let event = if cured {
                "promise_kept"
            } else {
                "promise_broken"
            };
            out.push(&id, on(7.0), event, None);
        }
        if cured {
            let paid_on = 1.0 + (rng.uniform() * 80.0).floor();
            let amount = (b * (0.2 + 0.4 * rng.uniform()) * 100.0).round() / 100.0;
            if amount > 0.0 {
                out.push(&id, on(paid_on), "payment", Some(amount));
            }
            out.push(&id, on(paid_on + 1.0), "cured", None);
        } else {
            let partial = rng.uniform() < 0.35;
            let paid_on = 1.0 + (rng.uniform() * 60.0).floor();
            let amount = (b * (0.02 + 0.08 * rng.uniform()) * 100.0).round() / 100.0;
            if partial && amount > 0.0 {
                out.push(&id, on(paid_on), "payment", Some(amount));
            }
            if rng.uniform() < 0.7 {
                out.push(&id, on(30.0), "rolled", None);
                if let Some(last) = out.stages.last_mut() {
                    *last = Some(next_bucket(decided.days_past_due(i)));
                }
            }
        }
    }
    out
}

/// Writes a synthetic decisions table of `n` decisions to `path` (Parquet), a million at a
/// time: the readout's benchmark input, in the columns a readout reads (those of
/// `payrisk-train decisions`, without the request's identity, reasons and shadow).
///
/// Decisions fall on the days of [`SYNTHETIC_MONTHS`] months from 2026-01-01, over `n / 3`
/// accounts (`acct-<k>`, so most accounts are decided three times). Each account's arm of the
/// experiment `synthetic` comes from its id by the experiments' stable hash (challenger 30 %,
/// control 10 %); its probability is `sigmoid(1.2 + 1.2 z)`, its balance log-normal around
/// 1,800, its days past due one of 5, 35, 65, 95, 125. The champion is firm below p = 0.7, the
/// challenger below 0.5, the control soft; actions and channels follow the shipped ladder.
pub fn write_synthetic_decisions(n: usize, seed: u64, path: &Path) -> Result<(), TrainError> {
    use crate::policy::{Arm, Control, Experiment, ExperimentMode, Treatment};
    let polars = polars_error(path);
    let experiment = Experiment {
        name: "synthetic".into(),
        share: 0.3,
        mode: ExperimentMode::Split,
        challenger_model: None,
        challenger_policy: None,
        control: Some(Control {
            share: 0.1,
            treatment: Some(Treatment::Soft),
            action: None,
            candidates: Vec::new(),
        }),
    };
    // The shipped ladder: (stage, soft action and channel, firm action and channel).
    const LADDER: [(&str, u32, [&str; 4]); 5] = [
        ("current", 5, ["reminder", "sms", "reminder_call", "phone"]),
        ("30+", 35, ["reminder", "email", "call", "phone"]),
        (
            "60+",
            65,
            ["payment_plan_offer", "email", "demand_letter", "letter"],
        ),
        ("90+", 95, ["call", "phone", "agency_referral", "agency"]),
        (
            "120+",
            125,
            ["demand_letter", "letter", "legal_referral", "legal"],
        ),
    ];
    let bands = [(0.9, "A"), (0.8, "B"), (0.65, "C"), (0.45, "D"), (0.0, "E")];
    let accounts = (n / 3).max(1);
    let start = NaiveDate::from_ymd_opt(2026, 1, 1)
        .unwrap_or_default()
        .and_hms_opt(15, 0, 0)
        .unwrap_or_default()
        .and_utc();
    let days = i64::from(SYNTHETIC_MONTHS) * 30;
    let mut out = ParquetBatches::create(path)?;
    for first in (0..n).step_by(CHUNK) {
        let rows = first..(first + CHUNK).min(n);
        let mut ids = Vec::with_capacity(rows.len());
        let mut times = Vec::with_capacity(rows.len());
        let mut account_ids = Vec::with_capacity(rows.len());
        let mut dpds = Vec::with_capacity(rows.len());
        let mut balances = Vec::with_capacity(rows.len());
        let mut probabilities = Vec::with_capacity(rows.len());
        let mut text: [Vec<&str>; 7] = Default::default();
        for i in rows {
            let mut rng = Rng::new(seed ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
            rng.next();
            let account = format!("acct-{}", rng.next() % accounts as u64);
            let arm = experiment.arm(&account);
            let p = sigmoid(1.2 + 1.2 * rng.normal());
            let (stage, dpd, actions) = LADDER[(rng.uniform() * 5.0) as usize % 5];
            let firm = match arm {
                Arm::Champion => p < 0.7,
                Arm::Challenger => p < 0.5,
                Arm::Control => false,
            };
            let (action, channel) = if firm {
                (actions[2], actions[3])
            } else {
                (actions[0], actions[1])
            };
            let at = start + Duration::seconds((rng.uniform() * days as f64 * 86_400.0) as i64);
            ids.push(format!(
                "{:016x}{:016x}",
                rng.next(),
                crate::stable_hash::hash64(seed, &[&(i as u64).to_le_bytes()])
            ));
            times.push(at.timestamp_millis());
            account_ids.push(account);
            dpds.push(dpd);
            balances.push(((7.5 + 0.8 * rng.normal()).exp() * 100.0).round() / 100.0);
            probabilities.push(p);
            let band = bands.iter().find(|b| p >= b.0).map_or("E", |b| b.1);
            let treatment = if firm { "firm" } else { "soft" };
            for (column, value) in
                text.iter_mut()
                    .zip([stage, band, treatment, action, channel, arm.as_str(), "2"])
            {
                column.push(value);
            }
        }
        let time = Series::new("decision_time".into(), times)
            .cast(&DataType::Datetime(TimeUnit::Milliseconds, None))
            .map_err(&polars)?;
        let mut columns = vec![
            Column::new("decision_id".into(), ids),
            Column::from(time),
            Column::new("account_id".into(), account_ids),
            Column::new("days_past_due".into(), dpds),
            Column::new("balance".into(), balances),
            Column::new("probability".into(), probabilities),
            Column::new("experiment".into(), vec!["synthetic"; text[0].len()]),
        ];
        for (name, values) in super::readout::table::DIMENSIONS.iter().zip(text) {
            columns.push(Column::new((*name).into(), values));
        }
        out.write(&DataFrame::new_infer_height(columns).map_err(&polars)?)?;
    }
    out.finish()?;
    Ok(())
}

/// Months the synthetic decisions span.
pub const SYNTHETIC_MONTHS: u32 = 6;

#[cfg(test)]
mod tests {
    use super::*;

    /// The documented effect: firm helps high-balance likely defaulters, hurts likely payers,
    /// and no contact hurts everyone.
    #[test]
    fn firm_helps_wilful_high_balances_and_hurts_payers() {
        let soft = |p, b| cure_probability(p, b, "soft", "email");
        let firm = |p, b| cure_probability(p, b, "firm", "phone");
        assert!(firm(0.3, 5_000.0) > soft(0.3, 5_000.0) + 0.1);
        assert!(firm(0.9, 5_000.0) < soft(0.9, 5_000.0));
        assert!(cure_probability(0.6, 100.0, "soft", "none") < soft(0.6, 100.0));
        let q = soft(0.5, 1_000.0);
        assert!((q - 0.5).abs() < 1e-12);
        assert!(
            (expected_recovery(0.5, 1_000.0, "soft", "email")
                - 1_000.0 * (0.4 * 0.5 + 0.021 * 0.5))
                .abs()
                < 1e-9
        );
    }
}
