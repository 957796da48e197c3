//! Champion/challenger experiments: which arm an account belongs to, by a stable hash of the
//! experiment name and the account id, so an account keeps its arm across calls, batches,
//! restarts and replicas.

use serde::Deserialize;

/// A champion/challenger experiment: a share of accounts, chosen by a stable hash of the
/// account id and the experiment name, is decided by the challenger (split mode) or scored by
/// it beside the champion without acting on it (shadow mode).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    /// Experiment name; part of the assignment hash, so a new name reshuffles the arms.
    pub name: String,
    /// Share of accounts assigned to the challenger, in (0, 1].
    pub share: f64,
    /// `split` (the challenger decides its share) or `shadow` (it only scores beside).
    pub mode: ExperimentMode,
    /// The challenger's model artifact, relative to the policy file (absent: the champion's).
    #[serde(default)]
    pub challenger_model: Option<std::path::PathBuf>,
    /// The challenger's policy file, relative to this one (absent: this policy).
    #[serde(default)]
    pub challenger_policy: Option<std::path::PathBuf>,
}

/// How the challenger takes part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExperimentMode {
    /// The challenger decides the accounts assigned to it.
    Split,
    /// The champion decides every account; the challenger's decision is reported beside it.
    Shadow,
}

impl ExperimentMode {
    /// `split` or `shadow`.
    pub fn as_str(self) -> &'static str {
        match self {
            ExperimentMode::Split => "split",
            ExperimentMode::Shadow => "shadow",
        }
    }
}

/// Which arm of an experiment an account belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arm {
    /// The current model and policy.
    Champion,
    /// The candidate.
    Challenger,
}

impl Arm {
    /// `champion` or `challenger`.
    pub fn as_str(self) -> &'static str {
        match self {
            Arm::Champion => "champion",
            Arm::Challenger => "challenger",
        }
    }
}

impl Experiment {
    /// The arm of `account_id`: stable across calls, restarts and machines.
    pub fn arm(&self, account_id: &str) -> Arm {
        let salt: [&[u8]; 2] = [self.name.as_bytes(), &[0]];
        if crate::stable_hash::unit_interval(&salt, account_id) < self.share {
            Arm::Challenger
        } else {
            Arm::Champion
        }
    }
}
