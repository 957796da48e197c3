//! payrisk: payment-risk scoring for debt collections.
//!
//! A gRPC service scores overdue accounts (repayment probability, score, risk band, reason codes,
//! and a soft or firm treatment with the next action); an offline trainer builds the models it
//! serves. `ARCHITECTURE.md` has the bird's-eye view and the rules between layers; this is the
//! code map, from the inside out. Each layer may use the ones above it, never those below.
//!
//! **Domain** (no transport, no Polars, no serving runtime):
//! - [`domain`]: `Account`, its credit profile and payment history, their bounds, `Violation`.
//! - [`features`]: the feature engine, the one definition of every model input, shared by
//!   training and serving.
//! - [`model`]: the versioned artifact format and the serving form of each model kind.
//! - [`policy`]: the treatment policy file and `decide()`.
//! - [`scoring`]: the engine that runs features → model → policy → reason codes.
//! - [`evaluation`]: AUC, Gini, KS, Brier score, log loss, calibration error, decile tables.
//! - [`stability`]: training distributions (the artifact's baseline) and the population
//!   stability index of new data against them.
//! - [`stable_hash`]: account ids hashed into [0, 1) for splits and experiment arms.
//! - [`tables`]: the canonical tables (accounts, payment history, outcomes) from any reader's
//!   typed columns to validated accounts, with row-level errors.
//! - [`error`]: the load layer's error type.
//!
//! **Serving runtime** ([`serve`], no tonic or prost): the deployment and its one decision path,
//! hot reload, the model repository, drift, the audit log.
//!
//! **Edges**:
//! - [`grpc`]: the only module that names tonic or prost: handlers, conversion, the hand-written
//!   wire format, tower layers, metrics, the server wiring.
//! - `boost` (cargo feature `boost`, part of `train`): the gradient-boosting trainer.
//! - `train` (cargo feature `train`): Polars ingest and validation of training tables, fitting,
//!   evaluation reports, model import, the offline worklist, and the `payrisk-train` commands.
//!
//! Binaries in `src/bin/` are thin: `payrisk-server` and `payrisk-train` parse their command line
//! and make one library call per command.

#![warn(missing_docs)]

#[cfg(feature = "boost")]
pub mod boost;
pub mod domain;
pub mod error;
pub mod evaluation;
pub mod features;
pub mod grpc;
pub mod model;
pub mod policy;
pub mod scoring;
pub mod serve;
pub mod stability;
pub mod stable_hash;
pub mod tables;
#[cfg(feature = "train")]
pub mod train;
