//! Compiles `proto/payrisk/v1/*.proto` with the pure-Rust `protox` compiler (no system `protoc`)
//! and generates the tonic client and server code plus the encoded descriptor set used by
//! server reflection.

use std::path::PathBuf;

use prost::Message as _;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protos = ["proto/payrisk/v1/scoring.proto"];
    println!("cargo:rerun-if-changed=proto");

    let fds = protox::compile(protos, ["proto"])?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out_dir.join("payrisk_descriptor.bin"), fds.encode_to_vec())?;

    // Messages and clients. Messages are decoded from one slice (`src/grpc/wire/codec.rs`).
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(false)
        .codec_path("crate::grpc::wire::codec::SliceCodec")
        // A shadow decision is rare and large (288 bytes): boxed, it leaves a `ScoreResponse`
        // at 400 bytes instead of 680.
        .boxed(".payrisk.v1.ScoreResponse.shadow")
        .compile_fds(fds.clone())?;

    // The servers, on the messages above, except that `ScoreBatch` and `ScoreStream` reply with
    // `ScoreBatchResponse` bodies the service encodes itself (`src/grpc/wire/encode.rs`): building
    // prost messages per account (a dozen owned strings) and encoding them was about a quarter
    // of a streamed account's cost.
    let server_dir = out_dir.join("server");
    std::fs::create_dir_all(&server_dir)?;
    tonic_prost_build::configure()
        .build_client(false)
        .build_server(true)
        .out_dir(&server_dir)
        .codec_path("crate::grpc::wire::codec::SliceCodec")
        .extern_path(".payrisk.v1", "crate::grpc::proto::v1")
        .extern_path(
            ".payrisk.v1.ScoreBatchResponse",
            "crate::grpc::wire::encode::BatchReply",
        )
        .compile_fds(fds)?;
    Ok(())
}
