//! Generated gRPC code for `payrisk.v1` (client and server) and its encoded descriptor set.

#![allow(missing_docs, clippy::all, clippy::pedantic)]

/// `payrisk.v1`: messages, `scoring_service_client` and `scoring_service_server`.
pub mod v1 {
    tonic::include_proto!("payrisk.v1");
}

/// The encoded `FileDescriptorSet` of the payrisk protos, served by reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/payrisk_descriptor.bin"));
