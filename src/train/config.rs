//! The training config file (TOML): which model kind, its settings, and defaults for the
//! command-line options. Flags given on the command line win.
//!
//! ```toml
//! model = "gbdt"          # or "logistic"
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
}

impl TrainConfig {
    /// Reads a config file.
    pub fn load(path: &Path) -> Result<TrainConfig, TrainError> {
        let text = std::fs::read_to_string(path).map_err(|source| TrainError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| TrainError::Config(format!("{}: {e}", path.display())))
    }
}
