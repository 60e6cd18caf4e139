//! Generated BuildKit wire types (prost messages) and the `LLBBridge` gRPC
//! client.
//!
//! The `.proto` sources live in `llb-gen/proto/`; they are Cachet's own,
//! wire-compatible restatement of the BuildKit v0.8 protocol (newer fields are
//! marked with the version that added them). Code is generated at build time
//! by `tonic-prost-build` from a descriptor set produced by `protox`, so no
//! system `protoc` is needed.
//!
//! Every protobuf `map` is generated as a [`std::collections::BTreeMap`], which
//! keeps encoding deterministic: LLB op digests are hashes of encoded bytes.
//!
//! Only a gRPC *client* is generated, generic over any
//! `tonic::client::GrpcService`, so this crate does not depend on tonic's
//! `transport` feature.
//!
//! The generated code refers across packages with relative paths, so the
//! module tree mirrors the protobuf package names (`moby::buildkit::v1::…`);
//! the short aliases below ([`gateway`], [`apicaps`], [`types`], [`stat`],
//! [`rpc`]) are the intended way in.

#![allow(clippy::all, clippy::pedantic)]

/// LLB: ops, mounts, file actions and `Definition` (protobuf package `pb`).
pub mod pb {
    include!(concat!(env!("OUT_DIR"), "/pb.rs"));
}

/// Error details a frontend attaches to a returned error (package `errdefs`).
pub mod errdefs {
    include!(concat!(env!("OUT_DIR"), "/errdefs.rs"));
}

/// Protobuf packages under `moby.*`.
pub mod moby {
    /// Protobuf packages under `moby.buildkit`.
    pub mod buildkit {
        /// Protobuf packages under `moby.buildkit.v1`.
        pub mod v1 {
            /// The gateway API a frontend calls (package
            /// `moby.buildkit.v1.frontend`), including
            /// [`LlbBridgeClient`](crate::proto::gateway::llb_bridge_client::LlbBridgeClient).
            pub mod frontend {
                include!(concat!(env!("OUT_DIR"), "/moby.buildkit.v1.frontend.rs"));
            }
            /// Capability records returned by `Ping` (package
            /// `moby.buildkit.v1.apicaps`).
            pub mod apicaps {
                include!(concat!(env!("OUT_DIR"), "/moby.buildkit.v1.apicaps.rs"));
            }
            /// Worker records returned by `Ping` (package
            /// `moby.buildkit.v1.types`).
            pub mod types {
                include!(concat!(env!("OUT_DIR"), "/moby.buildkit.v1.types.rs"));
            }
        }
    }
}

/// Protobuf packages under `fsutil.*`.
pub mod fsutil {
    /// File metadata returned by `ReadDir`/`StatFile` (package
    /// `fsutil.types`).
    pub mod types {
        include!(concat!(env!("OUT_DIR"), "/fsutil.types.rs"));
    }
}

/// Protobuf packages under `google.*` (well-known types come from
/// `prost_types`).
pub mod google {
    /// `google.rpc.Status`, used to return an error to BuildKit.
    pub mod rpc {
        include!(concat!(env!("OUT_DIR"), "/google.rpc.rs"));
    }
}

pub use fsutil::types as stat;
pub use google::rpc;
pub use moby::buildkit::v1::apicaps;
pub use moby::buildkit::v1::frontend as gateway;
pub use moby::buildkit::v1::types;

/// The fully qualified gRPC service name of the gateway bridge; method paths
/// are `/<SERVICE>/<Method>`.
pub const LLB_BRIDGE_SERVICE: &str = "moby.buildkit.v1.frontend.LLBBridge";

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn message_names_match_upstream_packages() {
        // Type URLs in `Any` and gRPC paths depend on these package names.
        assert_eq!(
            <pb::Definition as prost::Name>::full_name(),
            "pb.Definition"
        );
        assert_eq!(
            <gateway::SolveRequest as prost::Name>::full_name(),
            "moby.buildkit.v1.frontend.SolveRequest"
        );
        assert_eq!(
            <apicaps::ApiCap as prost::Name>::full_name(),
            "moby.buildkit.v1.apicaps.APICap"
        );
        assert_eq!(
            <types::WorkerRecord as prost::Name>::full_name(),
            "moby.buildkit.v1.types.WorkerRecord"
        );
        assert_eq!(
            <stat::Stat as prost::Name>::full_name(),
            "fsutil.types.Stat"
        );
        assert_eq!(
            <rpc::Status as prost::Name>::full_name(),
            "google.rpc.Status"
        );
    }

    #[test]
    fn mount_sentinels_survive_a_round_trip() {
        let m = pb::Mount {
            input: -1,
            output: -1,
            dest: "/cache".into(),
            mount_type: pb::MountType::Cache as i32,
            ..Default::default()
        };
        let bytes = m.encode_to_vec();
        let back = pb::Mount::decode(bytes.as_slice()).expect("decode");
        assert_eq!(back, m);
        assert_eq!(back.input, -1);
        assert_eq!(back.output, -1);
    }
}
