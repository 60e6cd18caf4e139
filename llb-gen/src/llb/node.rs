//! Serialized ops and the edges between them.
//!
//! An op is encoded and digested once, when it is built: its inputs are
//! already final, so its bytes can never change afterwards. Marshalling a
//! graph is then only a walk that collects bytes.

use super::{Digest, OpMeta};
use crate::proto::pb;
use prost::Message;
use std::fmt;
use std::sync::Arc;

/// One encoded op plus what marshalling needs to know about it.
pub(crate) struct Node {
    /// The exact bytes placed in `Definition.def`.
    pub(crate) bytes: Vec<u8>,
    /// `sha256:` of `bytes`.
    pub(crate) digest: Digest,
    /// The ops it consumes, in `Op.inputs` order.
    pub(crate) inputs: Vec<Output>,
    /// Metadata placed in `Definition.metadata`.
    pub(crate) meta: OpMeta,
}

impl Node {
    /// Fills `op.inputs` from `inputs`, encodes and digests the op.
    pub(crate) fn new(mut op: pb::Op, inputs: Vec<Output>, meta: OpMeta) -> Arc<Node> {
        op.inputs = inputs.iter().map(Output::to_pb).collect();
        let bytes = op.encode_to_vec();
        let digest = Digest::of(&bytes);
        Arc::new(Node {
            bytes,
            digest,
            inputs,
            meta,
        })
    }
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Op({})", self.digest)
    }
}

impl Drop for Node {
    // Long chains of ops would otherwise be dropped recursively, one stack
    // frame per op; unlink them iteratively instead.
    fn drop(&mut self) {
        let mut stack = std::mem::take(&mut self.inputs);
        while let Some(out) = stack.pop() {
            if let Ok(mut node) = Arc::try_unwrap(out.node) {
                stack.append(&mut node.inputs);
            }
        }
    }
}

/// One output of one op: what a state, mount or copy refers to.
#[derive(Clone)]
pub struct Output {
    pub(crate) node: Arc<Node>,
    pub(crate) index: i64,
}

impl Output {
    /// Digest of the op producing this output.
    pub fn digest(&self) -> &Digest {
        &self.node.digest
    }

    /// Which output of that op (0 for sources and file ops).
    pub fn index(&self) -> i64 {
        self.index
    }

    pub(crate) fn to_pb(&self) -> pb::Input {
        pb::Input {
            digest: self.node.digest.to_string(),
            index: self.index,
        }
    }
}

impl PartialEq for Output {
    fn eq(&self, other: &Self) -> bool {
        self.index == other.index && self.node.digest == other.node.digest
    }
}

impl Eq for Output {}

impl fmt::Debug for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}]", self.node.digest, self.index)
    }
}

/// Collects an op's inputs, giving each distinct output one index.
#[derive(Default)]
pub(crate) struct InputSet {
    pub(crate) inputs: Vec<Output>,
}

impl InputSet {
    /// Index of `out` in the op's inputs, adding it if new; `-1` (no input)
    /// for scratch.
    pub(crate) fn add(&mut self, out: Option<&Output>) -> i64 {
        let Some(out) = out else { return -1 };
        let pos = match self.inputs.iter().position(|o| o == out) {
            Some(i) => i,
            None => {
                self.inputs.push(out.clone());
                self.inputs.len() - 1
            }
        };
        index_i64(pos)
    }

    pub(crate) fn len(&self) -> i64 {
        index_i64(self.inputs.len())
    }
}

/// Converts a collection index to the protobuf's `int64` (saturating; real
/// graphs are nowhere near the limit).
pub(crate) fn index_i64(i: usize) -> i64 {
    i64::try_from(i).unwrap_or(i64::MAX)
}
