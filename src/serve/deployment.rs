//! What serves: the champion engine and, when its policy runs a champion/challenger
//! experiment, the challenger engine, with the count of decisions per arm.
//!
//! The experiment lives in the champion's policy file ([`crate::policy::Experiment`]): a name,
//! the challenger's share of accounts, the mode, and the challenger's model and/or policy
//! (paths relative to the policy file; an absent one is the champion's). Accounts are assigned
//! by a stable hash of the experiment name and the account id, so an account stays in its arm
//! across calls, batches, restarts and replicas. When the experiment holds out a random control,
//! its accounts are decided by a third engine: the champion's model with its policy's
//! [`Policy::held_out`] form.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::LoadError;
use crate::model::Model;
use crate::policy::{Arm, Experiment, ExperimentMode, Policy};
use crate::scoring::Engine;
use crate::serve::drift::{DriftMonitor, DriftSettings};

/// The engines that serve and how accounts are shared between them.
#[derive(Debug)]
pub struct Deployment {
    champion: Engine,
    challenger: Option<Engine>,
    /// The control's engine, when the experiment holds out a control.
    control: Option<Engine>,
    /// Decisions (shadow mode: shadow scores) per arm: champion, challenger, control.
    decisions: [AtomicU64; 3],
    /// The files it was loaded from: model, policy, then the challenger's.
    files: Vec<PathBuf>,
    /// Drift of the champion's accounts against its training baseline (when it has one).
    drift: Option<DriftMonitor>,
}

impl Deployment {
    /// Loads the champion's model and policy and, when the policy names an experiment, the
    /// challenger's, each validated completely.
    pub fn load(model: &Path, policy: &Path) -> Result<Deployment, LoadError> {
        let champion_model = Model::load(model)?;
        let champion_policy = Policy::load(policy)?;
        Engine::check(&champion_model, &champion_policy).map_err(|e| {
            LoadError::invalid(format!(
                "{} with {}: {e}",
                policy.display(),
                model.display()
            ))
        })?;
        let mut files = vec![model.to_path_buf(), policy.to_path_buf()];
        let challenger = match &champion_policy.experiment {
            None => None,
            Some(e) => {
                let dir = policy.parent().unwrap_or(Path::new("."));
                let model = match &e.challenger_model {
                    Some(path) => {
                        files.push(dir.join(path));
                        Model::load(&dir.join(path))?
                    }
                    None => champion_model.clone(),
                };
                let policy = match &e.challenger_policy {
                    Some(path) => {
                        files.push(dir.join(path));
                        let p = Policy::load(&dir.join(path))?;
                        if p.experiment.is_some() {
                            return Err(LoadError::invalid(format!(
                                "{}: a challenger policy cannot run an experiment of its own",
                                dir.join(path).display()
                            )));
                        }
                        if p.compliance.is_some() {
                            return Err(LoadError::invalid(format!(
                                "{}: a challenger policy cannot declare compliance holds; it \
                                 takes the champion's, which no experiment may change",
                                dir.join(path).display()
                            )));
                        }
                        let mut p = p;
                        p.compliance = champion_policy.compliance.clone();
                        p
                    }
                    None => champion_policy.clone(),
                };
                Engine::check(&model, &policy).map_err(|e| {
                    LoadError::invalid(format!("{}: the challenger: {e}", policy_path(&files)))
                })?;
                Some(Engine::new(model, policy))
            }
        };
        let mut deployment =
            Deployment::new(Engine::new(champion_model, champion_policy), challenger);
        deployment.files = files;
        Ok(deployment)
    }

    /// A deployment of `champion`, with `challenger` when the champion's policy runs an
    /// experiment (a challenger without an experiment is never used).
    pub fn new(champion: Engine, challenger: Option<Engine>) -> Deployment {
        let challenger = challenger.filter(|_| champion.policy().experiment.is_some());
        let control = challenger
            .as_ref()
            .and_then(|_| champion.policy().held_out())
            .map(|policy| Engine::new(champion.model().clone(), policy));
        let drift = champion
            .model()
            .artifact()
            .baseline
            .clone()
            .and_then(|b| DriftMonitor::new(b, DriftSettings::default()));
        Deployment {
            drift,
            champion,
            challenger,
            control,
            decisions: [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)],
            files: Vec::new(),
        }
    }

    /// The same deployment watching drift as `settings` say (a window of 0: no monitoring).
    pub fn with_drift(mut self, settings: DriftSettings) -> Deployment {
        self.drift = (settings.window > 0)
            .then(|| self.champion.model().artifact().baseline.clone())
            .flatten()
            .and_then(|b| DriftMonitor::new(b, settings));
        self
    }

    /// The live drift of the champion's accounts (`None` when its artifact has no baseline).
    pub fn drift(&self) -> Option<&DriftMonitor> {
        self.drift.as_ref()
    }

    /// The files [`Self::load`] read: the model, the policy, then the challenger's model and
    /// policy when it has its own (empty for a deployment built with [`Self::new`]).
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// The champion.
    pub fn champion(&self) -> &Engine {
        &self.champion
    }

    /// The control's engine, when the experiment holds out a control.
    pub fn control(&self) -> Option<&Engine> {
        self.control.as_ref()
    }

    /// The challenger, when an experiment runs.
    pub fn challenger(&self) -> Option<&Engine> {
        self.challenger.as_ref()
    }

    /// The running experiment.
    pub fn experiment(&self) -> Option<&Experiment> {
        self.challenger
            .as_ref()
            .and(self.champion.policy().experiment.as_ref())
    }

    /// The arm `account_id` is assigned to (always the champion without an experiment).
    pub fn arm(&self, account_id: &str) -> Arm {
        self.experiment()
            .map_or(Arm::Champion, |e| e.arm(account_id))
    }

    /// The engine that decides an account of `arm`: the challenger only in split mode, the
    /// control's engine for the control (in either mode).
    pub fn decider(&self, arm: Arm) -> (Arm, &Engine) {
        let mode = self.experiment().map(|e| e.mode);
        match (arm, mode, &self.challenger, &self.control) {
            (Arm::Challenger, Some(ExperimentMode::Split), Some(c), _) => (Arm::Challenger, c),
            (Arm::Control, _, _, Some(c)) => (Arm::Control, c),
            _ => (Arm::Champion, &self.champion),
        }
    }

    /// The challenger engine that scores an account of `arm` in shadow mode.
    pub fn shadow(&self, arm: Arm) -> Option<&Engine> {
        match (arm, self.experiment().map(|e| e.mode)) {
            (Arm::Challenger, Some(ExperimentMode::Shadow)) => self.challenger.as_ref(),
            _ => None,
        }
    }

    /// Counts `n` decisions (or shadow scores) of `arm`.
    pub fn record(&self, arm: Arm, n: u64) {
        self.decisions[arm_index(arm)].fetch_add(n, Ordering::Relaxed);
    }

    /// Decisions (or shadow scores) of `arm` since the deployment started.
    pub fn decisions(&self, arm: Arm) -> u64 {
        self.decisions[arm_index(arm)].load(Ordering::Relaxed)
    }
}

/// The last policy file read (for messages about the challenger).
fn policy_path(files: &[PathBuf]) -> String {
    files
        .iter()
        .rev()
        .find(|f| f.extension().is_some_and(|e| e == "toml"))
        .map_or_else(String::new, |f| f.display().to_string())
}

fn arm_index(arm: Arm) -> usize {
    match arm {
        Arm::Champion => 0,
        Arm::Challenger => 1,
        Arm::Control => 2,
    }
}
