//! Hook points for tools that watch a server (the admin UI's instrumentation, tracers): an
//! [`Observer`] is told of namespaces, sockets, rooms and events as they happen.
//!
//! A server holds at most one observer, set once with [`crate::Server::observe`]. Without one,
//! each hook point costs one atomic load (an empty [`OnceLock`]); nothing is allocated or
//! encoded for it. Hooks run on the task that does the work, some under the room index's lock:
//! they must be quick and must not call back into the server; queue anything slow.

use std::sync::{Arc, OnceLock};

use serde_json::Value;

use crate::adapter::{IndexObserver, SocketInfo};
use crate::engine::Sid;
use crate::event::DisconnectReason;
use crate::hooks::SocketHooks;
use crate::namespace::{Hooks, Namespace};
use crate::protocol::{Packet, PacketType, Payload};
use crate::socket::Socket;

/// Told of what happens in a server. Every method has an empty default: implement only what
/// you need.
pub trait Observer: Send + Sync + 'static {
    /// A namespace was created on this node (also called, at [`crate::Server::observe`], for
    /// each namespace that already exists).
    fn namespace_created(&self, _ns: &Namespace) {}

    /// A socket connected (after the middlewares accepted it, before its connect handler).
    fn socket_connected(&self, _socket: &Socket) {}

    /// A socket left its namespace.
    fn socket_disconnected(&self, _socket: &Socket, _reason: DisconnectReason) {}

    /// A local socket joined a room (by [`Socket::join`] or by a selector, from any node). The
    /// socket's own room is not reported. Called under the room index's lock.
    fn room_joined(&self, _nsp: &str, _room: &str, _sid: Sid) {}

    /// A local socket left a room (not reported when the socket disconnects). Called under the
    /// room index's lock.
    fn room_left(&self, _nsp: &str, _room: &str, _sid: Sid) {}

    /// A socket received an event (whether or not a handler takes it).
    fn event_received(&self, _socket: &Socket, _event: &str, _payload: &Payload) {}

    /// An event was sent to local socket `sid` of namespace `nsp`: by [`Socket::emit`],
    /// [`Socket::emit_payload`] or [`Socket::emit_with_ack`], or by a broadcast (from any
    /// node; reported once per local recipient, under the room index's lock). Broadcasts
    /// with acks are not reported.
    fn event_sent(&self, _nsp: &str, _sid: Sid, _event: &str, _payload: &Payload) {}

    /// A socket's connection moved from polling to WebSocket ([`Socket::transport`] tells
    /// the new one). An upgrade that ends while the socket's connect handler runs is told when
    /// the handler is done (rarely twice, the second time with the same transport).
    fn transport_changed(&self, _socket: &Socket) {}

    /// A socket's data was replaced with [`Socket::set_data`].
    fn data_changed(&self, _socket: &Socket) {}

    /// Describes a local socket for `fetch_sockets` (any node's): the observer may add to
    /// `info.data` what other nodes' observers need to know of the socket. Called under the
    /// room index's lock: do not call [`Socket::rooms`] or join/leave here.
    fn describe(&self, _socket: &Socket, _info: &mut SocketInfo) {}
}

/// The observer slot of one server. Its namespaces and sockets reach the observer through the
/// socket layer's own hooks (`hooks.rs`), which [`ObserverHooks`] implements.
#[derive(Default)]
pub(crate) struct ObserverSlot {
    cell: OnceLock<Arc<dyn Observer>>,
    hooks: Arc<Hooks>,
}

impl ObserverSlot {
    /// The observer, if one is set.
    #[inline]
    pub(crate) fn get(&self) -> Option<&Arc<dyn Observer>> {
        self.cell.get()
    }

    /// The hooks the namespaces hold.
    pub(crate) fn hooks(&self) -> &Arc<Hooks> {
        &self.hooks
    }

    /// Sets the observer (and the socket layer's hooks on it); `false` when one was already
    /// set.
    pub(crate) fn set(&self, observer: Arc<dyn Observer>) -> bool {
        if self.cell.set(observer.clone()).is_err() {
            return false;
        }
        self.hooks.set(Arc::new(ObserverHooks(observer)));
        true
    }
}

/// The socket layer's hooks, told to an [`Observer`].
struct ObserverHooks(Arc<dyn Observer>);

impl SocketHooks<Socket> for ObserverHooks {
    fn socket_connected(&self, socket: &Socket) {
        self.0.socket_connected(socket);
    }

    fn socket_disconnected(&self, socket: &Socket, reason: DisconnectReason) {
        self.0.socket_disconnected(socket, reason);
    }

    fn event_received(&self, socket: &Socket, event: &str, payload: &Payload) {
        self.0.event_received(socket, event, payload);
    }

    fn event_sent(&self, nsp: &str, sid: Sid, event: &str, payload: &Payload) {
        self.0.event_sent(nsp, sid, event, payload);
    }

    fn data_changed(&self, socket: &Socket) {
        self.0.data_changed(socket);
    }

    fn describe(&self, socket: &Socket, info: &mut SocketInfo) {
        self.0.describe(socket, info);
    }
}

impl Namespace {
    /// Reports this namespace's joins, leaves and broadcast deliveries to `observer`.
    pub(crate) fn report_to(&self, observer: Arc<dyn Observer>) {
        self.registry().observe_index(Arc::new(IndexHooks {
            nsp: self.name_arc().clone(),
            observer,
        }));
    }
}

/// Why [`crate::Server::observe`] refused an observer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the server already has an observer")]
pub struct ObserverAlreadySet;

/// The observer's hooks at one namespace's room index.
struct IndexHooks {
    nsp: Arc<str>,
    observer: Arc<dyn Observer>,
}

impl IndexObserver for IndexHooks {
    fn membership(&self, room: &str, sid: Sid, joined: bool) {
        if joined {
            self.observer.room_joined(&self.nsp, room, sid);
        } else {
            self.observer.room_left(&self.nsp, room, sid);
        }
    }

    fn delivered(&self, packet: &Packet, sid: Sid) {
        if !matches!(packet.kind, PacketType::Event | PacketType::BinaryEvent) {
            return;
        }
        let Some(Value::Array(args)) = &packet.data else {
            return;
        };
        let Some((Value::String(event), rest)) = args.split_first() else {
            return;
        };
        let payload = Payload {
            args: rest.to_vec(),
            attachments: packet.attachments.clone(),
        };
        self.observer.event_sent(&self.nsp, sid, event, &payload);
    }
}
