//! The tower layers around the gRPC services and the transport settings beneath them.
//!
//! - `call`: the layer shape the metrics, auth and shedding layers share.
//! - `body`: response bodies with a rider (call records, in-flight places).
//! - [`auth`]: authentication of scoring and admin calls (bearer tokens, client certificates).
//! - `overload`: load shedding of scoring calls over the in-flight limit.
//! - `deadline`: calls past their deadline end with `DEADLINE_EXCEEDED`.
//! - `intake`: request messages checked against the size cap as they begin, and request bytes in
//!   flight bounded across all calls.
//! - [`connection`]: accepted connections, presented to HTTP/2 so that small replies leave in
//!   one write.
//! - [`tls`]: TLS and mutual TLS settings, loaded and checked from PEM files.

pub mod auth;
pub(crate) mod body;
pub(crate) mod call;
pub mod connection;
pub(crate) mod deadline;
pub(crate) mod intake;
pub(crate) mod overload;
pub mod tls;
