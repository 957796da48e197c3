//! Offline training (cargo feature `train`): Polars ingest and validation of the canonical
//! tables, the UCI converter, the train/test split, logistic fitting with linfa, honest
//! held-out evaluation through the serving model, and the artifact.
//!
//! - [`tables`]: read and validate accounts, payment history and outcomes.
//! - [`uci`]: convert the UCI credit-default data into the canonical tables.
//! - [`monthly`]: convert the long-format monthly status history, with a forward-looking label.
//! - [`split`]: which accounts are held out.
//! - [`synthetic`]: a seeded synthetic portfolio of any size (tests, the scale benchmark).
//! - [`config`]: the training config file.
//! - [`fit`]: fit either kind, evaluate, and build the artifact.
//! - [`scorecard`]: the binned scorecard kind: binning, WoE, the regression, the points.
//! - [`html`]: `report.html`, the self-contained report with charts.
//! - [`report`]: `metrics.json` beside the artifact (metrics and the held-out decile table).
//! - [`decisions`], [`events`]: the decisions table from the audit log, and what happened after
//!   each decision.
//! - [`readout`]: decisions joined to their events: recovery by dimension, live model
//!   performance, the experiment readout, roll rates.
//! - [`simulate`]: outcomes that respond to the treatment, with a known effect (tests).
//! - [`worklist`]: offline scoring of a whole portfolio with the serving engine, ranked.
//! - [`import`]: LightGBM and XGBoost models read into payrisk trees.
//! - [`cli`]: the `payrisk-train` commands, one call each.

pub mod cli;
pub mod config;
pub mod decisions;
pub mod events;
pub mod fit;
pub mod html;
pub mod import;
pub mod monthly;
pub mod plan;
pub mod readout;
pub mod report;
pub mod scorecard;
pub mod simulate;
pub mod split;
pub mod synthetic;
pub mod tables;
pub mod uci;
pub mod uplift;
pub mod worklist;

use std::path::PathBuf;

pub use crate::tables::RowError;

/// Everything that can stop a training run.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Polars failed to read or transform a table.
    #[error("{context}: {source}")]
    Polars {
        /// What was being done.
        context: String,
        /// Polars' error.
        #[source]
        source: polars::error::PolarsError,
    },
    /// Input rows broke the schema or the domain rules.
    #[error("{}", crate::tables::format_row_errors(.errors, *.total))]
    Data {
        /// The first errors found.
        errors: Vec<RowError>,
        /// How many errors there were in all.
        total: usize,
    },
    /// A reader could not give a table's column.
    #[error(transparent)]
    Table(crate::tables::TableError),
    /// The training configuration is unusable.
    #[error("configuration: {0}")]
    Config(String),
    /// Fitting failed.
    #[error("fitting failed: {0}")]
    Fit(String),
    /// Gradient boosting refused its configuration.
    #[error(transparent)]
    Boost(#[from] crate::boost::BoostError),
    /// Evaluation failed.
    #[error("evaluation failed: {0}")]
    Metrics(#[from] crate::evaluation::MetricsError),
    /// A LightGBM or XGBoost model could not be imported.
    #[error(transparent)]
    Import(#[from] crate::train::import::ImportError),
    /// The produced artifact did not validate.
    #[error(transparent)]
    Artifact(#[from] crate::error::LoadError),
}

impl TrainError {
    /// A data error from all row errors found (keeps the first ones, counts the rest).
    pub fn data(errors: Vec<RowError>) -> TrainError {
        crate::tables::TableError::data(errors).into()
    }
}

impl From<crate::tables::TableError> for TrainError {
    fn from(e: crate::tables::TableError) -> TrainError {
        match e {
            crate::tables::TableError::Data { errors, total } => TrainError::Data { errors, total },
            e => TrainError::Table(e),
        }
    }
}
