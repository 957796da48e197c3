//! Models: the artifact format and the serving form of each model kind.
//!
//! [`Model`] is what the scoring engine holds: the validated [`Artifact`] (for its metadata), the
//! resolved [`FeatureSpec`], and the kind's fast scorer. Call sites never branch on the kind.

pub mod artifact;
pub mod logistic;

use std::path::Path;

pub use artifact::{Artifact, FeatureStats, ModelParams, SplitMetrics, TrainingInfo};
use logistic::LogisticModel;

use crate::error::LoadError;
use crate::features::FeatureSpec;

/// A validated model ready to score.
#[derive(Debug, Clone)]
pub struct Model {
    artifact: Artifact,
    spec: FeatureSpec,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    Logistic(LogisticModel),
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
        };
        Ok(Model {
            artifact,
            spec,
            kind,
        })
    }

    /// Loads and validates an artifact file.
    pub fn load(path: &Path) -> Result<Model, LoadError> {
        Model::from_artifact(Artifact::load(path)?)
            .map_err(|e| e.with_origin(&path.display().to_string()))
    }

    /// The artifact the model was built from.
    pub fn artifact(&self) -> &Artifact {
        &self.artifact
    }

    /// The model's inputs.
    pub fn spec(&self) -> &FeatureSpec {
        &self.spec
    }

    /// Log-odds of repayment for the input vector `x` (length `spec().len()`).
    #[inline]
    pub fn margin(&self, x: &[f64]) -> f64 {
        match &self.kind {
            Kind::Logistic(m) => m.margin(x),
        }
    }

    /// Per-input contributions to the log-odds (against the average training account) written
    /// into `out`; returns the log-odds.
    #[inline]
    pub fn contributions(&self, x: &[f64], out: &mut [f64]) -> f64 {
        match &self.kind {
            Kind::Logistic(m) => m.contributions(x, out),
        }
    }

    /// Repayment probability for the input vector `x`.
    #[inline]
    pub fn probability(&self, x: &[f64]) -> f64 {
        logistic::sigmoid(self.margin(x))
    }
}
