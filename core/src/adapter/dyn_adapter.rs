//! [`DynAdapter`]: the object-safe face of an [`Adapter`], so a server can hold any adapter as
//! `Arc<dyn DynAdapter>` and its public types need no adapter type parameter. Every [`Adapter`]
//! is a `DynAdapter` (blanket implementation); adapter authors implement [`Adapter`] only.
//!
//! The methods have the names and arguments of [`Adapter`]'s; the async ones return a boxed
//! future (one allocation per call, measured in `core/examples/adapter_dispatch.rs`).

use std::any::Any;
use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use super::{
    AckReplies, Adapter, AdapterError, BroadcastOptions, ClusterResponse, LocalAdapter,
    MissedPacket, Room, ServerEvent, SessionState, SocketInfo,
};
use crate::protocol::{JsonEvent, Packet, Payload};

/// A boxed, sendable future borrowing from `'a`.
pub type AdapterFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The object-safe form of [`Adapter`] (see the module documentation). Each method does what the
/// [`Adapter`] method of the same name does.
pub trait DynAdapter: Send + Sync + 'static {
    /// [`Adapter::init`].
    fn init(&self) -> AdapterFuture<'_, Result<(), AdapterError>>;
    /// [`Adapter::close`].
    fn close(&self) -> AdapterFuture<'_, ()>;
    /// [`Adapter::close_namespace`].
    fn close_namespace(&self) -> AdapterFuture<'_, ()>;
    /// [`Adapter::local`].
    fn local(&self) -> &LocalAdapter;
    /// [`Adapter::broadcast`].
    fn broadcast(&self, packet: Packet, opts: BroadcastOptions) -> AdapterFuture<'_, ()>;
    /// [`Adapter::takes_json_events`].
    fn takes_json_events(&self, opts: &BroadcastOptions) -> bool;
    /// [`Adapter::broadcast_event`].
    fn broadcast_event(&self, event: JsonEvent, opts: BroadcastOptions) -> AdapterFuture<'_, ()>;
    /// [`Adapter::broadcast_with_ack`].
    fn broadcast_with_ack(
        &self,
        packet: Packet,
        opts: BroadcastOptions,
        timeout: Duration,
    ) -> AdapterFuture<'_, Result<AckReplies, AdapterError>>;
    /// [`Adapter::add_sockets`].
    fn add_sockets(
        &self,
        opts: BroadcastOptions,
        rooms: Vec<Room>,
    ) -> AdapterFuture<'_, Result<(), AdapterError>>;
    /// [`Adapter::del_sockets`].
    fn del_sockets(
        &self,
        opts: BroadcastOptions,
        rooms: Vec<Room>,
    ) -> AdapterFuture<'_, Result<(), AdapterError>>;
    /// [`Adapter::disconnect_sockets`].
    fn disconnect_sockets(
        &self,
        opts: BroadcastOptions,
        close: bool,
    ) -> AdapterFuture<'_, Result<(), AdapterError>>;
    /// [`Adapter::fetch_sockets`].
    fn fetch_sockets(
        &self,
        opts: BroadcastOptions,
        timeout: Duration,
    ) -> AdapterFuture<'_, Result<ClusterResponse<Vec<SocketInfo>>, AdapterError>>;
    /// [`Adapter::all_rooms`].
    fn all_rooms(
        &self,
        timeout: Duration,
    ) -> AdapterFuture<'_, Result<ClusterResponse<BTreeSet<Room>>, AdapterError>>;
    /// [`Adapter::server_side_emit`].
    fn server_side_emit(
        &self,
        event: ServerEvent,
        ack_timeout: Option<Duration>,
    ) -> AdapterFuture<'_, Result<ClusterResponse<Vec<Payload>>, AdapterError>>;
    /// [`Adapter::server_count`].
    fn server_count(&self) -> AdapterFuture<'_, Result<usize, AdapterError>>;
    /// [`Adapter::rooms_ready`].
    fn rooms_ready<'a>(&'a self, rooms: &'a [Room]) -> AdapterFuture<'a, ()>;
    /// [`Adapter::is_ready`].
    fn is_ready(&self) -> bool;
    /// [`Adapter::write_metrics`].
    fn write_metrics(&self, out: &mut String);
    /// [`Adapter::persist_session`].
    fn persist_session(&self, session: SessionState);
    /// [`Adapter::supports_recovery`].
    fn supports_recovery(&self) -> bool;
    /// [`Adapter::tracks_live_sessions`].
    fn tracks_live_sessions(&self) -> bool;
    /// [`Adapter::update_session`].
    fn update_session(&self, session: SessionState);
    /// [`Adapter::discard_session`].
    fn discard_session(&self, pid: &str);
    /// [`Adapter::claim_session`].
    fn claim_session<'a>(
        &'a self,
        pid: &'a str,
        offset: &'a str,
    ) -> AdapterFuture<'a, Option<SessionState>>;
    /// [`Adapter::missed_packets`].
    fn missed_packets<'a>(
        &'a self,
        session: &'a SessionState,
        offset: &'a str,
    ) -> AdapterFuture<'a, Vec<MissedPacket>>;
    /// The adapter as `Any`, to reach its own type (see `downcast` on `dyn DynAdapter`).
    fn as_any(&self) -> &dyn Any;
}

impl dyn DynAdapter {
    /// The adapter as its concrete type `A`, if it is one (for what a particular adapter offers
    /// beyond [`Adapter`], such as a Redis adapter's cluster view).
    #[must_use]
    pub fn downcast<A: Adapter>(&self) -> Option<&A> {
        self.as_any().downcast_ref::<A>()
    }
}

impl std::fmt::Debug for dyn DynAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynAdapter")
            .field("nsp", &self.local().nsp())
            .finish()
    }
}

impl<A: Adapter> DynAdapter for A {
    fn init(&self) -> AdapterFuture<'_, Result<(), AdapterError>> {
        Box::pin(Adapter::init(self))
    }
    fn close(&self) -> AdapterFuture<'_, ()> {
        Box::pin(Adapter::close(self))
    }
    fn close_namespace(&self) -> AdapterFuture<'_, ()> {
        Box::pin(Adapter::close_namespace(self))
    }
    fn local(&self) -> &LocalAdapter {
        Adapter::local(self)
    }
    fn broadcast(&self, packet: Packet, opts: BroadcastOptions) -> AdapterFuture<'_, ()> {
        Box::pin(Adapter::broadcast(self, packet, opts))
    }
    fn takes_json_events(&self, opts: &BroadcastOptions) -> bool {
        Adapter::takes_json_events(self, opts)
    }
    fn broadcast_event(&self, event: JsonEvent, opts: BroadcastOptions) -> AdapterFuture<'_, ()> {
        Box::pin(Adapter::broadcast_event(self, event, opts))
    }
    fn broadcast_with_ack(
        &self,
        packet: Packet,
        opts: BroadcastOptions,
        timeout: Duration,
    ) -> AdapterFuture<'_, Result<AckReplies, AdapterError>> {
        Box::pin(Adapter::broadcast_with_ack(self, packet, opts, timeout))
    }
    fn add_sockets(
        &self,
        opts: BroadcastOptions,
        rooms: Vec<Room>,
    ) -> AdapterFuture<'_, Result<(), AdapterError>> {
        Box::pin(Adapter::add_sockets(self, opts, rooms))
    }
    fn del_sockets(
        &self,
        opts: BroadcastOptions,
        rooms: Vec<Room>,
    ) -> AdapterFuture<'_, Result<(), AdapterError>> {
        Box::pin(Adapter::del_sockets(self, opts, rooms))
    }
    fn disconnect_sockets(
        &self,
        opts: BroadcastOptions,
        close: bool,
    ) -> AdapterFuture<'_, Result<(), AdapterError>> {
        Box::pin(Adapter::disconnect_sockets(self, opts, close))
    }
    fn fetch_sockets(
        &self,
        opts: BroadcastOptions,
        timeout: Duration,
    ) -> AdapterFuture<'_, Result<ClusterResponse<Vec<SocketInfo>>, AdapterError>> {
        Box::pin(Adapter::fetch_sockets(self, opts, timeout))
    }
    fn all_rooms(
        &self,
        timeout: Duration,
    ) -> AdapterFuture<'_, Result<ClusterResponse<BTreeSet<Room>>, AdapterError>> {
        Box::pin(Adapter::all_rooms(self, timeout))
    }
    fn server_side_emit(
        &self,
        event: ServerEvent,
        ack_timeout: Option<Duration>,
    ) -> AdapterFuture<'_, Result<ClusterResponse<Vec<Payload>>, AdapterError>> {
        Box::pin(Adapter::server_side_emit(self, event, ack_timeout))
    }
    fn server_count(&self) -> AdapterFuture<'_, Result<usize, AdapterError>> {
        Box::pin(Adapter::server_count(self))
    }
    fn rooms_ready<'a>(&'a self, rooms: &'a [Room]) -> AdapterFuture<'a, ()> {
        Box::pin(Adapter::rooms_ready(self, rooms))
    }
    fn is_ready(&self) -> bool {
        Adapter::is_ready(self)
    }
    fn write_metrics(&self, out: &mut String) {
        Adapter::write_metrics(self, out);
    }
    fn persist_session(&self, session: SessionState) {
        Adapter::persist_session(self, session);
    }
    fn supports_recovery(&self) -> bool {
        Adapter::supports_recovery(self)
    }
    fn tracks_live_sessions(&self) -> bool {
        Adapter::tracks_live_sessions(self)
    }
    fn update_session(&self, session: SessionState) {
        Adapter::update_session(self, session);
    }
    fn discard_session(&self, pid: &str) {
        Adapter::discard_session(self, pid);
    }
    fn claim_session<'a>(
        &'a self,
        pid: &'a str,
        offset: &'a str,
    ) -> AdapterFuture<'a, Option<SessionState>> {
        Box::pin(Adapter::claim_session(self, pid, offset))
    }
    fn missed_packets<'a>(
        &'a self,
        session: &'a SessionState,
        offset: &'a str,
    ) -> AdapterFuture<'a, Vec<MissedPacket>> {
        Box::pin(Adapter::missed_packets(self, session, offset))
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}
