//! The hook points of the socket layer, as that layer names them: what a socket and its
//! namespace tell a watcher. The sockets of a namespace reach the hooks through its [`HookSlot`]
//! (one per server), and know nothing of who implements them: the public
//! [`Observer`](crate::Observer) (in `observer.rs`, above the socket layer) does, for any
//! observer. Unset, a hook point costs one atomic load (an empty [`OnceLock`]).
//!
//! `S` is the socket type: this file sits below the one that defines it.

use std::sync::{Arc, OnceLock};

use crate::adapter::SocketInfo;
use crate::engine::Sid;
use crate::event::DisconnectReason;
use crate::protocol::Payload;

/// What the socket layer reports (see [`crate::Observer`] for what each means).
pub(crate) trait SocketHooks<S>: Send + Sync {
    /// A socket connected (after the middlewares, before its connect handler).
    fn socket_connected(&self, socket: &S);
    /// A socket left its namespace.
    fn socket_disconnected(&self, socket: &S, reason: DisconnectReason);
    /// A socket received an event.
    fn event_received(&self, socket: &S, event: &str, payload: &Payload);
    /// An event was sent to local socket `sid` of namespace `nsp` by a direct emit.
    fn event_sent(&self, nsp: &str, sid: Sid, event: &str, payload: &Payload);
    /// A socket's data was replaced.
    fn data_changed(&self, socket: &S);
    /// Adds to a local socket's `fetch_sockets` description.
    fn describe(&self, socket: &S, info: &mut SocketInfo);
}

/// The hooks of one server, shared by its namespaces; set at most once.
pub(crate) struct HookSlot<S> {
    cell: OnceLock<Arc<dyn SocketHooks<S>>>,
}

impl<S> Default for HookSlot<S> {
    fn default() -> Self {
        HookSlot {
            cell: OnceLock::new(),
        }
    }
}

impl<S> HookSlot<S> {
    /// The hooks, if set (one atomic load).
    #[inline]
    pub(crate) fn get(&self) -> Option<&Arc<dyn SocketHooks<S>>> {
        self.cell.get()
    }

    /// Sets the hooks; `false` when they were set already.
    pub(crate) fn set(&self, hooks: Arc<dyn SocketHooks<S>>) -> bool {
        self.cell.set(hooks).is_ok()
    }
}
