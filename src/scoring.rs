//! The scoring engine: account → features → model → policy decision and reason codes.
//!
//! [`Engine::score`] is the one scoring path of the server (unary, batch and stream) and of
//! benchmarks. It works in a caller-owned [`Scratch`], so scoring a batch allocates nothing per
//! account.

use crate::domain::Account;
use crate::features::FeatureSource;
use crate::model::Model;
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
}

/// Reusable buffers for scoring; make one per task with [`Engine::scratch`].
#[derive(Debug, Clone, Default)]
pub struct Scratch {
    inputs: Vec<f64>,
    contributions: Vec<f64>,
    reasons: Vec<Reason>,
}

impl Scratch {
    /// The reason codes of the last [`Engine::score`] call, largest absolute contribution first.
    pub fn reasons(&self) -> &[Reason] {
        &self.reasons
    }
}

/// One reason code: an input's signed contribution to the log-odds of repayment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reason {
    /// Index into the model's feature list.
    pub feature: usize,
    /// Contribution to the log-odds; negative lowers the repayment probability.
    pub contribution: f64,
    /// The input's value (NaN when missing).
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
        Engine { model, policy }
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
            reasons: Vec::with_capacity(MAX_REASONS),
        }
    }

    /// Scores `account`, leaving the top `max_reasons` reason codes (at most [`MAX_REASONS`]) in
    /// `scratch`. The account must have passed the request validation (finite amounts).
    pub fn score<'e>(
        &'e self,
        account: &Account,
        max_reasons: usize,
        scratch: &mut Scratch,
    ) -> Scored<'e> {
        let n = self.model.spec().len();
        scratch.inputs.resize(n, 0.0);
        scratch.contributions.resize(n, 0.0);
        self.model.spec().derive(account, &mut scratch.inputs);
        let margin = if max_reasons == 0 {
            self.model.margin(&scratch.inputs)
        } else {
            self.model
                .contributions(&scratch.inputs, &mut scratch.contributions)
        };
        top_reasons(
            &scratch.inputs,
            &scratch.contributions,
            max_reasons.min(MAX_REASONS),
            &mut scratch.reasons,
        );
        let probability = crate::model::logistic::sigmoid(margin);
        Scored {
            probability,
            margin,
            decision: self.policy.decide(probability, account),
        }
    }

    /// Readable text of a reason code.
    pub fn reason_text(&self, reason: &Reason) -> String {
        let source = self.model.spec().sources().get(reason.feature);
        let what = source.map_or_else(|| "unknown feature".to_owned(), FeatureSource::description);
        let direction = if reason.contribution < 0.0 {
            "lowers"
        } else {
            "raises"
        };
        if reason.value.is_nan() {
            format!("{what} (missing) {direction} the repayment likelihood")
        } else {
            format!(
                "{what} ({}) {direction} the repayment likelihood",
                trim_number(reason.value)
            )
        }
    }
}

/// Keeps the `k` largest |contribution| inputs in `out`, largest first (ties: lower index first).
fn top_reasons(inputs: &[f64], contributions: &[f64], k: usize, out: &mut Vec<Reason>) {
    out.clear();
    if k == 0 {
        return;
    }
    for (feature, (&contribution, &value)) in contributions.iter().zip(inputs).enumerate() {
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
                feature,
                contribution,
                value,
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

    #[test]
    fn top_reasons_are_sorted_by_magnitude_and_bounded() {
        let inputs = [1.0, 2.0, 3.0, 4.0, 5.0];
        let contributions = [0.1, -0.9, 0.5, 0.0, -0.3];
        let mut out = Vec::new();
        top_reasons(&inputs, &contributions, 3, &mut out);
        let got: Vec<usize> = out.iter().map(|r| r.feature).collect();
        assert_eq!(got, vec![1, 2, 4]);
        assert_eq!(out[0].contribution, -0.9);
        assert_eq!(out[0].value, 2.0);
        top_reasons(&inputs, &contributions, 10, &mut out);
        assert_eq!(out.len(), 4, "zero contributions are not reasons");
        top_reasons(&inputs, &contributions, 0, &mut out);
        assert!(out.is_empty());
    }
}
