//! Fitting and honest evaluation.
//!
//! Features come from [`FeatureSpec::derive`], the same function the server calls. The logistic
//! regression standardises inputs with training-row statistics (missing values imputed at the
//! mean) and is fitted with linfa; gradient-boosted trees come from [`crate::boost`]. Both see the
//! training rows only, and both splits are then scored through the serving [`Model`] built from
//! the finished artifact, so the reported metrics are those of the model that will serve.

use std::io::Read;
use std::path::Path;

use chrono::Utc;
use linfa::prelude::*;
use linfa_logistic::LogisticRegression;
use ndarray::{Array1, Array2};
use sha2::{Digest, Sha256};

use super::split::Split;
use super::tables::{TablePaths, TrainingSet};
use super::TrainError;
use std::collections::{BTreeMap, HashMap};

use crate::boost::{boost_observed, GbdtConfig};
use crate::evaluation::{evaluate, Metrics};
use crate::features::{FeatureSpec, Transform};
use crate::model::artifact::SCHEMA_VERSION;
use crate::model::calibration::{Calibration, CalibrationMethod};
use crate::model::{
    Artifact, FeatureStats, Model, ModelParams, Period, SplitMetrics, TrainingInfo,
};
use crate::stability::Baseline;
use crate::train::config::TransformConfig;
use crate::train::import::Imported;

/// Settings of one training run.
#[derive(Debug, Clone, PartialEq)]
pub struct FitConfig {
    /// Model name.
    pub name: String,
    /// Model version.
    pub version: String,
    /// Train/test split.
    pub split: Split,
    /// L2 penalty (linfa's `alpha`, on the summed log-loss).
    pub l2_penalty: f64,
    /// Optimiser iteration cap.
    pub max_iterations: u64,
    /// Calibrate probabilities on [`CALIBRATION_FRACTION`] of the training rows (held out from
    /// the fit), or not at all.
    pub calibration: Option<CalibrationMethod>,
    /// Transforms of inputs, by feature name (`[transforms]` of the training config).
    pub transforms: BTreeMap<String, TransformConfig>,
}

/// Share of the training rows held out of the fit to calibrate on (when calibrating).
pub const CALIBRATION_FRACTION: f64 = 0.2;
/// Seed of the hash that picks the calibration rows (by account id, so the choice is stable).
const CALIBRATION_SEED: u64 = 0xCA11;

/// A fitted model and its held-out predictions.
#[derive(Debug, Clone)]
pub struct Fitted {
    /// The artifact, validated.
    pub artifact: Artifact,
    /// `(account_id, repaid, predicted probability)` of every held-out account.
    pub test_predictions: Vec<(String, bool, f64)>,
    /// Every feature on the training rows, with its true spread.
    pub summary: Vec<FeatureSummary>,
}

/// The logistic optimiser stops when the gradient of the summed log loss is below this times
/// the training rows (1e-3 at the UCI data's 24,000).
pub(super) const GRADIENT_TOLERANCE_PER_ROW: f64 = 1e-3 / 24_000.0;

/// Below this standard deviation a feature counts as constant and is left out of the fit.
const CONSTANT_STD: f64 = 1e-12;

/// Fits a logistic model on `set` and evaluates it on the held-out split.
pub fn fit_logistic(
    set: &TrainingSet,
    paths: &TablePaths,
    config: &FitConfig,
) -> Result<Fitted, TrainError> {
    let mut design = Design::build(set, &config.split)?;
    if config.calibration.is_some() {
        design.hold_out_calibration(set)?;
    }
    design.apply_transforms(&config.transforms)?;
    let Design {
        spec,
        values: matrix,
        p,
        train,
        ..
    } = &design;
    let p = *p;

    let stats = feature_stats(spec, matrix, train);
    let active: Vec<usize> = (0..p).filter(|&j| stats[j].1).collect();
    let features: Vec<FeatureStats> = stats.into_iter().map(|(s, _)| s).collect();

    // Standardised design matrix of the active features (missing → 0, the mean).
    let mut x = Array2::<f64>::zeros((train.len(), active.len()));
    for (r, &i) in train.iter().enumerate() {
        let row = design.row(i);
        for (c, &j) in active.iter().enumerate() {
            let v = row[j];
            x[[r, c]] = if v.is_nan() {
                0.0
            } else {
                (v - features[j].mean) / features[j].std
            };
        }
    }
    let y: Array1<bool> = train.iter().map(|&i| design.labels[i]).collect();
    // linfa minimises the summed log loss, whose gradient grows with the row count: hold the
    // gradient to a tolerance per row, so that a million rows stop as early as the UCI data.
    let tolerance = GRADIENT_TOLERANCE_PER_ROW * train.len() as f64;
    let fitted = LogisticRegression::default()
        .alpha(config.l2_penalty)
        .max_iterations(config.max_iterations)
        .gradient_tolerance(tolerance)
        .fit(&Dataset::new(x, y))
        .map_err(|e| TrainError::Fit(e.to_string()))?;
    // linfa orients the model toward the more frequent class; turn it toward "repaid".
    let sign = if fitted.labels().pos.class { 1.0 } else { -1.0 };
    let mut coefficients = vec![0.0; p];
    for (c, &j) in active.iter().enumerate() {
        coefficients[j] = sign * fitted.params()[c];
    }
    let intercept = sign * fitted.intercept();

    let params = ModelParams::Logistic {
        intercept,
        coefficients,
        l2_penalty: config.l2_penalty,
    };
    finish(set, paths, config, &design, features, params)
}

/// Turns a model imported from LightGBM or XGBoost into a payrisk artifact and evaluates it on
/// `set`'s held-out split, like a fitted model. `mapping` renames source features to payrisk
/// feature names; `positive_is_repaid` is false when the source predicted default.
pub fn import_gbdt(
    set: &TrainingSet,
    paths: &TablePaths,
    config: &FitConfig,
    imported: &Imported,
    mapping: &HashMap<String, String>,
    positive_is_repaid: bool,
) -> Result<Fitted, TrainError> {
    let (names, base_score, trees) = imported
        .remap(mapping, positive_is_repaid)
        .map_err(|e| TrainError::Config(e.to_string()))?;
    let spec = FeatureSpec::from_names_checked(&names, &set.protected).map_err(|e| {
        TrainError::Config(format!(
            "{e}; map the source's feature names to payrisk's with a feature map"
        ))
    })?;
    let mut design = Design::build_with(set, &config.split, spec)?;
    if config.calibration.is_some() {
        design.hold_out_calibration(set)?;
    }
    let stats = feature_stats(&design.spec, &design.values, &design.train);
    let features: Vec<FeatureStats> = stats.into_iter().map(|(s, _)| s).collect();
    let params = ModelParams::Gbdt {
        base_score,
        trees,
        monotone: Vec::new(),
        provenance: serde_json::json!({
            "imported_from": imported.source,
            "source_features": imported.feature_names,
            "positive_class_is_repaid": positive_is_repaid,
        }),
    };
    finish(set, paths, config, &design, features, params)
}

/// Fits gradient-boosted trees on `set` (early stopping on a share of the training rows) and
/// evaluates them on the held-out split.
pub fn fit_gbdt(
    set: &TrainingSet,
    paths: &TablePaths,
    config: &FitConfig,
    gbdt: &GbdtConfig,
) -> Result<Fitted, TrainError> {
    fit_gbdt_observed(set, paths, config, gbdt, &|_| {})
}

/// As [`fit_gbdt`], calling `on_round` with the rounds run so far after each boosting round.
pub fn fit_gbdt_observed(
    set: &TrainingSet,
    paths: &TablePaths,
    config: &FitConfig,
    gbdt: &GbdtConfig,
    on_round: &(dyn Fn(usize) + Sync),
) -> Result<Fitted, TrainError> {
    let mut design = Design::build(set, &config.split)?;
    if config.calibration.is_some() {
        design.hold_out_calibration(set)?;
    }
    design.apply_transforms(&config.transforms)?;
    let stats = feature_stats(&design.spec, &design.values, &design.train);
    let features: Vec<FeatureStats> = stats.into_iter().map(|(s, _)| s).collect();
    let boosted = boost_observed(
        &design.values,
        design.p,
        &design.labels,
        &design.train,
        &design.spec,
        gbdt,
        on_round,
    )?;
    tracing::info!(
        rounds = boosted.rounds,
        best_iteration = boosted.best_iteration,
        "boosting finished"
    );
    let provenance = serde_json::json!({
        "trainer": "payrisk",
        "rounds_run": boosted.rounds,
        "best_iteration": boosted.best_iteration,
        "best_validation_log_loss": boosted.validation_loss.get(boosted.best_iteration.saturating_sub(1)),
        "config": gbdt,
    });
    let params = ModelParams::Gbdt {
        base_score: boosted.base_score,
        trees: boosted.trees,
        monotone: boosted.monotone,
        provenance,
    };
    finish(set, paths, config, &design, features, params)
}

/// Metrics an artifact holds until the model it is built into has been scored.
pub(super) fn placeholder_metrics() -> Metrics {
    Metrics {
        rows: 0,
        repayment_rate: 0.0,
        auc: 0.0,
        gini: 0.0,
        ks: 0.0,
        brier: 0.0,
        log_loss: 0.0,
        ece: 0.0,
    }
}

/// Builds the artifact, scores both splits through the serving [`Model`] and records the
/// metrics.
pub(super) fn finish(
    set: &TrainingSet,
    paths: &TablePaths,
    config: &FitConfig,
    design: &Design,
    features: Vec<FeatureStats>,
    params: ModelParams,
) -> Result<Fitted, TrainError> {
    let placeholder = placeholder_metrics();
    let mut artifact = Artifact {
        schema_version: SCHEMA_VERSION,
        name: config.name.clone(),
        version: config.version.clone(),
        created_at: Utc::now(),
        features,
        model: params,
        metrics: SplitMetrics {
            train: placeholder,
            test: placeholder,
        },
        training: TrainingInfo {
            data_fingerprint: fingerprint(paths)?,
            inputs: [&paths.accounts, &paths.history, &paths.outcomes]
                .iter()
                .map(|p| p.display().to_string())
                .collect(),
            split: config.split.to_string(),
            train_rows: design.train.len() as u64,
            test_rows: design.test.len() as u64,
            payrisk_version: env!("CARGO_PKG_VERSION").to_owned(),
            train_period: Period::of(design.train.iter().map(|&i| set.rows[i].account.as_of)),
            test_period: Period::of(design.test.iter().map(|&i| set.rows[i].account.as_of)),
        },
        baseline: None,
        calibration: None,
        protected: set.protected.clone(),
        transforms: design.transforms.clone(),
    };

    let mut model = Model::from_artifact(artifact.clone())?;
    if let Some(method) = config.calibration {
        let (margins, labels): (Vec<f64>, Vec<bool>) = design
            .calibration
            .iter()
            .map(|&i| (model.margin(design.row(i)), design.labels[i]))
            .unzip();
        artifact.calibration =
            Some(Calibration::fit(method, &margins, &labels).map_err(TrainError::Fit)?);
        model = Model::from_artifact(artifact.clone())?;
    }
    let predict = |rows: &[usize]| -> (Vec<bool>, Vec<f64>) {
        rows.iter()
            .map(|&i| (design.labels[i], model.probability(design.row(i))))
            .unzip()
    };
    let (train_labels, train_scores) = predict(&design.train);
    let (test_labels, test_scores) = predict(&design.test);
    artifact.metrics = SplitMetrics {
        train: evaluate(&train_labels, &train_scores)?,
        test: evaluate(&test_labels, &test_scores)?,
    };
    let names: Vec<String> = artifact.features.iter().map(|f| f.name.clone()).collect();
    let train_matrix: Vec<f64> = design
        .train
        .iter()
        .flat_map(|&i| design.row(i).iter().copied())
        .collect();
    artifact.baseline = Some(Baseline::fit(&names, &train_matrix, &train_scores));
    artifact.validate()?;
    let test_predictions = design
        .test
        .iter()
        .zip(test_scores)
        .map(|(&i, s)| {
            (
                set.rows[i].account.account_id.clone(),
                set.rows[i].repaid,
                s,
            )
        })
        .collect();
    Ok(Fitted {
        artifact,
        test_predictions,
        summary: feature_summaries(&design.spec, &design.values, &design.train),
    })
}

/// The feature matrix of a training set: one row per account from [`FeatureSpec::derive`], the
/// labels, and the split.
#[derive(Debug, Clone)]
pub struct Design {
    /// The inputs: every base feature, then the set's attributes.
    pub spec: FeatureSpec,
    /// Row-major values, `rows x p`; `NaN` is missing.
    pub values: Vec<f64>,
    /// Inputs per row.
    pub p: usize,
    /// True when the account repaid, per row.
    pub labels: Vec<bool>,
    /// Rows fitted on.
    pub train: Vec<usize>,
    /// Rows held out.
    pub test: Vec<usize>,
    /// Training rows held out of the fit to calibrate on (empty without calibration).
    pub calibration: Vec<usize>,
    /// The transforms applied to the values, resolved on the training rows (recorded in the
    /// artifact; the spec applies them in serving).
    pub transforms: BTreeMap<String, Transform>,
}

impl Design {
    /// Resolves `config` on the training rows (a winsorising quantile becomes a floor and a
    /// cap), applies the transforms to every row through the spec, as serving will, and keeps
    /// them for the artifact.
    pub fn apply_transforms(
        &mut self,
        config: &BTreeMap<String, TransformConfig>,
    ) -> Result<(), TrainError> {
        if config.is_empty() {
            return Ok(());
        }
        let names = self.spec.names();
        let mut resolved = BTreeMap::new();
        for (name, c) in config {
            let j = names.iter().position(|n| n == name).ok_or_else(|| {
                TrainError::Config(format!(
                    "transforms: `{name}` is not an input of this model (inputs are base features and attr.<name>)"
                ))
            })?;
            let column = || {
                let mut v: Vec<f64> = self
                    .train
                    .iter()
                    .map(|&i| self.values[i * self.p + j])
                    .filter(|v| !v.is_nan())
                    .collect();
                v.sort_by(f64::total_cmp);
                v
            };
            let t = c
                .resolve(column)
                .map_err(|e| TrainError::Config(format!("transforms.\"{name}\": {e}")))?;
            resolved.insert(name.clone(), t);
        }
        let spec = self
            .spec
            .clone()
            .with_transforms(&resolved)
            .map_err(|e| TrainError::Config(e.to_string()))?;
        for row in self.values.chunks_exact_mut(self.p.max(1)) {
            spec.transform(row);
        }
        self.spec = spec;
        self.transforms = resolved;
        Ok(())
    }

    /// Derives every row's features (the shared feature engine) and splits the rows.
    pub fn build(set: &TrainingSet, split: &Split) -> Result<Design, TrainError> {
        let spec = FeatureSpec::with_attributes_checked(&set.attributes, &set.protected)
            .map_err(|e| TrainError::Config(e.to_string()))?;
        Design::build_with(set, split, spec)
    }

    /// Moves about [`CALIBRATION_FRACTION`] of the training rows (a stable hash of the account
    /// id) to [`Self::calibration`].
    pub fn hold_out_calibration(&mut self, set: &TrainingSet) -> Result<(), TrainError> {
        let pick = Split::Hash {
            test_fraction: CALIBRATION_FRACTION,
            seed: CALIBRATION_SEED,
        };
        let (mut fit, mut calibration) = (Vec::new(), Vec::new());
        for &i in &self.train {
            let a = &set.rows[i].account;
            if pick
                .is_test(&a.account_id, a.as_of)
                .map_err(TrainError::Config)?
            {
                calibration.push(i);
            } else {
                fit.push(i);
            }
        }
        if fit.is_empty() || calibration.is_empty() {
            return Err(TrainError::Config(format!(
                "calibration leaves {} rows to fit and {} to calibrate on; both must be non-empty",
                fit.len(),
                calibration.len()
            )));
        }
        self.train = fit;
        self.calibration = calibration;
        Ok(())
    }

    /// As [`Self::build`], for a given list of inputs (an imported model's).
    pub fn build_with(
        set: &TrainingSet,
        split: &Split,
        spec: FeatureSpec,
    ) -> Result<Design, TrainError> {
        let p = spec.len();
        let n = set.rows.len();
        let mut values = vec![0.0; n * p];
        for (row, labeled) in values.chunks_exact_mut(p).zip(&set.rows) {
            spec.derive(&labeled.account, row);
        }
        let (mut train, mut test) = (Vec::new(), Vec::new());
        for (i, labeled) in set.rows.iter().enumerate() {
            if split
                .is_test(&labeled.account.account_id, labeled.account.as_of)
                .map_err(TrainError::Config)?
            {
                test.push(i);
            } else {
                train.push(i);
            }
        }
        if train.is_empty() || test.is_empty() {
            return Err(TrainError::Config(format!(
                "the split leaves {} training and {} test rows; both must be non-empty",
                train.len(),
                test.len()
            )));
        }
        Ok(Design {
            calibration: Vec::new(),
            transforms: BTreeMap::new(),
            spec,
            values,
            p,
            labels: set.rows.iter().map(|r| r.repaid).collect(),
            train,
            test,
        })
    }

    /// The inputs of row `i`.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.values[i * self.p..(i + 1) * self.p]
    }

    /// Writes the matrix as CSV: `account_id, split, repaid`, then one column per input (empty
    /// when missing). For exploring features or comparing with other libraries.
    pub fn write_csv(&self, set: &TrainingSet, path: &Path) -> Result<(), TrainError> {
        use std::io::Write;
        let io = |source| TrainError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut out = std::io::BufWriter::new(std::fs::File::create(path).map_err(io)?);
        let mut header = String::from("account_id,split,repaid");
        for name in self.spec.names() {
            header.push(',');
            header.push_str(&name);
        }
        writeln!(out, "{header}").map_err(io)?;
        let mut split = vec!["train"; set.rows.len()];
        for &i in &self.test {
            split[i] = "test";
        }
        for (i, labeled) in set.rows.iter().enumerate() {
            write!(
                out,
                "{},{},{}",
                labeled.account.account_id,
                split[i],
                u8::from(labeled.repaid)
            )
            .map_err(io)?;
            for v in self.row(i) {
                if v.is_nan() {
                    write!(out, ",").map_err(io)?;
                } else {
                    write!(out, ",{v}").map_err(io)?;
                }
            }
            writeln!(out).map_err(io)?;
        }
        out.flush().map_err(io)
    }
}

/// Mean, standard deviation and missing rate of each feature over the training rows, and
/// whether it varies (constant or all-missing features are left out of the fit).
/// The artifact's statistics of each feature (a constant one gets std 1, the standardisation's
/// placeholder), and whether it varies on the training rows.
pub(super) fn feature_stats(
    spec: &FeatureSpec,
    matrix: &[f64],
    train: &[usize],
) -> Vec<(FeatureStats, bool)> {
    feature_summaries(spec, matrix, train)
        .into_iter()
        .map(|s| {
            let varies = s.uninformative().is_none();
            (
                FeatureStats {
                    name: s.name,
                    mean: s.mean,
                    std: if varies { s.std } else { 1.0 },
                    missing_rate: s.missing_rate,
                },
                varies,
            )
        })
        .collect()
}

/// One feature on the training rows, as it is: its true spread, for the report.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureSummary {
    /// Feature name.
    pub name: String,
    /// Mean of the present values (0 when none is).
    pub mean: f64,
    /// Standard deviation of the present values (0 when constant or missing).
    pub std: f64,
    /// Share of training rows where it is missing.
    pub missing_rate: f64,
}

impl FeatureSummary {
    /// Why the feature can tell the model nothing, if it cannot: missing on every training row,
    /// or the same value on every row where it is present.
    pub fn uninformative(&self) -> Option<&'static str> {
        if self.missing_rate >= 1.0 {
            Some("missing on every training row")
        } else if !(self.std > CONSTANT_STD && self.std.is_finite()) {
            Some("the same value on every training row")
        } else {
            None
        }
    }
}

/// [`FeatureSummary`] of every feature over the rows `train`.
pub fn feature_summaries(
    spec: &FeatureSpec,
    matrix: &[f64],
    train: &[usize],
) -> Vec<FeatureSummary> {
    let p = spec.len();
    let names = spec.names();
    (0..p)
        .map(|j| {
            let (mut count, mut sum, mut sum_sq) = (0usize, 0.0, 0.0);
            for &i in train {
                let v = matrix[i * p + j];
                if !v.is_nan() {
                    count += 1;
                    sum += v;
                    sum_sq += v * v;
                }
            }
            let mean = if count > 0 { sum / count as f64 } else { 0.0 };
            let var = if count > 1 {
                ((sum_sq - sum * mean) / (count - 1) as f64).max(0.0)
            } else {
                0.0
            };
            FeatureSummary {
                name: names[j].clone(),
                mean,
                std: var.sqrt(),
                missing_rate: 1.0 - count as f64 / train.len().max(1) as f64,
            }
        })
        .collect()
}

/// `sha256:<hex>` over the three input files (each prefixed by its length), in table order.
pub fn fingerprint(paths: &TablePaths) -> Result<String, TrainError> {
    let mut hasher = Sha256::new();
    for path in [&paths.accounts, &paths.history, &paths.outcomes] {
        hash_file(path, &mut hasher)?;
    }
    Ok(format!("sha256:{:x}", hasher.finalize()))
}

pub(super) fn hash_file(path: &Path, hasher: &mut Sha256) -> Result<(), TrainError> {
    let io = |source| TrainError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    hasher.update(len.to_le_bytes());
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let k = file.read(&mut buf).map_err(io)?;
        if k == 0 {
            return Ok(());
        }
        hasher.update(&buf[..k]);
    }
}
