//! The scoring engine: account → features → model → policy decision and reason codes.
//!
//! [`Engine::score`] is the one scoring path of the server (unary, batch and stream) and of
//! benchmarks. It works in a caller-owned [`Scratch`], so scoring a batch allocates nothing per
//! account.
//!
//! With a treatment-effect (`uplift`) model the engine also predicts, for each candidate
//! treatment, the repayment probability and the expected net recovery `probability × balance −
//! cost` ([`Options`]; an unknown balance counts as 0), and hands the best candidate and its
//! gain over the reference to [`Policy::decide_with`]. Reasons for the choice are TreeSHAP on
//! the chosen treatment's margin minus the reference's, grouped like the score's reasons.

use chrono::{DateTime, Utc};

use crate::domain::Account;
use crate::model::uplift::MAX_TREATMENTS;
use crate::model::{Model, ModelScratch};
use crate::policy::{Decision, Mode, Policy};

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
    /// Per treatment of an uplift model, its index among the policy's candidates.
    candidates: Vec<Option<usize>>,
}

/// What each candidate treatment of a treatment-effect model would do for one account, in the
/// model's order (the reference first).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Options {
    len: u8,
    best: u8,
    probability: [f64; MAX_TREATMENTS],
    value: [f64; MAX_TREATMENTS],
}

impl Options {
    /// Options from per-treatment `probabilities`, the balance and the costs.
    fn new(probabilities: &[f64], balance: f64, model: &crate::model::uplift::UpliftModel) -> Self {
        let mut o = Options {
            len: probabilities.len().min(MAX_TREATMENTS) as u8,
            best: 0,
            probability: [0.0; MAX_TREATMENTS],
            value: [0.0; MAX_TREATMENTS],
        };
        for (t, &p) in probabilities.iter().enumerate().take(MAX_TREATMENTS) {
            o.probability[t] = p;
            o.value[t] = p * balance - model.cost(t);
            // Ties keep the earlier (the reference first).
            if o.value[t] > o.value[usize::from(o.best)] {
                o.best = t as u8;
            }
        }
        o
    }

    /// The number of treatments.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Always false: an uplift model has at least two treatments.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Treatment `t`'s repayment probability.
    pub fn probability(&self, t: usize) -> f64 {
        self.probability[t]
    }

    /// Treatment `t`'s expected net recovery: probability × balance − cost.
    pub fn expected_net_recovery(&self, t: usize) -> f64 {
        self.value[t]
    }

    /// The treatment of highest expected net recovery (the earliest of equals).
    pub fn best(&self) -> usize {
        usize::from(self.best)
    }

    /// The best treatment's expected net recovery above the reference's.
    pub fn gain(&self) -> f64 {
        self.value[self.best()] - self.value[0]
    }
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
    batch_options: Vec<f64>,
    batch_column: Vec<f64>,
    batch_contributions: Vec<f64>,
    effect: Vec<f64>,
    uplift_reasons: Vec<Reason>,
}

impl Scratch {
    /// The reason codes of the last [`Engine::score`] call, largest absolute contribution first.
    pub fn reasons(&self) -> &[Reason] {
        &self.reasons
    }

    /// The reasons for the chosen treatment's effect in the last [`Engine::score`] call (an
    /// uplift model, a treatment other than the reference), largest first.
    pub fn uplift_reasons(&self) -> &[Reason] {
        &self.uplift_reasons
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
    /// With a treatment-effect model, each candidate treatment's prediction.
    pub options: Option<Options>,
}

impl Engine {
    /// Whether `model` and `policy` can serve together: `treatment.mode = "uplift"` needs a
    /// treatment-effect model whose every treatment is one of the policy's candidates.
    pub fn check(model: &Model, policy: &Policy) -> Result<(), String> {
        if policy.treatment.mode != Mode::Uplift {
            return Ok(());
        }
        let Some(m) = model.uplift() else {
            return Err(format!(
                "treatment.mode = \"uplift\" needs a treatment-effect model; {} {} is a {} model",
                model.artifact().name,
                model.artifact().version,
                model.artifact().model.kind()
            ));
        };
        for (t, c) in candidates_of(model, policy).iter().enumerate() {
            if c.is_none() {
                return Err(format!(
                    "the uplift model's treatment `{}` is not one of the policy's [[candidates]] \
                     ({}): the policy would not know how to give it",
                    m.name(t),
                    policy
                        .candidates
                        .iter()
                        .map(|c| c.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        Ok(())
    }

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
        let candidates = candidates_of(&model, &policy);
        Engine {
            model,
            policy,
            version_key,
            candidates,
        }
    }

    /// The index among the policy's candidates of the uplift model's treatment `t` (`None`
    /// when the policy does not know it, or the model is of another kind).
    pub fn candidate(&self, t: usize) -> Option<usize> {
        self.candidates.get(t).copied().flatten()
    }

    /// The policy's decision, with the uplift model's choice when there is one.
    fn decide<'e>(
        &'e self,
        probability: f64,
        options: Option<&Options>,
        account: &Account,
        now: DateTime<Utc>,
    ) -> Decision<'e> {
        let choice = options.and_then(|o| Some((self.candidate(o.best())?, o.gain())));
        self.policy.decide_with(probability, account, now, choice)
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
            batch_options: Vec::new(),
            batch_column: Vec::new(),
            batch_contributions: Vec::new(),
            effect: vec![0.0; n],
            uplift_reasons: Vec::with_capacity(MAX_REASONS),
        }
    }

    /// The options of one account's inputs `x` under an uplift model, with the reference's
    /// margin (the model's score).
    fn options(&self, x: &[f64], account: &Account) -> Option<(Options, f64)> {
        let m = self.model.uplift()?;
        let mut p = [0.0; MAX_TREATMENTS];
        let k = m.len().min(MAX_TREATMENTS);
        let margin = m.probabilities(x, &mut p[..k]);
        Some((Options::new(&p[..k], balance(account), m), margin))
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
        scratch.uplift_reasons.clear();
        let (options, reference_margin) = match self.options(&scratch.inputs, account) {
            Some((o, m)) => (Some(o), Some(m)),
            None => (None, None),
        };
        let margin = if max_reasons == 0 {
            reference_margin.unwrap_or_else(|| self.model.margin(&scratch.inputs))
        } else {
            let margin = self.model.contributions(
                &scratch.inputs,
                &mut scratch.contributions,
                &mut scratch.model,
            );
            let k = max_reasons.min(MAX_REASONS);
            let group = |contributions: &[f64], sums: &mut [f64], out: &mut Vec<Reason>| {
                self.group_reasons(contributions, &scratch.inputs, k, sums, out);
            };
            group(
                &scratch.contributions,
                &mut scratch.reason_sums,
                &mut scratch.reasons,
            );
            // The chosen treatment's effect against the reference, grouped the same way.
            if let Some(best) = options.map(|o| o.best()).filter(|&b| b > 0) {
                scratch.effect.resize(n, 0.0);
                if self
                    .model
                    .effect_contributions(
                        best,
                        &scratch.inputs,
                        &mut scratch.contributions,
                        &mut scratch.effect,
                        &mut scratch.model,
                    )
                    .is_some()
                {
                    group(
                        &scratch.contributions,
                        &mut scratch.reason_sums,
                        &mut scratch.uplift_reasons,
                    );
                }
            }
            margin
        };
        let probability = self.model.probability_of_margin(margin);
        Scored {
            probability,
            margin,
            decision: self.decide(probability, options.as_ref(), account, now),
            options,
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
        scratch.reasons.clear();
        scratch.uplift_reasons.clear();
        let uplift = self.model.uplift();
        let k = uplift.map_or(0, |m| m.len());
        match uplift {
            // The reference's margins are the model's score: one walk of each ensemble.
            Some(m) => {
                scratch.batch_options.resize(accounts.len() * k, 0.0);
                m.probabilities_many(
                    &scratch.batch_inputs,
                    p,
                    &mut scratch.batch_options,
                    &mut scratch.batch_margins,
                    &mut scratch.batch_column,
                );
            }
            None => self
                .model
                .margins(&scratch.batch_inputs, &mut scratch.batch_margins),
        }
        let options = &scratch.batch_options;
        out.extend(accounts.iter().zip(&scratch.batch_margins).enumerate().map(
            |(i, (account, &margin))| {
                let probability = self.model.probability_of_margin(margin);
                let options =
                    uplift.map(|m| Options::new(&options[i * k..(i + 1) * k], balance(account), m));
                Scored {
                    probability,
                    margin,
                    decision: self.decide(probability, options.as_ref(), account, now),
                    options,
                }
            },
        ));
    }

    /// The top `k` reasons of one account: its inputs' `contributions` summed by reason code
    /// (into `sums`), the largest in absolute value first, each with its primary input's value.
    fn group_reasons(
        &self,
        contributions: &[f64],
        inputs: &[f64],
        k: usize,
        sums: &mut [f64],
        out: &mut Vec<Reason>,
    ) {
        let spec = self.model.spec();
        sums.fill(0.0);
        for (&r, &c) in spec.reason_of().iter().zip(contributions) {
            sums[r] += c;
        }
        top_reasons(sums, k, out);
        fill_values(out, spec, inputs);
    }

    /// Scores many accounts with their top `max_reasons` reason codes, handing each to `emit`
    /// with its position, its reasons, its uplift reasons and its inputs: what [`Self::score`]
    /// gives for each, bit for bit, with the model's contributions computed for the accounts
    /// together ([`Model::contributions_many`]: tree ensembles take them a block at a time
    /// through each tree). Treatment-effect models go one account at a time (their effect
    /// reasons depend on the treatment each account gets).
    pub fn score_many_with_reasons<'e>(
        &'e self,
        accounts: &[&Account],
        max_reasons: usize,
        now: DateTime<Utc>,
        scratch: &mut Scratch,
        mut emit: impl FnMut(usize, &Scored<'e>, &[Reason], &[Reason], &[f64]),
    ) {
        if self.model.uplift().is_some() || max_reasons == 0 {
            for (i, account) in accounts.iter().enumerate() {
                let s = self.score(account, max_reasons, now, scratch);
                emit(
                    i,
                    &s,
                    &scratch.reasons,
                    &scratch.uplift_reasons,
                    &scratch.inputs,
                );
            }
            return;
        }
        let spec = self.model.spec();
        let p = spec.len();
        let n = accounts.len();
        scratch.batch_inputs.resize(n * p, 0.0);
        scratch.batch_contributions.resize(n * p, 0.0);
        scratch.batch_margins.resize(n, 0.0);
        scratch.reason_sums.resize(spec.reasons().len(), 0.0);
        for (row, account) in scratch
            .batch_inputs
            .chunks_exact_mut(p.max(1))
            .zip(accounts)
        {
            spec.derive(account, row);
        }
        self.model.contributions_many(
            &scratch.batch_inputs,
            &mut scratch.batch_contributions,
            &mut scratch.batch_margins,
            &mut scratch.model,
        );
        scratch.uplift_reasons.clear();
        let k = max_reasons.min(MAX_REASONS);
        for (i, account) in accounts.iter().enumerate() {
            let inputs = scratch.batch_inputs.get(i * p..(i + 1) * p).unwrap_or(&[]);
            let contributions = scratch
                .batch_contributions
                .get(i * p..(i + 1) * p)
                .unwrap_or(&[]);
            self.group_reasons(
                contributions,
                inputs,
                k,
                &mut scratch.reason_sums,
                &mut scratch.reasons,
            );
            let margin = scratch.batch_margins[i];
            let probability = self.model.probability_of_margin(margin);
            let scored = Scored {
                probability,
                margin,
                decision: self.decide(probability, None, account, now),
                options: None,
            };
            emit(i, &scored, &scratch.reasons, &[], inputs);
        }
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

/// Per treatment of `model` (an uplift model; empty for another kind), its index among
/// `policy`'s candidates, by name.
fn candidates_of(model: &Model, policy: &Policy) -> Vec<Option<usize>> {
    model.uplift().map_or(Vec::new(), |m| {
        (0..m.len())
            .map(|t| policy.candidates.iter().position(|c| c.name == m.name(t)))
            .collect()
    })
}

/// The balance a recovery is expected on (0 when unknown).
fn balance(account: &Account) -> f64 {
    account
        .profile
        .current_balance
        .filter(|b| b.is_finite())
        .map_or(0.0, |b| b.max(0.0))
}

/// Each reason's value: its primary input's.
fn fill_values(reasons: &mut [Reason], spec: &crate::features::FeatureSpec, inputs: &[f64]) {
    for r in reasons {
        r.value = spec
            .reasons()
            .get(r.reason)
            .and_then(|g| inputs.get(g.primary))
            .copied()
            .unwrap_or(f64::NAN);
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
    fn reasons_for_many_accounts_are_each_accounts_own() {
        // Pins: the batch path with reasons (contributions in blocks) gives `score`'s
        // probability, margin, decision and reasons for every account, bit for bit.
        let engine = shipped_engine();
        let mut scratch = engine.scratch();
        let accounts: Vec<Account> = (0..37)
            .map(|i| {
                let mut a = delinquent_account();
                a.account_id = format!("a{i}");
                a.profile.current_balance = Some(500.0 * f64::from(i));
                if i % 5 == 0 {
                    a.profile.credit_limit = None;
                }
                for (m, c) in a.history.iter_mut().enumerate() {
                    c.amount_paid = f64::from((i * 37 + m as u32 * 11) % 900);
                    c.days_past_due = 30 * ((i + m as u32) % 4);
                }
                a
            })
            .collect();
        let refs: Vec<&Account> = accounts.iter().collect();
        let mut seen = Vec::new();
        let mut batch_scratch = engine.scratch();
        engine.score_many_with_reasons(&refs, 4, now(), &mut batch_scratch, |i, s, r, u, x| {
            seen.push((i, *s, r.to_vec(), u.len(), x.to_vec()));
        });
        assert_eq!(seen.len(), accounts.len());
        // Bits, so that a missing value (NaN) equals itself.
        let bits = |r: &[Reason]| -> Vec<(usize, u64, u64)> {
            r.iter()
                .map(|r| (r.reason, r.contribution.to_bits(), r.value.to_bits()))
                .collect()
        };
        let input_bits = |x: &[f64]| -> Vec<u64> { x.iter().map(|v| v.to_bits()).collect() };
        for (i, s, reasons, uplift, inputs) in seen {
            let one = engine.score(&accounts[i], 4, now(), &mut scratch);
            assert_eq!(s, one, "account {i}");
            assert_eq!(reasons.len(), 4);
            assert_eq!(bits(&reasons), bits(scratch.reasons()), "account {i}");
            assert_eq!(
                input_bits(&inputs),
                input_bits(scratch.inputs()),
                "account {i}"
            );
            assert_eq!(uplift, 0);
        }
    }

    /// An uplift engine on the shipped trees: `none` (the first half of the trees, 0.8 lower)
    /// and `firm` (all of them, cost 4), the shipped policy with candidates, in `mode`.
    fn uplift_engine(mode: &str, candidates: &[&str]) -> Engine {
        use crate::model::uplift::{Ensemble, Learner, TreatmentModel};
        use crate::model::{Artifact, ModelParams};
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut a = Artifact::load(&root.join("models/uci-credit/2/model.json")).expect("model");
        let ModelParams::Gbdt {
            base_score, trees, ..
        } = a.model.clone()
        else {
            panic!("the shipped model is gradient-boosted");
        };
        let outcome = |shift: f64, n: usize| Ensemble {
            base_score: base_score + shift,
            trees: trees[..n].to_vec(),
        };
        a.calibration = None;
        a.model = ModelParams::Uplift {
            learner: Learner::T,
            outcome: "repaid within 90 days".into(),
            treatments: vec![
                TreatmentModel {
                    name: "none".into(),
                    cost: 0.0,
                    outcome: outcome(-0.8, trees.len() / 2),
                    effect: None,
                },
                TreatmentModel {
                    name: "firm".into(),
                    cost: 4.0,
                    outcome: outcome(0.0, trees.len()),
                    effect: None,
                },
            ],
            confounded: false,
        };
        let model = Model::from_artifact(a).expect("uplift artifact");
        let shipped = std::fs::read_to_string(root.join("models/policy.toml")).expect("policy");
        let mut text = shipped.replace(
            "firm_min_prior_delinquencies = 3\n",
            &format!("firm_min_prior_delinquencies = 3\nmode = \"{mode}\"\n"),
        );
        for c in candidates {
            let t = if *c == "firm" { "firm" } else { "soft" };
            text.push_str(&format!(
                "\n[[candidates]]\nname = \"{c}\"\ntreatment = \"{t}\"\n{}",
                if *c == "none" {
                    "action = { action = \"no_contact\", channel = \"none\" }\n"
                } else {
                    ""
                }
            ));
        }
        let policy = Policy::from_toml(&text).expect("policy");
        Engine::check(&model, &policy).expect("they serve together");
        Engine::new(model, policy)
    }

    /// An uplift engine reports each treatment's probability and expected net recovery, decides
    /// by the best unless a customer protection or a hold comes first, explains the choice with
    /// reasons that add up to the margin difference (1e-9), and its batch path agrees.
    #[test]
    fn an_uplift_engine_chooses_by_expected_net_recovery() {
        let engine = uplift_engine("uplift", &["none", "firm"]);
        let m = engine.model().uplift().expect("uplift");
        let mut scratch = engine.scratch();
        let account = delinquent_account();
        let scored = engine.score(&account, MAX_REASONS, now(), &mut scratch);
        let o = scored.options.expect("options");
        assert_eq!(o.len(), 2);
        let mut p = [0.0; 2];
        m.probabilities(scratch.inputs(), &mut p);
        for (t, &p_t) in p.iter().enumerate() {
            assert_eq!(o.probability(t), p_t);
            assert!((o.expected_net_recovery(t) - (p_t * 9_000.0 - m.cost(t))).abs() < 1e-9);
        }
        assert_eq!(
            o.best(),
            1,
            "firm's higher probability pays its cost on 9,000"
        );
        assert_eq!(scored.decision.treatment, crate::policy::Treatment::Firm);
        assert_eq!(scored.decision.rationale, crate::policy::Rationale::Uplift);
        assert!((scored.decision.priority - o.gain()).abs() < 1e-9);
        assert_eq!(scored.probability, p[0], "the score is the reference's");
        // The uplift reasons add up to the margins' difference less the expected values'.
        let mut out = vec![0.0; scratch.inputs().len()];
        let mut tmp = out.clone();
        let (difference, expected) = engine
            .model()
            .effect_contributions(
                1,
                scratch.inputs(),
                &mut out,
                &mut tmp,
                &mut ModelScratch::default(),
            )
            .expect("uplift");
        let logit = |p: f64| (p / (1.0 - p)).ln();
        assert!((difference - (logit(p[1]) - logit(p[0]))).abs() < 1e-9);
        let sum: f64 = scratch
            .uplift_reasons()
            .iter()
            .map(|r| r.contribution)
            .sum();
        assert!(
            (sum - (difference - expected)).abs() < 1e-9,
            "{sum} {difference} {expected}"
        );
        // The batch path: the same options and decision, no reasons.
        let mut many = Vec::new();
        engine.score_many(&[&account, &account], now(), &mut scratch, &mut many);
        for s in &many {
            assert_eq!(s.options, scored.options);
            assert_eq!(s.decision, scored.decision);
        }
        // Hardship comes first; a bankruptcy hold stops the chosen action.
        let mut hardship = delinquent_account();
        hardship.profile.hardship = Some(true);
        let h = engine.score(&hardship, 0, now(), &mut scratch);
        assert_eq!(h.decision.rationale, crate::policy::Rationale::Hardship);
        assert_eq!(h.options.map(|o| o.best()), Some(1));
        let mut bankrupt = delinquent_account();
        bankrupt.compliance.bankruptcy = true;
        let b = engine.score(&bankrupt, 0, now(), &mut scratch);
        assert_eq!(b.decision.rationale, crate::policy::Rationale::Uplift);
        assert_eq!(b.decision.action.action, "bankruptcy_hold");
        assert!(b.decision.guard.is_some());
        // A small balance does not pay firm's cost: the reference, without uplift reasons.
        let mut small = delinquent_account();
        small.profile.current_balance = Some(5.0);
        let s = engine.score(&small, MAX_REASONS, now(), &mut scratch);
        assert_eq!(s.options.map(|o| o.best()), Some(0));
        assert_eq!(s.decision.action.action, "no_contact");
        assert!(scratch.uplift_reasons().is_empty());
        // Threshold mode reports the options but decides by the score rules.
        let threshold = uplift_engine("threshold", &[]);
        let t = threshold.score(&account, 0, now(), &mut scratch);
        assert!(t.options.is_some());
        assert_ne!(t.decision.rationale, crate::policy::Rationale::Uplift);
    }

    /// Uplift mode needs an uplift model whose every treatment the policy knows.
    #[test]
    fn uplift_mode_needs_a_model_and_candidates_that_match() {
        let gbdt = shipped_engine();
        let uplift = uplift_engine("uplift", &["none", "firm"]);
        let err = Engine::check(gbdt.model(), uplift.policy()).expect_err("gbdt in uplift mode");
        assert!(err.contains("needs a treatment-effect model"), "{err}");
        let mut text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/policy.toml"),
        )
        .expect("policy")
        .replace(
            "firm_min_prior_delinquencies = 3\n",
            "firm_min_prior_delinquencies = 3\nmode = \"uplift\"\n",
        );
        text.push_str(
            "\n[[candidates]]\nname = \"none\"\ntreatment = \"soft\"\n\
                       [[candidates]]\nname = \"soft\"\ntreatment = \"soft\"\n",
        );
        let policy = Policy::from_toml(&text).expect("policy");
        let err = Engine::check(uplift.model(), &policy).expect_err("firm unknown");
        assert!(
            err.contains("`firm` is not one of the policy's [[candidates]]"),
            "{err}"
        );
        assert!(
            Engine::check(uplift.model(), gbdt.policy()).is_ok(),
            "threshold mode"
        );
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
