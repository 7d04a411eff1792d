//! The in-memory adapter: one node's rooms index and local delivery.
//!
//! `rooms[room] = {sid, ...}` plus each socket's own rooms, so that a broadcast costs
//! O(recipients) and a departing socket leaves every room at once. The room named by a socket's
//! own id is implicit (never stored), which keeps a socket with no rooms to one index entry.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use super::recovery::{RecoveryConfig, RecoveryLog, is_recoverable};
use super::{
    BroadcastOptions, JoinError, Room, ServerEvent, ServerEventHandler, ServerEventReply,
    SocketInfo,
};
use crate::engine::{Frame, Sid};
use crate::protocol::{AckEvent, JsonEvent, Packet, ParserKind, Payload};

/// A socket connected to this node, as the adapter drives it.
pub trait LocalSocket: Send + Sync + 'static {
    /// The socket id.
    fn id(&self) -> Sid;
    /// Queues an encoded packet; `volatile` packets are dropped rather than overflow the queue.
    fn deliver(&self, frame: &Frame, volatile: bool);
    /// Queues an encoded event that carries recovery offset `offset` (a socket being restored
    /// uses it to drop what its replay already sent). Default: [`LocalSocket::deliver`].
    fn deliver_logged(&self, frame: &Frame, offset: &Arc<str>) {
        let _ = offset;
        self.deliver(frame, false);
    }
    /// Sends `event`'s packet with a fresh ack id (its frame from [`AckEvent::frame`], which
    /// encodes once for every recipient); resolves to the reply, or `None` on timeout or
    /// disconnect.
    fn deliver_with_ack(
        &self,
        event: &AckEvent<'_>,
        timeout: Duration,
    ) -> Pin<Box<dyn Future<Output = Option<Payload>> + Send>>;
    /// Disconnects the socket from the namespace (`close`: and closes its connection).
    fn disconnect(&self, close: bool);
    /// The socket's handshake and data, with `rooms`.
    fn info(&self, rooms: Vec<Room>) -> SocketInfo;
}

/// A change in the set of rooms this node holds members of, as [`RoomObserver`]s see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoomChange<'a> {
    /// The room got its first local member.
    Created {
        /// The room.
        room: &'a str,
        /// Whether it is a socket's own room (named by its id).
        private: bool,
    },
    /// The room lost its last local member.
    Deleted {
        /// The room.
        room: &'a str,
        /// Whether it is a socket's own room (named by its id).
        private: bool,
    },
}

/// Told of every [`RoomChange`], in order, while the index is locked: it must be quick and
/// must not call back into the [`LocalAdapter`] (queue the work instead).
pub type RoomObserver = Arc<dyn Fn(RoomChange<'_>) + Send + Sync>;

/// Told of joins, leaves and deliveries while the index is locked: the server's
/// `Observer` hook points at the room index (set through [`super::SocketRegistry`]).
pub trait IndexObserver: Send + Sync {
    /// A socket joined (`true`) or left (`false`) a room other than its own.
    fn membership(&self, room: &str, sid: Sid, joined: bool);
    /// An event packet was delivered to a local socket by a broadcast.
    fn delivered(&self, packet: &Packet, sid: Sid);
}

struct Entry {
    socket: Arc<dyn LocalSocket>,
    /// The rooms joined, the socket's own id excluded.
    rooms: HashSet<Room>,
}

struct Index {
    /// Each room's members, with their sockets: a broadcast reaches them without a lookup
    /// per member.
    rooms: HashMap<Room, HashMap<Sid, Arc<dyn LocalSocket>>>,
    sockets: HashMap<Sid, Entry>,
    max_rooms_per_socket: usize,
    observer: Option<RoomObserver>,
    hooks: Option<Arc<dyn IndexObserver>>,
    max_room_name_len: usize,
}

impl Index {
    /// Calls `f` for every socket selected by `opts`, each once.
    fn for_each_match(
        &self,
        opts: &BroadcastOptions,
        mut f: impl FnMut(Sid, &Arc<dyn LocalSocket>),
    ) {
        let mut excluded: HashSet<Sid> = HashSet::new();
        for room in &opts.except {
            if let Some(members) = self.rooms.get(room) {
                excluded.extend(members.keys().copied());
            }
            if let Ok(sid) = room.parse::<Sid>() {
                excluded.insert(sid);
            }
        }
        if opts.rooms.is_empty() {
            for (sid, entry) in &self.sockets {
                if !excluded.contains(sid) {
                    f(*sid, &entry.socket);
                }
            }
            return;
        }
        let mut seen: HashSet<Sid> = HashSet::new();
        let single = opts.rooms.len() == 1;
        let mut visit = |sid: Sid, socket: &Arc<dyn LocalSocket>| {
            if excluded.contains(&sid) || (!single && !seen.insert(sid)) {
                return;
            }
            f(sid, socket);
        };
        for room in &opts.rooms {
            if let Some(members) = self.rooms.get(room) {
                for (sid, socket) in members {
                    visit(*sid, socket);
                }
            }
            if let Ok(sid) = room.parse::<Sid>()
                && let Some(entry) = self.sockets.get(&sid)
            {
                visit(sid, &entry.socket);
            }
        }
    }

    fn rooms_of(&self, sid: Sid) -> Vec<Room> {
        let mut rooms = vec![sid.to_string()];
        if let Some(entry) = self.sockets.get(&sid) {
            rooms.extend(entry.rooms.iter().cloned());
        }
        rooms
    }

    /// Adds a socket to a room, within the limits (a refusal is logged).
    fn join(&mut self, sid: Sid, room: &str) -> Result<(), JoinError> {
        if room == sid.as_str() {
            return Ok(());
        }
        if room.len() > self.max_room_name_len {
            tracing::warn!(sid = %sid, len = room.len(), limit = self.max_room_name_len, "room name too long; join refused");
            return Err(JoinError::RoomNameTooLong {
                len: room.len(),
                max: self.max_room_name_len,
            });
        }
        let Some(entry) = self.sockets.get_mut(&sid) else {
            return Ok(());
        };
        if entry.rooms.len() >= self.max_rooms_per_socket && !entry.rooms.contains(room) {
            tracing::warn!(sid = %sid, limit = self.max_rooms_per_socket, "room limit reached; join refused");
            return Err(JoinError::TooManyRooms {
                max: self.max_rooms_per_socket,
            });
        }
        if entry.rooms.insert(room.to_owned()) {
            let socket = entry.socket.clone();
            let members = self.rooms.entry(room.to_owned()).or_default();
            let created = members.is_empty();
            members.insert(sid, socket);
            if let Some(hooks) = &self.hooks {
                hooks.membership(room, sid, true);
            }
            if created && let Some(observer) = &self.observer {
                observer(RoomChange::Created {
                    room,
                    private: false,
                });
            }
        }
        Ok(())
    }

    fn leave(&mut self, sid: Sid, room: &str) {
        let Some(entry) = self.sockets.get_mut(&sid) else {
            return;
        };
        if entry.rooms.remove(room) {
            self.forget_member(sid, room);
            if let Some(hooks) = &self.hooks {
                hooks.membership(room, sid, false);
            }
        }
    }

    fn forget_member(&mut self, sid: Sid, room: &str) {
        if let Some(members) = self.rooms.get_mut(room) {
            members.remove(&sid);
            if members.is_empty() {
                self.rooms.remove(room);
                if let Some(observer) = &self.observer {
                    observer(RoomChange::Deleted {
                        room,
                        private: false,
                    });
                }
            }
        }
    }
}

struct Inner {
    nsp: String,
    parser: ParserKind,
    index: RwLock<Index>,
    server_events: RwLock<Option<ServerEventHandler>>,
    recovery: Option<RecoveryLog>,
}

/// The in-memory adapter of one namespace: its local sockets and rooms.
#[derive(Clone)]
pub struct LocalAdapter {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for LocalAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalAdapter")
            .field("nsp", &self.inner.nsp)
            .field("sockets", &self.len())
            .field("rooms", &self.room_count())
            .finish()
    }
}

impl LocalAdapter {
    /// An empty index for namespace `nsp`, encoding packets with `parser`, with no limit on
    /// the rooms a socket may join.
    #[must_use]
    pub fn new(nsp: impl Into<String>, parser: ParserKind) -> Self {
        Self::with_room_limits(nsp, parser, usize::MAX, usize::MAX)
    }

    /// Like [`LocalAdapter::new`]; a socket joins at most `max_rooms_per_socket` rooms (its own
    /// id not counted), of names at most `max_room_name_len` bytes long; further joins are
    /// refused and logged.
    pub(super) fn with_room_limits(
        nsp: impl Into<String>,
        parser: ParserKind,
        max_rooms_per_socket: usize,
        max_room_name_len: usize,
    ) -> Self {
        LocalAdapter {
            inner: Arc::new(Inner {
                nsp: nsp.into(),
                parser,
                index: RwLock::new(Index {
                    rooms: HashMap::new(),
                    sockets: HashMap::new(),
                    max_rooms_per_socket,
                    observer: None,
                    hooks: None,
                    max_room_name_len,
                }),
                server_events: RwLock::new(None),
                recovery: None,
            }),
        }
    }

    /// This adapter with connection state recovery when `recovery` is set: broadcasts carry
    /// offsets and are logged for replay. Call it on a new adapter (before it is cloned).
    pub(super) fn with_recovery(mut self, recovery: Option<RecoveryConfig>) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.recovery = recovery.map(RecoveryLog::new);
        }
        self
    }

    /// The recovery store, when connection state recovery is on.
    #[must_use]
    pub fn recovery(&self) -> Option<&RecoveryLog> {
        self.inner.recovery.as_ref()
    }

    /// The recovery settings, when connection state recovery is on.
    #[must_use]
    pub fn recovery_config(&self) -> Option<&RecoveryConfig> {
        self.recovery().map(RecoveryLog::config)
    }

    /// The in-memory adapter's broadcast: with recovery on, a recoverable packet gets the next
    /// offset and goes into the log, then is delivered (in log order); otherwise it is
    /// delivered as is. Returns the number of recipients.
    pub fn broadcast_recorded(&self, mut packet: Packet, opts: &BroadcastOptions) -> usize {
        match self.recovery() {
            Some(log) if is_recoverable(&packet, opts) => {
                let mut held = log.hold();
                let offset = held.record(&mut packet, opts);
                self.broadcast_local_with_offset(&packet, opts, &offset)
            }
            _ => self.broadcast_local(&packet, opts),
        }
    }

    /// Like [`LocalAdapter::broadcast_local`] for an event whose last argument is already its
    /// recovery offset `offset`.
    pub fn broadcast_local_with_offset(
        &self,
        packet: &Packet,
        opts: &BroadcastOptions,
        offset: &Arc<str>,
    ) -> usize {
        let frame = self.inner.parser.encode(packet);
        let mut count = 0;
        let index = self.read();
        index.for_each_match(opts, |sid, socket| {
            socket.deliver_logged(&frame, offset);
            if let Some(hooks) = &index.hooks {
                hooks.delivered(packet, sid);
            }
            count += 1;
        });
        count
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Index> {
        self.inner.index.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Index> {
        self.inner.index.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The namespace name.
    #[must_use]
    pub fn nsp(&self) -> &str {
        &self.inner.nsp
    }

    /// The packet format of this server.
    #[must_use]
    pub fn parser(&self) -> ParserKind {
        self.inner.parser
    }

    /// Sets the observer of joins, leaves and deliveries (replacing any previous one).
    pub(super) fn observe_index(&self, hooks: Arc<dyn IndexObserver>) {
        self.write().hooks = Some(hooks);
    }

    /// Sets the observer of room creations and deletions (replacing any previous one). Rooms
    /// that exist already are not reported.
    pub fn observe_rooms(&self, observer: RoomObserver) {
        self.write().observer = Some(observer);
    }

    /// Registers a connected socket.
    pub(super) fn insert(&self, socket: Arc<dyn LocalSocket>) {
        let sid = socket.id();
        let mut index = self.write();
        let fresh = index
            .sockets
            .insert(
                sid,
                Entry {
                    socket,
                    rooms: HashSet::new(),
                },
            )
            .is_none();
        if fresh && let Some(observer) = &index.observer {
            observer(RoomChange::Created {
                room: sid.as_str(),
                private: true,
            });
        }
    }

    /// Unregisters a socket and removes it from every room.
    pub(super) fn remove(&self, sid: Sid) -> Option<Arc<dyn LocalSocket>> {
        let mut index = self.write();
        let entry = index.sockets.remove(&sid)?;
        for room in &entry.rooms {
            index.forget_member(sid, room);
        }
        if let Some(observer) = &index.observer {
            observer(RoomChange::Deleted {
                room: sid.as_str(),
                private: true,
            });
        }
        Some(entry.socket)
    }

    /// A local socket by id.
    #[must_use]
    pub fn get(&self, sid: Sid) -> Option<Arc<dyn LocalSocket>> {
        self.read().sockets.get(&sid).map(|e| e.socket.clone())
    }

    /// Every local socket.
    #[must_use]
    pub fn sockets(&self) -> Vec<Arc<dyn LocalSocket>> {
        self.read()
            .sockets
            .values()
            .map(|e| e.socket.clone())
            .collect()
    }

    /// The number of local sockets.
    #[must_use]
    pub fn len(&self) -> usize {
        self.read().sockets.len()
    }

    /// Whether there is no local socket.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether a local socket is in `room` (its own id's room included).
    #[must_use]
    pub fn has_room(&self, room: &str) -> bool {
        let index = self.read();
        index.rooms.contains_key(room)
            || room
                .parse::<Sid>()
                .is_ok_and(|sid| index.sockets.contains_key(&sid))
    }

    /// The number of rooms in the index (own-id rooms are implicit and not counted).
    #[must_use]
    pub fn room_count(&self) -> usize {
        self.read().rooms.len()
    }

    /// Adds a socket to rooms; those beyond the limits are refused (the first refusal is
    /// returned, after every room that fits was joined).
    pub(super) fn add_all<I: IntoIterator<Item = Room>>(
        &self,
        sid: Sid,
        rooms: I,
    ) -> Result<(), JoinError> {
        let mut index = self.write();
        let mut result = Ok(());
        for room in rooms {
            if let Err(err) = index.join(sid, &room) {
                result = result.and(Err(err));
            }
        }
        result
    }

    /// Removes a socket from a room.
    pub(super) fn del(&self, sid: Sid, room: &str) {
        self.write().leave(sid, room);
    }

    /// The rooms of a socket, its own id first.
    #[must_use]
    pub fn rooms_of(&self, sid: Sid) -> Vec<Room> {
        self.read().rooms_of(sid)
    }

    /// The ids of the local sockets selected by `opts`.
    #[must_use]
    pub fn matching_ids(&self, opts: &BroadcastOptions) -> Vec<Sid> {
        let mut ids = Vec::new();
        self.read().for_each_match(opts, |sid, _| ids.push(sid));
        ids
    }

    fn matching(&self, opts: &BroadcastOptions) -> Vec<Arc<dyn LocalSocket>> {
        let mut out = Vec::new();
        self.read()
            .for_each_match(opts, |_, socket| out.push(socket.clone()));
        out
    }

    /// Encodes `packet` once and queues it for every matching local socket. Returns the number
    /// of recipients.
    pub fn broadcast_local(&self, packet: &Packet, opts: &BroadcastOptions) -> usize {
        let frame = self.inner.parser.encode(packet);
        let mut count = 0;
        let index = self.read();
        index.for_each_match(opts, |sid, socket| {
            socket.deliver(&frame, opts.flags.volatile);
            if let Some(hooks) = &index.hooks {
                hooks.delivered(packet, sid);
            }
            count += 1;
        });
        count
    }

    /// Whether [`LocalAdapter::broadcast_local_frame`] can deliver a JSON text frame encoded
    /// elsewhere: this server uses the default parser and no index observer wants the packets.
    #[must_use]
    pub fn takes_json_frames(&self) -> bool {
        self.inner.parser == ParserKind::Json && self.read().hooks.is_none()
    }

    /// Like [`LocalAdapter::broadcast_local`] for a packet already encoded (by the default
    /// parser) as `frame`: the same recipients, volatility and accounting. Returns `None`, and
    /// delivers nothing, when the frame cannot stand for the packet here (see
    /// [`LocalAdapter::takes_json_frames`]); the caller then broadcasts the packet.
    #[must_use]
    pub fn broadcast_local_frame(&self, frame: &Frame, opts: &BroadcastOptions) -> Option<usize> {
        if self.inner.parser != ParserKind::Json {
            return None;
        }
        let index = self.read();
        if index.hooks.is_some() {
            return None;
        }
        let mut count = 0;
        index.for_each_match(opts, |_, socket| {
            socket.deliver(frame, opts.flags.volatile);
            count += 1;
        });
        Some(count)
    }

    /// Delivers an event encoded once to every matching local socket: its frame where
    /// [`LocalAdapter::broadcast_local_frame`] takes it, otherwise the packet read back from it
    /// (an observer was set since the caller asked). Returns the number of recipients.
    pub fn broadcast_local_event(&self, event: &JsonEvent, opts: &BroadcastOptions) -> usize {
        if let Some(count) = self.broadcast_local_frame(&event.frame(), opts) {
            return count;
        }
        match event.to_packet() {
            Ok(packet) => self.broadcast_local(&packet, opts),
            Err(err) => {
                tracing::error!(%err, "an encoded event did not read back");
                0
            }
        }
    }

    /// Sends `packet` to every matching local socket, each with its own ack id (the packet is
    /// encoded once, see [`AckEvent`]). Returns how many were sent it, and a future of the
    /// replies that arrive within `timeout`.
    pub fn broadcast_with_ack_local(
        &self,
        packet: &Packet,
        opts: &BroadcastOptions,
        timeout: Duration,
    ) -> (usize, impl Future<Output = Vec<Payload>> + Send + 'static) {
        let targets = self.matching(opts);
        let event = AckEvent::new(packet);
        let pending: Vec<_> = targets
            .iter()
            .map(|s| s.deliver_with_ack(&event, timeout))
            .collect();
        let count = pending.len();
        let replies = async move {
            futures_util::future::join_all(pending)
                .await
                .into_iter()
                .flatten()
                .collect()
        };
        (count, replies)
    }

    /// Makes the matching local sockets join `rooms`.
    pub fn add_sockets_local(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        let ids = self.matching_ids(opts);
        let mut index = self.write();
        for sid in ids {
            for room in rooms {
                // Refusals are logged by `join`.
                let _ = index.join(sid, room);
            }
        }
    }

    /// Makes the matching local sockets leave `rooms`.
    pub fn del_sockets_local(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        let ids = self.matching_ids(opts);
        let mut index = self.write();
        for sid in ids {
            for room in rooms {
                index.leave(sid, room);
            }
        }
    }

    /// Disconnects the matching local sockets.
    pub fn disconnect_sockets_local(&self, opts: &BroadcastOptions, close: bool) {
        for socket in self.matching(opts) {
            socket.disconnect(close);
        }
    }

    /// Describes the matching local sockets.
    #[must_use]
    pub fn fetch_sockets_local(&self, opts: &BroadcastOptions) -> Vec<SocketInfo> {
        let index = self.read();
        let mut out = Vec::new();
        index.for_each_match(opts, |sid, socket| {
            out.push(socket.info(index.rooms_of(sid)));
        });
        out
    }

    /// Every local room, own-id rooms included.
    #[must_use]
    pub fn rooms_local(&self) -> BTreeSet<Room> {
        let index = self.read();
        let mut rooms: BTreeSet<Room> = index.rooms.keys().cloned().collect();
        rooms.extend(index.sockets.keys().map(|sid| sid.to_string()));
        rooms
    }

    /// Sets the handler of events sent by other servers.
    pub fn on_server_event(&self, handler: ServerEventHandler) {
        *self
            .inner
            .server_events
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Some(handler);
    }

    /// Hands an event from another server to the handler (used by cluster adapters).
    pub fn dispatch_server_event(&self, event: ServerEvent, ack: Option<ServerEventReply>) {
        let handler = self
            .inner
            .server_events
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some(handler) = handler {
            handler(event, ack);
        }
    }
}
