//! Hot reload: what serves now, and how it is replaced while the server runs.
//!
//! [`Live`] holds the serving [`Deployment`] behind an atomic pointer ([`ArcSwap`]). Every call
//! takes the current deployment once ([`Live::current`]) and finishes on it, so a reload never
//! changes a call half-way. [`Live::reload`] loads and validates everything (model, policy,
//! challenger) before it swaps; when anything is invalid the previous version keeps serving, and
//! the error is logged and kept for `GetModelInfo` ([`ReloadStatus`]).
//!
//! The model comes from a [`ModelSource`] ([`crate::serve::repository`]): one artifact file, or a model repository laid out as
//! `<repository>/<version>/model.json` (for example `models/uci-credit/2/model.json`), from which
//! the latest valid version serves. Versions are ordered as numbers when they are numbers (they
//! rank above any other names, which order by name); an invalid newer version is skipped and
//! reported, and the next one down serves. An artifact must declare the version of its
//! directory, so that a copied file cannot pose as another version.
//!
//! Reloads are triggered by the `AdminService.Reload` RPC, by SIGHUP, and by a poll of the
//! files' modification times and sizes ([`Live::reload_if_changed`]); all three go through
//! [`Live::reload`], one at a time. Write new files atomically (to a temporary name, then
//! rename): a half-written file fails validation, and the poll retries once it changes again.
//! The poll watches the serving version's files (model, policy, the challenger's) and, for a
//! repository, every version's `model.json`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};

use crate::error::LoadError;
use crate::serve::deployment::Deployment;
use crate::serve::drift::DriftSettings;
use crate::serve::repository::{check_version, versions, ModelSource};

/// How the serving version was loaded and how reloads went, for `GetModelInfo`.
#[derive(Debug, Clone, PartialEq)]
pub struct ReloadStatus {
    /// The artifact file serving now.
    pub model_path: PathBuf,
    /// The policy file serving now.
    pub policy_path: PathBuf,
    /// When the serving version was loaded.
    pub loaded_at: DateTime<Utc>,
    /// Successful reloads since start.
    pub reloads: u64,
    /// Failed reloads since start.
    pub failed_reloads: u64,
    /// When a reload was last tried.
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// Why the last reload failed, or which newer versions were skipped as invalid.
    pub last_error: Option<String>,
}

/// The files a deployment came from, with their modification time and size: a change in any
/// of them (or a new version in a repository) is a reason to reload.
type Stamp = Vec<(PathBuf, Option<(SystemTime, u64)>)>;

#[derive(Debug)]
struct State {
    status: ReloadStatus,
    stamp: Stamp,
}

/// The serving deployment, replaceable while calls are in flight.
#[derive(Debug)]
pub struct Live {
    source: ModelSource,
    drift: DriftSettings,
    policy: PathBuf,
    current: ArcSwap<Deployment>,
    /// Held for the whole of a reload, so reloads run one at a time.
    state: Mutex<State>,
}

impl Live {
    /// Loads the first version. Fails when no valid model (in a repository: no valid version)
    /// or policy is found.
    /// Drift is watched as `drift` says (a window of 0: no drift monitoring).
    pub fn start(
        source: ModelSource,
        policy: &Path,
        drift: DriftSettings,
    ) -> Result<Live, LoadError> {
        let loaded = load(&source, policy, drift)?;
        let skipped = loaded.skipped_message();
        if let Some(message) = &skipped {
            tracing::warn!(error = %message, "newer model versions are not valid; skipped");
        }
        let status = ReloadStatus {
            model_path: loaded.model_path,
            policy_path: policy.to_path_buf(),
            loaded_at: Utc::now(),
            reloads: 0,
            failed_reloads: 0,
            last_attempt_at: None,
            last_error: skipped,
        };
        let stamp = stamp(&source, &loaded.deployment);
        Ok(Live {
            source,
            drift,
            policy: policy.to_path_buf(),
            current: ArcSwap::from_pointee(loaded.deployment),
            state: Mutex::new(State { status, stamp }),
        })
    }

    /// The deployment serving now. Hold on to it for the whole of a call.
    pub fn current(&self) -> Arc<Deployment> {
        self.current.load_full()
    }

    /// Where the model comes from.
    pub fn source(&self) -> &ModelSource {
        &self.source
    }

    /// The serving version's origin and the reload history.
    pub fn status(&self) -> ReloadStatus {
        self.lock().status.clone()
    }

    /// Loads and validates the model and policy again and swaps them in. On error the
    /// previous version keeps serving and the error is recorded. Blocking: file reads and
    /// table building (run it off the async workers).
    pub fn reload(&self) -> Result<Arc<Deployment>, LoadError> {
        let mut state = self.lock();
        self.reload_locked(&mut state)
    }

    /// Reloads when any file the serving version came from changed (modification time or
    /// size), or a repository's versions changed; `None` when nothing did. A failed reload is
    /// not retried until the files change again.
    pub fn reload_if_changed(&self) -> Option<Result<Arc<Deployment>, LoadError>> {
        let mut state = self.lock();
        let current = self.current();
        if stamp(&self.source, &current) == state.stamp {
            return None;
        }
        Some(self.reload_locked(&mut state))
    }

    fn reload_locked(&self, state: &mut State) -> Result<Arc<Deployment>, LoadError> {
        let now = Utc::now();
        state.status.last_attempt_at = Some(now);
        match load(&self.source, &self.policy, self.drift) {
            Ok(loaded) => {
                let skipped = loaded.skipped_message();
                state.stamp = stamp(&self.source, &loaded.deployment);
                let deployment = Arc::new(loaded.deployment);
                self.current.store(deployment.clone());
                let status = &mut state.status;
                status.model_path = loaded.model_path;
                status.loaded_at = now;
                status.reloads += 1;
                status.last_error = skipped;
                let a = deployment.champion().model().artifact();
                tracing::info!(
                    model = %a.name,
                    model_version = %a.version,
                    policy_version = %deployment.champion().policy().version,
                    path = %status.model_path.display(),
                    "reloaded"
                );
                if let Some(message) = &status.last_error {
                    tracing::warn!(error = %message, "newer model versions are not valid; skipped");
                }
                Ok(deployment)
            }
            Err(e) => {
                // The files as they are now failed: the poll retries only when they change.
                state.stamp = stamp(&self.source, &self.current());
                state.status.failed_reloads += 1;
                state.status.last_error = Some(e.to_string());
                tracing::error!(error = %e, "reload failed; the previous version keeps serving");
                Err(e)
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the state half-written (each field is
        // assigned whole), so a poisoned lock is still good to use.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A loaded deployment, the artifact file it came from, and the newer versions skipped.
struct Loaded {
    deployment: Deployment,
    model_path: PathBuf,
    skipped: Vec<LoadError>,
}

impl Loaded {
    fn skipped_message(&self) -> Option<String> {
        (!self.skipped.is_empty()).then(|| {
            self.skipped
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        })
    }
}

fn load(source: &ModelSource, policy: &Path, drift: DriftSettings) -> Result<Loaded, LoadError> {
    match source {
        ModelSource::File(path) => Ok(Loaded {
            deployment: Deployment::load(path, policy)?.with_drift(drift),
            model_path: path.clone(),
            skipped: Vec::new(),
        }),
        ModelSource::Repository(dir) => {
            let mut skipped = Vec::new();
            for (version, path) in versions(dir)? {
                match Deployment::load(&path, policy)
                    .and_then(|d| check_version(d, &path, &version))
                {
                    Ok(deployment) => {
                        return Ok(Loaded {
                            deployment: deployment.with_drift(drift),
                            model_path: path,
                            skipped,
                        })
                    }
                    // A bad policy is bad for every version: no point trying older ones.
                    Err(e) if is_about(&e, policy) => return Err(e),
                    Err(e) => skipped.push(e),
                }
            }
            let reasons = skipped
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ");
            Err(LoadError::Invalid {
                origin: dir.display().to_string(),
                message: if reasons.is_empty() {
                    "no model versions (expected <version>/model.json)".into()
                } else {
                    format!("no valid model version: {reasons}")
                },
            })
        }
    }
}

/// Whether `error` is about the file `path`.
fn is_about(error: &LoadError, path: &Path) -> bool {
    match error {
        LoadError::Io { path: p, .. } => p == path,
        LoadError::Parse { origin, .. } | LoadError::Invalid { origin, .. } => {
            origin.starts_with(&path.display().to_string())
        }
    }
}

fn file_stamp(path: &Path) -> (PathBuf, Option<(SystemTime, u64)>) {
    let meta = std::fs::metadata(path).ok();
    (
        path.to_path_buf(),
        meta.and_then(|m| Some((m.modified().ok()?, m.len()))),
    )
}

fn stamp(source: &ModelSource, deployment: &Deployment) -> Stamp {
    let mut stamp: Stamp = deployment.files().iter().map(|p| file_stamp(p)).collect();
    if let ModelSource::Repository(dir) = source {
        if let Ok(versions) = versions(dir) {
            stamp.extend(versions.iter().map(|(_, p)| file_stamp(p)));
        }
    }
    stamp
}
