//! One Engine.IO connection seen from Socket.IO: its packet decoder and the namespaces it joined.
//! It is the engine's per-session state ([`EngineHandler::Conn`]).

use std::collections::HashSet;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::task::{Context, Poll};

use serde_json::Value;

use crate::adapter::SessionState;
use crate::connect_timeout::{AwaitsNamespace, ConnectTimeouts};
use crate::engine::{CloseReason, EngineHandler, Message, Session, Sid};
use crate::handler_slots::{HandlerSlots, ReadGate};
use crate::handshake::Handshake;
use crate::metrics::add;
use crate::namespace::{ConnectGuard, Namespace};
use crate::protocol::{Decoder, Packet, PacketType};
use crate::server_inner::ServerInner;
use crate::socket::{Identity, Socket, SocketOwner};

/// Packets a client may send to a namespace while its connect is being handled.
const MAX_QUEUED_WHILE_CONNECTING: usize = 256;

enum Slot {
    /// Middlewares or the connect handler are running; packets wait here.
    Connecting(Vec<Packet>),
    Connected(Socket),
}

struct ClientState {
    decoder: Decoder,
    /// The namespaces joined or being joined (a client rarely has more than a few).
    slots: Vec<(Arc<str>, Slot)>,
}

impl ClientState {
    fn slot(&mut self, nsp: &str) -> Option<&mut Slot> {
        self.slots
            .iter_mut()
            .find(|(name, _)| &**name == nsp)
            .map(|(_, slot)| slot)
    }

    fn remove(&mut self, nsp: &str) {
        self.slots.retain(|(name, _)| &**name != nsp);
    }
}

/// The Socket.IO side of one connection.
pub(crate) struct Client {
    me: Weak<Client>,
    session: Arc<Session>,
    server: Arc<ServerInner>,
    state: Mutex<ClientState>,
    closed: OnceLock<CloseReason>,
    /// Closed while too many events of this connection wait for a handler slot.
    gate: Arc<ReadGate>,
}

impl Client {
    fn lock(&self) -> std::sync::MutexGuard<'_, ClientState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn send(&self, packet: &Packet) {
        let _ = self.session.send(self.server.config.parser.encode(packet));
    }

    fn on_message(&self, message: Message<'_>) {
        let decoded = {
            let mut state = self.lock();
            match message {
                Message::Text(text) => state.decoder.on_text(text),
                Message::Binary(bin) => state.decoder.on_binary(bin),
            }
        };
        match decoded {
            Ok(Some(packet)) => self.on_packet(packet),
            Ok(None) => {}
            Err(err) => {
                tracing::debug!(sid = %self.session.sid(), error = %err, "invalid socket.io packet");
                self.session.stop_with(CloseReason::ParseError);
            }
        }
    }

    fn on_packet(&self, packet: Packet) {
        if packet.kind == PacketType::Connect {
            return self.on_connect(packet);
        }
        let socket = {
            let mut state = self.lock();
            match state.slot(&packet.nsp) {
                Some(Slot::Connected(socket)) => socket.clone(),
                Some(Slot::Connecting(queue)) => {
                    if queue.len() < MAX_QUEUED_WHILE_CONNECTING {
                        queue.push(packet);
                    } else {
                        drop(state);
                        self.session.stop_with(CloseReason::ParseError);
                    }
                    return;
                }
                None => return,
            }
        };
        socket.on_packet(packet);
    }

    fn on_connect(&self, packet: Packet) {
        let (ns, connecting) = match self.server.namespace_for(&packet.nsp) {
            Ok(found) => found,
            Err(refusal) => {
                add(&self.server.metrics.socket_refusals, 1);
                let mut error = serde_json::Map::new();
                error.insert("message".into(), Value::String(refusal.to_string()));
                self.send(&Packet::new(
                    PacketType::ConnectError,
                    packet.nsp,
                    Some(Value::Object(error)),
                ));
                return;
            }
        };
        {
            let mut state = self.lock();
            if state.slot(&packet.nsp).is_some() {
                return;
            }
            state
                .slots
                .push((ns.name_arc().clone(), Slot::Connecting(Vec::new())));
        }
        let Some(me) = self.me.upgrade() else { return };
        let auth = packet
            .data
            .unwrap_or_else(|| Value::Object(Default::default()));
        tokio::spawn(async move { me.connect(ns, auth, connecting).await });
    }

    /// The session a CONNECT asks to restore (`{pid, offset}` beside the auth payload), if
    /// recovery is on and the adapter grants it.
    async fn claim(&self, ns: &Namespace, auth: &Value) -> Option<(SessionState, String)> {
        self.server.config.connection_state_recovery.as_ref()?;
        let pid = auth.get("pid")?.as_str()?;
        let offset = auth.get("offset")?.as_str()?;
        let session = ns.adapter().claim_session(pid, offset).await?;
        // A record that does not name this namespace, or whose ids are not ours, is not
        // restored (never another client's state).
        if session.pid != pid || session.nsp.as_deref().is_some_and(|n| n != ns.name()) {
            return None;
        }
        let sid = session.sid.parse::<Sid>().ok()?;
        if ns.adapter().local().get(sid).is_some() {
            // Its old connection is still open here: not restored twice.
            tracing::debug!(sid = %sid, "session claimed while its socket is still connected");
            return None;
        }
        Some((session, offset.to_owned()))
    }

    async fn connect(self: Arc<Self>, ns: Namespace, auth: Value, _connecting: ConnectGuard) {
        let nsp = ns.name().to_owned();
        let recovery = self.server.config.connection_state_recovery.clone();
        let restored = self.claim(&ns, &auth).await;
        let handshake = Handshake::new(self.session.request(), auth);
        let identity = match &restored {
            Some((session, _)) => Identity {
                id: session.sid.parse().unwrap_or_else(|_| Sid::random()),
                pid: Some(Arc::from(session.pid.as_str())),
                recovered: true,
                data: session.data.clone(),
            },
            None => Identity {
                id: Sid::random(),
                pid: recovery.as_ref().map(|_| Arc::from(Sid::random().as_str())),
                recovered: false,
                data: Value::Null,
            },
        };
        let slots = HandlerSlots::new(
            self.server.config.max_handlers_per_socket,
            self.gate.clone(),
            self.server.metrics.clone(),
        );
        let socket = Socket::new(
            ns.clone(),
            self.me.clone(),
            self.session.clone(),
            handshake,
            identity,
            slots,
        );
        let skip = restored.is_some() && recovery.as_ref().is_some_and(|r| r.skip_middlewares);
        if !skip && let Err(refusal) = ns.run_middlewares(&socket).await {
            add(&self.server.metrics.socket_refusals, 1);
            self.lock().remove(&nsp);
            self.send(&Packet::new(
                PacketType::ConnectError,
                nsp,
                Some(refusal.to_json()),
            ));
            return;
        }
        if self.session.is_closed() {
            self.lock().remove(&nsp);
            return;
        }
        socket.mark_connected();
        ns.registry().insert(socket.inner.clone());
        if let Some((session, _)) = &restored {
            let own = socket.id().to_string();
            socket.join(session.rooms.iter().filter(|r| **r != own).cloned());
        }
        // With an adapter that subscribes per socket, messages sent to this socket from other
        // nodes reach it once the CONNECT is out.
        ns.adapter().rooms_ready(&[socket.id().to_string()]).await;
        add(&self.server.metrics.socket_connects, 1);
        let mut ok = serde_json::Map::new();
        ok.insert("sid".into(), Value::String(socket.id().to_string()));
        if let Some(pid) = socket.pid() {
            ok.insert("pid".into(), Value::String(pid.to_string()));
        }
        // Registered (and holding live packets) before the missed ones are read, so that
        // nothing falls between the replay and the live stream.
        let missed = match &restored {
            Some((session, offset)) => ns.adapter().missed_packets(session, offset).await,
            None => Vec::new(),
        };
        self.send(&Packet::new(
            PacketType::Connect,
            nsp.clone(),
            Some(Value::Object(ok)),
        ));
        if restored.is_some() {
            let mut replayed = HashSet::with_capacity(missed.len());
            for missed in missed {
                self.send(&missed.packet);
                replayed.insert(missed.offset);
            }
            add(&self.server.metrics.socket_recoveries, 1);
            socket.end_replay(replayed);
        }
        socket.session_changed();
        let told = socket.transport();
        if let Some(hooks) = ns.hooks() {
            hooks.socket_connected(&socket);
        }
        ns.run_connect_handler(&socket).await;
        // Hand over the packets that arrived meanwhile, in order, then go live.
        let live = loop {
            let batch = {
                let mut state = self.lock();
                match state.slot(&nsp) {
                    Some(Slot::Connecting(queue)) if !queue.is_empty() => std::mem::take(queue),
                    Some(slot @ Slot::Connecting(_)) => {
                        *slot = Slot::Connected(socket.clone());
                        break true;
                    }
                    _ => break false,
                }
            };
            for packet in batch {
                socket.on_packet(packet);
            }
        };
        // An upgrade that ended after the observer was told of the socket but while it was still
        // connecting did not reach it (`on_upgrade` tells of connected sockets): tell it now.
        // If `on_upgrade` saw the socket after all, the observer hears of the change twice.
        if live
            && socket.transport() != told
            && let Some(observer) = self.server.observer()
        {
            observer.transport_changed(&socket);
        }
        if let Some(reason) = self.closed.get() {
            socket.on_transport_close(*reason);
        }
    }

    /// The connected sockets of this client.
    fn sockets(&self) -> Vec<Socket> {
        self.lock()
            .slots
            .iter()
            .filter_map(|(_, slot)| match slot {
                Slot::Connected(socket) => Some(socket.clone()),
                Slot::Connecting(_) => None,
            })
            .collect()
    }

    fn on_close(&self, reason: CloseReason) {
        let _ = self.closed.set(reason);
        let slots = std::mem::take(&mut self.lock().slots);
        for (_, slot) in slots {
            if let Slot::Connected(socket) = slot {
                socket.on_transport_close(reason);
            }
        }
    }
}

impl SocketOwner for Client {
    fn forget_socket(&self, nsp: &str, id: Sid) {
        let mut state = self.lock();
        if matches!(state.slot(nsp), Some(Slot::Connected(s)) if s.id() == id) {
            state.remove(nsp);
        }
    }
}

/// The engine handler that turns sessions into Socket.IO clients.
pub(crate) struct SioHandler {
    pub(crate) server: Arc<ServerInner>,
    /// Closes connections that join no namespace in time.
    pub(crate) connect_timeouts: Arc<ConnectTimeouts<Client>>,
}

impl EngineHandler for SioHandler {
    type Conn = Arc<Client>;

    fn on_open(&self, session: &Arc<Session>) -> Arc<Client> {
        let config = &self.server.config;
        let client = Arc::new_cyclic(|me| Client {
            me: me.clone(),
            session: session.clone(),
            server: self.server.clone(),
            state: Mutex::new(ClientState {
                decoder: Decoder::new(config.parser, config.binary_limits),
                slots: Vec::new(),
            }),
            closed: OnceLock::new(),
            gate: Arc::new(ReadGate::new(config.max_handlers_per_socket)),
        });
        self.connect_timeouts.watch(&client);
        client
    }

    fn on_message(&self, client: &Arc<Client>, message: Message<'_>) {
        client.on_message(message);
    }

    fn poll_read_ready(&self, client: &Arc<Client>, cx: &mut Context<'_>) -> Poll<()> {
        client.gate.poll_open(cx)
    }

    fn on_close(&self, client: &Arc<Client>, reason: CloseReason) {
        client.on_close(reason);
    }

    fn on_upgrade(&self, client: &Arc<Client>) {
        if let Some(observer) = self.server.observer() {
            for socket in client.sockets() {
                observer.transport_changed(&socket);
            }
        }
    }
}

/// The connect timeout expired: a connection that joined no namespace is closed.
impl AwaitsNamespace for Client {
    fn on_connect_timeout(&self) {
        if self.lock().slots.is_empty() && !self.session.is_closed() {
            tracing::debug!(sid = %self.session.sid(), "no namespace joined in time");
            self.session.close();
        }
    }
}
