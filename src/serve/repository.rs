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
//!    ([`write_artifact`]), so a server polling the repository never reads half a file; an
//!    existing artifact is replaced only when asked ([`claim`]).
//!
//! The server reads through [`crate::serve::live`]; `payrisk-train fit` and `import` write
//! through [`claim`] and [`write_artifact`].

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

/// Checks that a new artifact may be written at `path`: an existing one is refused unless
/// `replace` is set.
pub fn claim(path: &Path, replace: bool) -> Result<(), LoadError> {
    if path.exists() && !replace {
        return Err(LoadError::Invalid {
            origin: path.display().to_string(),
            message: "exists; pass --force to replace it or choose another --version".into(),
        });
    }
    Ok(())
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
    fn an_existing_artifact_is_replaced_only_when_asked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = artifact_path(dir.path(), "m", "1");
        claim(&path, false).expect("a new version may be written");
        write_artifact(&path, "{\"a\":1}").expect("write");
        let refused = claim(&path, false).expect_err("an existing version is refused");
        assert!(refused.to_string().contains("--force"), "{refused}");
        claim(&path, true).expect("replaced when asked");
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
