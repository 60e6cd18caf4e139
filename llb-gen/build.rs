//! Compiles Cachet's own BuildKit `.proto` files into Rust at build time.
//!
//! `protox` parses the protos in pure Rust (no system `protoc`), and
//! `tonic-prost-build` turns the descriptor set into prost messages plus a
//! transport-agnostic `LLBBridge` gRPC client.

use std::error::Error;

const PROTOS: &[&str] = &[
    "proto/pb/ops.proto",
    "proto/gateway/gateway.proto",
    "proto/apicaps/caps.proto",
    "proto/types/worker.proto",
    "proto/fsutil/stat.proto",
    "proto/google/rpc/status.proto",
    "proto/errdefs/errdefs.proto",
];

fn main() -> Result<(), Box<dyn Error>> {
    println!("cargo:rerun-if-changed=proto");
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={proto}");
    }

    let fds = protox::compile(PROTOS, ["proto"])?;

    // `prost::Name` impls give every message its fully qualified protobuf
    // name (used for `Any` type URLs and checked in tests).
    let mut config = tonic_prost_build::Config::new();
    config.enable_type_names();

    tonic_prost_build::configure()
        // Every map becomes a BTreeMap so encoding is deterministic (op
        // digests are hashes of the encoded bytes).
        .btree_map(".")
        .build_client(true)
        .build_server(false)
        // The generated client stays generic over any `GrpcService`; the
        // frontend supplies its own stdio connection.
        .build_transport(false)
        .compile_fds_with_config(fds, config)?;
    Ok(())
}
