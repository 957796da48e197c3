//! The integration tests, one module per surface, in one test binary (one link of the crate and
//! of Polars instead of one per file). Shared helpers live in [`common`].
//!
//! Modules gated on `train` need `--features train` (the README's test command passes
//! `--all-features`).

mod common;

mod audit;
mod auth;
mod gbdt_model;
mod grpc_api;
mod hostile;
#[cfg(feature = "train")]
mod import_models;
mod layers;
mod metrics;
mod operations;
mod outcomes_loop;
mod overload;
mod properties;
mod readme;
mod reload;
mod strategy;
mod synthetic;
mod tls;
mod train_heavy_tails;
mod train_monthly;
mod train_out_of_time;
mod train_uci;
mod train_validation;
mod transport;
mod uplift;
