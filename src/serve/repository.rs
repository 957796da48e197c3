//! The model repository: versions of a model laid out as `<repository>/<version>/model.json`,
//! with the training outputs beside each artifact (`metrics.json`, `report.html`).
//!
//! Rules, in the order they apply:
//! 1. A version is a directory holding a `model.json`; anything else in the repository is
//!    ignored.
//! 2. Versions order as numbers when they are numbers, and numbers rank above any other name,
//!    which order by name ([`versions`]): `10`, `2`, `1`, `beta`, `alpha`.
//! 3. An artifact must declare the version of its directory ([`check_version`]), so that a copied
//!    file cannot pose as another version.
//! 4. A new version is written to a temporary name and renamed into place
//!    ([`write_artifact`]), so a server polling the repository never reads half a file.
//! 5. A new artifact asked for without a version takes the number after the highest numeric
//!    version (1 for a new model) ([`place`]).
//! 6. An existing version is refused, unless asked to go to the next free version instead
//!    ([`Existing::NextVersion`]) or to replace it ([`Existing::Replace`]); a version whose
//!    directory holds a [`SHIPPED_MARKER`] file is never replaced.
//!
//! The server reads through [`crate::serve::live`]; `payrisk-train fit` and `import` write
//! through [`place`] and [`write_artifact`].

use std::path::{Path, PathBuf};

use crate::error::LoadError;
use crate::serve::deployment::Deployment;

/// The artifact's file name inside a version directory.
pub const ARTIFACT_FILE: &str = "model.json";

/// Where the model artifact comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSource {
    /// One artifact file.
    File(PathBuf),
    /// A model repository: `<dir>/<version>/model.json`; the latest valid version serves.
    Repository(PathBuf),
}

impl ModelSource {
    /// A directory is a repository; anything else is an artifact file.
    pub fn from_path(path: &Path) -> ModelSource {
        if path.is_dir() {
            ModelSource::Repository(path.to_path_buf())
        } else {
            ModelSource::File(path.to_path_buf())
        }
    }
}

/// The artifact of version `version` of model `name` under `models_dir`:
/// `<models_dir>/<name>/<version>/model.json`.
pub fn artifact_path(models_dir: &Path, name: &str, version: &str) -> PathBuf {
    models_dir.join(name).join(version).join(ARTIFACT_FILE)
}

/// A file in a version directory that marks the version as shipped: it is never replaced
/// (rule 6).
pub const SHIPPED_MARKER: &str = "SHIPPED";

/// What to do when the version asked for exists (rule 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Refuse, saying what else to do.
    Refuse,
    /// Write the next free version instead.
    NextVersion,
    /// Replace it (never a shipped version).
    Replace,
}

/// Where a new artifact goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    /// The artifact's path.
    pub path: PathBuf,
    /// Its version (the directory's name).
    pub version: String,
    /// Why the version is not the one asked for, when it is not.
    pub note: Option<String>,
}

/// The version after the highest numeric version of `name` under `models_dir` (1 for none).
pub fn next_version(models_dir: &Path, name: &str) -> String {
    let highest = versions(&models_dir.join(name))
        .unwrap_or_default()
        .iter()
        .filter_map(|(v, _)| v.parse::<u64>().ok())
        .max()
        .unwrap_or(0);
    (highest + 1).to_string()
}

/// Where to write version `version` (none: the next, rule 5) of model `name` under
/// `models_dir`, given what to do if it exists (rule 6).
pub fn place(
    models_dir: &Path,
    name: &str,
    version: Option<&str>,
    existing: Existing,
) -> Result<Placed, LoadError> {
    let next = next_version(models_dir, name);
    let Some(version) = version else {
        return Ok(Placed {
            path: artifact_path(models_dir, name, &next),
            version: next,
            note: None,
        });
    };
    let path = artifact_path(models_dir, name, version);
    if !path.exists() {
        return Ok(Placed {
            path,
            version: version.to_owned(),
            note: None,
        });
    }
    let shipped = path.with_file_name(SHIPPED_MARKER).exists();
    let refuse = |message: String| LoadError::Invalid {
        origin: path.display().to_string(),
        message,
    };
    match existing {
        Existing::NextVersion => Ok(Placed {
            path: artifact_path(models_dir, name, &next),
            note: Some(format!(
                "version {version} exists, so this is version {next} (--replace overwrites \
                 a version that is not shipped)"
            )),
            version: next,
        }),
        Existing::Replace if !shipped => Ok(Placed {
            path,
            version: version.to_owned(),
            note: None,
        }),
        Existing::Replace => Err(refuse(format!(
            "is shipped with payrisk and never replaced; omit --version to write version {next}, \
             or write to another --models-dir"
        ))),
        Existing::Refuse => Err(refuse(format!(
            "exists; omit --version to write version {next}, pass --force to write it as version \
             {next}, or --replace to overwrite it{}",
            if shipped {
                " (not possible here: it is shipped)"
            } else {
                ""
            }
        ))),
    }
}

/// Writes `json` as the artifact at `path`, creating its directory: to a temporary name
/// beside it first, then renamed into place.
pub fn write_artifact(path: &Path, json: &str) -> Result<(), LoadError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| LoadError::Io { path, source }
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
    }
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".partial");
    let temporary = PathBuf::from(temporary);
    std::fs::write(&temporary, json).map_err(io(&temporary))?;
    std::fs::rename(&temporary, path).map_err(io(path))
}

/// The deployment, if its artifact declares `version`, the name of the directory it sits in.
pub fn check_version(
    deployment: Deployment,
    path: &Path,
    version: &str,
) -> Result<Deployment, LoadError> {
    let declared = &deployment.champion().model().artifact().version;
    if declared == version {
        Ok(deployment)
    } else {
        Err(LoadError::Invalid {
            origin: path.display().to_string(),
            message: format!("declares version {declared:?} but sits in directory {version:?}"),
        })
    }
}

/// A repository's versions with a `model.json`, latest first.
pub fn versions(dir: &Path) -> Result<Vec<(String, PathBuf)>, LoadError> {
    let entries = std::fs::read_dir(dir).map_err(|source| LoadError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut versions: Vec<(String, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let model = e.path().join(ARTIFACT_FILE);
            model.is_file().then_some((name, model))
        })
        .collect();
    versions.sort_by(|(a, _), (b, _)| version_key(b).cmp(&version_key(a)));
    Ok(versions)
}

/// Numbers order as numbers and above any other name.
fn version_key(name: &str) -> (Option<u64>, &str) {
    (name.parse().ok(), name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_order_numerically_then_by_name() {
        let mut names = vec!["2", "10", "1", "beta", "alpha"];
        names.sort_by(|a, b| version_key(b).cmp(&version_key(a)));
        assert_eq!(names, ["10", "2", "1", "beta", "alpha"]);
    }

    #[test]
    fn listed_versions_are_directories_with_an_artifact_latest_first() {
        let dir = tempfile::tempdir().expect("tempdir");
        for v in ["1", "2", "10", "beta"] {
            write_artifact(&artifact_path(dir.path(), "m", v), "{}").expect("write");
        }
        std::fs::create_dir_all(dir.path().join("m/11")).expect("empty version");
        let listed: Vec<String> = versions(&dir.path().join("m"))
            .expect("versions")
            .into_iter()
            .map(|(v, _)| v)
            .collect();
        assert_eq!(listed, ["10", "2", "1", "beta"]);
    }

    #[test]
    fn an_existing_artifact_is_replaced_only_when_asked_and_never_when_shipped() {
        // Pins rules 5 and 6.
        let dir = tempfile::tempdir().expect("tempdir");
        let first = place(dir.path(), "m", None, Existing::Refuse).expect("a new model");
        assert_eq!(first.version, "1");
        let path = first.path;
        write_artifact(&path, "{\"a\":1}").expect("write");
        assert_eq!(next_version(dir.path(), "m"), "2");
        let refused = place(dir.path(), "m", Some("1"), Existing::Refuse)
            .expect_err("an existing version is refused");
        assert!(refused.to_string().contains("version 2"), "{refused}");
        let moved = place(dir.path(), "m", Some("1"), Existing::NextVersion).expect("next");
        assert_eq!((moved.version.as_str(), moved.note.is_some()), ("2", true));
        let replaced = place(dir.path(), "m", Some("1"), Existing::Replace).expect("replace");
        assert_eq!(replaced.path, path);
        std::fs::write(path.with_file_name(SHIPPED_MARKER), "shipped").expect("mark");
        let refused = place(dir.path(), "m", Some("1"), Existing::Replace)
            .expect_err("a shipped version is never replaced");
        assert!(refused.to_string().contains("shipped"), "{refused}");
        std::fs::remove_file(path.with_file_name(SHIPPED_MARKER)).expect("unmark");
        write_artifact(&path, "{\"a\":2}").expect("rewrite");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "{\"a\":2}");
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().expect("dir"))
            .expect("list")
            .filter_map(Result::ok)
            .map(|e| e.file_name())
            .collect();
        assert_eq!(leftovers.len(), 1, "no temporary file left: {leftovers:?}");
    }
}
