//! Where an op may run: target platform and worker filters.

use super::Platform;
use crate::proto::pb;

/// Placement constraints of one op.
///
/// The platform of exec and file ops defaults to the platform of the state
/// they build on; image sources carry the platform they were pulled for.
/// With no platform at all the daemon's default is used.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Constraints {
    /// Target platform, or `None` for "inherit / daemon default".
    pub platform: Option<Platform>,
    /// containerd-style worker filter expressions.
    pub worker_filters: Vec<String>,
}

impl Constraints {
    /// Fills the `platform` and `constraints` fields of an op.
    ///
    /// Like BuildKit's Go client, every op gets a (possibly empty)
    /// `constraints` message.
    pub(crate) fn apply(&self, op: &mut pb::Op, platform: Option<&Platform>) {
        op.platform = self.platform.as_ref().or(platform).map(Platform::to_pb);
        op.constraints = Some(pb::WorkerConstraints {
            filter: self.worker_filters.clone(),
        });
    }
}
