//! payrisk: payment-risk scoring for debt collections.
//!
//! A gRPC service scores overdue accounts (repayment probability, score, risk band, reason codes,
//! and a soft or firm treatment with the next action); an offline trainer builds the models it
//! serves. `ARCHITECTURE.md` has the bird's-eye view; this is the code map.
//!
//! Domain core (no gRPC, no Polars):
//! - [`domain`]: `Account`, its credit profile and payment history, and their bounds.
//! - [`features`]: the feature engine, the one definition of every model input, shared by
//!   training and serving.
//! - [`model`]: the versioned artifact format and the serving form of each model kind.
//! - [`policy`]: the treatment policy file and `decide()`.
//! - [`scoring`]: the engine that runs features → model → policy → reason codes.
//! - [`deployment`]: the champion engine and an experiment's challenger, with counts per arm.
//! - [`live`]: hot reload: the serving deployment behind an atomic pointer, model repositories
//!   (latest valid version), reload history.
//! - [`metrics`]: Prometheus metrics: the registry, the gRPC call layer, the `/metrics` endpoint.
//! - [`evaluation`]: AUC, Gini, KS, Brier score, log loss, calibration error, decile tables.
//! - [`stability`]: training distributions (the artifact's baseline) and the population
//!   stability index of new data against them.
//! - [`drift`]: live PSI of the inputs and the score over a sliding window of scored accounts.
//! - [`stable_hash`]: account ids hashed into [0, 1) for splits and experiment arms.
//! - [`error`]: the load layer's error type.
//! - [`huge_pages`]: large read-mostly tables (TreeSHAP's cell tables) on huge pages.
//!
//! Edges:
//! - [`proto`]: generated gRPC types.
//! - [`connection`]: accepted connections, presented to HTTP/2 so that small replies leave in
//!   one write.
//! - [`call_layer`]: the tower layer shape shared by the metrics, auth and shedding layers.
//! - [`auth`]: authentication of scoring and admin calls (bearer tokens, client certificates).
//! - [`tls`]: TLS and mutual TLS settings, loaded and checked from PEM files.
//! - [`watched_body`]: response bodies with a rider (call records, in-flight places).
//! - [`overload`]: load shedding of scoring calls over the in-flight limit.
//! - [`audit`]: the decision log (JSON Lines, rotated; durable or async).
//! - [`service`]: the tonic service: request conversion and validation, handlers, status errors.
//! - [`server`]: configuration and wiring (health, reflection, limits, tracing, graceful
//!   shutdown).
//! - `boost` (cargo feature `boost`, part of `train`): the gradient-boosting trainer.
//! - `train` (cargo feature `train`): Polars ingest and validation of training tables, the UCI
//!   converter, fitting and the `payrisk-train` command.
//!
//! Binaries in `src/bin/` are thin: `payrisk-server` and `payrisk-train`.

#![warn(missing_docs)]

pub mod audit;
pub mod auth;
#[cfg(feature = "boost")]
pub mod boost;
pub mod call_layer;
pub mod connection;
pub mod deployment;
pub mod domain;
pub mod drift;
pub mod error;
pub mod evaluation;
pub mod features;
pub mod huge_pages;
pub mod live;
pub mod metrics;
pub mod model;
pub mod overload;
pub mod policy;
pub mod proto;
pub mod scoring;
pub mod server;
pub mod service;
pub mod stability;
pub mod stable_hash;
pub mod tls;
#[cfg(feature = "train")]
pub mod train;
pub mod watched_body;
