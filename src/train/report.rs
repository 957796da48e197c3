//! `metrics.json`, written beside every artifact `payrisk-train` makes: the artifact's metrics
//! plus the held-out decile table, for machines (dashboards, champion/challenger checks).

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::fit::Fitted;
use super::TrainError;
use crate::evaluation::{deciles, Decile, Metrics};

/// The contents of `metrics.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricsReport {
    /// Model name, as in the artifact.
    pub name: String,
    /// Model version, as in the artifact.
    pub version: String,
    /// `logistic` or `gbdt`.
    pub kind: String,
    /// The train/test split rule.
    pub split: String,
    /// Fingerprint of the input tables.
    pub data_fingerprint: String,
    /// Metrics on the training rows (the artifact's).
    pub train: Metrics,
    /// Metrics on the held-out rows (the artifact's).
    pub test: Metrics,
    /// Held-out decile table, riskiest tenth first.
    pub test_deciles: Vec<Decile>,
}

impl MetricsReport {
    /// The report of a fitted model, from its artifact and held-out predictions.
    pub fn of(fitted: &Fitted) -> Result<MetricsReport, TrainError> {
        let a = &fitted.artifact;
        let (labels, scores): (Vec<bool>, Vec<f64>) = fitted
            .test_predictions
            .iter()
            .map(|(_, repaid, p)| (*repaid, *p))
            .unzip();
        Ok(MetricsReport {
            name: a.name.clone(),
            version: a.version.clone(),
            kind: a.model.kind().to_owned(),
            split: a.training.split.clone(),
            data_fingerprint: a.training.data_fingerprint.clone(),
            train: a.metrics.train,
            test: a.metrics.test,
            test_deciles: deciles(&labels, &scores)?,
        })
    }

    /// Writes the report as pretty JSON to `path`.
    pub fn write(&self, path: &Path) -> Result<(), TrainError> {
        let json = serde_json::to_string_pretty(self)
            .map_err(|e| TrainError::Fit(format!("cannot encode the metrics report: {e}")))?;
        std::fs::write(path, json + "\n").map_err(|source| TrainError::Io {
            path: path.to_path_buf(),
            source,
        })
    }
}
