//! A socket: one client connected to one namespace; and the `Namespace` handle it holds.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::oneshot;

use crate::adapter::{BroadcastOptions, LocalSocket, Room, SessionState, SocketInfo};
use crate::engine::{Frame, Session, Sid, Transport};
use crate::error::{AckError, EmitError, JoinError};
use crate::event::{AckSender, BoxFuture, DisconnectReason, Event};
use crate::handler_slots::HandlerSlots;
use crate::handshake::Handshake;
use crate::namespace_state::{NsState, StoredHandler};
use crate::protocol::{AckEvent, JsonEvent, Packet, PacketType, ParserKind, Payload};
use crate::replay::Replay;

// The one recursion of the public types is closed here: a socket holds its namespace, whose
// handlers take sockets. Both handles are declared in this file; the namespace's state is
// `namespace_state.rs` (generic over the socket type), what a namespace does is `namespace.rs`.

/// A namespace (`/`, `/chat`, ...). Cheap to clone.
pub struct Namespace {
    pub(crate) state: Arc<NsState<Socket>>,
}

impl Clone for Namespace {
    fn clone(&self) -> Self {
        Namespace {
            state: self.state.clone(),
        }
    }
}

impl std::fmt::Debug for Namespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Namespace")
            .field("name", self.state.name())
            .finish()
    }
}

/// A done join; `.await` it to wait until the cluster delivers the rooms' messages to this
/// node (see [`Socket::join`]). Dropping it is fine.
pub struct Joined {
    ns: Arc<NsState<Socket>>,
    rooms: Vec<Room>,
}

impl std::fmt::Debug for Joined {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Joined")
            .field("rooms", &self.rooms)
            .finish()
    }
}

impl std::future::IntoFuture for Joined {
    type Output = ();
    type IntoFuture = BoxFuture<()>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move { self.ns.adapter().rooms_ready(&self.rooms).await })
    }
}

/// The connection a socket belongs to, as the socket sees it (the client implements it): told
/// when the socket leaves its namespace.
pub(crate) trait SocketOwner: Send + Sync {
    /// Forgets the namespace slot of socket `id`, which left `nsp`.
    fn forget_socket(&self, nsp: &str, id: Sid);
}

/// Who a new socket is: a fresh id, or the id and session of a restored one.
pub(crate) struct Identity {
    pub(crate) id: Sid,
    /// The private session id (recovery on).
    pub(crate) pid: Option<Arc<str>>,
    /// Restored from a previous session.
    pub(crate) recovered: bool,
    /// The restored data.
    pub(crate) data: Value,
}

/// A stored event handler (see `handler.rs` for what user code registers).
pub(crate) type BoxedEventHandler = StoredHandler<Socket>;

type DisconnectHandler = Arc<dyn Fn(Socket, DisconnectReason) -> BoxFuture<()> + Send + Sync>;

pub(crate) struct SocketInner {
    me: Weak<SocketInner>,
    client: Weak<dyn SocketOwner>,
    id: Sid,
    ns: Namespace,
    session: Arc<Session>,
    nsp: Arc<str>,
    handshake: Handshake,
    handlers: RwLock<HashMap<String, BoxedEventHandler>>,
    catch_all: RwLock<Option<BoxedEventHandler>>,
    on_disconnect: Mutex<Vec<DisconnectHandler>>,
    acks: Mutex<HashMap<u64, oneshot::Sender<Payload>>>,
    next_ack: AtomicU64,
    connected: AtomicBool,
    data: Mutex<Value>,
    pid: Option<Arc<str>>,
    recovered: bool,
    /// A restored socket's replay of what it missed.
    replay: Replay,
    /// Bounds the handlers running at once.
    slots: Arc<HandlerSlots>,
}

/// A client connected to a namespace. Cheap to clone.
pub struct Socket {
    pub(crate) inner: Arc<SocketInner>,
}

impl Clone for Socket {
    fn clone(&self) -> Self {
        Socket {
            inner: self.inner.clone(),
        }
    }
}

impl std::fmt::Debug for Socket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socket")
            .field("id", &self.inner.id)
            .field("nsp", &self.inner.nsp)
            .finish()
    }
}

impl Socket {
    pub(crate) fn new(
        ns: Namespace,
        client: Weak<dyn SocketOwner>,
        session: Arc<Session>,
        handshake: Handshake,
        identity: Identity,
        slots: Arc<HandlerSlots>,
    ) -> Self {
        let nsp = ns.state.name().clone();
        Socket {
            inner: Arc::new_cyclic(|me: &Weak<SocketInner>| SocketInner {
                me: me.clone(),
                client,
                id: identity.id,
                ns,
                session,
                nsp,
                handshake,
                handlers: RwLock::new(HashMap::new()),
                catch_all: RwLock::new(None),
                on_disconnect: Mutex::new(Vec::new()),
                acks: Mutex::new(HashMap::new()),
                next_ack: AtomicU64::new(0),
                connected: AtomicBool::new(false),
                data: Mutex::new(identity.data),
                pid: identity.pid,
                recovered: identity.recovered,
                replay: Replay::new(identity.recovered),
                slots,
            }),
        }
    }

    /// The socket id (distinct from the connection's Engine.IO session id).
    #[must_use]
    pub fn id(&self) -> Sid {
        self.inner.id
    }

    /// Whether the socket was restored by connection state recovery (same id, rooms and data
    /// as before its connection dropped; the broadcasts it missed were replayed).
    #[must_use]
    pub fn recovered(&self) -> bool {
        self.inner.recovered
    }

    /// The namespace.
    #[must_use]
    pub fn namespace(&self) -> &Namespace {
        &self.inner.ns
    }

    /// The handshake: headers, query, auth, address.
    #[must_use]
    pub fn handshake(&self) -> &Handshake {
        &self.inner.handshake
    }

    /// The Engine.IO session id of the socket's connection (one client's sockets on several
    /// namespaces share it).
    #[must_use]
    pub fn connection_id(&self) -> Sid {
        self.inner.session.sid()
    }

    /// The transport the connection uses now.
    #[must_use]
    pub fn transport(&self) -> Transport {
        self.inner.session.transport()
    }

    /// Whether the socket is still connected.
    #[must_use]
    pub fn connected(&self) -> bool {
        self.inner.connected.load(Ordering::Acquire)
    }

    /// Sets the handler of `event` (replacing one set before).
    pub(crate) fn set_handler(&self, event: String, handler: BoxedEventHandler) {
        self.inner
            .handlers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(event, handler);
    }

    /// Sets the handler of every event without one of its own.
    pub(crate) fn set_catch_all(&self, handler: BoxedEventHandler) {
        *self
            .inner
            .catch_all
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Some(handler);
    }

    /// Runs `handler` when the socket disconnects, with the reason.
    pub fn on_disconnect<F, Fut>(&self, handler: F)
    where
        F: Fn(Socket, DisconnectReason) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.inner
            .on_disconnect
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Arc::new(move |s, r| Box::pin(handler(s, r))));
    }

    /// Sends an event with one serializable argument.
    ///
    /// Encode once: with the default parser, no observer and no recovery log to write, the
    /// value is serialized straight into the client's frame, with no `Value` tree; where the
    /// bytes could differ from the tree's ([`JsonEvent::encode`] declines), and otherwise, it
    /// goes on as [`Self::emit_payload`]. The client gets the same bytes either way.
    pub fn emit<T: Serialize + ?Sized>(&self, event: &str, data: &T) -> Result<(), EmitError> {
        if self.takes_json_events()
            && let Some(encoded) = JsonEvent::encode(&self.inner.nsp, event, data)
        {
            return self.send_frame(encoded.frame());
        }
        self.emit_payload(event, Payload::from_value(data)?)
    }

    /// Whether an event to this socket may be sent as a frame encoded once: the JSON parser,
    /// nobody to report the packet to, no recovery log to keep it in.
    fn takes_json_events(&self) -> bool {
        let state = &self.inner.ns.state;
        let adapter = state.adapter();
        state.parser() == ParserKind::Json
            && state.hooks().is_none()
            && !(adapter.supports_recovery() && adapter.local().recovery_config().is_some())
    }

    /// Sends an event with any arguments, binary included.
    pub fn emit_payload(&self, event: &str, payload: Payload) -> Result<(), EmitError> {
        let adapter = self.inner.ns.state.adapter();
        if adapter.supports_recovery() && adapter.local().recovery_config().is_some() {
            // A broadcast to the socket's room: the observer hears of it at the delivery.
            let packet = Packet::event(self.inner.nsp.as_ref(), event, payload);
            return self.emit_recoverable(packet);
        }
        self.report_sent(event, &payload);
        let packet = Packet::event(self.inner.nsp.as_ref(), event, payload);
        self.send_packet(&packet)
    }

    /// With connection state recovery on, an event to this socket goes through the adapter as a
    /// broadcast to the socket's own room, as Node does: it gets an offset, it is kept for a
    /// replay (even when the socket is disconnected right now: a recovered session gets it),
    /// and it is held back like any live packet while a restored socket replays what it
    /// missed. The adapter takes the packet on the first poll (the in-memory log and delivery,
    /// or the stream append), so events keep their order; whatever the adapter still awaits
    /// (a stream append's confirmation) finishes in the background.
    fn emit_recoverable(&self, packet: Packet) -> Result<(), EmitError> {
        let opts = BroadcastOptions {
            rooms: [self.inner.id.to_string()].into(),
            ..BroadcastOptions::default()
        };
        let ns = self.inner.ns.state.clone();
        let mut send: Pin<Box<dyn Future<Output = ()> + Send>> =
            Box::pin(async move { ns.adapter().broadcast(packet, opts).await });
        let mut first_poll = std::task::Context::from_waker(futures_util::task::noop_waker_ref());
        if send.as_mut().poll(&mut first_poll).is_pending() {
            tokio::spawn(send);
        }
        if self.connected() {
            Ok(())
        } else {
            Err(EmitError::Disconnected)
        }
    }

    /// Sends an event and waits for the client's ack, up to `timeout`.
    pub async fn emit_with_ack(
        &self,
        event: &str,
        payload: Payload,
        timeout: Duration,
    ) -> Result<Payload, AckError> {
        self.report_sent(event, &payload);
        let packet = Packet::event(self.inner.nsp.as_ref(), event, payload);
        let (id, rx) = self.inner.register_ack(&AckEvent::new(&packet))?;
        let _forget = PendingAck {
            socket: Arc::downgrade(&self.inner),
            id,
        };
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(_)) => Err(AckError::Disconnected),
            Err(_) => {
                crate::metrics::add(&self.inner.ns.state.metrics().ack_timeouts, 1);
                Err(AckError::Timeout)
            }
        }
    }

    /// Tells the observer, if any, of an event sent to this socket.
    fn report_sent(&self, event: &str, payload: &Payload) {
        if let Some(hooks) = self.inner.ns.state.hooks() {
            hooks.event_sent(&self.inner.nsp, self.inner.id, event, payload);
        }
    }

    fn send_packet(&self, packet: &Packet) -> Result<(), EmitError> {
        self.send_frame(self.inner.ns.state.parser().encode(packet))
    }

    fn send_frame(&self, frame: Frame) -> Result<(), EmitError> {
        if !self.connected() {
            return Err(EmitError::Disconnected);
        }
        self.inner
            .session
            .send(frame)
            .map_err(|_| EmitError::Disconnected)
    }

    /// Joins rooms. Rooms beyond the limits (`max_room_name_len`, `max_rooms_per_socket`)
    /// are not joined; the refusal is logged and counted (see [`Socket::try_join`] to learn
    /// of it). The membership is effective at once on this node; `.await` the returned
    /// [`Joined`] to also wait until messages other nodes publish to these rooms reach this
    /// node (with an adapter that subscribes per room), e.g. before acknowledging the join.
    pub fn join<I, R>(&self, rooms: I) -> Joined
    where
        I: IntoIterator<Item = R>,
        R: Into<Room>,
    {
        let rooms: Vec<Room> = rooms.into_iter().map(Into::into).collect();
        let _ = self.try_join(rooms.iter().cloned());
        Joined {
            ns: self.inner.ns.state.clone(),
            rooms,
        }
    }

    /// Joins rooms, and says whether one was refused: every room within the limits is joined,
    /// and the first refusal is returned.
    ///
    /// ```
    /// # fn f(socket: sio_server::Socket) {
    /// if let Err(err) = socket.try_join(["a-room"]) {
    ///     let _ = socket.emit("error", &err.to_string());
    /// }
    /// # }
    /// ```
    pub fn try_join<I, R>(&self, rooms: I) -> Result<(), JoinError>
    where
        I: IntoIterator<Item = R>,
        R: Into<Room>,
    {
        if !self.connected() {
            return Ok(());
        }
        let mut refused = 0;
        let rooms = rooms.into_iter().map(Into::into);
        let registry = self.inner.ns.state.registry();
        let mut result = Ok(());
        for room in rooms {
            if let Err(err) = registry.join(self.inner.id, [room]) {
                refused += 1;
                result = result.and(Err(err));
            }
        }
        crate::metrics::add(&self.inner.ns.state.metrics().joins_refused, refused);
        self.inner.session_changed();
        result
    }

    /// Leaves a room.
    pub fn leave(&self, room: &str) {
        self.inner.ns.state.registry().leave(self.inner.id, room);
        self.inner.session_changed();
    }

    /// The rooms the socket is in, its own id first.
    #[must_use]
    pub fn rooms(&self) -> Vec<Room> {
        self.inner
            .ns
            .state
            .adapter()
            .local()
            .rooms_of(self.inner.id)
    }

    /// The socket's data, deserialized.
    pub fn data<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        let value = self
            .inner
            .data
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        T::deserialize(value)
    }

    /// Replaces the socket's data (visible to `fetch_sockets` on every node).
    pub fn set_data<T: Serialize + ?Sized>(&self, data: &T) -> Result<(), serde_json::Error> {
        let value = serde_json::to_value(data)?;
        *self.inner.data.lock().unwrap_or_else(|e| e.into_inner()) = value;
        self.inner.session_changed();
        if let Some(hooks) = self.inner.ns.state.hooks() {
            hooks.data_changed(self);
        }
        Ok(())
    }

    /// Disconnects the socket from the namespace; with `close`, closes the whole connection.
    pub fn disconnect(&self, close: bool) {
        self.inner.disconnect_by_server(close);
    }

    pub(crate) fn mark_connected(&self) {
        self.inner.connected.store(true, Ordering::Release);
    }

    /// The private session id, when recovery is on.
    pub(crate) fn pid(&self) -> Option<&Arc<str>> {
        self.inner.pid.as_ref()
    }

    /// Tells the adapter the session's state, if it tracks live sessions.
    pub(crate) fn session_changed(&self) {
        self.inner.session_changed();
    }

    /// Ends a restored socket's replay, which sent the packets of offsets `replayed`: the live
    /// packets held meanwhile follow, and live packets the replay sent are not sent again.
    pub(crate) fn end_replay(&self, replayed: std::collections::HashSet<Arc<str>>) {
        self.inner
            .replay
            .end(replayed, |frame, volatile| self.inner.push(frame, volatile));
    }

    /// Handles a packet addressed to this socket.
    pub(crate) fn on_packet(&self, packet: Packet) {
        match packet.kind {
            PacketType::Event => self.on_event(packet),
            PacketType::Ack => {
                if let Some(id) = packet.id
                    && let Some(tx) = self.inner.forget_ack(id)
                {
                    let args = match packet.data {
                        Some(Value::Array(args)) => args,
                        _ => Vec::new(),
                    };
                    let _ = tx.send(Payload {
                        args,
                        attachments: packet.attachments,
                    });
                }
            }
            PacketType::Disconnect => self
                .inner
                .finish(DisconnectReason::ClientNamespaceDisconnect),
            _ => {}
        }
    }

    fn on_event(&self, packet: Packet) {
        let Some(Value::Array(mut args)) = packet.data else {
            return;
        };
        let name = match args.first() {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => return,
        };
        args.remove(0);
        let payload = Payload {
            args,
            attachments: packet.attachments,
        };
        if let Some(hooks) = self.inner.ns.state.hooks() {
            hooks.event_received(self, &name, &payload);
        }
        let handler = self
            .inner
            .handlers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&name)
            .cloned()
            .or_else(|| self.inner.ns.state.handlers().event_handler(&name))
            .or_else(|| {
                self.inner
                    .catch_all
                    .read()
                    .unwrap_or_else(|e| e.into_inner())
                    .clone()
            });
        let Some(handler) = handler else {
            return;
        };
        let event = Event {
            name,
            payload,
            ack: AckSender::new(
                self.inner.session.clone(),
                self.inner.nsp.clone(),
                packet.id,
                self.inner.ns.state.parser(),
            ),
        };
        // Handlers start in the order their events arrived, as in the reference server: the
        // first step of each (up to its first await) runs on the connection's task when a
        // slot is free (in order, later, when not). Two `publish` from one client therefore
        // broadcast in order.
        self.inner.slots.start(handler(self.clone(), event));
    }

    /// Ends the socket because its connection ended.
    pub(crate) fn on_transport_close(&self, reason: crate::engine::CloseReason) {
        self.inner.finish(DisconnectReason::Transport(reason));
    }
}

impl SocketInner {
    fn session_state(&self, pid: &str) -> SessionState {
        SessionState {
            sid: self.id.to_string(),
            pid: pid.to_owned(),
            rooms: self.ns.state.adapter().local().rooms_of(self.id),
            data: self.data.lock().unwrap_or_else(|e| e.into_inner()).clone(),
            nsp: Some(self.nsp.to_string()),
        }
    }

    fn session_changed(&self) {
        if let Some(pid) = &self.pid
            && self.connected.load(Ordering::Acquire)
            && self.ns.state.adapter().tracks_live_sessions()
        {
            self.ns
                .state
                .adapter()
                .update_session(self.session_state(pid));
        }
    }

    fn push(&self, frame: &Frame, volatile: bool) {
        if volatile {
            if !self.session.send_volatile(frame.clone()) {
                crate::metrics::add(&self.ns.state.metrics().volatile_dropped, 1);
            }
        } else {
            let _ = self.session.send(frame.clone());
        }
    }

    /// Registers a fresh ack id and sends `event`'s packet with it.
    fn register_ack(
        &self,
        event: &AckEvent<'_>,
    ) -> Result<(u64, oneshot::Receiver<Payload>), AckError> {
        if !self.connected.load(Ordering::Acquire) {
            return Err(AckError::Disconnected);
        }
        let id = self.next_ack.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.acks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, tx);
        crate::metrics::add(&self.ns.state.metrics().pending_acks, 1);
        let frame = event.frame(self.ns.state.parser(), id);
        if self.session.send(frame).is_err() {
            self.forget_ack(id);
            return Err(AckError::Disconnected);
        }
        Ok((id, rx))
    }

    /// Removes the ack awaited under `id` (answered, timed out, or never sent).
    fn forget_ack(&self, id: u64) -> Option<oneshot::Sender<Payload>> {
        let tx = self
            .acks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
        if tx.is_some() {
            crate::metrics::sub(&self.ns.state.metrics().pending_acks, 1);
        }
        tx
    }

    fn disconnect_by_server(self: &Arc<Self>, close: bool) {
        if !self.connected.load(Ordering::Acquire) {
            return;
        }
        let packet = Packet::new(PacketType::Disconnect, self.nsp.as_ref(), None);
        let _ = self.session.send(self.ns.state.parser().encode(&packet));
        self.finish(DisconnectReason::ServerNamespaceDisconnect);
        if close {
            self.session.close();
        }
    }

    /// Leaves the namespace: unregisters, fails pending acks, drops the handlers, and runs the
    /// disconnect handlers. Runs once.
    fn finish(self: &Arc<Self>, reason: DisconnectReason) {
        if !self.connected.swap(false, Ordering::AcqRel) {
            return;
        }
        if let Some(pid) = &self.pid {
            // A lost connection can be recovered; a deliberate disconnect cannot.
            if matches!(reason, DisconnectReason::Transport(_)) {
                self.ns
                    .state
                    .adapter()
                    .persist_session(self.session_state(pid));
            } else {
                self.ns.state.adapter().discard_session(pid);
            }
        }
        self.ns.state.registry().remove(self.id);
        self.ns.state.check_idle();
        if let Some(client) = self.client.upgrade() {
            client.forget_socket(&self.nsp, self.id);
        }
        let pending = std::mem::take(&mut *self.acks.lock().unwrap_or_else(|e| e.into_inner()));
        crate::metrics::sub(&self.ns.state.metrics().pending_acks, pending.len() as u64);
        drop(pending);
        self.handlers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        *self.catch_all.write().unwrap_or_else(|e| e.into_inner()) = None;
        let handlers =
            std::mem::take(&mut *self.on_disconnect.lock().unwrap_or_else(|e| e.into_inner()));
        let socket = Socket {
            inner: self.clone(),
        };
        tracing::debug!(sid = %self.id, nsp = %self.nsp, reason = reason.as_str(), "socket disconnected");
        if let Some(hooks) = self.ns.state.hooks() {
            hooks.socket_disconnected(&socket, reason);
        }
        for handler in handlers {
            tokio::spawn(handler(socket.clone(), reason));
        }
    }
}

/// Forgets an awaited ack when dropped.
struct PendingAck {
    socket: Weak<SocketInner>,
    id: u64,
}

impl Drop for PendingAck {
    fn drop(&mut self) {
        if let Some(socket) = self.socket.upgrade() {
            socket.forget_ack(self.id);
        }
    }
}

impl LocalSocket for SocketInner {
    fn id(&self) -> Sid {
        self.id
    }

    fn deliver(&self, frame: &Frame, volatile: bool) {
        if !self.replay.hold(frame, None, volatile) {
            self.push(frame, volatile);
        }
    }

    fn deliver_logged(&self, frame: &Frame, offset: &Arc<str>) {
        if !self.replay.hold(frame, Some(offset), false) && !self.replay.sent_already(offset) {
            self.push(frame, false);
        }
    }

    fn deliver_with_ack(
        &self,
        event: &AckEvent<'_>,
        timeout: Duration,
    ) -> Pin<Box<dyn Future<Output = Option<Payload>> + Send>> {
        match self.register_ack(event) {
            Ok((id, rx)) => {
                // A client that never answers must not leave the entry behind: it goes when the
                // wait ends, however it ends (reply, timeout, or the future dropped).
                let guard = PendingAck {
                    socket: self.me.clone(),
                    id,
                };
                Box::pin(async move {
                    let reply = tokio::time::timeout(timeout, rx).await;
                    drop(guard);
                    reply.ok().and_then(Result::ok)
                })
            }
            Err(_) => Box::pin(async { None }),
        }
    }

    fn disconnect(&self, close: bool) {
        if let Some(me) = self.me.upgrade() {
            me.disconnect_by_server(close);
        }
    }

    fn info(&self, rooms: Vec<Room>) -> SocketInfo {
        let mut info = SocketInfo {
            id: self.id.to_string(),
            handshake: self.handshake.to_json(),
            rooms,
            data: self.data.lock().unwrap_or_else(|e| e.into_inner()).clone(),
        };
        if let Some(hooks) = self.ns.state.hooks()
            && let Some(me) = self.me.upgrade()
        {
            hooks.describe(&Socket { inner: me }, &mut info);
        }
        info
    }
}
