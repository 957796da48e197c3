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

    // The server and client decode messages from one slice (`src/service/codec.rs`).
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .codec_path("crate::service::codec::SliceCodec")
        // A shadow decision is rare and large (288 bytes): boxed, it leaves a `ScoreResponse`
        // at 400 bytes instead of 680, which batch replies move and copy per account.
        .boxed(".payrisk.v1.ScoreResponse.shadow")
        .compile_fds(fds)?;
    Ok(())
}
