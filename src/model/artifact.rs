//! The versioned model artifact: one JSON format for every model kind.
//!
//! An artifact holds everything needed to serve and to audit a model: its identity, the feature
//! list with training statistics, the fitted parameters, the evaluation metrics and where the
//! training data came from. [`Artifact::from_json`] validates it completely; nothing that fails
//! validation can serve.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::ProtectedList;
use crate::error::LoadError;
use crate::evaluation::Metrics;
use crate::features::{FeatureSpec, Transform};
use crate::model::calibration::Calibration;
use crate::model::gbdt::Tree;
use crate::stability::Baseline;

/// The artifact schema version this build reads and writes.
pub const SCHEMA_VERSION: u32 = 1;

/// A trained model as stored on disk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Artifact {
    /// Must equal [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Model name, for example `uci-credit`.
    pub name: String,
    /// Model version within the name, for example `1`.
    pub version: String,
    /// When training finished.
    pub created_at: DateTime<Utc>,
    /// Inputs in model order, with training statistics.
    pub features: Vec<FeatureStats>,
    /// Fitted parameters, tagged by `kind`.
    pub model: ModelParams,
    /// Held-out evaluation.
    pub metrics: SplitMetrics,
    /// Provenance of the training run.
    pub training: TrainingInfo,
    /// Training distributions of every feature and of the score, for drift (PSI) monitoring.
    /// Absent in artifacts made before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<Baseline>,
    /// Map from the model's log-odds to calibrated probabilities (absent: the logistic
    /// function).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<Calibration>,
    /// The protected list the model was trained with (`[protected]` of the training config):
    /// names added to the protected characteristics, and names allowed with their reasons.
    #[serde(default, skip_serializing_if = "ProtectedList::is_empty")]
    pub protected: ProtectedList,
    /// Transforms of inputs (by feature name) the model was trained with, applied by the
    /// feature engine before the model sees the values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub transforms: BTreeMap<String, Transform>,
}

/// One input's name and its statistics on the training rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureStats {
    /// Feature name (a base feature or `attr.<name>`).
    pub name: String,
    /// Mean over non-missing training values; also the imputed value for missing inputs.
    pub mean: f64,
    /// Standard deviation over non-missing training values (1 for constant features).
    pub std: f64,
    /// Share of training rows where the feature was missing.
    pub missing_rate: f64,
}

/// Fitted parameters of one model kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ModelParams {
    /// Logistic regression on standardised inputs: the log-odds of repayment are
    /// `intercept + sum_j coefficients[j] * (x_j - mean_j) / std_j`, a missing `x_j` counting as
    /// `mean_j`.
    Logistic {
        /// Intercept (log-odds of repayment of the average account).
        intercept: f64,
        /// One coefficient per feature, on the standardised scale.
        coefficients: Vec<f64>,
        /// L2 penalty used in fitting.
        l2_penalty: f64,
    },
    /// Gradient-boosted trees: the log-odds of repayment are `base_score` plus one leaf value
    /// per tree (see [`crate::model::gbdt`]).
    Gbdt {
        /// Initial log-odds.
        base_score: f64,
        /// The trees kept (up to early stopping's best iteration).
        trees: Vec<Tree>,
        /// Per-feature monotone constraint used in training: +1 the probability never falls as
        /// the feature rises, -1 never rises, 0 none; empty when unknown (imported models).
        #[serde(default)]
        monotone: Vec<i8>,
        /// Training parameters, or where the model was imported from.
        #[serde(default)]
        provenance: serde_json::Value,
    },
    /// A binned scorecard: the log-odds of repayment are `intercept` plus, per feature, its
    /// coefficient times the weight of evidence of the bin its value falls in; each bin carries
    /// its points (see [`crate::model::scorecard`]).
    Scorecard {
        /// Intercept of the regression on WoE values.
        intercept: f64,
        /// One per feature, in the features' order.
        characteristics: Vec<crate::model::scorecard::Characteristic>,
        /// L2 penalty used in fitting.
        l2_penalty: f64,
        /// The points scale of the bins' points.
        scale: crate::model::scorecard::PointsScale,
    },
    /// A treatment-effect model: per candidate treatment, its cost and an outcome model (and,
    /// with the DR-learner, an effect model); see [`crate::model::uplift`].
    Uplift {
        /// How the effects were learned.
        learner: crate::model::uplift::Learner,
        /// What the outcome models predict, for example `repaid within 90 days`.
        outcome: String,
        /// The candidates, the reference first.
        treatments: Vec<crate::model::uplift::TreatmentModel>,
        /// Set when the fit was allowed on data without random assignment: the effects are then
        /// confounded by whatever chose the treatments, and every report says so.
        #[serde(default)]
        confounded: bool,
    },
}

impl ModelParams {
    /// The kind's name, as in the artifact's `kind` tag.
    pub fn kind(&self) -> &'static str {
        match self {
            ModelParams::Logistic { .. } => "logistic",
            ModelParams::Gbdt { .. } => "gbdt",
            ModelParams::Scorecard { .. } => "scorecard",
            ModelParams::Uplift { .. } => "uplift",
        }
    }
}

/// Metrics on the training and held-out rows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitMetrics {
    /// On the rows the model was fitted on.
    pub train: Metrics,
    /// On the held-out rows.
    pub test: Metrics,
}

/// Where the model came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingInfo {
    /// SHA-256 over the input tables' bytes, in a fixed order.
    pub data_fingerprint: String,
    /// The input files, as given.
    pub inputs: Vec<String>,
    /// How rows were split, for example `test = account_id % 5 == 0`.
    pub split: String,
    /// Rows fitted on.
    pub train_rows: u64,
    /// Rows held out.
    pub test_rows: u64,
    /// The payrisk version that trained it.
    pub payrisk_version: String,
    /// First and last `as_of` date of the training rows (absent in older artifacts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_period: Option<Period>,
    /// First and last `as_of` date of the held-out rows (absent in older artifacts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_period: Option<Period>,
}

/// A span of snapshot dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Period {
    /// Earliest date.
    pub first: chrono::NaiveDate,
    /// Latest date.
    pub last: chrono::NaiveDate,
}

impl Period {
    /// The span of `dates`, or `None` when there are none.
    pub fn of(dates: impl IntoIterator<Item = chrono::NaiveDate>) -> Option<Period> {
        dates.into_iter().fold(None, |p, d| match p {
            None => Some(Period { first: d, last: d }),
            Some(p) => Some(Period {
                first: p.first.min(d),
                last: p.last.max(d),
            }),
        })
    }
}

impl Artifact {
    /// Parses and validates an artifact.
    pub fn from_json(text: &str) -> Result<Artifact, LoadError> {
        let artifact: Artifact = serde_json::from_str(text).map_err(LoadError::parse)?;
        artifact.validate()?;
        Ok(artifact)
    }

    /// Reads, parses and validates an artifact file.
    pub fn load(path: &Path) -> Result<Artifact, LoadError> {
        let text = LoadError::read(path)?;
        Artifact::from_json(&text).map_err(|e| e.with_origin(&path.display().to_string()))
    }

    /// Serialises to pretty JSON (stable field order, so equal artifacts give equal bytes).
    pub fn to_json(&self) -> String {
        // Serialising plain data with finite floats cannot fail; fall back to an empty object
        // rather than panicking if it ever did.
        serde_json::to_string_pretty(self).unwrap_or_else(|_| String::from("{}")) + "\n"
    }

    /// The resolved feature list, checked against the protected characteristics and the list
    /// the model was trained with.
    pub fn feature_spec(&self) -> Result<FeatureSpec, LoadError> {
        self.protected.validate().map_err(LoadError::invalid)?;
        for (name, t) in &self.transforms {
            t.validate()
                .map_err(|e| LoadError::invalid(format!("transforms.{name}: {e}")))?;
        }
        FeatureSpec::from_names_checked(
            self.features.iter().map(|f| f.name.as_str()),
            &self.protected,
        )
        .and_then(|spec| spec.with_transforms(&self.transforms))
        .map_err(|e| LoadError::invalid(e.to_string()))
    }

    /// Checks every rule an artifact must meet before it can serve.
    pub fn validate(&self) -> Result<(), LoadError> {
        let fail = |m: String| Err(LoadError::invalid(m));
        if self.schema_version != SCHEMA_VERSION {
            return fail(format!(
                "artifact schema version {} is not supported (this build reads {SCHEMA_VERSION})",
                self.schema_version
            ));
        }
        if self.name.trim().is_empty() || self.version.trim().is_empty() {
            return fail("name and version must not be empty".into());
        }
        if self.features.is_empty() {
            return fail("the feature list is empty".into());
        }
        self.feature_spec()?;
        for f in &self.features {
            if !f.mean.is_finite() || !f.std.is_finite() || f.std <= 0.0 {
                return fail(format!(
                    "feature `{}`: mean and std must be finite and std > 0 (got {}, {})",
                    f.name, f.mean, f.std
                ));
            }
            if !(0.0..=1.0).contains(&f.missing_rate) {
                return fail(format!(
                    "feature `{}`: missing_rate {} is not in [0, 1]",
                    f.name, f.missing_rate
                ));
            }
        }
        if let Some(c) = &self.calibration {
            c.validate()
                .map_err(|e| LoadError::invalid(format!("calibration: {e}")))?;
        }
        if let Some(b) = &self.baseline {
            if b.features.len() != self.features.len()
                || b.features
                    .iter()
                    .zip(&self.features)
                    .any(|(x, f)| x.name != f.name)
            {
                return fail("baseline: its features are not the artifact's, in order".into());
            }
            for f in &b.features {
                f.histogram
                    .validate()
                    .map_err(|e| LoadError::invalid(format!("baseline of `{}`: {e}", f.name)))?;
            }
            b.score
                .validate()
                .map_err(|e| LoadError::invalid(format!("baseline of the score: {e}")))?;
        }
        match &self.model {
            ModelParams::Uplift {
                learner,
                outcome,
                treatments,
                ..
            } => {
                if outcome.trim().is_empty() {
                    return fail("an uplift model must say what its outcome is".into());
                }
                if self.calibration.is_some() {
                    return fail(
                        "an uplift model serves its outcome models' probabilities: no calibration"
                            .into(),
                    );
                }
                crate::model::uplift::validate(*learner, treatments, self.features.len())
                    .map_err(LoadError::invalid)?;
            }
            ModelParams::Logistic {
                intercept,
                coefficients,
                l2_penalty,
            } => {
                if coefficients.len() != self.features.len() {
                    return fail(format!(
                        "{} coefficients for {} features",
                        coefficients.len(),
                        self.features.len()
                    ));
                }
                if let Some(i) = coefficients.iter().position(|c| !c.is_finite()) {
                    return fail(format!(
                        "coefficient of `{}` is not finite",
                        self.features[i].name
                    ));
                }
                if !intercept.is_finite() || !l2_penalty.is_finite() || *l2_penalty < 0.0 {
                    return fail("intercept and l2_penalty must be finite, l2_penalty >= 0".into());
                }
            }
            ModelParams::Gbdt {
                base_score,
                trees,
                monotone,
                ..
            } => {
                if !base_score.is_finite() {
                    return fail("base_score must be finite".into());
                }
                if trees.is_empty() {
                    return fail("a gbdt model needs at least one tree".into());
                }
                for (t, tree) in trees.iter().enumerate() {
                    tree.validate(self.features.len())
                        .map_err(|e| LoadError::invalid(format!("tree {t}: {e}")))?;
                }
                if !(monotone.is_empty() || monotone.len() == self.features.len())
                    || monotone.iter().any(|m| !(-1..=1).contains(m))
                {
                    return fail("monotone must be empty or one of -1, 0, 1 per feature".into());
                }
            }
            ModelParams::Scorecard {
                intercept,
                characteristics,
                l2_penalty,
                scale,
            } => {
                if characteristics.len() != self.features.len() {
                    return fail(format!(
                        "{} scorecard characteristics for {} features",
                        characteristics.len(),
                        self.features.len()
                    ));
                }
                if !intercept.is_finite() || !l2_penalty.is_finite() || *l2_penalty < 0.0 {
                    return fail("intercept and l2_penalty must be finite, l2_penalty >= 0".into());
                }
                scale
                    .validate()
                    .map_err(|e| LoadError::invalid(format!("scorecard scale: {e}")))?;
                let n = characteristics.len();
                for (c, f) in characteristics.iter().zip(&self.features) {
                    c.validate(&f.name).map_err(LoadError::invalid)?;
                    // The points are derived: a table edited by hand would disagree with the
                    // log-odds the model serves.
                    for (b, bin) in c.bins.iter().enumerate() {
                        let expected = c.points_of(b, *intercept, n, scale);
                        if (bin.points - expected).abs() > 1e-6 * expected.abs().max(1.0) {
                            return fail(format!(
                                "scorecard input `{}`, bin {b}: {} points where the coefficient, \
                                 WoE, intercept and scale give {expected}",
                                f.name, bin.points
                            ));
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::features::BaseFeature;

    /// A small valid artifact for tests.
    pub(crate) fn sample() -> Artifact {
        let m = Metrics {
            rows: 10,
            repayment_rate: 0.5,
            auc: 0.8,
            gini: 0.6,
            ks: 0.5,
            brier: 0.2,
            log_loss: 0.5,
            ece: 0.0,
        };
        Artifact {
            schema_version: SCHEMA_VERSION,
            name: "test".into(),
            version: "1".into(),
            created_at: DateTime::<Utc>::from_timestamp(0, 0).unwrap_or_default(),
            features: vec![
                FeatureStats {
                    name: BaseFeature::DpdCurrent.name().into(),
                    mean: 10.0,
                    std: 20.0,
                    missing_rate: 0.0,
                },
                FeatureStats {
                    name: "attr.region_risk".into(),
                    mean: 0.5,
                    std: 0.25,
                    missing_rate: 0.1,
                },
            ],
            model: ModelParams::Logistic {
                intercept: 1.0,
                coefficients: vec![-0.8, 0.3],
                l2_penalty: 1.0,
            },
            metrics: SplitMetrics { train: m, test: m },
            training: TrainingInfo {
                data_fingerprint: "sha256:00".into(),
                inputs: vec![],
                split: "test".into(),
                train_rows: 10,
                test_rows: 10,
                payrisk_version: "0".into(),
                train_period: None,
                test_period: None,
            },
            baseline: None,
            calibration: None,
            protected: ProtectedList::default(),
            transforms: BTreeMap::new(),
        }
    }

    /// A valid baseline for `a`'s features.
    fn baseline_of(a: &Artifact) -> Baseline {
        let names: Vec<String> = a.features.iter().map(|f| f.name.clone()).collect();
        let values: Vec<f64> = (0..40).map(|i| f64::from(i % 7)).collect();
        let scores: Vec<f64> = (0..20).map(|i| f64::from(i) / 20.0).collect();
        Baseline::fit(&names, &values, &scores)
    }

    #[test]
    fn the_recorded_protected_list_decides_what_the_artifact_may_use() {
        // Pins that serving refuses and allows attributes as training did: an attribute that
        // names a protected characteristic loads only with the allowance recorded beside it.
        let mut a = sample();
        a.features[1].name = "attr.account_age_months".into();
        let err = a.feature_spec().expect_err("a protected name").to_string();
        assert!(err.contains("protected"), "{err}");
        a.protected.allowed.push(crate::domain::AllowedAttribute {
            name: "account_age_months".into(),
            reason: "months since the account opened, not the customer's age".into(),
        });
        let text = a.to_json();
        assert!(text.contains("\"allowed\""), "{text}");
        let back = Artifact::from_json(&text).expect("loads with the allowance");
        assert!(back.feature_spec().is_ok());
        a.protected.extra.push("region".into());
        a.features[1].name = "attr.region_risk".into();
        assert!(a.feature_spec().is_err(), "an added name is refused");
    }

    #[test]
    fn transforms_must_name_inputs_and_have_sensible_bounds() {
        let mut a = sample();
        let t = |floor, cap| Transform {
            floor,
            cap,
            log: false,
        };
        a.transforms
            .insert("attr.region_risk".into(), t(Some(0.0), Some(1.0)));
        assert!(a.feature_spec().is_ok());
        a.transforms
            .insert("attr.region_risk".into(), t(Some(2.0), Some(1.0)));
        assert!(a.feature_spec().is_err(), "floor above cap");
        a.transforms.clear();
        a.transforms
            .insert("attr.elsewhere".into(), t(None, Some(1.0)));
        assert!(a.feature_spec().is_err(), "not an input");
    }

    /// A scorecard artifact whose points disagree with its coefficients, or whose bins do not
    /// match its edges, is refused naming the input; a consistent one loads and round-trips.
    #[test]
    fn scorecards_must_be_consistent() {
        use crate::model::scorecard::{Bin, Characteristic, PointsScale};
        let mut a = sample();
        let scale = PointsScale::default();
        let characteristic = |coefficient: f64| {
            let mut c = Characteristic {
                edges: vec![1.0],
                special: Vec::new(),
                bins: [-0.4, 0.3, 0.0]
                    .iter()
                    .map(|&woe| Bin {
                        repaid: 5,
                        defaulted: 5,
                        woe,
                        points: 0.0,
                    })
                    .collect(),
                trend: 1,
                information_value: 0.1,
                coefficient,
            };
            for b in 0..3 {
                c.bins[b].points = c.points_of(b, 1.2, 2, &scale);
            }
            c
        };
        a.model = ModelParams::Scorecard {
            intercept: 1.2,
            characteristics: vec![characteristic(0.9), characteristic(0.5)],
            l2_penalty: 1.0,
            scale,
        };
        let back = Artifact::from_json(&a.to_json()).expect("a consistent scorecard loads");
        assert_eq!(a, back);
        let mut edited = a.clone();
        if let ModelParams::Scorecard {
            characteristics, ..
        } = &mut edited.model
        {
            characteristics[1].bins[0].points += 5.0;
        }
        let err = edited.validate().expect_err("edited points").to_string();
        assert!(
            err.contains("attr.region_risk") && err.contains("points"),
            "{err}"
        );
        let mut short = a.clone();
        if let ModelParams::Scorecard {
            characteristics, ..
        } = &mut short.model
        {
            characteristics[0].bins.pop();
        }
        let err = short.validate().expect_err("a bin missing").to_string();
        assert!(err.contains("one bin per"), "{err}");
    }

    #[test]
    fn round_trips_through_json() {
        let mut a = sample();
        let back = Artifact::from_json(&a.to_json()).expect("valid");
        assert_eq!(a, back);
        assert!(!a.to_json().contains("baseline"), "absent stays absent");
        a.baseline = Some(baseline_of(&a));
        let back = Artifact::from_json(&a.to_json()).expect("valid");
        assert_eq!(a, back);
    }

    #[test]
    fn rejects_broken_artifacts_with_a_reason() {
        type Mutation = Box<dyn Fn(&mut Artifact)>;
        let cases: Vec<(Mutation, &str)> = vec![
            (Box::new(|a| a.schema_version = 99), "schema version"),
            (Box::new(|a| a.features[0].std = 0.0), "std > 0"),
            (
                Box::new(|a| a.features[1].name = "attr.sex".into()),
                "protected",
            ),
            (
                Box::new(|a| a.features[1].name = "bogus".into()),
                "unknown feature",
            ),
            (
                Box::new(|a| {
                    a.model = ModelParams::Logistic {
                        intercept: 0.0,
                        coefficients: vec![f64::INFINITY, 0.0],
                        l2_penalty: 1.0,
                    }
                }),
                "not finite",
            ),
            (
                Box::new(|a| {
                    a.model = ModelParams::Logistic {
                        intercept: 0.0,
                        coefficients: vec![0.0],
                        l2_penalty: 1.0,
                    }
                }),
                "1 coefficients for 2 features",
            ),
            (
                Box::new(|a| {
                    let mut b = baseline_of(a);
                    b.features.swap(0, 1);
                    a.baseline = Some(b);
                }),
                "baseline: its features",
            ),
            (
                Box::new(|a| {
                    let mut b = baseline_of(a);
                    b.score.shares[0] += 0.5;
                    a.baseline = Some(b);
                }),
                "baseline of the score",
            ),
            (
                Box::new(|a| {
                    let mut b = baseline_of(a);
                    b.features[1].histogram.edges = vec![2.0, 1.0];
                    b.features[1].histogram.shares = vec![0.0, 0.5, 0.25, 0.25];
                    a.baseline = Some(b);
                }),
                "ascending",
            ),
        ];
        for (mutate, expected) in cases {
            let mut a = sample();
            mutate(&mut a);
            let err = a.validate().expect_err(expected).to_string();
            assert!(err.contains(expected), "{err} should mention {expected}");
        }
    }

    #[test]
    fn floats_survive_the_round_trip_exactly() {
        let mut a = sample();
        a.features[0].mean = 0.10429166666666667;
        a.features[0].std = 22.736914567581554;
        let back = Artifact::from_json(&a.to_json()).expect("valid");
        assert_eq!(
            back.features[0].mean.to_bits(),
            a.features[0].mean.to_bits()
        );
        assert_eq!(back.features[0].std.to_bits(), a.features[0].std.to_bits());
    }

    #[test]
    fn truncated_json_is_a_parse_error() {
        let text = sample().to_json();
        let err = Artifact::from_json(&text[..text.len() / 2]).expect_err("truncated");
        assert!(matches!(err, LoadError::Parse { .. }), "{err}");
    }
}
