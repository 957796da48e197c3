//! The bytes of the gRPC messages that carry batches, written and read by hand where prost's way
//! measured too dear, and the codec that chooses between the two.
//!
//! - [`codec`]: the gRPC codec: prost or pre-encoded replies, messages decoded from one slice.
//! - [`decode`]: `ScoreBatchRequest` read by hand, in agreement with prost.
//! - [`encode`]: `ScoreBatchResponse` written by hand from the decisions.
//! - [`limits`]: counts of repeated fields, refused before either decoder allocates.
//!
//! The contract, byte for byte: [`encode::BatchReply::encode`] of a batch writes exactly the
//! bytes prost writes for `grpc::convert::batch_response` of the same batch (fields in tag
//! order, proto3 defaults left out, the same varint and length prefixes), and
//! [`decode::score_batch_request`] accepts exactly what prost accepts and yields the same
//! message. The codec runs [`limits`] before either decoder, so the limits apply alike. `tests/it/properties.rs` holds both to prost on random batches, and the fuzz target
//! `score_batch` does the same on arbitrary bytes.

pub mod codec;
pub mod decode;
pub mod encode;
pub mod limits;
