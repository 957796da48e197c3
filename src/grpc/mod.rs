//! The gRPC edge: the only folder that names tonic or prost.
//!
//! - [`server`]: configuration and wiring (health, reflection, limits, tracing, graceful
//!   shutdown).
//! - [`scoring`]: the `ScoringService` handlers; [`admin`]: the `AdminService` (hot reload).
//! - [`convert`]: proto ↔ domain, with field-level validation; [`status`]: violations as
//!   `INVALID_ARGUMENT` with `google.rpc.BadRequest`.
//! - [`wire`]: the hand-written batch encoder and decoder and the codec, held to prost byte for
//!   byte.
//! - [`layers`]: auth, overload, connection, TLS and the call layer they share.
//! - [`metrics`]: the Prometheus registry, its call layer and the `/metrics` endpoint.
//! - [`proto`]: the generated code (generated into this folder's paths only).

pub mod admin;
pub mod convert;
pub mod layers;
pub mod metrics;
pub mod proto;
pub mod scoring;
pub mod server;
pub mod status;
pub mod wire;
