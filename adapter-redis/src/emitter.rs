//! [`Emitter`]: publishes into a cluster from a process that has no sockets, as
//! `@socket.io/redis-emitter` does.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde::Serialize;
use serde_json::{Value, json};
use sio_core::adapter::BroadcastOptions;
use sio_core::protocol::{JsonEvent, Packet, Payload};

use crate::driver::Driver;
use crate::wire::{self, Channels, RequestType};

/// The uid the Node emitter uses; adapters never take it for themselves.
const EMITTER_UID: &str = "emitter";

/// Emits to a cluster's sockets without being a node of it.
///
/// ```no_run
/// # use std::sync::Arc;
/// # use sio_adapter_redis::{Emitter, RedisDriver, RedisDriverConfig};
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let driver = RedisDriver::new("redis://127.0.0.1:6379", RedisDriverConfig::default())?;
/// let emitter = Emitter::new(Arc::new(driver));
/// emitter.to(["news"]).emit("headline", &"it works")?;
/// emitter.of("/admin").disconnect_sockets(true);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Emitter {
    driver: Arc<dyn Driver>,
    prefix: String,
    nsp: String,
    opts: BroadcastOptions,
}

impl std::fmt::Debug for Emitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emitter")
            .field("nsp", &self.nsp)
            .field("opts", &self.opts)
            .finish()
    }
}

impl Emitter {
    /// An emitter for namespace `/` with the default prefix `socket.io`.
    #[must_use]
    pub fn new(driver: Arc<dyn Driver>) -> Self {
        Emitter {
            driver,
            prefix: "socket.io".into(),
            nsp: "/".into(),
            opts: BroadcastOptions::default(),
        }
    }

    /// Uses another channel prefix.
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Targets namespace `nsp` (selection reset).
    #[must_use]
    pub fn of(&self, nsp: impl Into<String>) -> Self {
        Emitter {
            driver: self.driver.clone(),
            prefix: self.prefix.clone(),
            nsp: nsp.into(),
            opts: BroadcastOptions::default(),
        }
    }

    /// Adds target rooms.
    #[must_use]
    pub fn to<I: IntoIterator<Item = R>, R: Into<String>>(&self, rooms: I) -> Self {
        let mut next = self.clone();
        next.opts.rooms.extend(rooms.into_iter().map(Into::into));
        next
    }

    /// Excludes rooms.
    #[must_use]
    pub fn except<I: IntoIterator<Item = R>, R: Into<String>>(&self, rooms: I) -> Self {
        let mut next = self.clone();
        next.opts.except.extend(rooms.into_iter().map(Into::into));
        next
    }

    /// Marks the broadcast volatile.
    #[must_use]
    pub fn volatile(&self) -> Self {
        let mut next = self.clone();
        next.opts.flags.volatile = true;
        next
    }

    fn channels(&self) -> Channels {
        Channels::new(&self.prefix, &self.nsp, EMITTER_UID)
    }

    /// Waits until everything emitted so far went out to Redis, or `deadline` passed: call it
    /// before a short-lived process exits, so that its last messages are not lost with it.
    pub async fn flush(&self, deadline: std::time::Duration) {
        self.driver.flush(deadline).await;
    }

    /// Emits an event with one serializable argument. The value is serialized once, without a
    /// `serde_json::Value` tree ([`JsonEvent`], transcoded to the adapter's msgpack), wherever
    /// that writes the tree path's bytes; otherwise it goes through the tree, as
    /// [`Emitter::emit_payload`].
    pub fn emit<T: Serialize + ?Sized>(
        &self,
        event: &str,
        data: &T,
    ) -> Result<(), serde_json::Error> {
        let encoded = JsonEvent::encode(self.nsp.as_str(), event, data)
            .and_then(|event| wire::encode_broadcast_event(EMITTER_UID, &event, &self.opts));
        match encoded {
            Some(body) => self.publish_broadcast(body),
            None => self.emit_payload(event, Payload::from_value(data)?),
        }
        Ok(())
    }

    /// Emits an event with any arguments, binary included.
    pub fn emit_payload(&self, event: &str, payload: Payload) {
        let packet = Packet::event(self.nsp.as_str(), event, payload);
        self.publish_broadcast(wire::encode_broadcast(EMITTER_UID, &packet, &self.opts));
    }

    fn publish_broadcast(&self, body: bytes::Bytes) {
        self.driver
            .publish(&self.channels().broadcast_channel(&self.opts), body);
    }

    fn request(&self, kind: RequestType, extra: Vec<(&str, Value)>) {
        let mut fields = vec![
            ("uid", json!(EMITTER_UID)),
            ("opts", wire::opts_json(&self.opts)),
        ];
        fields.extend(extra);
        self.driver
            .publish(&self.channels().request, wire::json_message(kind, fields));
    }

    /// Makes the selected sockets join rooms.
    pub fn sockets_join<I: IntoIterator<Item = R>, R: Into<String>>(&self, rooms: I) {
        let rooms: BTreeSet<String> = rooms.into_iter().map(Into::into).collect();
        self.request(RequestType::RemoteJoin, vec![("rooms", json!(rooms))]);
    }

    /// Makes the selected sockets leave rooms.
    pub fn sockets_leave<I: IntoIterator<Item = R>, R: Into<String>>(&self, rooms: I) {
        let rooms: BTreeSet<String> = rooms.into_iter().map(Into::into).collect();
        self.request(RequestType::RemoteLeave, vec![("rooms", json!(rooms))]);
    }

    /// Disconnects the selected sockets.
    pub fn disconnect_sockets(&self, close: bool) {
        self.request(RequestType::RemoteDisconnect, vec![("close", json!(close))]);
    }

    /// Sends an event to every server's `on_server_event` handler (no acks: an emitter cannot
    /// receive them).
    pub fn server_side_emit(&self, event: &str, args: Vec<Value>) {
        let mut data = vec![Value::String(event.to_owned())];
        data.extend(args);
        self.driver.publish(
            &self.channels().request,
            wire::json_message(
                RequestType::ServerSideEmit,
                vec![("uid", json!(EMITTER_UID)), ("data", Value::Array(data))],
            ),
        );
    }
}
