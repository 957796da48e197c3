//! Generated gRPC code for `payrisk.v1` (clients, servers) and its encoded descriptor set.

#![allow(missing_docs, clippy::all, clippy::pedantic)]

/// `payrisk.v1`: messages and clients (`scoring_service_client`, `admin_service_client`).
pub mod v1 {
    tonic::include_proto!("payrisk.v1");
}

/// The `payrisk.v1` servers (`scoring_service_server`, `admin_service_server`), on the messages
/// of [`v1`] except `ScoreBatchResponse`, which the service encodes itself
/// ([`crate::grpc::wire::encode::BatchReply`]).
pub mod server {
    include!(concat!(env!("OUT_DIR"), "/server/payrisk.v1.rs"));
}

/// The encoded `FileDescriptorSet` of the payrisk protos, served by reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/payrisk_descriptor.bin"));
