//! Champion/challenger experiments: which arm an account belongs to, by a stable hash of the
//! experiment name and the account id, so an account keeps its arm across calls, batches,
//! restarts and replicas. A share of accounts can be held out as a random control that
//! receives a named alternative treatment, or one of the policy's candidate treatments in equal
//! parts (a randomised trial the treatment-effect models learn from), assigned by the same hash.

use serde::Deserialize;

use super::{Action, Treatment};

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
    /// A random control share held out of both arms (`[experiment.control]`).
    #[serde(default)]
    pub control: Option<Control>,
}

/// The experiment's random control: a share of accounts, by the same stable hash as the arms,
/// decided by the champion's model and policy but given an alternative treatment: what lets a
/// readout measure what a treatment causes, not only who pays. Declared hardship and a pending
/// promise keep their rules (customer protections, not strategy), and the contact caps and
/// compliance holds still override the alternative action.
///
/// Either one alternative (`treatment`, with an optional `action`) or several: `candidates`
/// names some of the policy's `[[candidates]]`, and the control's share is split among them in
/// equal parts by the same hash value that chose the arm, so each account of the control gets
/// one of them at random (what `payrisk-train fit --model uplift` learns from).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Control {
    /// Share of accounts held out, in (0, 1 - the challenger's share].
    pub share: f64,
    /// The treatment they receive (`soft` or `firm`), when the control has one alternative.
    #[serde(default)]
    pub treatment: Option<Treatment>,
    /// The action they receive (absent: the ladder stage's action for `treatment`); for
    /// example `{ action = "no_contact", channel = "none" }` for a no-contact control.
    #[serde(default)]
    pub action: Option<Action>,
    /// Candidates (names of the policy's `[[candidates]]`) assigned at random in equal parts,
    /// in place of `treatment`.
    #[serde(default)]
    pub candidates: Vec<String>,
}

/// Which of `candidates` stands for `treatment` as the score rules give it: one of that
/// treatment with the ladder's action, else any of that treatment.
pub fn candidate_for(candidates: &[Candidate], treatment: Treatment) -> Option<usize> {
    candidates
        .iter()
        .position(|c| c.treatment == treatment && c.action.is_none())
        .or_else(|| candidates.iter().position(|c| c.treatment == treatment))
}

/// A treatment a collections team may give: what a randomised control assigns and what a
/// treatment-effect model predicts the outcome of (`[[candidates]]` of the policy).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Candidate {
    /// Name, for example `none`, `soft` or `firm`: what a treatment-effect artifact calls it.
    pub name: String,
    /// Soft or firm.
    pub treatment: Treatment,
    /// The action (absent: the ladder stage's action for `treatment`).
    #[serde(default)]
    pub action: Option<Action>,
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
    /// The random control: the champion's model and policy with the alternative treatment.
    Control,
}

impl Arm {
    /// `champion` or `challenger`.
    pub fn as_str(self) -> &'static str {
        match self {
            Arm::Champion => "champion",
            Arm::Challenger => "challenger",
            Arm::Control => "control",
        }
    }
}

impl Experiment {
    /// The account's hash value in [0, 1), which decides its arm.
    fn unit(&self, account_id: &str) -> f64 {
        let salt: [&[u8]; 2] = [self.name.as_bytes(), &[0]];
        crate::stable_hash::unit_interval(&salt, account_id)
    }

    /// Which of the control's `candidates` `account_id` receives: `None` outside the control
    /// or when the control has a single alternative. The control's stretch of hash values is
    /// cut into equal parts, one per candidate, in the order they are listed.
    pub fn control_candidate(&self, account_id: &str) -> Option<usize> {
        let control = self.control.as_ref()?;
        let k = control.candidates.len();
        let u = self.unit(account_id);
        if k == 0 || u < self.share || u >= self.share + control.share {
            return None;
        }
        Some((((u - self.share) / control.share * k as f64) as usize).min(k - 1))
    }

    /// The arm of `account_id`: stable across calls, restarts and machines. One hash value in
    /// [0, 1) per account: below `share` the challenger, then the control's share, then the
    /// champion.
    pub fn arm(&self, account_id: &str) -> Arm {
        let u = self.unit(account_id);
        if u < self.share {
            Arm::Challenger
        } else if u < self.share + self.control.as_ref().map_or(0.0, |c| c.share) {
            Arm::Control
        } else {
            Arm::Champion
        }
    }
}
