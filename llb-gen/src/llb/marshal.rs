//! Turning a [`State`] into a `pb::Definition`, and reading one back.

use super::node::Node;
use super::{Digest, LlbError, OpMeta, Result, State};
use crate::proto::pb;
use prost::Message;
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

/// Graph-wide options applied while marshalling.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MarshalOptions {
    /// Mark every op `ignore_cache` (e.g. for a `no-cache` build).
    pub ignore_cache: bool,
}

impl State {
    /// Serializes the graph ending at this state.
    ///
    /// Ops appear depth first, each input before the ops using it, each
    /// distinct op (by digest) once, followed by the terminal op
    /// `Op{inputs: [this state]}`. Metadata is keyed by `sha256:` digest.
    /// Scratch gives an empty Definition (an empty result for BuildKit).
    pub fn marshal(&self) -> pb::Definition {
        self.marshal_with(&MarshalOptions::default())
    }

    /// [`State::marshal`] with options.
    pub fn marshal_with(&self, opts: &MarshalOptions) -> pb::Definition {
        let Some(out) = self.output() else {
            return pb::Definition::default();
        };

        let mut def = Vec::new();
        // Metadata per distinct digest, borrowed until two ops share one.
        let mut metas: Vec<(&str, Cow<'_, OpMeta>)> = Vec::new();
        let mut by_digest: HashMap<&str, usize> = HashMap::new();
        let mut visited: HashSet<*const Node> = HashSet::new();

        // Iterative post-order walk: (node, next input to visit).
        let mut stack: Vec<(&Arc<Node>, usize)> = vec![(&out.node, 0)];
        visited.insert(Arc::as_ptr(&out.node));
        while let Some((node, next)) = stack.pop() {
            if let Some(input) = node.inputs.get(next) {
                stack.push((node, next + 1));
                if visited.insert(Arc::as_ptr(&input.node)) {
                    stack.push((&input.node, 0));
                }
                continue;
            }
            let key = node.digest.as_str();
            match by_digest.get(key) {
                // An identical op built separately: emit once, merge metadata.
                Some(&i) => metas[i].1.to_mut().merge(&node.meta),
                None => {
                    by_digest.insert(key, metas.len());
                    metas.push((key, Cow::Borrowed(&node.meta)));
                    def.push(node.bytes.clone());
                }
            }
        }

        let mut terminal_meta = OpMeta::default();
        terminal_meta.add_cap("constraints");
        terminal_meta.add_cap("platform");
        let mut metadata: BTreeMap<String, pb::OpMetadata> = BTreeMap::new();
        for (key, m) in &metas {
            let mut md = m.to_pb();
            md.ignore_cache |= opts.ignore_cache;
            if md.ignore_cache {
                terminal_meta.add_cap("meta.ignorecache");
            }
            if !md.description.is_empty() {
                terminal_meta.add_cap("meta.description");
            }
            if md.export_cache.is_some() {
                terminal_meta.add_cap("meta.exportcache");
            }
            metadata.insert((*key).to_owned(), md);
        }
        let terminal = pb::Op {
            inputs: vec![out.to_pb()],
            ..Default::default()
        }
        .encode_to_vec();
        let terminal_digest = Digest::of(&terminal);
        def.push(terminal);
        // A terminal op's bytes cannot collide with a real op's (it has no
        // body), so this entry is always new.
        metadata.insert(terminal_digest.into_string(), terminal_meta.to_pb());

        pb::Definition {
            def,
            metadata,
            source: None,
        }
    }
}

/// Encodes a Definition to the bytes `buildctl build` reads on stdin.
pub fn definition_bytes(def: &pb::Definition) -> Vec<u8> {
    def.encode_to_vec()
}

/// Decodes Definition bytes.
pub fn decode_definition(bytes: &[u8]) -> Result<pb::Definition> {
    pb::Definition::decode(bytes).map_err(|e| LlbError::Decode(e.to_string()))
}

/// Decodes every op of a Definition, with its digest, in order.
pub fn decode_ops(def: &pb::Definition) -> Result<Vec<(Digest, pb::Op)>> {
    def.def
        .iter()
        .map(|bytes| {
            let op =
                pb::Op::decode(bytes.as_slice()).map_err(|e| LlbError::Decode(e.to_string()))?;
            Ok((Digest::of(bytes), op))
        })
        .collect()
}
