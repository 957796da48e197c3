//! What a call decided for each account, as the scoring engine left it. The reply (prost's
//! [`super::convert::response`] for `Score`, [`super::reply`] for batches), the audit record and
//! the metrics are all written from these, so none of them can disagree with another.
//!
//! Everything borrows from the [`crate::deployment::Deployment`] the call started on: nothing is
//! copied per account but the numbers and the reason codes.

use super::convert::Violation;
use crate::metrics::Decided;
use crate::policy::{Arm, Decision, Treatment};
use crate::scoring::{Engine, Reason, Scored};

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
    /// The challenger's decision in shadow mode (rare, so boxed).
    pub shadow: Option<Box<ShadowScore<'d>>>,
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

/// A `ScoreBatch` request or `ScoreStream` message, decided: one outcome per account, in
/// request order.
#[derive(Debug, Clone)]
pub struct Batch<'d> {
    /// The request's `batch_id`, echoed.
    pub batch_id: u64,
    /// One per account, in request order.
    pub outcomes: Vec<Outcome<'d>>,
}

impl<'d> ScoredAccount<'d> {
    /// `scored` by `engine` for `arm`, with the reason codes the engine left in its scratch.
    pub fn new(engine: &'d Engine, arm: Arm, scored: &Scored<'d>, reasons: &[Reason]) -> Self {
        ScoredAccount {
            engine,
            arm,
            probability: scored.probability,
            decision: scored.decision,
            reasons: reasons.to_vec(),
            shadow: None,
        }
    }

    /// The decisions to count: this one, and the shadow score's.
    pub fn counted(&self) -> impl Iterator<Item = Decided<'_>> {
        let decided = Decided {
            band: self.decision.band,
            treatment: treatment_name(self.decision.treatment),
            arm: self.arm.as_str(),
            model_version: &self.engine.model().artifact().version,
        };
        let shadow = self.shadow.as_ref().map(|s| Decided {
            band: s.decision.band,
            treatment: treatment_name(s.decision.treatment),
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

/// `soft` or `firm`, as the audit log and the metrics name treatments.
pub fn treatment_name(t: Treatment) -> &'static str {
    match t {
        Treatment::Soft => "soft",
        Treatment::Firm => "firm",
    }
}
