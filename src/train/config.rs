//! The training config file (TOML): which model kind, its settings, and defaults for the
//! command-line options. Flags given on the command line win.
//!
//! ```toml
//! model = "gbdt"          # or "logistic", "scorecard"
//! name = "uci-credit"
//! version = "2"
//! split = "mod:5"
//!
//! [logistic]
//! l2 = 1.0
//! max_iterations = 500
//!
//! [gbdt]
//! learning_rate = 0.03
//! max_leaves = 15
//!
//! [gbdt.monotone]
//! dpd_current = -1
//! ```

use std::path::Path;

use serde::Deserialize;

use std::collections::BTreeMap;

use crate::features::Transform;
use crate::model::scorecard::PointsScale;

use super::TrainError;
use crate::boost::GbdtConfig;

/// Model kinds the trainer fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// Logistic regression (linfa) on standardised inputs.
    Logistic,
    /// payrisk's gradient-boosted trees.
    Gbdt,
    /// A binned weight-of-evidence scorecard with a points table.
    Scorecard,
    /// A treatment-effect model: one outcome model per candidate treatment (and effect models
    /// with the DR-learner), from the decisions and outcomes of a randomised control.
    Uplift,
}

/// The `[uplift]` section of the training config.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UpliftConfig {
    /// `t` (one outcome model per treatment) or `dr` (effect models on doubly robust
    /// pseudo-outcomes, on top of the T-learner's).
    pub learner: crate::model::uplift::Learner,
    /// Observation window of the outcome (repaid within it), in days: 30, 60 or 90.
    pub window_days: u32,
    /// Cost per decision of every candidate treatment, by name (each must be given, >= 0).
    pub costs: BTreeMap<String, f64>,
    /// The reference treatment effects are measured against (default: the control's first
    /// candidate).
    pub reference: Option<String>,
    /// Fewest training accounts a treatment needs.
    pub min_accounts: usize,
    /// Share of the randomised accounts held out for evaluation (by a stable hash of the id).
    pub test_fraction: f64,
}

impl Default for UpliftConfig {
    fn default() -> Self {
        UpliftConfig {
            learner: crate::model::uplift::Learner::Dr,
            window_days: 90,
            costs: BTreeMap::new(),
            reference: None,
            min_accounts: 200,
            test_fraction: 0.3,
        }
    }
}

/// Logistic-regression settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogisticConfig {
    /// L2 penalty (linfa's `alpha`, on the summed log loss).
    pub l2: f64,
    /// Optimiser iteration cap.
    pub max_iterations: u64,
}

impl Default for LogisticConfig {
    fn default() -> Self {
        LogisticConfig {
            l2: 1.0,
            max_iterations: 500,
        }
    }
}

/// The `[scorecard]` section of the training config.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScorecardConfig {
    /// Quantile bins each input starts from.
    pub max_bins: usize,
    /// Smallest share of the training rows a value bin may hold.
    pub min_bin_share: f64,
    /// Inputs below this information value take no part in the regression.
    pub min_information_value: f64,
    /// Trend of the repayment rate per input: 1 rising, -1 falling, 0 none.
    pub monotone: BTreeMap<String, i8>,
    /// Give every input not in `monotone` the trend of its data (default: none).
    pub auto_trend: bool,
    /// Values with a bin of their own, per input (for example `-1` for "no account").
    pub special: BTreeMap<String, Vec<f64>>,
    /// The points scale.
    pub scale: PointsScale,
}

impl Default for ScorecardConfig {
    fn default() -> Self {
        ScorecardConfig {
            max_bins: 20,
            min_bin_share: 0.05,
            min_information_value: 0.02,
            monotone: BTreeMap::new(),
            auto_trend: false,
            special: BTreeMap::new(),
            scale: PointsScale::default(),
        }
    }
}

/// A training config file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Model kind.
    pub model: Option<ModelKind>,
    /// Model name.
    pub name: Option<String>,
    /// Model version.
    pub version: Option<String>,
    /// Held-out split (`mod:M[:R]`, `hash:FRACTION[:SEED]` or `time:YYYY-MM-DD`).
    pub split: Option<String>,
    /// Probability calibration (`platt` or `isotonic`; absent: none).
    pub calibration: Option<crate::model::calibration::CalibrationMethod>,
    /// Logistic settings.
    pub logistic: LogisticConfig,
    /// Gradient-boosting settings.
    pub gbdt: GbdtConfig,
    /// Scorecard settings (the regression takes `[logistic]`'s penalty and iterations).
    pub scorecard: ScorecardConfig,
    /// Treatment-effect settings (its trees take `[gbdt]`).
    pub uplift: UpliftConfig,
    /// Attributes refused beyond the protected characteristics, and names allowed with a
    /// reason (recorded in the artifact).
    pub protected: crate::domain::ProtectedList,
    /// Transforms of inputs by feature name (`attr.debt_ratio`, `utilisation`), for
    /// heavy-tailed values: resolved on the training rows, recorded in the artifact and
    /// applied identically in serving.
    pub transforms: std::collections::BTreeMap<String, TransformConfig>,
}

/// One input's transform as the training config gives it: bounds (`floor`, `cap`, or
/// `winsorise = q`: floor and cap at the training rows' `1 - q` and `q` quantiles), then `log`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TransformConfig {
    /// Smallest value kept.
    pub floor: Option<f64>,
    /// Largest value kept.
    pub cap: Option<f64>,
    /// Quantile in (0.5, 1) to winsorise both tails at, on the training rows.
    pub winsorise: Option<f64>,
    /// Log-compress (`sign(x) ln(1 + |x|)`) after bounding.
    pub log: bool,
}

impl TransformConfig {
    /// The transform, with a winsorising quantile resolved on `sorted()`, the feature's present
    /// training values in ascending order.
    pub fn resolve(&self, sorted: impl FnOnce() -> Vec<f64>) -> Result<Transform, String> {
        let (mut floor, mut cap) = (self.floor, self.cap);
        if let Some(q) = self.winsorise {
            if floor.is_some() || cap.is_some() {
                return Err("winsorise sets the floor and the cap: give one or the other".into());
            }
            if !(q > 0.5 && q < 1.0) {
                return Err(format!("winsorise must be a quantile in (0.5, 1), got {q}"));
            }
            let values = sorted();
            if values.is_empty() {
                return Err("no training row has a value to winsorise".into());
            }
            let at = |p: f64| values[((values.len() - 1) as f64 * p).round() as usize];
            floor = Some(at(1.0 - q));
            cap = Some(at(q));
        }
        let t = Transform {
            floor,
            cap,
            log: self.log,
        };
        t.validate()?;
        if t == Transform::default() {
            return Err("give a floor, a cap, winsorise or log".into());
        }
        Ok(t)
    }
}

impl TrainConfig {
    /// Reads a config file.
    pub fn load(path: &Path) -> Result<TrainConfig, TrainError> {
        let text = std::fs::read_to_string(path).map_err(|source| TrainError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let config: TrainConfig = toml::from_str(&text)
            .map_err(|e| TrainError::Config(format!("{}: {e}", path.display())))?;
        config
            .protected
            .validate()
            .map_err(|e| TrainError::Config(format!("{}: {e}", path.display())))?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transforms_resolve_on_the_training_values() {
        let values = || (0..=100).map(f64::from).collect::<Vec<_>>();
        let w = TransformConfig {
            winsorise: Some(0.9),
            log: true,
            ..TransformConfig::default()
        };
        let t = w.resolve(values).expect("resolves");
        assert_eq!((t.floor, t.cap, t.log), (Some(10.0), Some(90.0), true));
        assert_eq!(t.apply(1_000.0), 90f64.ln_1p());
        assert!(t.apply(f64::NAN).is_nan(), "missing stays missing");
        let both = TransformConfig {
            winsorise: Some(0.9),
            cap: Some(3.0),
            ..TransformConfig::default()
        };
        assert!(both.resolve(values).is_err());
        let wide = TransformConfig {
            winsorise: Some(0.3),
            ..TransformConfig::default()
        };
        assert!(wide.resolve(values).is_err());
        assert!(
            TransformConfig::default().resolve(values).is_err(),
            "nothing to do"
        );
        let toml: TrainConfig =
            toml::from_str("[transforms.\"attr.debt_ratio\"]\ncap = 10.0\n").expect("config");
        assert_eq!(toml.transforms["attr.debt_ratio"].cap, Some(10.0));
    }

    #[test]
    fn the_protected_section_extends_and_allows_only_with_a_reason() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("train.toml");
        let good = "[protected]\nextra = [\"postcode\"]\n\n[[protected.allowed]]\nname = \"account_age_months\"\nreason = \"months since the account opened\"\n";
        std::fs::write(&path, good).expect("write");
        let config = TrainConfig::load(&path).expect("valid");
        assert_eq!(config.protected.extra, ["postcode"]);
        assert!(config.protected.refuses("account_age_months").is_none());
        let silent = "[[protected.allowed]]\nname = \"age\"\nreason = \"\"\n";
        std::fs::write(&path, silent).expect("write");
        let err = TrainConfig::load(&path).expect_err("no reason").to_string();
        assert!(err.contains("reason"), "{err}");
    }
}
