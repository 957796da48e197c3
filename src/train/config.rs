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
    /// Attributes refused beyond the protected characteristics, and names allowed with a
    /// reason (recorded in the artifact).
    pub protected: crate::domain::ProtectedList,
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
