//! The readout of what decisions led to: the decisions table joined to the events table over
//! an observation window, summed by aging bucket, band, treatment, action, channel, arm, model
//! version and one customer segment; the serving model's live performance by month; the
//! experiment readout with its intervals, tests and verdict; and the roll-rate matrices of the
//! payment history.
//!
//! Rules, in order:
//! 1. **Window.** An event counts for its decision when it falls within `window_days` after
//!    the decision's date (UTC). Later events are counted apart, never summed.
//! 2. **Maturity.** Only decisions whose window has closed by `as_of` (default: the latest event
//!    date) are read out: a decision made last week has not had 90 days to pay. The others are
//!    counted as immature.
//! 3. **Outcomes of a decision** over its window: `recovered` (its payments), `cost` (its
//!    costs), `cured`, `rolled` (forward to a later bucket), `settled`, `charged_off`, promises
//!    kept and broken, and `repaid`: a payment, and neither a roll forward nor a charge-off.
//! 4. **Rates of a group.** Recovery rate = recovered / balance at the decision (decisions
//!    with a known balance); cure and roll-forward rates per decision; promise-kept rate =
//!    kept / (kept + broken); net recovery per decision = (recovered - cost) / decisions.
//! 5. **Live performance.** Per decision month: AUC and expected calibration error of the
//!    decision's probability against `repaid`, a reliability table, and the PSI of the
//!    probabilities against the first month's.
//! 6. **Experiment.** The experiment with the most decisions; the unit is the account, so each
//!    account counts once, by its first mature decision in the experiment (later decisions of
//!    the same account are counted apart). Each other arm (challenger, control) is compared with
//!    the champion on recovery per account (Welch) and cure rate (two proportions); the
//!    arithmetic is in [`stats`].
//! 7. **Peeking.** The verdict is for a fixed horizon: with `planned_accounts` set, no verdict
//!    is given before that many accounts are mature in the compared arms (the estimates are
//!    shown as interim); without it this readout is taken as the one planned look, and the
//!    readout says so. Looking again and again at a growing sample and stopping at the first
//!    significant result would make "significant" far likelier than 5 %.
//! 8. **Where the treatment matters.** With a random control, champion minus control by decile
//!    of the probability at the decision (the two arms' accounts pooled into tenths): what the
//!    champion's treatment causes against the alternative, by risk. Both arms are assigned at
//!    random, so the differences are causal; each has its interval.
//! 9. **Are the arms alike?** Each arm's mean balance and days past due at the decision, and
//!    their standardised mean differences from the champion's; at [`SMD_FLAG`] or beyond the
//!    page flags the arm (an assignment that is not random, or a filter applied to one arm
//!    only, shows here before it biases the verdict).

pub mod rolls;
pub mod segments;
pub mod stats;
pub mod table;

use std::collections::{HashMap, HashSet};

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

use super::events::{EventKind, Events};
use crate::evaluation;
use crate::stability::{psi, Histogram};
pub use rolls::RollRates;
use stats::{Difference, Estimate, Sample};
pub use table::{account_key, Decided};

/// Observation windows a readout offers, in days.
pub const WINDOWS: [u32; 3] = [30, 60, 90];

/// Calibration bins of the reliability table.
const RELIABILITY_BINS: usize = 10;

/// What a readout is asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadoutOptions {
    /// Observation window in days after each decision.
    pub window_days: u32,
    /// The date the outcomes are known to (default: the latest event's).
    pub as_of: Option<NaiveDate>,
    /// The experiment's planned number of accounts (fixed horizon).
    pub planned_accounts: Option<u64>,
    /// The metric the verdict is on.
    pub primary: Metric,
}

impl Default for ReadoutOptions {
    fn default() -> Self {
        ReadoutOptions {
            window_days: 90,
            as_of: None,
            planned_accounts: None,
            primary: Metric::Recovery,
        }
    }
}

/// A metric an experiment is judged on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Amount recovered per account.
    Recovery,
    /// Share of accounts cured.
    Cure,
}

/// The readout, as written to `readout.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Readout {
    /// Observation window in days.
    pub window_days: u32,
    /// The date outcomes are known to.
    pub as_of: NaiveDate,
    /// How decisions and events joined.
    pub join: Join,
    /// Sums by dimension.
    pub breakdowns: Vec<Breakdown>,
    /// The serving model's live performance by decision month.
    pub performance: Vec<MonthPerformance>,
    /// The experiment readout, when decisions carry an experiment.
    pub experiment: Option<ExperimentReadout>,
    /// Roll rates between aging buckets from the payment history, when given.
    pub roll_rates: Option<RollRates>,
}

/// How decisions and events joined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Join {
    /// Decisions read.
    pub decisions: u64,
    /// Of them, with their window closed by `as_of` (read out).
    pub mature_decisions: u64,
    /// Of them, still inside their window (left out).
    pub immature_decisions: u64,
    /// Mature decisions with at least one event in their window.
    pub mature_with_events: u64,
    /// Mature decisions with none (nothing happened: no payment, no change).
    pub mature_without_events: u64,
    /// Event rows joined to a decision.
    pub events_joined: u64,
    /// Of them, inside their decision's window.
    pub events_in_window: u64,
    /// Of them, after it (not summed).
    pub events_after_window: u64,
    /// Event rows refused (unknown decision, bad cell, duplicate; lenient reads only).
    pub events_refused: u64,
}

/// Sums of one dimension.
#[derive(Debug, Clone, Serialize)]
pub struct Breakdown {
    /// The dimension: `stage`, `band`, `treatment`, `action`, `channel`, `arm`,
    /// `model_version`, or `segment:<name>`.
    pub by: String,
    /// One row per value: stages by their days past due (the ladder's order), arms champion
    /// first, other values in natural order (`q2` before `q10`).
    pub groups: Vec<Group>,
}

/// One value of a dimension.
#[derive(Debug, Clone, Serialize)]
pub struct Group {
    /// The value.
    pub key: String,
    /// Mature decisions.
    pub decisions: u64,
    /// Balance at the decisions (known balances).
    pub balance: f64,
    /// Amount recovered.
    pub recovered: f64,
    /// Recovered / balance (decisions with a known balance).
    pub recovery_rate: Option<f64>,
    /// Share cured.
    pub cure_rate: f64,
    /// Share rolled forward.
    pub roll_forward_rate: f64,
    /// Kept / (kept + broken) promises; `None` without promises.
    pub promise_kept_rate: Option<f64>,
    /// Cost of the actions.
    pub cost: f64,
    /// (Recovered - cost) / decisions.
    pub net_recovery_per_decision: f64,
}

/// The serving model in one decision month.
#[derive(Debug, Clone, Serialize)]
pub struct MonthPerformance {
    /// `YYYY-MM`.
    pub month: String,
    /// Mature decisions.
    pub decisions: u64,
    /// Share repaid (rule 3).
    pub repaid_rate: f64,
    /// AUC of the probability against repaid (`None` when one class is absent).
    pub auc: Option<f64>,
    /// Expected calibration error.
    pub ece: Option<f64>,
    /// PSI of the probabilities against the first month's.
    pub psi: f64,
    /// Reliability table: ten equal-width probability bins.
    pub reliability: Vec<Reliability>,
}

/// One bin of a reliability table.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Reliability {
    /// Decisions in the bin.
    pub decisions: u64,
    /// Their mean probability.
    pub mean_predicted: f64,
    /// Their repaid share.
    pub observed: f64,
}

/// The experiment readout.
#[derive(Debug, Clone, Serialize)]
pub struct ExperimentReadout {
    /// The experiment.
    pub name: String,
    /// Accounts read out (each once, rule 6).
    pub accounts: u64,
    /// Later mature decisions of the same accounts, not counted again.
    pub repeat_decisions: u64,
    /// The fixed horizon (rule 7).
    pub horizon: Horizon,
    /// The metric the verdicts are on.
    pub primary: Metric,
    /// Per arm.
    pub arms: Vec<ArmReadout>,
    /// Each other arm against the champion.
    pub comparisons: Vec<Comparison>,
    /// Where the champion's treatment changes the outcome: champion minus control by decile of
    /// the probability at the decision (empty without a control).
    pub control_effect: Vec<EffectDecile>,
    /// The arms' accounts before treatment, against the champion's: random arms differ only
    /// by chance (rule 9).
    pub covariates: Vec<ArmCovariates>,
}

/// One arm's accounts before treatment.
#[derive(Debug, Clone, Serialize)]
pub struct ArmCovariates {
    /// The arm.
    pub arm: String,
    /// Mean balance at the decision (known balances).
    pub mean_balance: f64,
    /// Mean days past due at the decision.
    pub mean_days_past_due: f64,
    /// Standardised mean difference of the balance from the champion's (0 for the champion).
    pub balance_smd: Option<f64>,
    /// Standardised mean difference of the days past due from the champion's.
    pub days_past_due_smd: Option<f64>,
}

/// A standardised mean difference at or beyond which the arms are flagged as unlike.
pub const SMD_FLAG: f64 = 0.1;

/// Champion minus control within one decile of the probability at the decision: what the
/// champion's treatment causes there, against the control's alternative (both arms are assigned
/// at random, so the difference is causal).
#[derive(Debug, Clone, Serialize)]
pub struct EffectDecile {
    /// 1 = the tenth least likely to repay.
    pub decile: u32,
    /// Lowest probability in the decile.
    pub min_probability: f64,
    /// Highest probability in the decile.
    pub max_probability: f64,
    /// Champion accounts in the decile.
    pub champion_accounts: u64,
    /// Control accounts in the decile.
    pub control_accounts: u64,
    /// Recovery per account, champion minus control (Welch).
    pub recovery: Option<Difference>,
    /// Cure rate, champion minus control (two proportions).
    pub cure: Option<Difference>,
}

/// The fixed horizon of the experiment.
#[derive(Debug, Clone, Serialize)]
pub struct Horizon {
    /// Accounts planned before the experiment started.
    pub planned_accounts: Option<u64>,
    /// Whether the compared arms have reached it.
    pub reached: bool,
    /// What the verdict's validity rests on.
    pub rule: String,
}

/// One arm's accounts.
#[derive(Debug, Clone, Serialize)]
pub struct ArmReadout {
    /// `champion`, `challenger` or `control`.
    pub arm: String,
    /// Accounts.
    pub accounts: u64,
    /// Amount recovered per account, with its 95 % interval.
    pub recovery_per_account: Estimate,
    /// Cure rate, with its 95 % Wilson interval.
    pub cure_rate: Estimate,
    /// Recovered / balance.
    pub recovery_rate: Option<f64>,
}

/// One arm against the champion.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    /// The arm compared.
    pub arm: String,
    /// Always `champion`.
    pub against: String,
    /// Recovery per account: arm minus champion (Welch's t-test).
    pub recovery: Option<Difference>,
    /// Cure rate: arm minus champion (two-proportion z-test).
    pub cure: Option<Difference>,
    /// `better`, `worse`, `not_distinguishable` or `interim`.
    pub outcome: String,
    /// The verdict in one line.
    pub verdict: String,
}

/// One decision's outcomes over its window (rule 3).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Outcome {
    recovered: f64,
    cost: f64,
    flags: u8,
    kept: u16,
    broken: u16,
}

const PAID: u8 = 1;
const CURED: u8 = 2;
const ROLLED: u8 = 4;
const SETTLED: u8 = 8;
const CHARGED_OFF: u8 = 16;

impl Outcome {
    /// Repaid: a payment, and neither a roll forward nor a charge-off, in the window.
    pub fn repaid(&self) -> bool {
        self.flags & PAID != 0 && self.flags & (ROLLED | CHARGED_OFF) == 0
    }

    /// The amount paid in the window.
    pub fn recovered(&self) -> f64 {
        self.recovered
    }

    /// What the actions cost in the window.
    pub fn cost(&self) -> f64 {
        self.cost
    }
}

/// Every decision's outcomes over its window (rules 1 and 2), and how the join went.
#[derive(Debug, Clone)]
pub struct Windowed {
    /// The date outcomes are known to.
    pub as_of: NaiveDate,
    /// Per decision, its outcomes in the window.
    pub outcomes: Vec<Outcome>,
    /// Per decision, whether its window closed by `as_of`.
    pub mature: Vec<bool>,
    /// How decisions and events joined.
    pub join: Join,
}

/// Each decision of `decided` joined to its `events` over `window_days` (rules 1 and 2); `as_of`
/// defaults to the latest event's date (else the latest decision's).
pub fn window_outcomes(
    decided: &Decided,
    events: &Events,
    window_days: u32,
    as_of: Option<NaiveDate>,
) -> Windowed {
    let window = chrono::Duration::days(i64::from(window_days));
    let n = decided.len();
    let as_of = as_of
        .or_else(|| events.events.iter().map(|e| e.date).max())
        .or_else(|| (0..n).map(|i| decided.date(i)).max())
        .unwrap_or_default();
    // Rule 1: each decision's outcomes over its window.
    let mut outcomes = vec![Outcome::default(); n];
    let mut has_event = vec![false; n];
    let (mut in_window, mut after_window) = (0u64, 0u64);
    for e in &events.events {
        let d = e.decision as usize;
        if e.date > decided.date(d) + window {
            after_window += 1;
            continue;
        }
        in_window += 1;
        has_event[d] = true;
        let o = &mut outcomes[d];
        match e.kind {
            EventKind::Payment => {
                o.recovered += e.amount;
                o.flags |= PAID;
            }
            EventKind::Cost => o.cost += e.amount,
            EventKind::Cured => o.flags |= CURED,
            EventKind::Rolled => o.flags |= ROLLED,
            EventKind::Settled => o.flags |= SETTLED,
            EventKind::ChargedOff => o.flags |= CHARGED_OFF,
            EventKind::PromiseKept => o.kept = o.kept.saturating_add(1),
            EventKind::PromiseBroken => o.broken = o.broken.saturating_add(1),
        }
    }
    // Rule 2.
    let mature: Vec<bool> = (0..n).map(|i| decided.date(i) + window <= as_of).collect();
    let mature_count = mature.iter().filter(|&&m| m).count() as u64;
    let with_events = (0..n).filter(|&i| mature[i] && has_event[i]).count() as u64;
    let join = Join {
        decisions: n as u64,
        mature_decisions: mature_count,
        immature_decisions: n as u64 - mature_count,
        mature_with_events: with_events,
        mature_without_events: mature_count - with_events,
        events_joined: events.events.len() as u64,
        events_in_window: in_window,
        events_after_window: after_window,
        events_refused: events.rejects.len() as u64,
    };
    Windowed {
        as_of,
        outcomes,
        mature,
        join,
    }
}

/// Running sums of a group.
#[derive(Debug, Clone, Copy, Default)]
struct Sums {
    decisions: u64,
    with_balance: u64,
    balance: f64,
    recovered: f64,
    recovered_with_balance: f64,
    cured: u64,
    rolled: u64,
    kept: u64,
    broken: u64,
    cost: f64,
}

impl Sums {
    fn add(&mut self, o: &Outcome, balance: f64) {
        self.decisions += 1;
        if balance.is_finite() {
            self.with_balance += 1;
            self.balance += balance;
            self.recovered_with_balance += o.recovered;
        }
        self.recovered += o.recovered;
        self.cured += u64::from(o.flags & CURED != 0);
        self.rolled += u64::from(o.flags & ROLLED != 0);
        self.kept += u64::from(o.kept);
        self.broken += u64::from(o.broken);
        self.cost += o.cost;
    }

    fn group(&self, key: String) -> Group {
        let n = self.decisions.max(1) as f64;
        Group {
            key,
            decisions: self.decisions,
            balance: self.balance,
            recovered: self.recovered,
            recovery_rate: (self.balance > 0.0).then(|| self.recovered_with_balance / self.balance),
            cure_rate: self.cured as f64 / n,
            roll_forward_rate: self.rolled as f64 / n,
            promise_kept_rate: (self.kept + self.broken > 0)
                .then(|| self.kept as f64 / (self.kept + self.broken) as f64),
            cost: self.cost,
            net_recovery_per_decision: (self.recovered - self.cost) / n,
        }
    }
}

/// Reads out `decided` joined to `events` (rules 1-7). `segment` names the customer segment
/// of each decision (its label and the segment's name), when one is asked for.
pub fn readout(
    decided: &Decided,
    events: &Events,
    segment: Option<(&str, &segments::Labels)>,
    options: &ReadoutOptions,
) -> Readout {
    let n = decided.len();
    let Windowed {
        as_of,
        outcomes,
        mature,
        join,
    } = window_outcomes(decided, events, options.window_days, options.as_of);
    // Rule 4, per dimension.
    let mut breakdowns: Vec<Breakdown> = decided
        .dimensions()
        .map(|(name, codes)| {
            breakdown(
                name.to_owned(),
                &codes.names,
                |i| Some(codes.codes[i] as usize),
                n,
                &mature,
                &outcomes,
                decided,
            )
        })
        .collect();
    if let Some((name, labels)) = segment {
        breakdowns.push(breakdown(
            format!("segment:{name}"),
            &labels.names,
            |i| Some(labels.code_of(decided.account(i)) as usize),
            n,
            &mature,
            &outcomes,
            decided,
        ));
    }
    Readout {
        window_days: options.window_days,
        as_of,
        join,
        breakdowns,
        performance: performance(decided, &mature, &outcomes),
        experiment: experiment(decided, &mature, &outcomes, options),
        roll_rates: None,
    }
}

fn breakdown(
    by: String,
    names: &[String],
    code: impl Fn(usize) -> Option<usize>,
    n: usize,
    mature: &[bool],
    outcomes: &[Outcome],
    decided: &Decided,
) -> Breakdown {
    let mut sums = vec![Sums::default(); names.len()];
    let mut least_dpd = vec![u32::MAX; names.len()];
    for i in (0..n).filter(|&i| mature[i]) {
        if let Some(c) = code(i) {
            sums[c].add(&outcomes[i], decided.balance(i));
            least_dpd[c] = least_dpd[c].min(decided.days_past_due(i));
        }
    }
    let mut order: Vec<usize> = (0..names.len())
        .filter(|&c| sums[c].decisions > 0)
        .collect();
    match by.as_str() {
        "stage" => order.sort_by_key(|&c| least_dpd[c]),
        "arm" => order.sort_by_key(|&c| {
            let known = ["champion", "challenger", "control"];
            (
                known
                    .iter()
                    .position(|a| *a == names[c])
                    .unwrap_or(known.len()),
                natural(&names[c]),
            )
        }),
        _ => order.sort_by_key(|&c| natural(&names[c])),
    }
    Breakdown {
        by,
        groups: order
            .into_iter()
            .map(|c| sums[c].group(names[c].clone()))
            .collect(),
    }
}

/// A key that sorts text with its numbers by value (`q2` before `q10`, `= 3` before `= 12`).
fn natural(text: &str) -> Vec<(u8, u64, String)> {
    let mut key = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits > 0 {
            key.push((0, rest[..digits].parse().unwrap_or(u64::MAX), String::new()));
            rest = &rest[digits..];
        } else {
            let run = rest
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(rest.len());
            key.push((1, 0, rest[..run].to_owned()));
            rest = &rest[run..];
        }
    }
    key
}

/// Rule 5.
fn performance(decided: &Decided, mature: &[bool], outcomes: &[Outcome]) -> Vec<MonthPerformance> {
    let mut months: Vec<(i32, u32)> = Vec::new();
    let mut by_month: HashMap<(i32, u32), (Vec<f64>, Vec<bool>)> = HashMap::new();
    for i in (0..decided.len()).filter(|&i| mature[i]) {
        let d = decided.date(i);
        let key = (d.year(), d.month());
        let entry = by_month.entry(key).or_insert_with(|| {
            months.push(key);
            (Vec::new(), Vec::new())
        });
        entry.0.push(decided.probability(i));
        entry.1.push(outcomes[i].repaid());
    }
    months.sort_unstable();
    let reference = months
        .first()
        .and_then(|m| by_month.get(m))
        .map(|(p, _)| Histogram::fit(p, 10));
    months
        .iter()
        .filter_map(|m| {
            let (probabilities, repaid) = by_month.get(m)?;
            let metrics = evaluation::evaluate(repaid, probabilities).ok();
            let mut bins = vec![(0u64, 0.0f64, 0u64); RELIABILITY_BINS];
            for (&p, &y) in probabilities.iter().zip(repaid) {
                let b = ((p * RELIABILITY_BINS as f64) as usize).min(RELIABILITY_BINS - 1);
                bins[b].0 += 1;
                bins[b].1 += p;
                bins[b].2 += u64::from(y);
            }
            let decisions = probabilities.len() as u64;
            Some(MonthPerformance {
                month: format!("{:04}-{:02}", m.0, m.1),
                decisions,
                repaid_rate: repaid.iter().filter(|&&y| y).count() as f64 / decisions.max(1) as f64,
                auc: metrics.map(|x| x.auc),
                ece: metrics.map(|x| x.ece),
                psi: reference
                    .as_ref()
                    .map_or(0.0, |r| psi(&r.shares, &r.shares_of(probabilities))),
                reliability: bins
                    .iter()
                    .map(|&(count, sum, yes)| Reliability {
                        decisions: count,
                        mean_predicted: if count > 0 {
                            sum / count as f64
                        } else {
                            f64::NAN
                        },
                        observed: if count > 0 {
                            yes as f64 / count as f64
                        } else {
                            f64::NAN
                        },
                    })
                    .collect(),
            })
        })
        .collect()
}

/// One arm's running sums for the experiment.
#[derive(Debug, Clone, Copy, Default)]
struct ArmSums {
    recovery: Sample,
    cured: u64,
    balance: f64,
    recovered_with_balance: f64,
    /// Pre-treatment covariates, for the balance check.
    balances: Sample,
    days_past_due: Sample,
}

/// Rules 6 and 7.
fn experiment(
    decided: &Decided,
    mature: &[bool],
    outcomes: &[Outcome],
    options: &ReadoutOptions,
) -> Option<ExperimentReadout> {
    let experiments = decided.experiments();
    let mut counts = vec![0u64; experiments.names.len()];
    for i in (0..decided.len()).filter(|&i| mature[i]) {
        counts[experiments.codes[i] as usize] += 1;
    }
    let (code, _) = counts
        .iter()
        .enumerate()
        .filter(|(c, &k)| k > 0 && !experiments.names[*c].is_empty())
        .max_by_key(|(_, &k)| k)?;
    let arms = decided.arms();
    let mut seen: HashSet<u64> = HashSet::new();
    let mut sums: Vec<ArmSums> = vec![ArmSums::default(); arms.names.len()];
    let mut repeat_decisions = 0;
    // Decisions in date order, so that an account's first decision is the one counted.
    let mut order: Vec<usize> = (0..decided.len())
        .filter(|&i| mature[i] && experiments.codes[i] as usize == code)
        .collect();
    order.sort_by_key(|&i| decided.date(i));
    let (champion_code, control_code) = (
        arms.names.iter().position(|a| a == "champion"),
        arms.names.iter().position(|a| a == "control"),
    );
    // The champion's and the control's accounts, for the effect by decile.
    let mut paired: Vec<(f64, bool, usize)> = Vec::new();
    for i in order {
        if !seen.insert(decided.account(i)) {
            repeat_decisions += 1;
            continue;
        }
        let code = Some(arms.codes[i] as usize);
        if code == champion_code || code == control_code {
            paired.push((decided.probability(i), code == champion_code, i));
        }
        let s = &mut sums[arms.codes[i] as usize];
        let o = &outcomes[i];
        s.recovery.push(o.recovered);
        s.cured += u64::from(o.flags & CURED != 0);
        let balance = decided.balance(i);
        if balance.is_finite() {
            s.balance += balance;
            s.recovered_with_balance += o.recovered;
            s.balances.push(balance);
        }
        s.days_past_due.push(f64::from(decided.days_past_due(i)));
    }
    let position = |name: &str| arms.names.iter().position(|a| a == name);
    let mut order: Vec<usize> = ["champion", "challenger", "control"]
        .iter()
        .filter_map(|a| position(a))
        .collect();
    let rest: Vec<usize> = (0..arms.names.len())
        .filter(|i| !order.contains(i))
        .collect();
    order.extend(rest);
    let arm_readouts: Vec<ArmReadout> = order
        .iter()
        .filter(|&&a| sums[a].recovery.n > 0)
        .map(|&a| {
            let s = &sums[a];
            ArmReadout {
                arm: arms.names[a].clone(),
                accounts: s.recovery.n,
                recovery_per_account: s.recovery.mean_interval(),
                cure_rate: stats::rate(s.cured, s.recovery.n),
                recovery_rate: (s.balance > 0.0).then(|| s.recovered_with_balance / s.balance),
            }
        })
        .collect();
    let champion = position("champion").map(|c| sums[c]).unwrap_or_default();
    let smd = stats::smd;
    let covariates = order
        .iter()
        .filter(|&&a| sums[a].recovery.n > 0)
        .map(|&a| {
            let s = &sums[a];
            ArmCovariates {
                arm: arms.names[a].clone(),
                mean_balance: s.balances.mean(),
                mean_days_past_due: s.days_past_due.mean(),
                balance_smd: smd(&s.balances, &champion.balances),
                days_past_due_smd: smd(&s.days_past_due, &champion.days_past_due),
            }
        })
        .collect();
    let comparisons = order
        .iter()
        .filter(|&&a| arms.names[a] != "champion" && sums[a].recovery.n > 0)
        .map(|&a| {
            let s = &sums[a];
            let recovery = stats::mean_difference(&s.recovery, &champion.recovery);
            let cure =
                stats::rate_difference(s.cured, s.recovery.n, champion.cured, champion.recovery.n);
            let compared = s.recovery.n + champion.recovery.n;
            let primary = match options.primary {
                Metric::Recovery => recovery,
                Metric::Cure => cure,
            };
            let (outcome, verdict) = verdict(&arms.names[a], primary, compared, options);
            Comparison {
                arm: arms.names[a].clone(),
                against: "champion".into(),
                recovery,
                cure,
                outcome: outcome.into(),
                verdict,
            }
        })
        .collect();
    let accounts = seen.len() as u64;
    let reached = options.planned_accounts.is_none_or(|p| {
        order
            .iter()
            .filter(|&&a| arms.names[a] != "champion")
            .all(|&a| sums[a].recovery.n + champion.recovery.n >= p)
    });
    let control_effect = if control_code.is_some() {
        effect_by_decile(paired, outcomes)
    } else {
        Vec::new()
    };
    Some(ExperimentReadout {
        covariates,
        control_effect,
        name: experiments.names[code].clone(),
        accounts,
        repeat_decisions,
        horizon: Horizon {
            planned_accounts: options.planned_accounts,
            reached,
            rule: match options.planned_accounts {
                Some(p) => format!(
                    "fixed horizon: a verdict only once {p} accounts of the compared arms are \
                     mature; before that the estimates are interim"
                ),
                None => "fixed horizon: no plan was declared, so this readout is taken as the \
                         one planned look; a verdict from repeated looks is not valid at 5 %"
                    .into(),
            },
        },
        primary: options.primary,
        arms: arm_readouts,
        comparisons,
    })
}

/// Champion minus control by decile of probability (equal counts of the two arms' accounts
/// pooled), from `(probability, is champion, decision)`.
fn effect_by_decile(
    mut paired: Vec<(f64, bool, usize)>,
    outcomes: &[Outcome],
) -> Vec<EffectDecile> {
    paired.sort_by(|a, b| a.0.total_cmp(&b.0));
    let n = paired.len();
    (0..10)
        .filter_map(|k| {
            let slice = &paired[k * n / 10..(k + 1) * n / 10];
            let (first, last) = (slice.first()?, slice.last()?);
            let (mut champion, mut control) = (ArmSums::default(), ArmSums::default());
            for &(_, is_champion, i) in slice {
                let s = if is_champion {
                    &mut champion
                } else {
                    &mut control
                };
                s.recovery.push(outcomes[i].recovered);
                s.cured += u64::from(outcomes[i].flags & CURED != 0);
            }
            Some(EffectDecile {
                decile: k as u32 + 1,
                min_probability: first.0,
                max_probability: last.0,
                champion_accounts: champion.recovery.n,
                control_accounts: control.recovery.n,
                recovery: stats::mean_difference(&champion.recovery, &control.recovery),
                cure: stats::rate_difference(
                    champion.cured,
                    champion.recovery.n,
                    control.cured,
                    control.recovery.n,
                ),
            })
        })
        .collect()
}

/// The one-line verdict on `primary` (rule 7).
fn verdict(
    arm: &str,
    primary: Option<Difference>,
    compared: u64,
    options: &ReadoutOptions,
) -> (&'static str, String) {
    let Some(d) = primary else {
        return (
            "not_distinguishable",
            format!("{arm}: too few accounts to compare"),
        );
    };
    if let Some(planned) = options.planned_accounts.filter(|&p| compared < p) {
        return (
            "interim",
            format!(
                "{arm}: interim, no verdict before the planned horizon ({} more accounts)",
                planned - compared
            ),
        );
    }
    let metric = match options.primary {
        Metric::Recovery => "recovery per account",
        Metric::Cure => "cure rate",
    };
    if d.estimate.low > 0.0 {
        (
            "better",
            format!("{arm} better on {metric} (p = {:.2e})", d.p_value),
        )
    } else if d.estimate.high < 0.0 {
        (
            "worse",
            format!("{arm} worse on {metric} (p = {:.2e})", d.p_value),
        )
    } else {
        let more = d
            .accounts_needed
            .map(|n| n.saturating_sub(compared))
            .filter(|&m| m > 0);
        (
            "not_distinguishable",
            match more {
                Some(m) => format!(
                    "{arm} not yet distinguishable on {metric}: about {m} more accounts needed \
                     at the observed difference"
                ),
                None => format!("{arm} not distinguishable on {metric}: no difference observed"),
            },
        )
    }
}
