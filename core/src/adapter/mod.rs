//! The cluster adapter: every operation that may concern sockets on other nodes goes through an
//! [`Adapter`]. [`LocalAdapter`] is the in-memory, single-node implementation and the reference
//! semantics; cluster adapters (Redis, ...) wrap it for the local part and add the messaging.
//!
//! Membership is local: each node indexes its own sockets' rooms. Operations by selector
//! (broadcast, join/leave/disconnect by rooms, fetch) apply to local matches and, in a cluster,
//! are published for the other nodes to apply to theirs. Requests that wait for other nodes
//! return what arrived and name the nodes that did not answer.

mod dyn_adapter;
mod join;
mod local;
pub mod recovery;
mod registry;
mod server_event;

pub use dyn_adapter::{AdapterFuture, DynAdapter};
pub use join::JoinError;

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use local::{IndexObserver, LocalAdapter, LocalSocket, RoomChange, RoomObserver};
pub use recovery::{MissedPacket, RecoveryConfig, SessionState};
pub use registry::{LocalAdapterBuilder, SocketRegistry};
pub use server_event::{ReplyClosed, ServerEventHandler, ServerEventReply};

use crate::protocol::{JsonEvent, Packet, Payload};

/// A room name. A socket is always in the room named by its own id.
pub type Room = String;

/// Selects sockets: in any of `rooms` (all sockets when empty) and in none of `except`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BroadcastOptions {
    /// The target rooms; empty means every socket of the namespace.
    pub rooms: BTreeSet<Room>,
    /// Rooms whose sockets are excluded.
    pub except: BTreeSet<Room>,
    /// Modifiers.
    pub flags: BroadcastFlags,
}

/// Broadcast modifiers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BroadcastFlags {
    /// Only this node's sockets.
    pub local: bool,
    /// May be dropped for a client that cannot take it right now (instead of disconnecting it
    /// as a slow consumer).
    pub volatile: bool,
}

/// Facts about a socket, wherever it lives, as `fetch_sockets` returns them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SocketInfo {
    /// The socket id.
    pub id: String,
    /// The handshake, in the shape Node's socket.io gives it.
    pub handshake: Value,
    /// The rooms the socket is in (its own id included).
    pub rooms: Vec<Room>,
    /// The socket's `data`.
    pub data: Value,
}

/// The answer to a cluster request: what arrived, and the nodes that did not answer in time.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterResponse<T> {
    /// The merged answers (this node's included).
    pub value: T,
    /// The ids of the nodes that were expected and did not answer.
    pub missing_nodes: Vec<String>,
}

impl<T> ClusterResponse<T> {
    /// A complete answer.
    pub fn complete(value: T) -> Self {
        ClusterResponse {
            value,
            missing_nodes: Vec::new(),
        }
    }
}

/// The replies to a broadcast with acks.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AckReplies {
    /// One payload per socket that answered in time.
    pub replies: Vec<Payload>,
    /// How many sockets were sent the packet (cluster-wide, as far as nodes reported).
    pub expected: usize,
    /// Nodes that did not report at all.
    pub missing_nodes: Vec<String>,
}

/// Why an adapter operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdapterError {
    /// The cluster transport failed (the operation still applied locally).
    #[error("adapter transport: {0}")]
    Transport(String),
}

/// An event sent between servers with `server_side_emit`.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerEvent {
    /// The event name.
    pub event: String,
    /// Its arguments.
    pub payload: Payload,
}

/// The cluster-wide operations of a namespace. One instance per namespace per node.
///
/// Async methods return `impl Future + Send`; an implementation composes a [`LocalAdapter`] for
/// the local part (see [`Adapter::local`]).
pub trait Adapter: Sized + Send + Sync + 'static {
    /// What the adapter needs beyond the namespace (a Redis connection, ...), shared by the
    /// adapters of every namespace.
    type Config: Send + Sync + 'static;

    /// Creates the adapter of one namespace around its local index.
    fn new(local: LocalAdapter, config: &Arc<Self::Config>) -> Self;

    /// Starts what the adapter needs beyond [`Adapter::new`]. Called once, in a task of its own,
    /// when the namespace is created; sockets may connect before it finishes (an adapter that is
    /// not ready says so through [`Adapter::is_ready`]). An error is logged, and the namespace
    /// keeps serving its local sockets.
    fn init(&self) -> impl Future<Output = Result<(), AdapterError>> + Send;

    /// Stops cluster messaging and announces this node's departure.
    fn close(&self) -> impl Future<Output = ()> + Send;

    /// Releases what the adapter holds for its namespace, which this node no longer serves (an
    /// empty child of a dynamic namespace, removed after its grace period): a cluster adapter
    /// unsubscribes the namespace's channels and stops naming it in its heartbeats. The
    /// namespace has no socket left. The server polls the future once at once, before a
    /// namespace of the same name can be created again, so what it does before its first await
    /// is ordered before the new namespace's adapter starts.
    fn close_namespace(&self) -> impl Future<Output = ()> + Send;

    /// The local index and delivery.
    fn local(&self) -> &LocalAdapter;

    /// Delivers a packet to every matching socket, cluster-wide unless `flags.local`. It cannot
    /// fail for the caller: a cluster adapter that cannot reach the others now buffers the
    /// message or drops it, and counts what it drops in its metrics.
    fn broadcast(&self, packet: Packet, opts: BroadcastOptions) -> impl Future<Output = ()> + Send;

    /// Whether [`Adapter::broadcast_event`] carries an event to `opts` exactly as
    /// [`Adapter::broadcast`] carries its packet: then the server serializes an emitted value
    /// once, straight into a [`JsonEvent`], instead of building the packet's `Value` tree.
    /// Default: `false` (the server builds packets, as for any adapter that does not implement
    /// the pair).
    fn takes_json_events(&self, opts: &BroadcastOptions) -> bool {
        let _ = opts;
        false
    }

    /// Delivers an event encoded once ([`JsonEvent`]) as [`Adapter::broadcast`] delivers its
    /// packet. Called only when [`Adapter::takes_json_events`] said yes. Default: reads the
    /// packet back from the text (the tree) and calls [`Adapter::broadcast`].
    fn broadcast_event(
        &self,
        event: JsonEvent,
        opts: BroadcastOptions,
    ) -> impl Future<Output = ()> + Send {
        async move {
            match event.to_packet() {
                Ok(packet) => self.broadcast(packet, opts).await,
                Err(err) => tracing::error!(%err, "an encoded event did not read back"),
            }
        }
    }

    /// Delivers a packet that asks for acks, and collects the replies until every socket
    /// answered or `timeout` passed.
    fn broadcast_with_ack(
        &self,
        packet: Packet,
        opts: BroadcastOptions,
        timeout: Duration,
    ) -> impl Future<Output = Result<AckReplies, AdapterError>> + Send;

    /// Makes the matching sockets join `rooms`.
    fn add_sockets(
        &self,
        opts: BroadcastOptions,
        rooms: Vec<Room>,
    ) -> impl Future<Output = Result<(), AdapterError>> + Send;

    /// Makes the matching sockets leave `rooms`.
    fn del_sockets(
        &self,
        opts: BroadcastOptions,
        rooms: Vec<Room>,
    ) -> impl Future<Output = Result<(), AdapterError>> + Send;

    /// Disconnects the matching sockets (and closes their connections when `close`).
    fn disconnect_sockets(
        &self,
        opts: BroadcastOptions,
        close: bool,
    ) -> impl Future<Output = Result<(), AdapterError>> + Send;

    /// Describes the matching sockets, cluster-wide.
    fn fetch_sockets(
        &self,
        opts: BroadcastOptions,
        timeout: Duration,
    ) -> impl Future<Output = Result<ClusterResponse<Vec<SocketInfo>>, AdapterError>> + Send;

    /// Every room with at least one socket, cluster-wide.
    fn all_rooms(
        &self,
        timeout: Duration,
    ) -> impl Future<Output = Result<ClusterResponse<BTreeSet<Room>>, AdapterError>> + Send;

    /// Sends an event to the other servers; with a timeout, collects their acks.
    fn server_side_emit(
        &self,
        event: ServerEvent,
        ack_timeout: Option<Duration>,
    ) -> impl Future<Output = Result<ClusterResponse<Vec<Payload>>, AdapterError>> + Send;

    /// The number of live nodes, this one included.
    fn server_count(&self) -> impl Future<Output = Result<usize, AdapterError>> + Send;

    /// Resolves once cluster messages addressed to `rooms` reach this node: an adapter that
    /// subscribes per room (Redis sharded, dynamic mode) waits for its subscriptions to be
    /// confirmed. A join is acknowledged after this. Default: at once.
    fn rooms_ready(&self, rooms: &[Room]) -> impl Future<Output = ()> + Send {
        let _ = rooms;
        std::future::ready(())
    }

    /// Whether the adapter can carry cluster traffic now (connected, subscribed). A node that is
    /// not ready should get no new clients. Default: `true`.
    fn is_ready(&self) -> bool {
        true
    }

    /// Appends the adapter's own counters, in the Prometheus text format. Default: none.
    fn write_metrics(&self, out: &mut String) {
        let _ = out;
    }

    /// Connection state recovery: keeps the session of a socket whose connection was lost, for
    /// `max_disconnection_duration`. Default: not kept (the adapter does not support recovery).
    fn persist_session(&self, session: SessionState) {
        let _ = session;
    }

    /// Whether the adapter implements connection state recovery (keeps sessions and the packets
    /// to replay). With recovery on, an event to one socket then goes through
    /// [`Adapter::broadcast`] to the socket's own room, so that it gets an offset. Default:
    /// `false`.
    fn supports_recovery(&self) -> bool {
        false
    }

    /// Whether the adapter wants [`Adapter::update_session`] on every change of a connected
    /// socket's rooms or data (to restore it even if this node dies). Default: `false`.
    fn tracks_live_sessions(&self) -> bool {
        false
    }

    /// The state of a connected socket changed (it connected, joined, left, or its data
    /// changed). Only called when [`Adapter::tracks_live_sessions`]. Default: nothing.
    fn update_session(&self, session: SessionState) {
        let _ = session;
    }

    /// A socket with session `pid` left for good (not recoverable). Default: nothing.
    fn discard_session(&self, pid: &str) {
        let _ = pid;
    }

    /// Claims the session `pid` if it exists, has not expired, belongs to this namespace and
    /// `offset` is known: at most one caller, cluster-wide, gets it. Default: `None`.
    fn claim_session(
        &self,
        pid: &str,
        offset: &str,
    ) -> impl Future<Output = Option<SessionState>> + Send {
        let _ = (pid, offset);
        async { None }
    }

    /// The packets after `offset` that a claimed session's rooms select, oldest first.
    /// Called after the restored socket is registered, so that anything newer reaches it live.
    /// Default: none.
    fn missed_packets(
        &self,
        session: &SessionState,
        offset: &str,
    ) -> impl Future<Output = Vec<MissedPacket>> + Send {
        let _ = (session, offset);
        async { Vec::new() }
    }
}

impl Adapter for LocalAdapter {
    type Config = ();

    fn new(local: LocalAdapter, _config: &Arc<()>) -> Self {
        local
    }

    async fn init(&self) -> Result<(), AdapterError> {
        Ok(())
    }

    async fn close(&self) {}

    async fn close_namespace(&self) {
        // The index is empty, and nothing else is held beyond the namespace.
    }

    fn local(&self) -> &LocalAdapter {
        self
    }

    async fn broadcast(&self, packet: Packet, opts: BroadcastOptions) {
        self.broadcast_recorded(packet, &opts);
    }

    fn takes_json_events(&self, opts: &BroadcastOptions) -> bool {
        self.takes_json_frames() && (self.recovery().is_none() || opts.flags.volatile)
    }

    async fn broadcast_event(&self, event: JsonEvent, opts: BroadcastOptions) {
        if self.recovery().is_some() && !opts.flags.volatile {
            // A recoverable event gets its offset in its packet and goes into the log.
            if let Ok(packet) = event.to_packet() {
                self.broadcast_recorded(packet, &opts);
            }
            return;
        }
        self.broadcast_local_event(&event, &opts);
    }

    async fn broadcast_with_ack(
        &self,
        packet: Packet,
        opts: BroadcastOptions,
        timeout: Duration,
    ) -> Result<AckReplies, AdapterError> {
        let (expected, replies) = self.broadcast_with_ack_local(&packet, &opts, timeout);
        Ok(AckReplies {
            replies: replies.await,
            expected,
            missing_nodes: Vec::new(),
        })
    }

    async fn add_sockets(
        &self,
        opts: BroadcastOptions,
        rooms: Vec<Room>,
    ) -> Result<(), AdapterError> {
        self.add_sockets_local(&opts, &rooms);
        Ok(())
    }

    async fn del_sockets(
        &self,
        opts: BroadcastOptions,
        rooms: Vec<Room>,
    ) -> Result<(), AdapterError> {
        self.del_sockets_local(&opts, &rooms);
        Ok(())
    }

    async fn disconnect_sockets(
        &self,
        opts: BroadcastOptions,
        close: bool,
    ) -> Result<(), AdapterError> {
        self.disconnect_sockets_local(&opts, close);
        Ok(())
    }

    async fn fetch_sockets(
        &self,
        opts: BroadcastOptions,
        _timeout: Duration,
    ) -> Result<ClusterResponse<Vec<SocketInfo>>, AdapterError> {
        Ok(ClusterResponse::complete(self.fetch_sockets_local(&opts)))
    }

    async fn all_rooms(
        &self,
        _timeout: Duration,
    ) -> Result<ClusterResponse<BTreeSet<Room>>, AdapterError> {
        Ok(ClusterResponse::complete(self.rooms_local()))
    }

    async fn server_side_emit(
        &self,
        _event: ServerEvent,
        _ack_timeout: Option<Duration>,
    ) -> Result<ClusterResponse<Vec<Payload>>, AdapterError> {
        // A single node has no other server to tell.
        Ok(ClusterResponse::complete(Vec::new()))
    }

    async fn server_count(&self) -> Result<usize, AdapterError> {
        Ok(1)
    }

    fn supports_recovery(&self) -> bool {
        true
    }

    fn persist_session(&self, session: SessionState) {
        if let Some(log) = self.recovery() {
            log.persist(session);
        }
    }

    async fn claim_session(&self, pid: &str, offset: &str) -> Option<SessionState> {
        self.recovery()?.claim(pid, offset, self.nsp())
    }

    async fn missed_packets(&self, session: &SessionState, offset: &str) -> Vec<MissedPacket> {
        self.recovery()
            .map(|log| log.missed(session, offset))
            .unwrap_or_default()
    }
}
