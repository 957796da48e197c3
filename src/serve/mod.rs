//! The serving runtime, free of any transport: what serves, how it decides, and what it keeps.
//!
//! - [`deployment`]: the champion engine and an experiment's challenger, with counts per arm.
//! - [`decisions`]: the one decision path ([`Deployment::decide`], [`Deployment::decide_many`])
//!   and the per-account decision types replies, audit records and metrics are written from.
//! - [`live`]: hot reload: the serving deployment behind an atomic pointer, reload history.
//! - [`repository`]: the model repository layout `<name>/<version>/model.json`, read (latest
//!   valid version) and written (new versions, never overwritten by accident).
//! - [`drift`]: live PSI of the inputs and the score over a sliding window of scored accounts.
//! - [`audit`]: the decision log (JSON Lines, rotated; durable or async).
//! - [`worklist`]: a portfolio decided on threads and ranked in the collectors' order (what
//!   `payrisk-train score` writes and the Python package returns).
//!
//! Nothing here names tonic or prost: the gRPC edge (`crate::grpc`), the offline worklist
//! (`crate::train::worklist`) and the Python package all call in.

pub mod audit;
pub mod decisions;
pub mod deployment;
pub mod drift;
pub mod live;
pub mod repository;
pub mod worklist;

pub use deployment::Deployment;

/// The shipped model repository, relative to the working directory (the repository root),
/// whose latest valid version serves (version 2, gradient-boosted trees, which beats the
/// logistic version 1 on held-out AUC).
pub const DEFAULT_MODEL_REPOSITORY: &str = "models/uci-credit";
/// The default model's artifact file.
pub const DEFAULT_MODEL: &str = "models/uci-credit/2/model.json";
/// The shipped logistic model, still available with `--model`.
pub const LOGISTIC_MODEL: &str = "models/uci-credit/1/model.json";
/// The shipped treatment policy.
pub const DEFAULT_POLICY: &str = "models/policy.toml";
