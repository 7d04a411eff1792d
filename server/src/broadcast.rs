//! Broadcast operators: `to(rooms).except(rooms).local().volatile().timeout(d)` and what they
//! apply to (emit, emit with acks, fetch, join, leave, disconnect).

use std::time::Duration;

use serde::Serialize;

use crate::adapter::{
    AckReplies, AdapterError, BroadcastOptions, ClusterResponse, Room, SocketInfo,
};
use crate::error::EmitError;
use crate::metrics::add;
use crate::namespace::Namespace;
use crate::protocol::{JsonEvent, Packet, Payload};
use crate::server::Server;
use crate::socket::Socket;

/// Selects sockets of a namespace, cluster-wide, and acts on them.
///
/// ```
/// use std::time::Duration;
/// use sio_server::{Payload, Server};
///
/// # async fn f(io: Server) -> Result<(), Box<dyn std::error::Error>> {
/// // Everyone in "game-1" but the spectators, on every node.
/// io.to(["game-1"]).except(["spectators"]).emit("tick", &42).await?;
/// // Ask every player and collect the answers for up to 2 s.
/// let acks = io
///     .to(["game-1"])
///     .timeout(Duration::from_secs(2))
///     .emit_with_ack("vote", Payload::new())
///     .await?;
/// println!("{} of {} voted; silent nodes: {:?}", acks.replies.len(), acks.expected, acks.missing_nodes);
/// // Move everyone from a room to another, wherever they are connected.
/// io.to(["lobby"]).sockets_join(["game-2"]).await?;
/// io.to(["lobby"]).sockets_leave(["lobby"]).await?;
/// # Ok(()) }
/// ```
pub struct BroadcastOperator {
    ns: Namespace,
    opts: BroadcastOptions,
    timeout: Option<Duration>,
}

impl std::fmt::Debug for BroadcastOperator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BroadcastOperator")
            .field("nsp", &self.ns.name())
            .field("opts", &self.opts)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl BroadcastOperator {
    pub(crate) fn new(ns: Namespace, opts: BroadcastOptions) -> Self {
        BroadcastOperator {
            ns,
            opts,
            timeout: None,
        }
    }

    /// Adds target rooms.
    #[must_use]
    pub fn to<I, R>(mut self, rooms: I) -> Self
    where
        I: IntoIterator<Item = R>,
        R: Into<Room>,
    {
        self.opts.rooms.extend(rooms.into_iter().map(Into::into));
        self
    }

    /// Excludes the sockets of rooms.
    #[must_use]
    pub fn except<I, R>(mut self, rooms: I) -> Self
    where
        I: IntoIterator<Item = R>,
        R: Into<Room>,
    {
        self.opts.except.extend(rooms.into_iter().map(Into::into));
        self
    }

    /// Only this node's sockets.
    #[must_use]
    pub fn local(mut self) -> Self {
        self.opts.flags.local = true;
        self
    }

    /// Drops the packet for clients that cannot take it now.
    #[must_use]
    pub fn volatile(mut self) -> Self {
        self.opts.flags.volatile = true;
        self
    }

    /// How long acks and cluster requests may take (default: the server's request timeout).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    fn request_timeout(&self) -> Duration {
        self.timeout.unwrap_or(self.ns.request_timeout())
    }

    /// Emits an event with one serializable argument.
    ///
    /// Encode once: where the adapter takes it ([`crate::adapter::Adapter::takes_json_events`]:
    /// the default parser, no observer, no recovery log to write; the in-memory and both Redis
    /// adapters), the value is serialized once, straight into the clients' frame, with no
    /// `Value` tree, and the adapter sends the same text on to the cluster (or transcodes it to
    /// msgpack for the classic Redis adapter). Where the bytes could differ from the tree's
    /// ([`JsonEvent::encode`] declines: a repeated key, an unusual map key, a number out of
    /// range, an error of the value's own `Serialize`), the value becomes a `Value` tree and
    /// goes on as [`Self::emit_payload`]; so does every value when the adapter does not take
    /// events. Either way the clients and the cluster get the same bytes.
    pub async fn emit<T: Serialize + ?Sized>(self, event: &str, data: &T) -> Result<(), EmitError> {
        let adapter = self.ns.adapter();
        if adapter.takes_json_events(&self.opts)
            && let Some(encoded) = JsonEvent::encode(self.ns.name(), event, data)
        {
            add(&self.ns.metrics().broadcasts, 1);
            adapter.broadcast_event(encoded, self.opts).await;
            return Ok(());
        }
        self.emit_payload(event, Payload::from_value(data)?).await
    }

    /// Emits an event with any arguments, binary included. Without binary, where the adapter
    /// takes events encoded once (as for [`Self::emit`]), the payload is written once into the
    /// clients' frame, which the adapter sends on to the cluster.
    pub async fn emit_payload(self, event: &str, payload: Payload) -> Result<(), EmitError> {
        add(&self.ns.metrics().broadcasts, 1);
        let adapter = self.ns.adapter();
        if payload.attachments.is_empty()
            && adapter.takes_json_events(&self.opts)
            && let Some(encoded) = JsonEvent::from_payload(self.ns.name(), event, &payload)
        {
            adapter.broadcast_event(encoded, self.opts).await;
            return Ok(());
        }
        let packet = Packet::event(self.ns.name(), event, payload);
        adapter.broadcast(packet, self.opts).await;
        Ok(())
    }

    /// Emits an event that asks each recipient for an ack, and collects the replies until every
    /// recipient answered or the timeout passed.
    pub async fn emit_with_ack(
        self,
        event: &str,
        payload: Payload,
    ) -> Result<AckReplies, AdapterError> {
        let timeout = self.request_timeout();
        let packet = Packet::event(self.ns.name(), event, payload);
        add(&self.ns.metrics().broadcasts, 1);
        let acks = self
            .ns
            .adapter()
            .broadcast_with_ack(packet, self.opts, timeout)
            .await?;
        let missing = acks.expected.saturating_sub(acks.replies.len());
        add(&self.ns.metrics().ack_timeouts, missing as u64);
        Ok(acks)
    }

    /// The matching sockets, wherever they are, as handles that can act on them.
    pub async fn fetch_sockets(self) -> Result<ClusterResponse<Vec<RemoteSocket>>, AdapterError> {
        let timeout = self.request_timeout();
        let found = self.ns.adapter().fetch_sockets(self.opts, timeout).await?;
        Ok(ClusterResponse {
            value: found
                .value
                .into_iter()
                .map(|info| RemoteSocket {
                    info,
                    ns: self.ns.clone(),
                })
                .collect(),
            missing_nodes: found.missing_nodes,
        })
    }

    /// Makes the matching sockets join rooms.
    pub async fn sockets_join<I, R>(self, rooms: I) -> Result<(), AdapterError>
    where
        I: IntoIterator<Item = R>,
        R: Into<Room>,
    {
        let rooms = rooms.into_iter().map(Into::into).collect();
        self.ns.adapter().add_sockets(self.opts, rooms).await
    }

    /// Makes the matching sockets leave rooms.
    pub async fn sockets_leave<I, R>(self, rooms: I) -> Result<(), AdapterError>
    where
        I: IntoIterator<Item = R>,
        R: Into<Room>,
    {
        let rooms = rooms.into_iter().map(Into::into).collect();
        self.ns.adapter().del_sockets(self.opts, rooms).await
    }

    /// Disconnects the matching sockets; with `close`, closes their connections too.
    pub async fn disconnect_sockets(self, close: bool) -> Result<(), AdapterError> {
        self.ns.adapter().disconnect_sockets(self.opts, close).await
    }
}

/// A socket found by `fetch_sockets`, on this node or another: its facts, and actions that go
/// through the adapter to wherever it lives.
pub struct RemoteSocket {
    /// Id, handshake, rooms and data.
    pub info: SocketInfo,
    ns: Namespace,
}

impl std::fmt::Debug for RemoteSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteSocket")
            .field("info", &self.info)
            .finish()
    }
}

impl RemoteSocket {
    fn only_me(&self) -> BroadcastOperator {
        BroadcastOperator::new(self.ns.clone(), BroadcastOptions::default())
            .to([self.info.id.clone()])
    }

    /// Emits an event to the socket.
    pub async fn emit<T: Serialize + ?Sized>(
        &self,
        event: &str,
        data: &T,
    ) -> Result<(), EmitError> {
        self.only_me().emit(event, data).await
    }

    /// Makes the socket join rooms.
    pub async fn join<I, R>(&self, rooms: I) -> Result<(), AdapterError>
    where
        I: IntoIterator<Item = R>,
        R: Into<Room>,
    {
        self.only_me().sockets_join(rooms).await
    }

    /// Makes the socket leave rooms.
    pub async fn leave<I, R>(&self, rooms: I) -> Result<(), AdapterError>
    where
        I: IntoIterator<Item = R>,
        R: Into<Room>,
    {
        self.only_me().sockets_leave(rooms).await
    }

    /// Disconnects the socket.
    pub async fn disconnect(&self, close: bool) -> Result<(), AdapterError> {
        self.only_me().disconnect_sockets(close).await
    }
}

// The operators are above the socket layer: the namespace's, the server's and a socket's ways
// to start one are defined here, so that `namespace.rs`, `server.rs` and `socket.rs` do not
// import this file.

impl Namespace {
    pub(crate) fn operator(&self) -> BroadcastOperator {
        BroadcastOperator::new(self.clone(), BroadcastOptions::default())
    }

    /// Selects the sockets in `rooms`.
    #[must_use]
    pub fn to<I, R>(&self, rooms: I) -> BroadcastOperator
    where
        I: IntoIterator<Item = R>,
        R: Into<Room>,
    {
        self.operator().to(rooms)
    }

    /// Selects every socket but those in `rooms`.
    #[must_use]
    pub fn except<I, R>(&self, rooms: I) -> BroadcastOperator
    where
        I: IntoIterator<Item = R>,
        R: Into<Room>,
    {
        self.operator().except(rooms)
    }

    /// Selects this node's sockets only.
    #[must_use]
    pub fn local(&self) -> BroadcastOperator {
        self.operator().local()
    }

    /// Selects every socket, dropping the packet for those that cannot take it now.
    #[must_use]
    pub fn volatile(&self) -> BroadcastOperator {
        self.operator().volatile()
    }

    /// Selects every socket, with a timeout for acks and requests.
    #[must_use]
    pub fn timeout(&self, timeout: Duration) -> BroadcastOperator {
        self.operator().timeout(timeout)
    }

    /// Emits to every socket of the namespace.
    pub async fn emit<T: Serialize + ?Sized>(
        &self,
        event: &str,
        data: &T,
    ) -> Result<(), EmitError> {
        self.operator().emit(event, data).await
    }

    /// Emits to every socket and collects their acks.
    pub async fn emit_with_ack(
        &self,
        event: &str,
        payload: Payload,
    ) -> Result<AckReplies, AdapterError> {
        self.operator().emit_with_ack(event, payload).await
    }

    /// Every socket of the namespace, cluster-wide.
    pub async fn fetch_sockets(&self) -> Result<ClusterResponse<Vec<RemoteSocket>>, AdapterError> {
        self.operator().fetch_sockets().await
    }

    /// Makes every socket join rooms.
    pub async fn sockets_join<I, R>(&self, rooms: I) -> Result<(), AdapterError>
    where
        I: IntoIterator<Item = R>,
        R: Into<Room>,
    {
        self.operator().sockets_join(rooms).await
    }

    /// Makes every socket leave rooms.
    pub async fn sockets_leave<I, R>(&self, rooms: I) -> Result<(), AdapterError>
    where
        I: IntoIterator<Item = R>,
        R: Into<Room>,
    {
        self.operator().sockets_leave(rooms).await
    }

    /// Disconnects every socket.
    pub async fn disconnect_sockets(&self, close: bool) -> Result<(), AdapterError> {
        self.operator().disconnect_sockets(close).await
    }
}

impl Server {
    /// Sockets of `/` in `rooms`.
    pub fn to<I, R>(&self, rooms: I) -> BroadcastOperator
    where
        I: IntoIterator<Item = R>,
        R: Into<Room>,
    {
        self.of("/").to(rooms)
    }

    /// Sockets of `/` not in `rooms`.
    pub fn except<I, R>(&self, rooms: I) -> BroadcastOperator
    where
        I: IntoIterator<Item = R>,
        R: Into<Room>,
    {
        self.of("/").except(rooms)
    }

    /// This node's sockets of `/`.
    pub fn local(&self) -> BroadcastOperator {
        self.of("/").local()
    }

    /// Sockets of `/`, volatile.
    pub fn volatile(&self) -> BroadcastOperator {
        self.of("/").volatile()
    }

    /// Sockets of `/`, with a timeout for acks and requests.
    pub fn timeout(&self, timeout: Duration) -> BroadcastOperator {
        self.of("/").timeout(timeout)
    }

    /// Emits to every socket of `/`.
    pub async fn emit<T: Serialize + ?Sized>(
        &self,
        event: &str,
        data: &T,
    ) -> Result<(), EmitError> {
        self.of("/").emit(event, data).await
    }

    /// Emits to every socket of `/` and collects the acks.
    pub async fn emit_with_ack(
        &self,
        event: &str,
        payload: Payload,
    ) -> Result<AckReplies, AdapterError> {
        self.of("/").emit_with_ack(event, payload).await
    }

    /// Every socket of `/`, cluster-wide.
    pub async fn fetch_sockets(&self) -> Result<ClusterResponse<Vec<RemoteSocket>>, AdapterError> {
        self.of("/").fetch_sockets().await
    }

    /// Makes every socket of `/` join rooms.
    pub async fn sockets_join<I, R>(&self, rooms: I) -> Result<(), AdapterError>
    where
        I: IntoIterator<Item = R>,
        R: Into<Room>,
    {
        self.of("/").sockets_join(rooms).await
    }

    /// Makes every socket of `/` leave rooms.
    pub async fn sockets_leave<I, R>(&self, rooms: I) -> Result<(), AdapterError>
    where
        I: IntoIterator<Item = R>,
        R: Into<Room>,
    {
        self.of("/").sockets_leave(rooms).await
    }

    /// Disconnects every socket of `/`.
    pub async fn disconnect_sockets(&self, close: bool) -> Result<(), AdapterError> {
        self.of("/").disconnect_sockets(close).await
    }
}

impl Socket {
    /// Broadcasts to `rooms`, excluding this socket.
    ///
    /// ```
    /// # async fn f(socket: sio_server::Socket) -> Result<(), sio_server::EmitError> {
    /// socket.to(["room-1", "room-2"]).except(["muted"]).emit("news", "hello").await?;
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn to<I, R>(&self, rooms: I) -> BroadcastOperator
    where
        I: IntoIterator<Item = R>,
        R: Into<Room>,
    {
        self.broadcast().to(rooms)
    }

    /// Broadcasts to every socket of the namespace but this one.
    #[must_use]
    pub fn broadcast(&self) -> BroadcastOperator {
        let mut opts = BroadcastOptions::default();
        opts.except.insert(self.id().to_string());
        BroadcastOperator::new(self.namespace().clone(), opts)
    }
}
