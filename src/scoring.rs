//! The scoring engine: account → features → model → policy decision and reason codes.
//!
//! [`Engine::score`] is the one scoring path of the server (unary, batch and stream) and of
//! benchmarks. It works in a caller-owned [`Scratch`], so scoring a batch allocates nothing per
//! account.

use chrono::{DateTime, Utc};

use crate::domain::Account;
use crate::model::{Model, ModelScratch};
use crate::policy::{Decision, Policy};

/// Most reason codes a caller can ask for.
pub const MAX_REASONS: usize = 32;
/// Reason codes returned when the caller does not say.
pub const DEFAULT_REASONS: usize = 4;

/// A model and a policy that serve together.
#[derive(Debug, Clone)]
pub struct Engine {
    model: Model,
    policy: Policy,
    /// A hash of the model's name and version and the policy's version, for decision ids.
    version_key: u64,
}

/// Reusable buffers for scoring; make one per task with [`Engine::scratch`].
#[derive(Debug, Clone, Default)]
pub struct Scratch {
    inputs: Vec<f64>,
    contributions: Vec<f64>,
    reason_sums: Vec<f64>,
    reasons: Vec<Reason>,
    model: ModelScratch,
    batch_inputs: Vec<f64>,
    batch_margins: Vec<f64>,
}

impl Scratch {
    /// The reason codes of the last [`Engine::score`] call, largest absolute contribution first.
    pub fn reasons(&self) -> &[Reason] {
        &self.reasons
    }

    /// The model inputs of the last [`Engine::score`] call.
    pub fn inputs(&self) -> &[f64] {
        &self.inputs
    }

    /// The model inputs of the last [`Engine::score_many`] call, one row per account.
    pub fn batch_inputs(&self) -> &[f64] {
        &self.batch_inputs
    }
}

/// One reason code: the summed contribution of a group of inputs to the log-odds of repayment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reason {
    /// Index into the model's reason codes ([`crate::features::FeatureSpec::reasons`]).
    pub reason: usize,
    /// Contribution to the log-odds; negative lowers the repayment probability.
    pub contribution: f64,
    /// The value of the reason's primary input (NaN when missing).
    pub value: f64,
}

/// The result of scoring one account (reason codes are in the [`Scratch`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored<'e> {
    /// Repayment probability in [0, 1].
    pub probability: f64,
    /// Log-odds of repayment.
    pub margin: f64,
    /// The policy's decision.
    pub decision: Decision<'e>,
}

impl Engine {
    /// Pairs a model with a policy.
    pub fn new(model: Model, policy: Policy) -> Engine {
        let artifact = model.artifact();
        let version_key = crate::stable_hash::hash64(
            0x7e25_1011,
            &[
                artifact.name.as_bytes(),
                artifact.version.as_bytes(),
                policy.version.as_bytes(),
            ],
        );
        Engine {
            model,
            policy,
            version_key,
        }
    }

    /// A stable hash of the model's name and version and the policy's version: the part of a
    /// decision id the engine decides.
    pub fn version_key(&self) -> u64 {
        self.version_key
    }

    /// The model.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Buffers sized for this engine's model.
    pub fn scratch(&self) -> Scratch {
        let n = self.model.spec().len();
        Scratch {
            inputs: vec![0.0; n],
            contributions: vec![0.0; n],
            reason_sums: vec![0.0; self.model.spec().reasons().len()],
            reasons: Vec::with_capacity(MAX_REASONS),
            model: ModelScratch::default(),
            batch_inputs: Vec::new(),
            batch_margins: Vec::new(),
        }
    }

    /// Scores `account` and decides its treatment at `now`, leaving the top `max_reasons`
    /// reason codes (at most [`MAX_REASONS`]) in `scratch`. The account must have passed the
    /// request validation (finite amounts).
    pub fn score<'e>(
        &'e self,
        account: &Account,
        max_reasons: usize,
        now: DateTime<Utc>,
        scratch: &mut Scratch,
    ) -> Scored<'e> {
        let spec = self.model.spec();
        let n = spec.len();
        scratch.inputs.resize(n, 0.0);
        scratch.contributions.resize(n, 0.0);
        scratch.reason_sums.resize(spec.reasons().len(), 0.0);
        spec.derive(account, &mut scratch.inputs);
        scratch.reasons.clear();
        let margin = if max_reasons == 0 {
            self.model.margin(&scratch.inputs)
        } else {
            let margin = self.model.contributions(
                &scratch.inputs,
                &mut scratch.contributions,
                &mut scratch.model,
            );
            scratch.reason_sums.fill(0.0);
            for (&r, &c) in spec.reason_of().iter().zip(&scratch.contributions) {
                scratch.reason_sums[r] += c;
            }
            top_reasons(
                &scratch.reason_sums,
                max_reasons.min(MAX_REASONS),
                &mut scratch.reasons,
            );
            for r in &mut scratch.reasons {
                r.value = spec
                    .reasons()
                    .get(r.reason)
                    .and_then(|g| scratch.inputs.get(g.primary))
                    .copied()
                    .unwrap_or(f64::NAN);
            }
            margin
        };
        let probability = self.model.probability_of_margin(margin);
        Scored {
            probability,
            margin,
            decision: self.policy.decide(probability, account, now),
        }
    }

    /// The code of a reason, for example `delinquency`.
    pub fn reason_code(&self, reason: &Reason) -> &str {
        self.model
            .spec()
            .reasons()
            .get(reason.reason)
            .map_or("", |g| g.code.as_str())
    }

    /// Scores many accounts without reason codes, appending to `out` in order: the batch path of
    /// `ScoreBatch` and `ScoreStream`. Features are derived for the whole batch, then the model
    /// scores them together (tree ensembles walk several accounts per tree at once).
    pub fn score_many<'e>(
        &'e self,
        accounts: &[&Account],
        now: DateTime<Utc>,
        scratch: &mut Scratch,
        out: &mut Vec<Scored<'e>>,
    ) {
        let spec = self.model.spec();
        let p = spec.len();
        scratch.batch_inputs.resize(accounts.len() * p, 0.0);
        scratch.batch_margins.resize(accounts.len(), 0.0);
        for (row, account) in scratch
            .batch_inputs
            .chunks_exact_mut(p.max(1))
            .zip(accounts)
        {
            spec.derive(account, row);
        }
        self.model
            .margins(&scratch.batch_inputs, &mut scratch.batch_margins);
        scratch.reasons.clear();
        out.extend(
            accounts
                .iter()
                .zip(&scratch.batch_margins)
                .map(|(account, &margin)| {
                    let probability = self.model.probability_of_margin(margin);
                    Scored {
                        probability,
                        margin,
                        decision: self.policy.decide(probability, account, now),
                    }
                }),
        );
    }

    /// Readable text of a reason code.
    pub fn reason_text(&self, reason: &Reason) -> String {
        let what = self
            .model
            .spec()
            .reasons()
            .get(reason.reason)
            .map_or("unknown reason", |g| g.description.as_str());
        let direction = if reason.contribution < 0.0 {
            "lowers"
        } else {
            "raises"
        };
        if reason.value.is_nan() {
            format!("{what}: missing; {direction} the repayment likelihood")
        } else {
            format!(
                "{what}: {}; {direction} the repayment likelihood",
                trim_number(reason.value)
            )
        }
    }
}

/// Keeps the `k` largest |contribution| reasons in `out`, largest first (ties: lower index
/// first); values are filled in by the caller.
fn top_reasons(contributions: &[f64], k: usize, out: &mut Vec<Reason>) {
    out.clear();
    if k == 0 {
        return;
    }
    for (reason, &contribution) in contributions.iter().enumerate() {
        if contribution == 0.0 {
            continue;
        }
        let mag = contribution.abs();
        if out.len() == k && out.last().is_some_and(|r| r.contribution.abs() >= mag) {
            continue;
        }
        let at = out
            .iter()
            .position(|r| r.contribution.abs() < mag)
            .unwrap_or(out.len());
        if out.len() == k {
            out.pop();
        }
        out.insert(
            at,
            Reason {
                reason,
                contribution,
                value: f64::NAN,
            },
        );
    }
}

fn trim_number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        format!("{v:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Account, CreditProfile, PaymentCycle};
    use chrono::NaiveDate;

    fn shipped_engine() -> Engine {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let model = Model::load(&root.join("models/uci-credit/2/model.json")).expect("model");
        let policy = Policy::load(&root.join("models/policy.toml")).expect("policy");
        Engine::new(model, policy)
    }

    fn delinquent_account() -> Account {
        let d = |m| NaiveDate::from_ymd_opt(2025, m, 28).unwrap_or_default();
        Account {
            account_id: "x".into(),
            as_of: d(7),
            profile: CreditProfile {
                credit_limit: Some(10_000.0),
                current_balance: Some(9_000.0),
                months_on_book: Some(6),
                open_credit_lines: 1,
                ..CreditProfile::default()
            },
            history: (1..=6)
                .map(|m| PaymentCycle {
                    statement_date: d(m),
                    amount_due: 8_000.0 + 100.0 * f64::from(m),
                    minimum_due: 800.0,
                    amount_paid: 0.0,
                    days_past_due: 30 * (m.saturating_sub(2)),
                })
                .collect(),
            attributes: Default::default(),
            contacts: Vec::new(),
            promises: Vec::new(),
            compliance: Default::default(),
        }
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_750_000_000, 0).unwrap_or_default()
    }

    #[test]
    fn grouped_reasons_add_up_to_the_margin() {
        let engine = shipped_engine();
        let mut scratch = engine.scratch();
        let account = delinquent_account();
        let all = engine.model().spec().reasons().len();
        let scored = engine.score(&account, MAX_REASONS, now(), &mut scratch);
        assert!(scratch.reasons().len() <= all);
        let sum: f64 = scratch.reasons().iter().map(|r| r.contribution).sum();
        let expected = engine.model().expected_margin();
        assert!((scored.margin - expected - sum).abs() < 1e-9);
        // 120 days past due: the current delinquency is the main reason, and it lowers the score.
        let top = scratch.reasons()[0];
        assert_eq!(engine.reason_code(&top), "delinquency");
        assert!(top.contribution < 0.0);
        assert_eq!(top.value, 120.0);
        assert!(engine
            .reason_text(&top)
            .ends_with(": 120; lowers the repayment likelihood"));
        // Without reasons the probability is the same, one by one or in a batch.
        let plain = engine.score(&account, 0, now(), &mut scratch);
        assert_eq!(plain.probability, scored.probability);
        assert!(scratch.reasons().is_empty());
        let mut many = Vec::new();
        let batch: Vec<&Account> = std::iter::repeat_n(&account, 11).collect();
        engine.score_many(&batch, now(), &mut scratch, &mut many);
        assert_eq!(many.len(), 11);
        assert!(many.iter().all(|s| *s == plain));
    }

    #[test]
    fn top_reasons_are_sorted_by_magnitude_and_bounded() {
        let contributions = [0.1, -0.9, 0.5, 0.0, -0.3];
        let mut out = Vec::with_capacity(MAX_REASONS);
        top_reasons(&contributions, 3, &mut out);
        let got: Vec<usize> = out.iter().map(|r| r.reason).collect();
        assert_eq!(got, vec![1, 2, 4]);
        assert_eq!(out[0].contribution, -0.9);
        top_reasons(&contributions, 10, &mut out);
        assert_eq!(out.len(), 4, "zero contributions are not reasons");
        top_reasons(&contributions, 0, &mut out);
        assert!(out.is_empty());
    }
}
