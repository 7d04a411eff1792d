//! Development mode: every socket, room and event of this node, as it happens, to every admin
//! client of the cluster (`socket_connected`, `socket_updated`, `socket_disconnected`,
//! `room_joined`, `room_left`, `event_received`, `event_sent`).
//!
//! The server's hooks ([`sio_server::Observer`]) run on hot paths, some under locks: they only
//! build the message and queue it (bounded, [`QUEUE`] messages); one task broadcasts the queue
//! to the admin namespace through the adapter. What does not fit is dropped, counted
//! ([`crate::AdminUi::dropped_events`]) and logged.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};
use sio_server::adapter::SocketInfo;
use sio_server::engine::Sid;
use sio_server::{DisconnectReason, Namespace, Observer, Payload, Socket};
use tokio::sync::mpsc;

use crate::serialize::{add_admin_facts, admin_facts, describe_local, now_iso, serialize};

/// The most messages waiting to be broadcast.
pub(crate) const QUEUE: usize = 4096;

/// A message for the admin clients: an event name and its arguments.
pub(crate) type Message = (&'static str, Vec<Value>);

/// The observer that turns the server's hooks into admin messages.
pub(crate) struct LiveEvents {
    admin_nsp: String,
    queue: mpsc::Sender<Message>,
    dropped: Arc<AtomicU64>,
}

impl LiveEvents {
    /// An observer queuing into `queue`; drops are counted in `dropped`.
    pub(crate) fn new(
        admin_nsp: String,
        queue: mpsc::Sender<Message>,
        dropped: Arc<AtomicU64>,
    ) -> Self {
        LiveEvents {
            admin_nsp,
            queue,
            dropped,
        }
    }

    fn send(&self, event: &'static str, args: Vec<Value>) {
        if self.queue.try_send((event, args)).is_err() {
            let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if n == 1 || n.is_multiple_of(1000) {
                tracing::warn!(dropped = n, "admin UI: event queue full; events dropped");
            }
        }
    }

    /// `room_joined` / `room_left`: namespace, room, socket id, time.
    fn room_event(&self, kind: &'static str, nsp: &str, room: &str, sid: Sid) {
        self.send(
            kind,
            vec![
                json!(nsp),
                json!(room),
                json!(sid.to_string()),
                json!(now_iso()),
            ],
        );
    }

    /// `event_received` / `event_sent`: namespace, socket id, `[event, ...args]`, time. Not
    /// reported for the admin namespace itself.
    fn traffic_event(
        &self,
        kind: &'static str,
        nsp: &str,
        sid: Sid,
        event: &str,
        payload: &Payload,
    ) {
        if nsp == self.admin_nsp {
            return;
        }
        self.send(
            kind,
            vec![
                json!(nsp),
                json!(sid.to_string()),
                event_args(event, payload),
                json!(now_iso()),
            ],
        );
    }
}

/// The arguments of an event as the UI shows them: the event name first (binary attachments
/// stay placeholders).
fn event_args(event: &str, payload: &Payload) -> Value {
    let mut args = Vec::with_capacity(payload.args.len() + 1);
    args.push(Value::String(event.to_owned()));
    args.extend(payload.args.iter().cloned());
    Value::Array(args)
}

impl Observer for LiveEvents {
    fn socket_connected(&self, socket: &Socket) {
        let nsp = socket.namespace().name();
        let info = describe_local(socket);
        self.send(
            "socket_connected",
            vec![serialize(&info, nsp), json!(now_iso())],
        );
    }

    fn socket_disconnected(&self, socket: &Socket, reason: DisconnectReason) {
        self.send(
            "socket_disconnected",
            vec![
                json!(socket.namespace().name()),
                json!(socket.id().to_string()),
                json!(reason.as_str()),
                json!(now_iso()),
            ],
        );
    }

    fn room_joined(&self, nsp: &str, room: &str, sid: Sid) {
        self.room_event("room_joined", nsp, room, sid);
    }

    fn room_left(&self, nsp: &str, room: &str, sid: Sid) {
        self.room_event("room_left", nsp, room, sid);
    }

    fn event_received(&self, socket: &Socket, event: &str, payload: &Payload) {
        self.traffic_event(
            "event_received",
            socket.namespace().name(),
            socket.id(),
            event,
            payload,
        );
    }

    fn event_sent(&self, nsp: &str, sid: Sid, event: &str, payload: &Payload) {
        self.traffic_event("event_sent", nsp, sid, event, payload);
    }

    fn transport_changed(&self, socket: &Socket) {
        self.send(
            "socket_updated",
            vec![json!({
                "id": socket.id().to_string(),
                "nsp": socket.namespace().name(),
                "transport": socket.transport().as_str(),
            })],
        );
    }

    fn data_changed(&self, socket: &Socket) {
        let mut data = socket.data::<Value>().unwrap_or(Value::Null);
        if let Value::Object(map) = &mut data {
            map.remove("_admin");
        }
        self.send(
            "socket_updated",
            vec![json!({
                "id": socket.id().to_string(),
                "nsp": socket.namespace().name(),
                "data": if data.is_null() { json!({}) } else { data },
            })],
        );
    }

    fn describe(&self, socket: &Socket, info: &mut SocketInfo) {
        add_admin_facts(&mut info.data, admin_facts(socket));
    }
}

/// Broadcasts the queued messages to the admin namespace (every node's admin clients), in
/// order, until the queue closes.
pub(crate) async fn forward(admin: Namespace, mut queue: mpsc::Receiver<Message>) {
    while let Some((event, args)) = queue.recv().await {
        let payload = Payload {
            args,
            attachments: Vec::new(),
        };
        if let Err(err) = admin
            .to(std::iter::empty::<String>())
            .emit_payload(event, payload)
            .await
        {
            tracing::debug!(event, error = %err, "admin UI: event not sent");
        }
    }
}
