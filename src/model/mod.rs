//! Models: the artifact format and the serving form of each model kind.
//!
//! [`Model`] is what the scoring engine holds: the validated [`Artifact`] (for its metadata), the
//! resolved [`FeatureSpec`], and the kind's fast scorer. Call sites never branch on the kind.

pub mod artifact;
pub mod calibration;
pub mod gbdt;
pub mod logistic;
pub mod scorecard;
pub mod uplift;

use std::path::Path;
use std::sync::Arc;

pub use artifact::{Artifact, FeatureStats, ModelParams, Period, SplitMetrics, TrainingInfo};
use gbdt::GbdtModel;
use logistic::LogisticModel;
use scorecard::ScorecardModel;
use uplift::UpliftModel;

use crate::error::LoadError;
use crate::features::FeatureSpec;

/// A validated model ready to score. Cloning shares it: the challenger and the control of an
/// experiment that use the champion's model hold the same trees and SHAP table, built once.
#[derive(Debug, Clone)]
pub struct Model {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    artifact: Artifact,
    spec: FeatureSpec,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Logistic(LogisticModel),
    Gbdt(GbdtModel),
    Scorecard(ScorecardModel),
    Uplift(UpliftModel),
}

/// Reusable buffers for [`Model::contributions`].
#[derive(Debug, Clone, Default)]
pub struct ModelScratch {
    shap: gbdt::shap::ShapScratch,
}

impl Model {
    /// Builds a model from an artifact, validating it first.
    pub fn from_artifact(artifact: Artifact) -> Result<Model, LoadError> {
        artifact.validate()?;
        let spec = artifact.feature_spec()?;
        let kind = match &artifact.model {
            ModelParams::Logistic {
                intercept,
                coefficients,
                ..
            } => {
                let means: Vec<f64> = artifact.features.iter().map(|f| f.mean).collect();
                let stds: Vec<f64> = artifact.features.iter().map(|f| f.std).collect();
                Kind::Logistic(LogisticModel::new(*intercept, coefficients, &means, &stds))
            }
            ModelParams::Gbdt {
                base_score, trees, ..
            } => Kind::Gbdt(GbdtModel::new(*base_score, trees)),
            ModelParams::Scorecard {
                intercept,
                characteristics,
                ..
            } => Kind::Scorecard(ScorecardModel::new(*intercept, characteristics)),
            ModelParams::Uplift {
                learner,
                treatments,
                ..
            } => Kind::Uplift(UpliftModel::new(*learner, treatments)),
        };
        Ok(Model {
            inner: Arc::new(Inner {
                artifact,
                spec,
                kind,
            }),
        })
    }

    /// Loads and validates an artifact file.
    pub fn load(path: &Path) -> Result<Model, LoadError> {
        Model::from_artifact(Artifact::load(path)?)
            .map_err(|e| e.with_origin(&path.display().to_string()))
    }

    /// The artifact the model was built from.
    pub fn artifact(&self) -> &Artifact {
        &self.inner.artifact
    }

    /// The model's inputs.
    pub fn spec(&self) -> &FeatureSpec {
        &self.inner.spec
    }

    /// The treatment-effect model's treatments and their outcome models, for the `uplift`
    /// kind (`None` for the others).
    pub fn uplift(&self) -> Option<&UpliftModel> {
        match &self.inner.kind {
            Kind::Uplift(m) => Some(m),
            _ => None,
        }
    }

    /// Log-odds of repayment for the input vector `x` (length `spec().len()`); for the uplift
    /// kind, under its reference treatment.
    #[inline]
    pub fn margin(&self, x: &[f64]) -> f64 {
        match &self.inner.kind {
            Kind::Logistic(m) => m.margin(x),
            Kind::Gbdt(m) => m.margin(x),
            Kind::Scorecard(m) => m.margin(x),
            Kind::Uplift(m) => m.margin(x),
        }
    }

    /// Log-odds for many input vectors: `xs` holds `out.len()` rows of `spec().len()` inputs,
    /// row-major. Equal to [`Self::margin`] row by row; faster for tree ensembles.
    pub fn margins(&self, xs: &[f64], out: &mut [f64]) {
        let p = self.inner.spec.len();
        match &self.inner.kind {
            Kind::Gbdt(m) => m.margins(xs, p, out),
            Kind::Uplift(m) => m.margins(xs, p, out),
            Kind::Logistic(_) | Kind::Scorecard(_) => {
                for (o, x) in out.iter_mut().zip(xs.chunks_exact(p.max(1))) {
                    *o = self.margin(x);
                }
            }
        }
    }

    /// Per-input contributions to the log-odds written into `out`, measured from
    /// [`Self::expected_margin`] (logistic: exact linear terms against the training means;
    /// gbdt: exact TreeSHAP values; scorecard: what each input lost against its best bin);
    /// returns the log-odds, equal to [`Self::margin`].
    #[inline]
    pub fn contributions(&self, x: &[f64], out: &mut [f64], scratch: &mut ModelScratch) -> f64 {
        match &self.inner.kind {
            Kind::Logistic(m) => m.contributions(x, out),
            Kind::Gbdt(m) => m.shap(x, out, &mut scratch.shap),
            Kind::Scorecard(m) => m.contributions(x, out),
            Kind::Uplift(m) => m.shap(x, out, &mut scratch.shap),
        }
    }

    /// [`Self::contributions`] for the rows of `xs` (each [`FeatureSpec::len`] inputs) into the
    /// rows of `outs`, with each row's margin in `margins`: the same values as one call per
    /// row, bit for bit. Tree ensembles take the rows a block at a time through each tree
    /// ([`gbdt::GbdtModel::shap_many`]).
    pub fn contributions_many(
        &self,
        xs: &[f64],
        outs: &mut [f64],
        margins: &mut [f64],
        scratch: &mut ModelScratch,
    ) {
        let p = self.spec().len();
        match &self.inner.kind {
            Kind::Gbdt(m) => m.shap_many(xs, p, outs, margins, &mut scratch.shap),
            _ => {
                for ((x, out), m) in xs
                    .chunks_exact(p.max(1))
                    .zip(outs.chunks_exact_mut(p.max(1)))
                    .zip(margins.iter_mut())
                {
                    *m = self.contributions(x, out, scratch);
                }
            }
        }
    }

    /// Reasons for an uplift model's treatment `t` against its reference: per-input TreeSHAP of
    /// `t`'s margin minus the reference's, into `out` (`tmp` is scratch of the same length).
    /// Returns `(margin_t - margin_r, expected_t - expected_r)`, so the contributions add up
    /// to the first minus the second; `None` for the other kinds.
    pub fn effect_contributions(
        &self,
        t: usize,
        x: &[f64],
        out: &mut [f64],
        tmp: &mut [f64],
        scratch: &mut ModelScratch,
    ) -> Option<(f64, f64)> {
        let m = self.uplift()?;
        (t < m.len()).then(|| m.effect_shap(t, x, out, tmp, &mut scratch.shap))
    }

    /// The log-odds the contributions are measured from: the logistic intercept (the average
    /// training account), the trees' cover-weighted expected output, or the scorecard's best
    /// possible account.
    pub fn expected_margin(&self) -> f64 {
        match &self.inner.kind {
            Kind::Logistic(m) => m.intercept(),
            Kind::Gbdt(m) => m.expected_margin(),
            Kind::Scorecard(m) => m.expected_margin(),
            Kind::Uplift(m) => m.expected_margin(),
        }
    }

    /// Repayment probability for the input vector `x`.
    #[inline]
    pub fn probability(&self, x: &[f64]) -> f64 {
        self.probability_of_margin(self.margin(x))
    }

    /// The repayment probability of a model log-odds: the artifact's calibration map if it has
    /// one, else the logistic function. Contributions and reason codes stay on the log-odds.
    #[inline]
    pub fn probability_of_margin(&self, margin: f64) -> f64 {
        match &self.inner.artifact.calibration {
            Some(c) => c.probability(margin),
            None => logistic::sigmoid(margin),
        }
    }
}
