//! Who may change the local rooms index: [`LocalAdapterBuilder::build`] hands out the one
//! [`SocketRegistry`] of a new [`LocalAdapter`], and the server keeps it. Everyone else (a
//! handler through `adapter().local()`, a cluster adapter) sees the index through
//! [`LocalAdapter`], whose changes go by selector ([`LocalAdapter::add_sockets_local`], ...), so
//! no caller can register a socket or move one between rooms behind the server's back.

use std::sync::Arc;

use super::recovery::RecoveryConfig;
use super::{IndexObserver, JoinError, LocalAdapter, LocalSocket, Room};
use crate::engine::Sid;
use crate::protocol::ParserKind;

/// Builds a [`LocalAdapter`] and the [`SocketRegistry`] that alone registers its sockets.
#[derive(Debug, Clone)]
pub struct LocalAdapterBuilder {
    nsp: String,
    parser: ParserKind,
    max_rooms_per_socket: usize,
    max_room_name_len: usize,
    recovery: Option<RecoveryConfig>,
}

impl LocalAdapterBuilder {
    /// An index for namespace `nsp` encoding packets with `parser`; no room limits and no
    /// recovery unless set.
    #[must_use]
    pub fn new(nsp: impl Into<String>, parser: ParserKind) -> Self {
        LocalAdapterBuilder {
            nsp: nsp.into(),
            parser,
            max_rooms_per_socket: usize::MAX,
            max_room_name_len: usize::MAX,
            recovery: None,
        }
    }

    /// The most rooms a socket joins (its own id not counted); further joins are refused and
    /// logged. Default: unlimited.
    #[must_use]
    pub fn max_rooms_per_socket(mut self, max: usize) -> Self {
        self.max_rooms_per_socket = max;
        self
    }

    /// The longest room name accepted, in bytes; longer ones are refused and logged. Default:
    /// unlimited.
    #[must_use]
    pub fn max_room_name_len(mut self, max: usize) -> Self {
        self.max_room_name_len = max;
        self
    }

    /// Connection state recovery: with it, broadcasts carry offsets and are logged for replay.
    /// Default: off.
    #[must_use]
    pub fn recovery(mut self, recovery: Option<RecoveryConfig>) -> Self {
        self.recovery = recovery;
        self
    }

    /// The adapter, and the one registry of its sockets.
    #[must_use]
    pub fn build(self) -> (LocalAdapter, SocketRegistry) {
        let local = LocalAdapter::with_room_limits(
            self.nsp,
            self.parser,
            self.max_rooms_per_socket,
            self.max_room_name_len,
        )
        .with_recovery(self.recovery);
        (local.clone(), SocketRegistry { local })
    }
}

/// Registers a node's sockets in its [`LocalAdapter`] and moves them between rooms. Held by the
/// server, which calls it as sockets connect, join, leave and disconnect.
#[derive(Debug, Clone)]
pub struct SocketRegistry {
    local: LocalAdapter,
}

impl SocketRegistry {
    /// Registers a connected socket.
    pub fn insert(&self, socket: Arc<dyn LocalSocket>) {
        self.local.insert(socket);
    }

    /// Unregisters a socket and removes it from every room; returns it if it was registered.
    pub fn remove(&self, sid: Sid) -> Option<Arc<dyn LocalSocket>> {
        self.local.remove(sid)
    }

    /// Adds a socket to rooms; those beyond the limits are refused (the first refusal is
    /// returned, after every room that fits was joined).
    ///
    /// # Errors
    /// The first [`JoinError`] met.
    pub fn join<I: IntoIterator<Item = Room>>(&self, sid: Sid, rooms: I) -> Result<(), JoinError> {
        self.local.add_all(sid, rooms)
    }

    /// Removes a socket from a room.
    pub fn leave(&self, sid: Sid, room: &str) {
        self.local.del(sid, room);
    }

    /// Reports joins, leaves and broadcast deliveries of this index to `hooks` (replacing any
    /// previous hooks).
    pub fn observe_index(&self, hooks: Arc<dyn IndexObserver>) {
        self.local.observe_index(hooks);
    }
}
