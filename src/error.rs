//! The error of the load layer: reading and validating model artifacts and policy files.
//!
//! Every failure names where the input came from (a path, or `<input>` for text), so a bad file at
//! start-up or reload produces one clear message. Request errors live in [`crate::grpc::scoring`], and
//! training errors in `crate::train`.

use std::path::PathBuf;

/// A model artifact or policy file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid JSON or TOML of the expected shape.
    #[error("{origin}: cannot parse: {message}")]
    Parse {
        /// Where the text came from.
        origin: String,
        /// The parser's message.
        message: String,
    },
    /// The file parsed but breaks a rule (for example a non-finite coefficient).
    #[error("{origin}: {message}")]
    Invalid {
        /// Where the text came from.
        origin: String,
        /// The rule that failed.
        message: String,
    },
}

impl LoadError {
    /// Reads a whole file to a string, mapping the error.
    pub(crate) fn read(path: &std::path::Path) -> Result<String, LoadError> {
        std::fs::read_to_string(path).map_err(|source| LoadError::Io {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Replaces the origin of parse and validation errors (used once the path is known).
    pub(crate) fn with_origin(self, origin: &str) -> LoadError {
        match self {
            LoadError::Parse { message, .. } => LoadError::Parse {
                origin: origin.to_owned(),
                message,
            },
            LoadError::Invalid { message, .. } => LoadError::Invalid {
                origin: origin.to_owned(),
                message,
            },
            other => other,
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> LoadError {
        LoadError::Invalid {
            origin: "<input>".to_owned(),
            message: message.into(),
        }
    }

    pub(crate) fn parse(message: impl std::fmt::Display) -> LoadError {
        LoadError::Parse {
            origin: "<input>".to_owned(),
            message: message.to_string(),
        }
    }
}
