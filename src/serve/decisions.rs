//! What the deployment decided for each account, and the one path that decides it.
//!
//! [`Deployment::decide`] and [`Deployment::decide_many`] are the only places that turn accounts
//! into decisions: they assign experiment arms, group accounts per engine, score them (on the
//! batch path when no reason codes are asked for), record the champion's inputs for drift,
//! score the challenger beside the champion in shadow mode, and count decisions per arm. The
//! gRPC handlers (`Score`, `ScoreBatch`, `ScoreStream`) and the offline worklist
//! (`payrisk-train score`) all call them.
//!
//! The reply (`grpc::convert::response` for `Score`, `grpc::wire::encode` for batches), the
//! audit record ([`crate::serve::audit`]) and the metrics are all written from a
//! [`ScoredAccount`], so none of them can disagree with another. Everything borrows from the
//! [`Deployment`] the call started on: nothing is copied per account but the numbers and the
//! reason codes.

use chrono::{DateTime, Utc};

use crate::domain::{Account, Violation};
use crate::policy::{Arm, Decision};
use crate::scoring::{Engine, Options, Reason, Scored};
use crate::serve::deployment::Deployment;

/// One account's decision: the deciding arm's, and the challenger's beside it in shadow mode.
#[derive(Debug, Clone)]
pub struct ScoredAccount<'d> {
    /// The engine of the arm that decided.
    pub engine: &'d Engine,
    /// The arm that decided.
    pub arm: Arm,
    /// Repayment probability in [0, 1].
    pub probability: f64,
    /// The policy's decision.
    pub decision: Decision<'d>,
    /// Reason codes, strongest first (none on the batch path).
    pub reasons: Vec<Reason>,
    /// With a treatment-effect model: each candidate treatment's prediction.
    pub options: Option<Options>,
    /// With a treatment-effect model that chose a treatment other than the reference: the
    /// reasons for its effect, strongest first (none on the batch path).
    pub uplift_reasons: Vec<Reason>,
    /// The challenger's decision in shadow mode (rare, so boxed).
    pub shadow: Option<Box<ShadowScore<'d>>>,
    /// The decision time it was made for.
    pub decided_at: DateTime<Utc>,
    /// The experiment running when it was made, if any.
    pub experiment: Option<&'d str>,
    /// The account's balance at the decision, if known.
    pub balance: Option<f64>,
    /// Days past due on the account's latest statement at the decision.
    pub days_past_due: u32,
}

/// The challenger's decision in shadow mode, not acted on.
#[derive(Debug, Clone)]
pub struct ShadowScore<'d> {
    /// The challenger's engine.
    pub engine: &'d Engine,
    /// Its repayment probability.
    pub probability: f64,
    /// Its policy's decision.
    pub decision: Decision<'d>,
}

/// One account of a batch: its decision, or why it could not be scored.
#[derive(Debug, Clone)]
pub struct Outcome<'d> {
    /// Position of the account in the request.
    pub index: u32,
    /// The account's id as the request gave it.
    pub account_id: String,
    /// The decision, or the account's field violations.
    pub result: Result<ScoredAccount<'d>, Vec<Violation>>,
}

/// A batch of accounts, decided: one outcome per account, in request order.
#[derive(Debug, Clone)]
pub struct Batch<'d> {
    /// The request's `batch_id`, echoed.
    pub batch_id: u64,
    /// One per account, in request order.
    pub outcomes: Vec<Outcome<'d>>,
}

/// One decision, as the metrics count it (`payrisk_decisions_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counted<'a> {
    /// Risk band.
    pub band: &'a str,
    /// `soft` or `firm`.
    pub treatment: &'static str,
    /// `champion`, `challenger`, or `shadow` for a challenger's shadow score.
    pub arm: &'static str,
    /// The deciding model's version.
    pub model_version: &'a str,
}

impl<'d> ScoredAccount<'d> {
    /// `scored` by `engine` for `arm` at `decided_at`, with the reason codes the engine left in
    /// its scratch.
    pub fn new(
        engine: &'d Engine,
        arm: Arm,
        scored: &Scored<'d>,
        reasons: &[Reason],
        account: &Account,
        decided_at: DateTime<Utc>,
    ) -> Self {
        ScoredAccount {
            engine,
            arm,
            probability: scored.probability,
            decision: scored.decision,
            reasons: reasons.to_vec(),
            options: scored.options,
            uplift_reasons: Vec::new(),
            shadow: None,
            decided_at,
            experiment: None,
            balance: account.profile.current_balance,
            days_past_due: account.history.last().map_or(0, |c| c.days_past_due),
        }
    }

    /// The decision's identity, 32 hexadecimal digits: a stable 128-bit hash of the account id,
    /// the decision time (to the nanosecond), the deciding model's name and version, the policy
    /// version and the arm. Replaying a call with the same `decision_time` reproduces it; calls
    /// at different times, or decided by other versions or arms, get different ones.
    pub fn decision_id(&self, account_id: &str) -> String {
        let (hi, lo) = self.decision_id_words(account_id);
        format!("{hi:016x}{lo:016x}")
    }

    /// [`Self::decision_id`] as two words, high first, for writers that format it themselves.
    pub fn decision_id_words(&self, account_id: &str) -> (u64, u64) {
        let nanos = self
            .decided_at
            .timestamp_nanos_opt()
            .unwrap_or(self.decided_at.timestamp())
            .to_le_bytes();
        let versions = self.engine.version_key().to_le_bytes();
        let parts: [&[u8]; 4] = [
            account_id.as_bytes(),
            &nanos,
            &versions,
            self.arm.as_str().as_bytes(),
        ];
        (
            crate::stable_hash::hash64(0xdec1_5101, &parts),
            crate::stable_hash::hash64(0x0dec_1d00, &parts),
        )
    }

    /// The decisions to count: this one, and the shadow score's.
    pub fn counted(&self) -> impl Iterator<Item = Counted<'_>> {
        let decided = Counted {
            band: self.decision.band,
            treatment: self.decision.treatment.as_str(),
            arm: self.arm.as_str(),
            model_version: &self.engine.model().artifact().version,
        };
        let shadow = self.shadow.as_ref().map(|s| Counted {
            band: s.decision.band,
            treatment: s.decision.treatment.as_str(),
            arm: "shadow",
            model_version: &s.engine.model().artifact().version,
        });
        std::iter::once(decided).chain(shadow)
    }
}

impl<'d> ShadowScore<'d> {
    /// `scored` by the challenger's `engine`.
    pub fn new(engine: &'d Engine, scored: &Scored<'d>) -> Self {
        ShadowScore {
            engine,
            probability: scored.probability,
            decision: scored.decision,
        }
    }
}

impl Batch<'_> {
    /// The scored accounts with their positions and ids.
    pub fn scored(&self) -> impl Iterator<Item = (u32, &str, &ScoredAccount<'_>)> {
        self.outcomes.iter().filter_map(|o| {
            o.result
                .as_ref()
                .ok()
                .map(|s| (o.index, o.account_id.as_str(), s))
        })
    }
}

impl Deployment {
    /// Decides one account at `now` with up to `k` reason codes: the deciding arm's engine, and
    /// the challenger beside it in shadow mode.
    pub fn decide(&self, account: &Account, k: usize, now: DateTime<Utc>) -> ScoredAccount<'_> {
        let arm = self.arm(&account.account_id);
        let (decider, engine) = self.decider(arm);
        let mut scratch = engine.scratch();
        let scored = engine.score(account, k, now, &mut scratch);
        self.record(decider, 1);
        if let (Arm::Champion, Some(drift)) = (decider, self.drift()) {
            drift.record(scratch.inputs(), &[scored.probability]);
        }
        let mut decided =
            ScoredAccount::new(engine, decider, &scored, scratch.reasons(), account, now);
        decided.uplift_reasons = scratch.uplift_reasons().to_vec();
        decided.experiment = self.experiment().map(|e| e.name.as_str());
        decided.shadow = self.shadow(arm).map(|challenger| {
            let mut scratch = challenger.scratch();
            let scored = challenger.score(account, 0, now, &mut scratch);
            self.record(Arm::Challenger, 1);
            Box::new(ShadowScore::new(challenger, &scored))
        });
        decided
    }

    /// Decides `accounts` at `now` with up to `k` reason codes each, handing each decision to
    /// `emit` with the account's position in `accounts`: every position exactly once, grouped
    /// by deciding arm (in order within an arm). Each arm's accounts are scored together, on the
    /// batch path when `k` is 0. Decisions go straight to where the caller keeps them: no
    /// buffer of them is built here.
    pub fn decide_many<'d>(
        &'d self,
        accounts: &[&Account],
        k: usize,
        now: DateTime<Utc>,
        mut emit: impl FnMut(usize, ScoredAccount<'d>),
    ) {
        let arms: Vec<Arm> = accounts.iter().map(|a| self.arm(&a.account_id)).collect();
        // Shadow mode: the challenger scores its share first, attached as the champion decides.
        let mut shadows: Vec<Option<Box<ShadowScore<'d>>>> = Vec::new();
        if let Some(challenger) = self.shadow(Arm::Challenger) {
            let members: Vec<usize> = (0..accounts.len())
                .filter(|&i| arms[i] == Arm::Challenger)
                .collect();
            let group: Vec<&Account> = members.iter().map(|&i| accounts[i]).collect();
            let mut scratch = challenger.scratch();
            let mut scored = Vec::with_capacity(group.len());
            challenger.score_many(&group, now, &mut scratch, &mut scored);
            shadows.resize_with(accounts.len(), || None);
            for (&i, s) in members.iter().zip(&scored) {
                shadows[i] = Some(Box::new(ShadowScore::new(challenger, s)));
            }
            self.record(Arm::Challenger, members.len() as u64);
        }
        let experiment = self.experiment().map(|e| e.name.as_str());
        let mut decided = |i: usize, mut d: ScoredAccount<'d>| {
            d.shadow = shadows.get_mut(i).and_then(Option::take);
            d.experiment = experiment;
            emit(i, d);
        };
        let all_champion = self.experiment().is_none();
        for decider in [Arm::Champion, Arm::Challenger, Arm::Control] {
            let members: Vec<usize> = if all_champion {
                match decider {
                    Arm::Champion => (0..accounts.len()).collect(),
                    Arm::Challenger | Arm::Control => Vec::new(),
                }
            } else {
                (0..accounts.len())
                    .filter(|&i| self.decider(arms[i]).0 == decider)
                    .collect()
            };
            if members.is_empty() {
                continue;
            }
            let (_, engine) = self.decider(decider);
            let drift = self.drift().filter(|_| decider == Arm::Champion);
            let mut scratch = engine.scratch();
            if k == 0 {
                let group: Vec<&Account> = members.iter().map(|&i| accounts[i]).collect();
                let mut scored = Vec::with_capacity(group.len());
                engine.score_many(&group, now, &mut scratch, &mut scored);
                if let Some(drift) = drift {
                    let probabilities: Vec<f64> = scored.iter().map(|s| s.probability).collect();
                    drift.record(scratch.batch_inputs(), &probabilities);
                }
                for (&i, s) in members.iter().zip(&scored) {
                    decided(
                        i,
                        ScoredAccount::new(engine, decider, s, &[], accounts[i], now),
                    );
                }
            } else {
                let group: Vec<&Account> = members.iter().map(|&i| accounts[i]).collect();
                engine.score_many_with_reasons(
                    &group,
                    k,
                    now,
                    &mut scratch,
                    |j, s, reasons, uplift_reasons, inputs| {
                        let i = members[j];
                        if let Some(drift) = drift {
                            drift.record(inputs, &[s.probability]);
                        }
                        let mut d =
                            ScoredAccount::new(engine, decider, s, reasons, accounts[i], now);
                        d.uplift_reasons = uplift_reasons.to_vec();
                        decided(i, d);
                    },
                );
            }
            self.record(decider, members.len() as u64);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{CreditProfile, PaymentCycle};
    use crate::model::Model;
    use crate::policy::Policy;
    use chrono::NaiveDate;
    use std::path::Path;

    /// The shipped gbdt champion and logistic challenger, in an experiment of `mode` that holds
    /// out a fifth of the accounts as a control given firm treatment.
    fn deployment(mode: &str) -> Deployment {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(root.join("models/policy.toml")).expect("policy");
        let policy = Policy::from_toml(&text).expect("shipped policy");
        let with_experiment = Policy::from_toml(&format!(
            "{text}\n[experiment]\nname = \"t\"\nshare = 0.4\nmode = \"{mode}\"\nchallenger_model = \"uci-credit/1/model.json\"\n\
             [experiment.control]\nshare = 0.2\ntreatment = \"firm\"\n"
        ))
        .expect("policy with an experiment");
        let champion = Model::load(&root.join("models/uci-credit/2/model.json")).expect("gbdt");
        let challenger = Model::load(&root.join("models/uci-credit/1/model.json")).expect("lr");
        Deployment::new(
            Engine::new(champion, with_experiment),
            Some(Engine::new(challenger, policy)),
        )
    }

    fn accounts() -> Vec<Account> {
        let as_of = NaiveDate::from_ymd_opt(2025, 6, 30).expect("date");
        (0..200)
            .map(|i| Account {
                account_id: format!("acct-{i}"),
                as_of,
                profile: CreditProfile {
                    credit_limit: Some(1000.0 + 50.0 * f64::from(i)),
                    current_balance: Some(900.0 + 7.0 * f64::from(i % 13)),
                    months_on_book: Some(12 + i % 40),
                    prior_delinquencies: i % 4,
                    ..CreditProfile::default()
                },
                history: (0..6)
                    .map(|m| PaymentCycle {
                        statement_date: as_of - chrono::Duration::days(30 * (5 - m)),
                        amount_due: 800.0,
                        minimum_due: 40.0,
                        amount_paid: f64::from((i + m as u32) % 5) * 100.0,
                        days_past_due: ((i + m as u32) % 4) * 30,
                    })
                    .collect(),
                attributes: Default::default(),
                contacts: Vec::new(),
                promises: Vec::new(),
                compliance: Default::default(),
            })
            .collect()
    }

    /// `decide_many` decides every account as `decide` does one at a time: the same arm, the same
    /// numbers, the same shadow, in order, and counts each arm once per decision.
    #[test]
    fn a_batch_is_decided_as_its_accounts_are_one_by_one() {
        let now = DateTime::from_timestamp(1_767_225_600, 0).expect("time");
        for mode in ["split", "shadow"] {
            let (batch, single) = (deployment(mode), deployment(mode));
            let accounts = accounts();
            let refs: Vec<&Account> = accounts.iter().collect();
            for k in [0, 4] {
                let mut many: Vec<Option<ScoredAccount<'_>>> = vec![None; accounts.len()];
                batch.decide_many(&refs, k, now, |i, d| {
                    assert!(many[i].replace(d).is_none(), "position {i} decided twice");
                });
                for (a, m) in accounts.iter().zip(&many) {
                    let m = m.as_ref().expect("every position is decided");
                    let one = single.decide(a, k, now);
                    assert_eq!(m.arm, one.arm, "{mode} {}", a.account_id);
                    assert_eq!(m.probability.to_bits(), one.probability.to_bits());
                    assert_eq!(m.decision, one.decision);
                    assert_eq!(m.reasons, one.reasons);
                    assert_eq!(
                        m.shadow.as_ref().map(|s| s.probability.to_bits()),
                        one.shadow.as_ref().map(|s| s.probability.to_bits())
                    );
                }
            }
            let challengers = many_arms(&batch, &accounts, Arm::Challenger);
            assert!(
                challengers > 40 && challengers < 120,
                "{challengers} of 200"
            );
            let controls = many_arms(&batch, &accounts, Arm::Control);
            assert!(controls > 20 && controls < 70, "{controls} of 200");
            for arm in [Arm::Champion, Arm::Challenger, Arm::Control] {
                assert_eq!(
                    batch.decisions(arm),
                    single.decisions(arm),
                    "{mode} {arm:?}"
                );
            }
            if mode == "shadow" {
                assert_eq!(
                    batch.decisions(Arm::Champion),
                    2 * (200 - controls as u64),
                    "every account but the controls decided twice"
                );
            }
            // The control's accounts get the alternative (firm), the champion's model decides
            // them, and they keep their own arm in the decision id's input.
            for a in accounts
                .iter()
                .filter(|a| batch.arm(&a.account_id) == Arm::Control)
            {
                let d = batch.decide(a, 0, now);
                assert_eq!(d.arm, Arm::Control);
                assert_eq!(d.decision.treatment, crate::policy::Treatment::Firm);
                assert_eq!(d.decision.rationale, crate::policy::Rationale::Control);
                assert_eq!(
                    d.probability.to_bits(),
                    batch
                        .champion()
                        .score(a, 0, now, &mut batch.champion().scratch())
                        .probability
                        .to_bits()
                );
            }
        }
    }

    fn many_arms(d: &Deployment, accounts: &[Account], arm: Arm) -> usize {
        accounts
            .iter()
            .filter(|a| d.arm(&a.account_id) == arm)
            .count()
    }
}
