//! The treatment-effect kind (`uplift`): what each candidate treatment would do to an account's
//! chance of repaying, so a policy can choose the treatment that changes the outcome rather
//! than the account that pays anyway.
//!
//! # What the artifact holds
//! One entry per candidate treatment, the first the **reference** (the treatment effects are
//! measured against; usually no contact or the cheapest action), each with its cost per
//! decision and an **outcome model**: gradient-boosted trees whose sum is the log-odds of
//! repayment within the outcome window had the account received that treatment (the
//! T-learner's models, fitted on the randomised control's accounts of that treatment).
//!
//! With the DR-learner, every treatment but the reference also carries an **effect model**:
//! trees whose sum is the difference in repayment probability from the reference, fitted by
//! squared error to doubly robust pseudo-outcomes (Kennedy, "Towards optimal doubly robust
//! estimation of heterogeneous causal effects", 2023):
//!
//! ```text
//! φ_t = μ_t(x) − μ_r(x) + 1[T = t] (Y − μ_t(x)) / e_t − 1[T = r] (Y − μ_r(x)) / e_r
//! ```
//!
//! where `μ` are outcome models cross-fitted on the other half of the accounts and `e` the
//! known assignment probabilities of the randomised control (equal parts).
//!
//! # What it serves
//! - [`UpliftModel::probabilities`]: per treatment, the repayment probability: T-learner,
//!   `sigmoid(margin_t)`; DR-learner, the reference's probability plus the effect, held to
//!   [0, 1].
//! - The model's one score ([`UpliftModel::margin`]) is the reference's margin: the repayment
//!   probability had nothing been changed, which sets the band and score points.
//! - Reasons for the effect of `t` ([`UpliftModel::effect_shap`]): T-learner, TreeSHAP on
//!   `t`'s margin minus TreeSHAP on the reference's, which add up to the difference of margins
//!   (less that of their expected values) exactly, both being exact on their own margins;
//!   DR-learner, TreeSHAP on `t`'s effect model, which adds up to the served effect.

use serde::{Deserialize, Serialize};

use super::gbdt::{shap::ShapScratch, GbdtModel, Tree};
use super::logistic::sigmoid;

/// How the treatment effects were learned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Learner {
    /// One outcome model per treatment; effects are differences of their predictions.
    T,
    /// Effect models fitted to doubly robust pseudo-outcomes, on the T-learner's models.
    Dr,
}

impl Learner {
    /// `t` or `dr`, as in the artifact.
    pub fn as_str(self) -> &'static str {
        match self {
            Learner::T => "t",
            Learner::Dr => "dr",
        }
    }
}

/// Trees and their starting value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ensemble {
    /// Starting value (log-odds for outcome models, a probability difference for effects).
    pub base_score: f64,
    /// The trees.
    pub trees: Vec<Tree>,
}

/// One candidate treatment in an uplift artifact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TreatmentModel {
    /// The candidate's name, as the policy's `[[candidates]]` call it.
    pub name: String,
    /// What giving it costs per decision, in the balance's currency (>= 0).
    pub cost: f64,
    /// Log-odds of repayment within the window under this treatment.
    pub outcome: Ensemble,
    /// DR-learner: the difference in repayment probability from the reference (absent for the
    /// reference and under the T-learner).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effect: Option<Ensemble>,
}

/// Most treatments an uplift artifact may hold (each decision carries them inline).
pub const MAX_TREATMENTS: usize = 6;

/// Checks an uplift artifact's treatments against its learner and `n_features` inputs.
pub fn validate(
    learner: Learner,
    treatments: &[TreatmentModel],
    n_features: usize,
) -> Result<(), String> {
    if treatments.len() < 2 || treatments.len() > MAX_TREATMENTS {
        return Err(format!(
            "an uplift model needs at least two treatments (a reference and one more) and at \
             most {MAX_TREATMENTS}"
        ));
    }
    for (i, t) in treatments.iter().enumerate() {
        if t.name.trim().is_empty() {
            return Err(format!("treatment {i}: the name must not be empty"));
        }
        if treatments[..i].iter().any(|o| o.name == t.name) {
            return Err(format!("treatment `{}` is named twice", t.name));
        }
        if !(t.cost.is_finite() && t.cost >= 0.0) {
            return Err(format!(
                "treatment `{}`: the cost must be a finite amount >= 0 (got {})",
                t.name, t.cost
            ));
        }
        let check = |what: &str, e: &Ensemble| -> Result<(), String> {
            if !e.base_score.is_finite() {
                return Err(format!(
                    "treatment `{}`: {what} base_score must be finite",
                    t.name
                ));
            }
            if e.trees.is_empty() {
                return Err(format!(
                    "treatment `{}`: the {what} model has no tree",
                    t.name
                ));
            }
            for (k, tree) in e.trees.iter().enumerate() {
                tree.validate(n_features)
                    .map_err(|m| format!("treatment `{}`, {what} tree {k}: {m}", t.name))?;
            }
            Ok(())
        };
        check("outcome", &t.outcome)?;
        match (learner, i, &t.effect) {
            (Learner::Dr, 1.., None) => {
                return Err(format!(
                    "treatment `{}`: the DR-learner needs an effect model for every treatment \
                     but the reference",
                    t.name
                ))
            }
            (Learner::Dr, 0, Some(_)) | (Learner::T, _, Some(_)) => {
                return Err(format!(
                    "treatment `{}`: an effect model belongs only to the DR-learner's \
                     non-reference treatments",
                    t.name
                ))
            }
            (_, _, Some(e)) => check("effect", e)?,
            _ => {}
        }
    }
    Ok(())
}

/// The serving form: each treatment's trees flattened, SHAP tables built once.
#[derive(Debug)]
pub struct UpliftModel {
    learner: Learner,
    treatments: Vec<Served>,
}

#[derive(Debug)]
struct Served {
    name: String,
    cost: f64,
    outcome: GbdtModel,
    effect: Option<GbdtModel>,
}

impl UpliftModel {
    /// Builds the serving form of validated treatments.
    pub fn new(learner: Learner, treatments: &[TreatmentModel]) -> UpliftModel {
        let flat = |e: &Ensemble| GbdtModel::new(e.base_score, &e.trees);
        UpliftModel {
            learner,
            treatments: treatments
                .iter()
                .map(|t| Served {
                    name: t.name.clone(),
                    cost: t.cost,
                    outcome: flat(&t.outcome),
                    effect: t.effect.as_ref().map(flat),
                })
                .collect(),
        }
    }

    /// How the effects were learned.
    pub fn learner(&self) -> Learner {
        self.learner
    }

    /// The number of treatments (the reference first).
    pub fn len(&self) -> usize {
        self.treatments.len()
    }

    /// Always false: a validated uplift model has at least two treatments.
    pub fn is_empty(&self) -> bool {
        self.treatments.is_empty()
    }

    /// Treatment `t`'s name.
    pub fn name(&self, t: usize) -> &str {
        &self.treatments[t].name
    }

    /// Treatment `t`'s cost per decision.
    pub fn cost(&self, t: usize) -> f64 {
        self.treatments[t].cost
    }

    /// The reference treatment's log-odds of repayment (the model's one score).
    #[inline]
    pub fn margin(&self, x: &[f64]) -> f64 {
        self.treatments[0].outcome.margin(x)
    }

    /// [`Self::margin`] for many rows (`p` inputs each, row-major).
    pub fn margins(&self, xs: &[f64], p: usize, out: &mut [f64]) {
        self.treatments[0].outcome.margins(xs, p, out);
    }

    /// Treatment `t`'s outcome log-odds for many rows (`p` inputs each, row-major).
    pub fn treatment_margins(&self, t: usize, xs: &[f64], p: usize, out: &mut [f64]) {
        self.treatments[t].outcome.margins(xs, p, out);
    }

    /// The repayment probability under each treatment, written into `out` (one per treatment);
    /// returns the reference's margin (each ensemble is walked once).
    pub fn probabilities(&self, x: &[f64], out: &mut [f64]) -> f64 {
        let margin = self.treatments[0].outcome.margin(x);
        let reference = sigmoid(margin);
        for (t, (o, served)) in out.iter_mut().zip(&self.treatments).enumerate() {
            *o = match (&served.effect, self.learner) {
                _ if t == 0 => reference,
                (Some(e), Learner::Dr) => (reference + e.margin(x)).clamp(0.0, 1.0),
                _ => sigmoid(served.outcome.margin(x)),
            };
        }
        margin
    }

    /// Per-treatment probabilities for many rows: `out` holds `len()` values per row, and
    /// `reference` (one per row) gets the reference's margins. Each ensemble is walked once, on
    /// the batch walk; `column` is scratch.
    pub fn probabilities_many(
        &self,
        xs: &[f64],
        p: usize,
        out: &mut [f64],
        reference: &mut [f64],
        column: &mut Vec<f64>,
    ) {
        let k = self.treatments.len();
        let rows = reference.len();
        column.resize(rows, 0.0);
        self.treatments[0].outcome.margins(xs, p, reference);
        for (row, &m) in reference.iter().enumerate() {
            out[row * k] = sigmoid(m);
        }
        for (t, served) in self.treatments.iter().enumerate().skip(1) {
            match (&served.effect, self.learner) {
                (Some(e), Learner::Dr) => {
                    e.margins(xs, p, column);
                    for (row, c) in column.iter().enumerate() {
                        out[row * k + t] = (out[row * k] + c).clamp(0.0, 1.0);
                    }
                }
                _ => {
                    served.outcome.margins(xs, p, column);
                    for (row, &c) in column.iter().enumerate() {
                        out[row * k + t] = sigmoid(c);
                    }
                }
            }
        }
    }

    /// TreeSHAP of the reference's margin (the model's one score), returning the margin.
    pub fn shap(&self, x: &[f64], out: &mut [f64], scratch: &mut ShapScratch) -> f64 {
        self.treatments[0].outcome.shap(x, out, scratch)
    }

    /// The reference's expected margin under its training covers.
    pub fn expected_margin(&self) -> f64 {
        self.treatments[0].outcome.expected_margin()
    }

    /// Reasons for treatment `t`'s effect, into `out`, using `tmp` (both of the input's length):
    /// T-learner, TreeSHAP of `t`'s outcome margin minus TreeSHAP of the reference's, on the
    /// log-odds; DR-learner, TreeSHAP of `t`'s effect model, in probability points (what it
    /// serves). Returns `(effect, expected effect)`: the contributions add up to the first minus
    /// the second, exactly up to rounding.
    pub fn effect_shap(
        &self,
        t: usize,
        x: &[f64],
        out: &mut [f64],
        tmp: &mut [f64],
        scratch: &mut ShapScratch,
    ) -> (f64, f64) {
        if let (Learner::Dr, Some(effect)) = (self.learner, &self.treatments[t].effect) {
            let e = effect.shap(x, out, scratch);
            return (e, effect.expected_margin());
        }
        let (treated, reference) = (&self.treatments[t].outcome, &self.treatments[0].outcome);
        let m_t = treated.shap(x, out, scratch);
        let m_r = reference.shap(x, tmp, scratch);
        for (o, r) in out.iter_mut().zip(tmp.iter()) {
            *o -= r;
        }
        (
            m_t - m_r,
            treated.expected_margin() - reference.expected_margin(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ensemble(v: f64) -> Ensemble {
        Ensemble {
            base_score: v,
            trees: vec![Tree::leaf(0.1, 1.0)],
        }
    }

    fn treatment(name: &str, cost: f64, effect: Option<Ensemble>) -> TreatmentModel {
        TreatmentModel {
            name: name.into(),
            cost,
            outcome: ensemble(0.5),
            effect,
        }
    }

    /// Each rule of an uplift artifact's treatments is refused with its reason: one treatment,
    /// a name twice, a negative or missing (NaN) cost, an effect model where the learner has
    /// none or none where the DR-learner needs one.
    #[test]
    fn uplift_treatments_are_validated() {
        let good = [treatment("none", 0.0, None), treatment("firm", 4.0, None)];
        assert!(validate(Learner::T, &good, 3).is_ok());
        let cases: [(Learner, Vec<TreatmentModel>, &str); 6] = [
            (
                Learner::T,
                vec![treatment("none", 0.0, None)],
                "at least two",
            ),
            (
                Learner::T,
                vec![treatment("a", 0.0, None), treatment("a", 1.0, None)],
                "named twice",
            ),
            (
                Learner::T,
                vec![treatment("a", 0.0, None), treatment("b", -1.0, None)],
                "cost must be",
            ),
            (
                Learner::T,
                vec![treatment("a", 0.0, None), treatment("b", f64::NAN, None)],
                "cost must be",
            ),
            (
                Learner::T,
                vec![
                    treatment("a", 0.0, None),
                    treatment("b", 1.0, Some(ensemble(0.0))),
                ],
                "belongs only",
            ),
            (
                Learner::Dr,
                vec![treatment("a", 0.0, None), treatment("b", 1.0, None)],
                "needs an effect model",
            ),
        ];
        for (learner, treatments, rule) in cases {
            let err = validate(learner, &treatments, 3).expect_err(rule);
            assert!(err.contains(rule), "{err}");
        }
    }

    /// The T-learner's differenced TreeSHAP reasons add up to the difference of the margins, the
    /// DR-learner's to its effect, and the DR probabilities are the reference's plus the
    /// effect, held to [0, 1].
    #[test]
    fn effect_reasons_add_up_to_the_margin_difference() {
        let mut split = Tree::with_nodes(3);
        split.split_feature = vec![0, -1, -1];
        split.threshold = vec![0.5, 0.0, 0.0];
        split.left = vec![1, 0, 0];
        split.right = vec![2, 0, 0];
        split.default_left = vec![true, false, false];
        split.value = vec![0.0, -0.4, 0.9];
        split.cover = vec![10.0, 6.0, 4.0];
        let reference = treatment("none", 0.0, None);
        let firm = TreatmentModel {
            outcome: Ensemble {
                base_score: 0.2,
                trees: vec![split.clone()],
            },
            effect: Some(Ensemble {
                base_score: 0.05,
                trees: vec![split],
            }),
            ..treatment("firm", 4.0, None)
        };
        let m = UpliftModel::new(Learner::Dr, &[reference.clone(), firm.clone()]);
        let t = UpliftModel::new(
            Learner::T,
            &[
                reference,
                TreatmentModel {
                    effect: None,
                    ..firm
                },
            ],
        );
        let mut scratch = ShapScratch::default();
        for x0 in [0.0, 1.0, f64::NAN] {
            let x = [x0, 0.0];
            let (mut out, mut tmp) = ([0.0; 2], [0.0; 2]);
            // T-learner: the margins' difference.
            let (difference, expected) = t.effect_shap(1, &x, &mut out, &mut tmp, &mut scratch);
            let sum: f64 = out.iter().sum();
            assert!((sum - (difference - expected)).abs() < 1e-9, "{x0}");
            let margins = t.treatments[1].outcome.margin(&x) - t.treatments[0].outcome.margin(&x);
            assert!((difference - margins).abs() < 1e-12);
            // DR-learner: the effect model's own TreeSHAP.
            let (effect, expected) = m.effect_shap(1, &x, &mut out, &mut tmp, &mut scratch);
            let sum: f64 = out.iter().sum();
            assert!((sum - (effect - expected)).abs() < 1e-9, "{x0}");
            let mut p = [0.0; 2];
            m.probabilities(&x, &mut p);
            let effect = 0.05 + if x0 < 0.5 || x0.is_nan() { -0.4 } else { 0.9 };
            assert!(
                (p[1] - (p[0] + effect).clamp(0.0, 1.0)).abs() < 1e-12,
                "{x0}"
            );
        }
    }
}
