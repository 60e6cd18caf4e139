//! The op digests BuildKit itself uses for a definition: what its progress output, build
//! history and `docker buildx history` show for each step.
//!
//! BuildKit does not keep the digests a client computed. Loading a definition
//! (`solver/llbsolver/vertex.go`, `loadLLB` and `recomputeDigests`, v0.33) decodes every op
//! and marshals it again with its own Go encoder before digesting it, inputs first. That
//! encoder writes an `Op`'s `oneof` (the exec, source or file body, fields 2–4) after its
//! other fields, so `platform` (10) and `constraints` (11) come before the body, where
//! protobuf field order (and so our encoder, and every digest the LLB builder computes) puts
//! them after. Every op with a platform therefore gets another digest from BuildKit, and so
//! does every op that depends on one. [`buildkit_digests`] repeats that computation, so an
//! explanation can name each step by the digest the user sees.
//!
//! Nested messages are encoded in field order by both sides (a `FileAction`'s oneof already
//! follows its other fields), so only the top level of each op is reordered. Not modelled: a
//! daemon configured to proxy the network of execs appends a marker to their bytes before
//! digesting (`buildkit.proxy-network.v0`); such a daemon's digests differ again.

use std::collections::BTreeMap;

use prost::Message;

use crate::llb::Digest;
use crate::proto::pb;

/// Our digest of every op of `definition` (and of its terminal op) → BuildKit's. Ops whose
/// bytes BuildKit would not change map to themselves.
pub fn buildkit_digests(definition: &pb::Definition) -> Result<BTreeMap<String, String>, String> {
    let mut map: BTreeMap<String, String> = BTreeMap::new();
    // The builder emits every op after its inputs (see `State::marshal`); an input not seen
    // yet keeps its digest.
    for bytes in &definition.def {
        let mut op = pb::Op::decode(bytes.as_slice())
            .map_err(|e| format!("cannot decode an op of the definition: {e}"))?;
        for input in &mut op.inputs {
            if let Some(new) = map.get(&input.digest) {
                input.digest = new.clone();
            }
        }
        let ours = Digest::of(bytes).to_string();
        let theirs = Digest::of(&go_order(&op)).to_string();
        map.insert(ours, theirs);
    }
    Ok(map)
}

/// `op` as BuildKit's Go encoder writes it: inputs, platform, constraints, then the body.
fn go_order(op: &pb::Op) -> Vec<u8> {
    let mut buf = Vec::with_capacity(op.encoded_len());
    for input in &op.inputs {
        prost::encoding::message::encode(1, input, &mut buf);
    }
    if let Some(platform) = &op.platform {
        prost::encoding::message::encode(10, platform, &mut buf);
    }
    if let Some(constraints) = &op.constraints {
        prost::encoding::message::encode(11, constraints, &mut buf);
    }
    if let Some(body) = &op.op {
        body.encode(&mut buf);
    }
    buf
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llb::sample;

    #[test]
    fn an_op_without_platform_keeps_its_digest() {
        let op = pb::Op {
            inputs: vec![pb::Input {
                digest: "sha256:00".into(),
                index: 0,
            }],
            ..Default::default()
        };
        let definition = pb::Definition {
            def: vec![op.encode_to_vec()],
            ..Default::default()
        };
        let map = buildkit_digests(&definition).unwrap();
        let ours = Digest::of(&op.encode_to_vec()).to_string();
        assert_eq!(map[&ours], ours);
    }

    #[test]
    fn platform_and_constraints_move_before_the_body_and_inputs_follow() {
        let definition = sample::sample(Some(crate::llb::Platform::linux_amd64()))
            .unwrap()
            .marshal();
        let map = buildkit_digests(&definition).unwrap();
        assert_eq!(map.len(), definition.def.len());
        let mut moved = 0;
        for bytes in &definition.def {
            let op = pb::Op::decode(bytes.as_slice()).unwrap();
            let ours = Digest::of(bytes).to_string();
            if op.platform.is_some() {
                assert_ne!(map[&ours], ours, "{op:?}");
                moved += 1;
            }
            // The bytes are the same fields: only their order differs.
            let reordered = go_order(&op);
            assert_eq!(reordered.len(), bytes.len());
            assert_eq!(pb::Op::decode(reordered.as_slice()).unwrap(), op);
        }
        assert!(moved > 0);
        // The terminal op has no platform but an input that moved.
        let terminal = definition.def.last().unwrap();
        let ours = Digest::of(terminal).to_string();
        assert_ne!(map[&ours], ours);
    }

    /// Digests BuildKit v0.33's Go encoder gave for two ops (checked once with a Go program
    /// that unmarshals and marshals them with `github.com/moby/buildkit/solver/pb`).
    #[test]
    fn matches_buildkit_for_an_image_source() {
        let op = pb::Op {
            op: Some(pb::op::Op::Source(pb::SourceOp {
                identifier: "docker-image://docker.io/library/cachet-sdk:rustup@sha256:25b7479c19ef2db50c6bac015a13feda14f4d6fd5cb1d61c9432ae11ab459e6e".into(),
                ..Default::default()
            })),
            platform: Some(pb::Platform {
                architecture: "amd64".into(),
                os: "linux".into(),
                ..Default::default()
            }),
            constraints: Some(Default::default()),
            ..Default::default()
        };
        let definition = pb::Definition {
            def: vec![op.encode_to_vec()],
            ..Default::default()
        };
        let map = buildkit_digests(&definition).unwrap();
        let ours = Digest::of(&op.encode_to_vec()).to_string();
        assert!(ours.starts_with("sha256:56378fe81ec1"), "{ours}");
        assert!(
            map[&ours].starts_with("sha256:cf7c82910523"),
            "{}",
            map[&ours]
        );
    }
}
