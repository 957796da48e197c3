//! `payrisk-train plan`: one action per account for the day, chosen to maximise total expected
//! net recovery within the team's capacity per channel (a what-if before the day's worklist).
//!
//! The rules, in order:
//! 1. Every account is scored by the treatment-effect model through the serving engine: each
//!    candidate's expected net recovery (`probability × balance − cost`).
//! 2. Each candidate is given to the policy in uplift mode ([`crate::policy::Policy::decide_with`]),
//!    so its action and channel are what the account would really get: hardship, promises,
//!    contact caps and compliance holds apply. An account whose decision does not depend on the
//!    candidate (hardship, a pending promise, a hold) keeps that one decision, still uses its
//!    channel, and counts at the reference's expected net recovery.
//! 3. The plan chooses one candidate per account within the capacities ([`solve`]): exact with
//!    one capped channel, Lagrangian prices with a repair and a reported gap with several.
//! 4. Beside it, today's threshold policy (the same policy file in `threshold` mode) on the same
//!    accounts: its value and how much of each channel it would use, capacity or not.

pub mod solve;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rayon::prelude::*;
use serde::Serialize;

use super::TrainError;
use crate::domain::Account;
use crate::policy::{Mode, Policy, Rationale};
use crate::scoring::Engine;

/// Accounts scored together per task.
const CHUNK: usize = 4096;

/// Daily capacities by channel, parsed from `phone=2000,letter=500`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capacities(pub BTreeMap<String, u64>);

impl std::str::FromStr for Capacities {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let mut out = BTreeMap::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (channel, n) = part
                .split_once('=')
                .ok_or_else(|| format!("`{part}`: write a capacity as channel=accounts"))?;
            let n: u64 = n
                .trim()
                .parse()
                .map_err(|_| format!("`{part}`: the capacity must be a whole number"))?;
            if out.insert(channel.trim().to_owned(), n).is_some() {
                return Err(format!("`{}` is given twice", channel.trim()));
            }
        }
        if out.is_empty() {
            return Err("give at least one capacity, for example phone=2000".into());
        }
        Ok(Capacities(out))
    }
}

/// Every account's options: what the plan chooses from.
#[derive(Debug, Clone)]
pub struct Options {
    /// Candidates per account (the model's treatments).
    pub k: usize,
    /// The candidates' names.
    pub names: Vec<String>,
    /// The channels, by code.
    pub channels: Vec<String>,
    /// Per account, its id.
    pub accounts: Vec<String>,
    /// Per account and candidate, the expected net recovery.
    pub values: Vec<f64>,
    /// Per account and candidate, the channel code.
    pub channel_of: Vec<u16>,
    /// The actions, by code.
    pub action_names: Vec<String>,
    /// Per account and candidate, the action code.
    pub actions: Vec<u16>,
    /// Per account, whether a customer protection or hold decides whatever the candidate.
    pub fixed: Vec<bool>,
    /// Per account, the candidate today's threshold policy gives.
    pub threshold: Vec<u8>,
    /// Per account, the channel today's threshold policy's action uses.
    pub threshold_channel: Vec<u16>,
}

/// Rules 1, 2 and 4: every account's options under `engine` (an uplift model with a policy in
/// uplift mode) at `now`.
pub fn options(
    engine: &Engine,
    accounts: &[Account],
    now: DateTime<Utc>,
) -> Result<Options, TrainError> {
    let model = engine.model().uplift().ok_or_else(|| {
        TrainError::Config(
            "a plan chooses among a treatment-effect model's candidates: give an uplift model"
                .into(),
        )
    })?;
    let in_mode = |mode: Mode| -> Policy {
        let mut p = engine.policy().clone();
        p.treatment.mode = mode;
        p
    };
    let (uplift_policy, threshold_policy) = (in_mode(Mode::Uplift), in_mode(Mode::Threshold));
    let k = model.len();
    let names: Vec<String> = (0..k).map(|t| model.name(t).to_owned()).collect();
    let candidate: Vec<usize> = names
        .iter()
        .enumerate()
        .map(|(t, n)| {
            engine.candidate(t).ok_or_else(|| {
                TrainError::Config(format!(
                    "the model's treatment `{n}` is not one of the policy's [[candidates]]"
                ))
            })
        })
        .collect::<Result<_, _>>()?;
    // The policy's candidates in the model's order, for today's policy's choice.
    let in_model_order: Vec<crate::policy::Candidate> = candidate
        .iter()
        .map(|&c| uplift_policy.candidates[c].clone())
        .collect();
    // The model's candidate for each treatment today's policy gives: one of that treatment
    // with the ladder's action, else any of it, else the reference.
    let of_treatment = |t: crate::policy::Treatment| -> u8 {
        crate::policy::candidate_for(&in_model_order, t).unwrap_or(0) as u8
    };
    const MAX: usize = crate::model::uplift::MAX_TREATMENTS;
    /// One account's options, borrowing the policy's action texts.
    struct Row<'p> {
        values: [f64; MAX],
        channels: [&'p str; MAX],
        actions: [&'p str; MAX],
        fixed: bool,
        threshold: u8,
        threshold_channel: &'p str,
    }
    let rows: Vec<Option<Row>> = accounts
        .par_chunks(CHUNK)
        .flat_map_iter(|chunk| {
            let refs: Vec<&Account> = chunk.iter().collect();
            let mut scratch = engine.scratch();
            let mut scored = Vec::with_capacity(refs.len());
            engine.score_many(&refs, now, &mut scratch, &mut scored);
            chunk
                .iter()
                .zip(&scored)
                .map(|(a, s)| {
                    let o = s.options?;
                    let mut row = Row {
                        values: [0.0; MAX],
                        channels: [""; MAX],
                        actions: [""; MAX],
                        fixed: false,
                        threshold: 0,
                        threshold_channel: "",
                    };
                    for (t, &c) in candidate.iter().enumerate().take(MAX) {
                        let gain = o.expected_net_recovery(t) - o.expected_net_recovery(0);
                        let d = uplift_policy.decide_with(s.probability, a, now, Some((c, gain)));
                        row.fixed |= d.rationale != Rationale::Uplift;
                        row.values[t] = o.expected_net_recovery(t);
                        row.channels[t] = d.action.channel.as_str();
                        row.actions[t] = d.action.action.as_str();
                    }
                    let d = threshold_policy.decide(s.probability, a, now);
                    row.threshold = of_treatment(d.treatment);
                    row.threshold_channel = d.action.channel.as_str();
                    Some(row)
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let (mut channels, mut actions) = (Interned::default(), Interned::default());
    let mut out = Options {
        k,
        names,
        channels: Vec::new(),
        accounts: Vec::with_capacity(rows.len()),
        values: Vec::with_capacity(rows.len() * k),
        channel_of: Vec::with_capacity(rows.len() * k),
        action_names: Vec::new(),
        actions: Vec::with_capacity(rows.len() * k),
        fixed: Vec::with_capacity(rows.len()),
        threshold: Vec::with_capacity(rows.len()),
        threshold_channel: Vec::with_capacity(rows.len()),
    };
    let rows: Vec<Row<'_>> = rows.into_iter().collect::<Option<_>>().ok_or_else(|| {
        TrainError::Fit("an uplift model's score came without its options".into())
    })?;
    for (row, account) in rows.iter().zip(accounts) {
        // A fixed account's decision is its first candidate's whatever is chosen: one option.
        for t in 0..k {
            let at = if row.fixed { 0 } else { t };
            out.values.push(if row.fixed && t > 0 {
                f64::NAN
            } else {
                row.values[at]
            });
            out.channel_of.push(channels.code(row.channels[at]));
            out.actions.push(actions.code(row.actions[at]));
        }
        out.threshold_channel
            .push(channels.code(row.threshold_channel));
        out.accounts.push(account.account_id.clone());
        out.fixed.push(row.fixed);
        out.threshold.push(row.threshold);
    }
    out.channels = channels.names;
    out.action_names = actions.names;
    Ok(out)
}

/// Texts by code, in order of first sight.
#[derive(Default)]
struct Interned {
    names: Vec<String>,
    codes: std::collections::HashMap<String, u16>,
}

impl Interned {
    fn code(&mut self, name: &str) -> u16 {
        if let Some(&c) = self.codes.get(name) {
            return c;
        }
        let c = self.names.len() as u16;
        self.names.push(name.to_owned());
        self.codes.insert(name.to_owned(), c);
        c
    }
}

/// The plan's figures, as written to `plan.json`.
#[derive(Debug, Clone, Serialize)]
pub struct PlanReport {
    /// Accounts planned.
    pub accounts: u64,
    /// Of them, decided by a customer protection or a hold whatever the plan.
    pub fixed_accounts: u64,
    /// `exact (one capped channel)` or `Lagrangian relaxation with repair`.
    pub method: String,
    /// Total expected net recovery of the plan.
    pub plan_value: f64,
    /// The Lagrangian bound: no plan within the capacities is worth more (absent when a
    /// capacity cannot be kept).
    pub bound: Option<f64>,
    /// `(bound − plan) / plan` (absent when a capacity cannot be kept).
    pub relative_gap: Option<f64>,
    /// Total expected net recovery of today's threshold policy (which ignores capacities).
    pub threshold_value: f64,
    /// Of everyone getting the reference treatment.
    pub reference_value: f64,
    /// Of every account's best candidate, without capacities.
    pub unconstrained_value: f64,
    /// Sweeps over the channels, and accounts the repair moved.
    pub sweeps: u64,
    /// Accounts moved by the repair.
    pub repaired: u64,
    /// Per channel.
    pub channels: Vec<ChannelReport>,
    /// Per capped channel, the plan's value as its capacity varies (the others as given).
    pub curves: Vec<CapacityCurve>,
    /// How many accounts get each candidate under the plan.
    pub chosen: BTreeMap<String, u64>,
}

/// One channel's use.
#[derive(Debug, Clone, Serialize)]
pub struct ChannelReport {
    /// Channel.
    pub channel: String,
    /// Capacity (absent: none).
    pub capacity: Option<u64>,
    /// Accounts the plan gives it.
    pub plan: u64,
    /// Accounts today's threshold policy gives it.
    pub threshold: u64,
    /// Its price in the plan (expected net recovery a unit of capacity is worth at the margin).
    pub price: f64,
    /// True when accounts that cannot go elsewhere already exceed its capacity.
    pub infeasible: bool,
}

/// The plan's value against one channel's capacity.
#[derive(Debug, Clone, Serialize)]
pub struct CapacityCurve {
    /// Channel.
    pub channel: String,
    /// `(capacity, plan value)`, from 0 to twice the given capacity.
    pub points: Vec<[f64; 2]>,
    /// Per point, whether the plan keeps every capacity (false where the accounts that must
    /// use a channel exceed it).
    pub feasible: Vec<bool>,
}

/// A plan and its report.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Per account, the candidate chosen.
    pub choice: Vec<u8>,
    /// The figures.
    pub report: PlanReport,
}

/// Rule 3: the plan of `o` within `capacities`, with the curves and the comparison.
pub fn plan(o: &Options, capacities: &Capacities) -> Result<Plan, TrainError> {
    if let Some(unknown) = capacities.0.keys().find(|c| !o.channels.contains(c)) {
        return Err(TrainError::Config(format!(
            "--capacity: no candidate action of any account uses the channel `{unknown}` \
             (channels: {})",
            o.channels.join(", ")
        )));
    }
    let capacity: Vec<Option<u64>> = o
        .channels
        .iter()
        .map(|c| capacities.0.get(c).copied())
        .collect();
    let problem = |capacity: &[Option<u64>]| -> solve::Solution {
        solve::solve(&solve::Problem {
            k: o.k,
            values: &o.values,
            channels: &o.channel_of,
            capacity,
        })
    };
    let s = problem(&capacity);
    let n = o.accounts.len();
    let value_of = |i: usize, j: usize| {
        let v = o.values[i * o.k + j];
        if v.is_nan() {
            o.values[i * o.k]
        } else {
            v
        }
    };
    let threshold_value = (0..n)
        .map(|i| value_of(i, usize::from(o.threshold[i])))
        .sum();
    let reference_value = (0..n).map(|i| value_of(i, 0)).sum();
    let unconstrained_value = (0..n)
        .map(|i| {
            (0..o.k)
                .map(|j| value_of(i, j))
                .fold(f64::NEG_INFINITY, f64::max)
        })
        .sum();
    let mut threshold_use = vec![0u64; o.channels.len()];
    for &c in &o.threshold_channel {
        threshold_use[usize::from(c)] += 1;
    }
    let channels = (0..o.channels.len())
        .map(|c| ChannelReport {
            channel: o.channels[c].clone(),
            capacity: capacity[c],
            plan: s.usage[c],
            threshold: threshold_use[c],
            price: s.prices[c],
            infeasible: s.infeasible.contains(&c),
        })
        .collect();
    let curves = (0..o.channels.len())
        .filter_map(|c| Some((c, capacity[c]?)))
        .map(|(c, cap)| {
            let (points, feasible) = (0..=8)
                .map(|step| {
                    let at = cap * step / 4;
                    let mut varied = capacity.clone();
                    varied[c] = Some(at);
                    let s = problem(&varied);
                    ([at as f64, s.value], s.infeasible.is_empty())
                })
                .unzip();
            CapacityCurve {
                channel: o.channels[c].clone(),
                points,
                feasible,
            }
        })
        .collect();
    let mut chosen = BTreeMap::new();
    for (i, &j) in s.choice.iter().enumerate() {
        let name = if o.fixed[i] {
            "fixed by a protection or hold".to_owned()
        } else {
            o.names[usize::from(j)].clone()
        };
        *chosen.entry(name).or_insert(0u64) += 1;
    }
    let capped = capacity.iter().filter(|c| c.is_some()).count();
    let report = PlanReport {
        accounts: n as u64,
        fixed_accounts: o.fixed.iter().filter(|&&f| f).count() as u64,
        method: if capped == 1 {
            "exact (one capped channel)".into()
        } else {
            "Lagrangian relaxation with repair".into()
        },
        plan_value: s.value,
        bound: s.infeasible.is_empty().then_some(s.bound),
        relative_gap: s.infeasible.is_empty().then(|| s.relative_gap()),
        threshold_value,
        reference_value,
        unconstrained_value,
        sweeps: s.sweeps as u64,
        repaired: s.repaired,
        channels,
        curves,
        chosen,
    };
    Ok(Plan {
        choice: s.choice,
        report,
    })
}
