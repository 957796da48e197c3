//! Reports for machines: `metrics.json`, written beside every artifact `payrisk-train` makes
//! (the artifact's metrics plus the held-out decile table); an [`Evaluation`] of an existing
//! model on new labelled data, with drift against its training baseline; and a champion /
//! challenger [`Comparison`].

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
    /// `logistic`, `gbdt` or `scorecard`.
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
    /// Features that can tell the model nothing on the training rows, and why (constant, or
    /// missing on every row): they get importance 0.
    #[serde(default)]
    pub uninformative_features: Vec<Uninformative>,
    /// A scorecard's points table, one row per input and bin (absent for other kinds).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scorecard: Vec<PointsRow>,
}

/// One bin of a scorecard's points table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointsRow {
    /// The input.
    pub input: String,
    /// Its information value on the training rows.
    pub information_value: f64,
    /// Its coefficient (0: below the information value kept).
    pub coefficient: f64,
    /// The bin: `= v`, `(a, b]` or `missing`.
    pub bin: String,
    /// Training rows in the bin that repaid.
    pub repaid: u64,
    /// Training rows in the bin that defaulted.
    pub defaulted: u64,
    /// Weight of evidence.
    pub woe: f64,
    /// Points.
    pub points: f64,
}

impl PointsRow {
    /// The points table of an artifact (empty unless it is a scorecard).
    pub fn table(a: &crate::model::Artifact) -> Vec<PointsRow> {
        let crate::model::ModelParams::Scorecard {
            characteristics, ..
        } = &a.model
        else {
            return Vec::new();
        };
        characteristics
            .iter()
            .zip(&a.features)
            .flat_map(|(c, f)| {
                c.labels()
                    .into_iter()
                    .zip(&c.bins)
                    .map(|(label, b)| PointsRow {
                        input: f.name.clone(),
                        information_value: c.information_value,
                        coefficient: c.coefficient,
                        bin: label,
                        repaid: b.repaid,
                        defaulted: b.defaulted,
                        woe: b.woe,
                        points: b.points,
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// Writes the table as CSV.
    pub fn write_csv(rows: &[PointsRow], path: &Path) -> Result<(), TrainError> {
        use std::fmt::Write as _;
        let mut out =
            String::from("input,information_value,coefficient,bin,repaid,defaulted,woe,points\n");
        for r in rows {
            let _ = writeln!(
                out,
                "{},{},{},\"{}\",{},{},{},{}",
                r.input,
                r.information_value,
                r.coefficient,
                r.bin,
                r.repaid,
                r.defaulted,
                r.woe,
                r.points
            );
        }
        std::fs::write(path, out).map_err(|source| TrainError::Io {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// A feature that carries no information on the training rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Uninformative {
    /// Feature name.
    pub name: String,
    /// Why.
    pub reason: String,
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
            uninformative_features: fitted
                .summary
                .iter()
                .filter_map(|f| {
                    f.uninformative().map(|reason| Uninformative {
                        name: f.name.clone(),
                        reason: reason.to_owned(),
                    })
                })
                .collect(),
            scorecard: PointsRow::table(a),
        })
    }

    /// Writes the report as pretty JSON to `path`.
    pub fn write(&self, path: &Path) -> Result<(), TrainError> {
        write_json(self, path)
    }
}

/// How far new data's distributions moved from the artifact's training baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Drift {
    /// PSI of the predicted repayment probability.
    pub score_psi: f64,
    /// PSI per feature, in the artifact's feature order.
    pub feature_psi: Vec<FeaturePsi>,
}

/// One feature's PSI.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeaturePsi {
    /// Feature name.
    pub name: String,
    /// Population stability index against the training baseline.
    pub psi: f64,
}

/// An existing model scored on labelled data (`payrisk-train evaluate`, and each side of
/// `payrisk-train compare`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Model name.
    pub name: String,
    /// Model version.
    pub version: String,
    /// `logistic` or `gbdt`.
    pub kind: String,
    /// Fingerprint of the tables evaluated on.
    pub data_fingerprint: String,
    /// Which rows of the tables were evaluated: `all rows`, or the held-out side of a split
    /// (`test = account_id % 5 == 0`).
    #[serde(default)]
    pub evaluated_on: String,
    /// Metrics on the evaluated rows.
    pub metrics: Metrics,
    /// Decile table, riskiest tenth first.
    pub deciles: Vec<Decile>,
    /// Drift against the artifact's baseline (absent when the artifact has none).
    pub drift: Option<Drift>,
    /// `(predicted repayment, repaid)` of every row, in table order: what the HTML page draws
    /// (not written to JSON).
    #[serde(skip)]
    pub predictions: Vec<(f64, bool)>,
}

impl Evaluation {
    /// Scores every account of `set` (read from `paths`) with `model`, through the same
    /// feature engine and model code as serving.
    pub fn of(
        model: &crate::model::Model,
        set: &super::tables::TrainingSet,
        paths: &super::tables::TablePaths,
    ) -> Result<Evaluation, TrainError> {
        let spec = model.spec();
        let p = spec.len();
        let mut values = vec![0.0; set.rows.len() * p];
        for (row, labeled) in values.chunks_exact_mut(p.max(1)).zip(&set.rows) {
            spec.derive(&labeled.account, &mut row[..p]);
        }
        let scores: Vec<f64> = values
            .chunks_exact(p.max(1))
            .map(|row| model.probability(&row[..p]))
            .collect();
        let labels: Vec<bool> = set.rows.iter().map(|r| r.repaid).collect();
        let a = model.artifact();
        let drift = a.baseline.as_ref().map(|b| {
            let (features, score_psi) = b.psi_of(&values, &scores);
            Drift {
                score_psi,
                feature_psi: b
                    .features
                    .iter()
                    .zip(features)
                    .map(|(f, psi)| FeaturePsi {
                        name: f.name.clone(),
                        psi,
                    })
                    .collect(),
            }
        });
        Ok(Evaluation {
            name: a.name.clone(),
            version: a.version.clone(),
            kind: a.model.kind().to_owned(),
            data_fingerprint: super::fit::fingerprint(paths)?,
            evaluated_on: "all rows".into(),
            metrics: crate::evaluation::evaluate(&labels, &scores)?,
            deciles: deciles(&labels, &scores)?,
            drift,
            predictions: scores.into_iter().zip(labels).collect(),
        })
    }
}

/// Champion and challenger on the same data (`payrisk-train compare`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// The model in production.
    pub champion: Evaluation,
    /// The candidate.
    pub challenger: Evaluation,
    /// Challenger minus champion: AUC.
    pub auc_delta: f64,
    /// Challenger minus champion: KS.
    pub ks_delta: f64,
    /// Challenger minus champion: Brier score (negative is better).
    pub brier_delta: f64,
    /// Challenger minus champion: expected calibration error (negative is better).
    pub ece_delta: f64,
}

impl Comparison {
    /// Compares two evaluations made on the same tables.
    pub fn of(champion: Evaluation, challenger: Evaluation) -> Result<Comparison, TrainError> {
        if champion.data_fingerprint != challenger.data_fingerprint {
            return Err(TrainError::Config(
                "champion and challenger were evaluated on different data".into(),
            ));
        }
        let (a, b) = (champion.metrics, challenger.metrics);
        Ok(Comparison {
            auc_delta: b.auc - a.auc,
            ks_delta: b.ks - a.ks,
            brier_delta: b.brier - a.brier,
            ece_delta: b.ece - a.ece,
            champion,
            challenger,
        })
    }
}

/// Writes any report as pretty JSON to `path`.
pub fn write_json<T: Serialize>(value: &T, path: &Path) -> Result<(), TrainError> {
    let json = serde_json::to_string_pretty(value)
        .map_err(|e| TrainError::Fit(format!("cannot encode a report: {e}")))?;
    std::fs::write(path, json + "\n").map_err(|source| TrainError::Io {
        path: path.to_path_buf(),
        source,
    })
}
