//! Where the owners of sessions live: the one question session forwarding asks the cluster.

use super::sid::NodeTag;

/// Where the owners of sessions live, by tag: fed by the cluster's membership (for instance the
/// Redis adapter's heartbeats).
pub trait OwnerDirectory: Send + Sync + 'static {
    /// The HTTP address (`host:port`) of the live node that announced `tag`, or `None` when no
    /// live node did.
    fn locate(&self, tag: NodeTag) -> Option<String>;
}
