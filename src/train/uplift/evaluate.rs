//! The held-out evaluation of a treatment-effect model, on randomised accounts only.
//!
//! For each treatment `t` against the reference `r`, on the held-out accounts given `t` or `r`,
//! ranked by predicted uplift `p̂_t − p̂_r`, highest first (ties grouped, as scikit-uplift does):
//! - **Qini curve**: at the first `n` accounts, `Y_t(n) − Y_r(n) · N_t(n) / N_r(n)`, with `Y`
//!   the repaid counts and `N` the accounts of each group among them (0 while `N_r` is 0).
//! - **Uplift curve**: `(Y_t / N_t − Y_r / N_r)(n) · n`.
//! - **Qini coefficient** and **AUUC**: the area between each curve and the straight line to its
//!   end, over the same area of the perfect ranking (treated repayers first, reference repayers
//!   last: the score `y·[T = t] − y·[T = r]`), areas by the trapezoid rule. These are
//!   scikit-uplift's `qini_auc_score` and `uplift_auc_score` (negative effects allowed), so the
//!   peer comparison reads the same number.
//! - **Uplift by decile**: accounts cut into ten groups by predicted uplift; in each, the mean
//!   prediction and the observed difference of repayment rates with its standard error.
//!
//! With the simulator's truth ([`Truth`]), each policy is valued in expected net recovery per
//! account (`simulate::expected_recovery` under the chosen treatment minus its cost), against
//! giving every account the reference: the **uplift** policy (the treatment of highest
//! predicted `p̂_t · balance − cost_t`), **today's threshold** policy (the policy file's soft or
//! firm rules on the serving probability, as the candidate of that treatment), the **oracle**
//! (the truth's best), and **random** (each candidate equally).

use chrono::{NaiveTime, TimeZone, Utc};
use serde::Serialize;

use super::Trial;
use crate::model::uplift::Learner;
use crate::policy::{Policy, Treatment};
use crate::train::readout::stats::{smd, Sample};
use crate::train::readout::SMD_FLAG;
use crate::train::simulate;

/// The held-out accounts and what the model predicts for them.
#[derive(Debug)]
pub struct Held<'a> {
    /// The trial.
    pub trial: &'a Trial,
    /// Held-out rows of the trial.
    pub rows: &'a [usize],
    /// Training rows of the trial (for the counts).
    pub train_rows: &'a [usize],
    /// Repaid, per trial row.
    pub labels: &'a [bool],
    /// Per held-out row, the served probability under each treatment (row-major).
    pub probabilities: &'a [f64],
    /// Per held-out row, the T-learner's probabilities (when the served learner is another).
    pub t_learner: Option<&'a [f64]>,
    /// The served learner.
    pub learner: Learner,
    /// Per treatment, its cost.
    pub costs: &'a [f64],
    /// The outcome window.
    pub window_days: u32,
    /// The simulator's truth, when the events were simulated.
    pub truth: Option<&'a Truth<'a>>,
}

/// The simulator's truth: the outcomes came from `payrisk-train simulate`, whose documented
/// effect values every policy; `policy` is today's threshold policy.
#[derive(Debug)]
pub struct Truth<'a> {
    /// Today's policy (its soft/firm rules are the threshold policy).
    pub policy: &'a Policy,
}

/// The evaluation, as written to `metrics.json`.
#[derive(Debug, Clone, Serialize)]
pub struct UpliftReport {
    /// `t` or `dr`.
    pub learner: &'static str,
    /// What the outcome models predict.
    pub outcome: String,
    /// Set when the treatments were not assigned at random: the warning.
    pub confounded: Option<&'static str>,
    /// How decisions became rows.
    pub rows: super::TrialCounts,
    /// Per treatment: its cost, accounts and held-out outcomes.
    pub treatments: Vec<TreatmentSummary>,
    /// Per treatment but the reference, per learner: Qini, AUUC, deciles.
    pub effects: Vec<EffectEvaluation>,
    /// Balance of each treatment group with the reference's, per stage and overall.
    pub balance: Vec<BalanceRow>,
    /// The policies valued on the simulator's truth (held-out accounts).
    pub policy_values: Option<PolicyValues>,
}

/// One treatment's accounts and observed outcomes.
#[derive(Debug, Clone, Serialize)]
pub struct TreatmentSummary {
    /// Name.
    pub name: String,
    /// Cost per decision.
    pub cost: f64,
    /// Training accounts.
    pub train_accounts: u64,
    /// Held-out accounts.
    pub test_accounts: u64,
    /// Held-out repayment rate.
    pub test_repayment_rate: f64,
    /// Held-out mean predicted probability under this treatment, for those given it.
    pub test_predicted_rate: f64,
    /// Held-out amount paid per account.
    pub test_recovered_per_account: f64,
}

/// One treatment's effect against the reference, as one learner ranks it.
#[derive(Debug, Clone, Serialize)]
pub struct EffectEvaluation {
    /// The treatment.
    pub treatment: String,
    /// The reference.
    pub against: String,
    /// `t` or `dr`.
    pub learner: &'static str,
    /// Held-out accounts of the pair.
    pub accounts: u64,
    /// Qini coefficient (see the module docs).
    pub qini: f64,
    /// Area under the uplift curve, normalised the same way.
    pub auuc: f64,
    /// The Qini curve at 21 points: (share of the pair's accounts, Qini per account of the pair).
    pub qini_curve: Vec<[f64; 2]>,
    /// The perfect ranking's curve at the same shares.
    pub perfect_curve: Vec<[f64; 2]>,
    /// Observed against predicted uplift by decile of the prediction (1 = highest predicted).
    pub deciles: Vec<UpliftDecile>,
}

/// One decile of predicted uplift.
#[derive(Debug, Clone, Serialize)]
pub struct UpliftDecile {
    /// 1 = the tenth with the highest predicted uplift.
    pub decile: u32,
    /// Accounts given the treatment.
    pub treated: u64,
    /// Accounts given the reference.
    pub reference: u64,
    /// Mean predicted uplift (probability points).
    pub predicted: f64,
    /// Observed repayment rate, treated minus reference (`None` when a group is empty).
    pub observed: Option<f64>,
    /// Its standard error.
    pub standard_error: Option<f64>,
}

/// One treatment group's covariates against the reference's.
#[derive(Debug, Clone, Serialize)]
pub struct BalanceRow {
    /// Ladder stage, or `all`.
    pub segment: String,
    /// The treatment.
    pub treatment: String,
    /// Accounts (training and held out).
    pub accounts: u64,
    /// Mean balance.
    pub mean_balance: f64,
    /// Mean serving probability at the decision.
    pub mean_probability: f64,
    /// Standardised mean difference of the balance from the reference's.
    pub balance_smd: Option<f64>,
    /// Of the probability.
    pub probability_smd: Option<f64>,
    /// Whether either difference reaches [`SMD_FLAG`].
    pub flagged: bool,
}

/// Expected net recovery per held-out account under each policy (the simulator's truth).
#[derive(Debug, Clone, Serialize)]
pub struct PolicyValues {
    /// Accounts valued.
    pub accounts: u64,
    /// Everyone the reference treatment.
    pub reference: f64,
    /// Each candidate equally.
    pub random: f64,
    /// Today's soft/firm threshold policy.
    pub threshold: f64,
    /// The highest predicted net recovery.
    pub uplift: f64,
    /// The truth's best.
    pub oracle: f64,
    /// The uplift policy's gain over the reference as a share of the oracle's.
    pub uplift_share_of_oracle: f64,
    /// The threshold policy's, likewise.
    pub threshold_share_of_oracle: f64,
    /// How often the uplift policy chose each treatment (in the treatments' order).
    pub uplift_choices: Vec<u64>,
    /// How often the oracle did.
    pub oracle_choices: Vec<u64>,
}

/// Evaluates the held-out accounts (see the module docs).
pub fn report(h: &Held<'_>) -> UpliftReport {
    let trial = h.trial;
    let k = trial.candidates.len();
    let treatments = (0..k)
        .map(|t| {
            let test: Vec<usize> = (0..h.rows.len())
                .filter(|&r| trial.treatment[h.rows[r]] == t)
                .collect();
            let n = test.len().max(1) as f64;
            TreatmentSummary {
                name: trial.candidates[t].name.clone(),
                cost: h.costs[t],
                train_accounts: h
                    .train_rows
                    .iter()
                    .filter(|&&i| trial.treatment[i] == t)
                    .count() as u64,
                test_accounts: test.len() as u64,
                test_repayment_rate: test.iter().filter(|&&r| h.labels[h.rows[r]]).count() as f64
                    / n,
                test_predicted_rate: test
                    .iter()
                    .map(|&r| h.probabilities[r * k + t])
                    .sum::<f64>()
                    / n,
                test_recovered_per_account: test
                    .iter()
                    .map(|&r| trial.recovered[h.rows[r]])
                    .sum::<f64>()
                    / n,
            }
        })
        .collect();
    let mut effects = Vec::new();
    for t in 1..k {
        effects.push(effect(h, t, h.learner, h.probabilities));
        if let Some(p) = h.t_learner {
            effects.push(effect(h, t, Learner::T, p));
        }
    }
    UpliftReport {
        learner: h.learner.as_str(),
        outcome: format!("repaid within {} days", h.window_days),
        confounded: trial.confounded.then_some(super::CONFOUNDED),
        rows: trial.counts,
        treatments,
        effects,
        balance: balance(trial),
        policy_values: h.truth.map(|truth| policy_values(h, truth)),
    }
}

/// Treatment `t` against the reference, ranked by `probabilities`' differences.
fn effect(h: &Held<'_>, t: usize, learner: Learner, probabilities: &[f64]) -> EffectEvaluation {
    let k = h.trial.candidates.len();
    let mut pair: Vec<(f64, bool, bool)> = (0..h.rows.len())
        .filter_map(|r| {
            let given = h.trial.treatment[h.rows[r]];
            (given == t || given == 0).then(|| {
                (
                    probabilities[r * k + t] - probabilities[r * k],
                    given == t,
                    h.labels[h.rows[r]],
                )
            })
        })
        .collect();
    let n = pair.len();
    let actual = curves(&pair);
    let perfect_scores: Vec<(f64, bool, bool)> = pair
        .iter()
        .map(|&(_, treated, y)| {
            let y = f64::from(u8::from(y));
            (if treated { y } else { -y }, treated, y > 0.0)
        })
        .collect();
    let perfect = curves(&perfect_scores);
    let score = |a: &[(f64, f64)], p: &[(f64, f64)]| {
        let end = p.last().map_or(0.0, |&(x, y)| x * y / 2.0);
        let denominator = area(p) - end;
        if denominator.abs() < 1e-12 {
            0.0
        } else {
            (area(a) - end) / denominator
        }
    };
    let qini_of = |c: &Curves| c.qini.clone();
    let uplift_of = |c: &Curves| c.uplift.clone();
    let qini = score(&qini_of(&actual), &qini_of(&perfect));
    let auuc = score(&uplift_of(&actual), &uplift_of(&perfect));
    let sample = |c: &[(f64, f64)]| -> Vec<[f64; 2]> {
        (0..=20)
            .map(|s| {
                let x = s as f64 / 20.0 * n as f64;
                [s as f64 / 20.0, interpolate(c, x) / n.max(1) as f64]
            })
            .collect()
    };
    // Deciles of the predicted uplift, highest first.
    pair.sort_by(|a, b| b.0.total_cmp(&a.0));
    let deciles = (0..10)
        .map(|d| {
            let group = &pair[d * n / 10..(d + 1) * n / 10];
            let (mut treated, mut reference) = (Sample::default(), Sample::default());
            let mut predicted = 0.0;
            for &(u, is_treated, y) in group {
                predicted += u;
                let y = f64::from(u8::from(y));
                if is_treated {
                    treated.push(y);
                } else {
                    reference.push(y);
                }
            }
            let both = treated.n > 0 && reference.n > 0;
            UpliftDecile {
                decile: d as u32 + 1,
                treated: treated.n,
                reference: reference.n,
                predicted: predicted / group.len().max(1) as f64,
                observed: both.then(|| treated.mean() - reference.mean()),
                standard_error: both.then(|| {
                    let (a, b) = (treated.mean(), reference.mean());
                    (a * (1.0 - a) / treated.n as f64 + b * (1.0 - b) / reference.n as f64).sqrt()
                }),
            }
        })
        .collect();
    EffectEvaluation {
        treatment: h.trial.candidates[t].name.clone(),
        against: h.trial.candidates[0].name.clone(),
        learner: learner.as_str(),
        accounts: n as u64,
        qini,
        auuc,
        qini_curve: sample(&actual.qini),
        perfect_curve: sample(&perfect.qini),
        deciles,
    }
}

/// The Qini and uplift curves of `(score, treated, repaid)` rows: points `(accounts, value)`
/// from `(0, 0)`, one at the end of each run of equal scores (highest first).
struct Curves {
    qini: Vec<(f64, f64)>,
    uplift: Vec<(f64, f64)>,
}

fn curves(rows: &[(f64, bool, bool)]) -> Curves {
    let mut order: Vec<usize> = (0..rows.len()).collect();
    // Highest score first; equal scores keep their order (they form one step anyway).
    order.sort_by(|&a, &b| rows[b].0.total_cmp(&rows[a].0));
    let mut c = Curves {
        qini: vec![(0.0, 0.0)],
        uplift: vec![(0.0, 0.0)],
    };
    let (mut n_t, mut n_r, mut y_t, mut y_r) = (0.0, 0.0, 0.0, 0.0);
    for (pos, &i) in order.iter().enumerate() {
        let (score, treated, y) = rows[i];
        let y = f64::from(u8::from(y));
        if treated {
            n_t += 1.0;
            y_t += y;
        } else {
            n_r += 1.0;
            y_r += y;
        }
        let last_of_run = order.get(pos + 1).is_none_or(|&next| rows[next].0 != score);
        if last_of_run {
            let all = n_t + n_r;
            let qini = y_t - if n_r > 0.0 { y_r * n_t / n_r } else { 0.0 };
            let rate = |y: f64, n: f64| if n > 0.0 { y / n } else { 0.0 };
            c.qini.push((all, qini));
            c.uplift
                .push((all, (rate(y_t, n_t) - rate(y_r, n_r)) * all));
        }
    }
    c
}

/// Trapezoid area under a curve of points.
fn area(points: &[(f64, f64)]) -> f64 {
    points
        .windows(2)
        .map(|w| (w[1].0 - w[0].0) * (w[1].1 + w[0].1) / 2.0)
        .sum()
}

/// The curve's value at `x` (linear between points).
fn interpolate(points: &[(f64, f64)], x: f64) -> f64 {
    match points.iter().position(|&(px, _)| px >= x) {
        Some(0) => points[0].1,
        Some(j) => {
            let ((x0, y0), (x1, y1)) = (points[j - 1], points[j]);
            if x1 > x0 {
                y0 + (y1 - y0) * (x - x0) / (x1 - x0)
            } else {
                y1
            }
        }
        None => points.last().map_or(0.0, |p| p.1),
    }
}

/// Rule 5 of the honesty: each treatment group against the reference's, overall and
/// per ladder stage, on the balance and the serving probability at the decision.
fn balance(trial: &Trial) -> Vec<BalanceRow> {
    let k = trial.candidates.len();
    let mut stages: Vec<&str> = trial.stage.iter().map(String::as_str).collect();
    stages.sort_unstable();
    stages.dedup();
    let mut out = Vec::new();
    for segment in std::iter::once("all").chain(stages) {
        let mut balances = vec![Sample::default(); k];
        let mut probabilities = vec![Sample::default(); k];
        for i in 0..trial.treatment.len() {
            if segment != "all" && trial.stage[i] != segment {
                continue;
            }
            let t = trial.treatment[i];
            if trial.balance[i].is_finite() {
                balances[t].push(trial.balance[i]);
            }
            probabilities[t].push(trial.probability[i]);
        }
        for t in 0..k {
            let balance_smd = smd(&balances[t], &balances[0]);
            let probability_smd = smd(&probabilities[t], &probabilities[0]);
            let flagged = [balance_smd, probability_smd]
                .iter()
                .flatten()
                .any(|d| d.abs() >= SMD_FLAG);
            out.push(BalanceRow {
                segment: segment.to_owned(),
                treatment: trial.candidates[t].name.clone(),
                accounts: probabilities[t].n,
                mean_balance: balances[t].mean(),
                mean_probability: probabilities[t].mean(),
                balance_smd: (t > 0).then_some(balance_smd).flatten(),
                probability_smd: (t > 0).then_some(probability_smd).flatten(),
                flagged: t > 0 && flagged,
            });
        }
    }
    out
}

/// Each policy's expected net recovery per held-out account on the simulator's truth.
fn policy_values(h: &Held<'_>, truth: &Truth<'_>) -> PolicyValues {
    let trial = h.trial;
    let k = trial.candidates.len();
    // The candidate today's policy gives each treatment: the one with the ladder's action.
    let of_treatment =
        |t: Treatment| crate::policy::candidate_for(&trial.candidates, t).unwrap_or(0);
    let mut sums = [0.0f64; 5];
    let (mut uplift_choices, mut oracle_choices) = (vec![0u64; k], vec![0u64; k]);
    for (r, &i) in h.rows.iter().enumerate() {
        let b = if trial.balance[i].is_finite() {
            trial.balance[i].max(0.0)
        } else {
            0.0
        };
        let p = trial.probability[i];
        let value = |t: usize| {
            let c = &trial.candidates[t];
            let channel = c.action.as_ref().map_or("ladder", |a| a.channel.as_str());
            simulate::expected_recovery(p, b, c.treatment.as_str(), channel) - h.costs[t]
        };
        let values: Vec<f64> = (0..k).map(value).collect();
        let best = |v: &[f64]| {
            (0..k)
                .max_by(|&a, &b| v[a].total_cmp(&v[b]).then(b.cmp(&a)))
                .unwrap_or(0)
        };
        let predicted: Vec<f64> = (0..k)
            .map(|t| h.probabilities[r * k + t] * b - h.costs[t])
            .collect();
        let chosen = best(&predicted);
        let oracle = best(&values);
        let at = Utc.from_utc_datetime(
            &trial.decided_on[i].and_time(NaiveTime::from_hms_opt(17, 0, 0).unwrap_or_default()),
        );
        let threshold = of_treatment(
            truth
                .policy
                .decide(p, &trial.set.rows[i].account, at)
                .treatment,
        );
        uplift_choices[chosen] += 1;
        oracle_choices[oracle] += 1;
        sums[0] += values[0];
        sums[1] += values.iter().sum::<f64>() / k as f64;
        sums[2] += values[threshold];
        sums[3] += values[chosen];
        sums[4] += values[oracle];
    }
    let n = h.rows.len().max(1) as f64;
    let [reference, random, threshold, uplift, oracle] = sums.map(|s| s / n);
    let share = |v: f64| {
        if oracle > reference {
            (v - reference) / (oracle - reference)
        } else {
            0.0
        }
    };
    PolicyValues {
        accounts: h.rows.len() as u64,
        reference,
        random,
        threshold,
        uplift,
        oracle,
        uplift_share_of_oracle: share(uplift),
        threshold_share_of_oracle: share(threshold),
        uplift_choices,
        oracle_choices,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Qini coefficient of a worked example: a perfect ranking scores 1, the reversed
    /// ranking below 0, and the curve's points are scikit-uplift's (ties form one step).
    #[test]
    fn qini_of_worked_examples() {
        // (score, treated, repaid)
        let rows = [
            (0.9, true, true),
            (0.8, false, false),
            (0.7, true, false),
            (0.6, false, true),
        ];
        let c = curves(&rows);
        // After 1: 1 treated repaid, no reference: 1. After 2: 1 - 0 * 1/1 = 1. After 3:
        // 1 - 0 * 2/1 = 1. After 4: 1 - 1 * 2/2 = 0.
        assert_eq!(
            c.qini,
            vec![(0.0, 0.0), (1.0, 1.0), (2.0, 1.0), (3.0, 1.0), (4.0, 0.0)]
        );
        let perfect: Vec<(f64, bool, bool)> = rows
            .iter()
            .map(|&(_, t, y)| {
                (
                    if t {
                        f64::from(u8::from(y))
                    } else {
                        -f64::from(u8::from(y))
                    },
                    t,
                    y,
                )
            })
            .collect();
        let p = curves(&perfect);
        // Perfect: score 1 (treated repaid), then the two 0s as one step, then -1.
        assert_eq!(p.qini, vec![(0.0, 0.0), (1.0, 1.0), (3.0, 1.0), (4.0, 0.0)]);
        assert!((area(&c.qini) - 3.0).abs() < 1e-12);
        assert!((area(&p.qini) - 3.0).abs() < 1e-12);
        let reversed: Vec<(f64, bool, bool)> = rows.iter().map(|&(s, t, y)| (-s, t, y)).collect();
        let r = curves(&reversed);
        assert!(area(&r.qini) < area(&c.qini));
        assert!((interpolate(&c.qini, 3.5) - 0.5).abs() < 1e-12);
    }
}
