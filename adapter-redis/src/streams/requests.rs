//! The pub/sub side channel of the streams adapter, as Node's `ClusterAdapter` speaks it:
//! requests that need no replay (`FETCH_SOCKETS`, `SERVER_SIDE_EMIT`, broadcasts with acks) go
//! msgpack-encoded to `<prefix>#<nsp>#`, and the answers to the requester's own channel
//! `<prefix>#<nsp>#<uid>#`. A request waits for the number of other nodes that `PUBSUB NUMSUB`
//! counts, up to its timeout, and says how many did not answer.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};
use sio_core::adapter::{BroadcastOptions, ServerEvent};
use sio_core::protocol::{Payload, from_msgpack, to_msgpack};
use tokio::sync::mpsc;

use super::{Shared, lock};
use crate::driver::Received;
use crate::wire::{opts_from, packet_from};

/// Cluster message types carried on pub/sub.
pub(crate) const BROADCAST: u64 = 3;
pub(crate) const FETCH_SOCKETS: u64 = 7;
pub(crate) const FETCH_SOCKETS_RESPONSE: u64 = 8;
pub(crate) const SERVER_SIDE_EMIT: u64 = 9;
pub(crate) const SERVER_SIDE_EMIT_RESPONSE: u64 = 10;
pub(crate) const BROADCAST_CLIENT_COUNT: u64 = 11;
pub(crate) const BROADCAST_ACK: u64 = 12;

/// A response routed to the request waiting for it: type, data, attachments.
pub(crate) type Response = (u64, Value, Vec<Bytes>);

/// A message as published: msgpack of `{uid, nsp, type, data}` (binary inline).
pub(crate) fn encode(
    uid: &str,
    nsp: &str,
    kind: u64,
    data: &Value,
    attachments: &[Bytes],
) -> Bytes {
    let message = json!({ "uid": uid, "nsp": nsp, "type": kind, "data": data });
    let mut buf = Vec::new();
    let _ = rmpv::encode::write_value(&mut buf, &to_msgpack(&message, attachments));
    Bytes::from(buf)
}

fn decode(payload: &[u8]) -> Option<(Value, Vec<Bytes>)> {
    let value = rmpv::decode::read_value(&mut &payload[..]).ok()?;
    let mut attachments = Vec::new();
    let json = from_msgpack(value, &mut attachments);
    json.is_object().then_some((json, attachments))
}

/// A random request id.
pub(crate) fn request_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

impl Shared {
    fn response_channel(&self, nsp: &str, uid: &str) -> String {
        format!("{}#{nsp}#{uid}#", self.config.channel_prefix)
    }

    fn respond(&self, nsp: &str, requester: &str, kind: u64, data: Value, attachments: &[Bytes]) {
        let payload = encode(&self.config.node_id, nsp, kind, &data, attachments);
        self.driver
            .publish(&self.response_channel(nsp, requester), payload);
    }

    /// Publishes a request on the namespace's channel.
    pub(crate) fn publish_request(
        &self,
        nsp: &str,
        kind: u64,
        data: &Value,
        attachments: &[Bytes],
    ) {
        let payload = encode(&self.config.node_id, nsp, kind, data, attachments);
        self.driver.publish(&self.public_channel(nsp), payload);
    }

    /// Registers a request: its responses arrive on the returned receiver.
    pub(crate) fn expect(&self, id: &str) -> mpsc::UnboundedReceiver<Response> {
        let (tx, rx) = mpsc::unbounded_channel();
        lock(&self.requests).insert(id.to_owned(), tx);
        rx
    }

    pub(crate) fn forget(&self, id: &str) {
        lock(&self.requests).remove(id);
    }

    /// Handles one pub/sub message from another node.
    pub(crate) fn on_message(self: &Arc<Self>, received: &Received) {
        let Some((message, attachments)) = decode(&received.payload) else {
            tracing::warn!(channel = received.channel, "bad pub/sub message dropped");
            return;
        };
        let (Some(uid), Some(nsp), Some(kind)) = (
            message.get("uid").and_then(Value::as_str),
            message.get("nsp").and_then(Value::as_str),
            message.get("type").and_then(Value::as_u64),
        ) else {
            return;
        };
        if uid == self.config.node_id {
            return;
        }
        let data = message.get("data").cloned().unwrap_or(Value::Null);
        let request_id = data.get("requestId").cloned();
        match kind {
            FETCH_SOCKETS_RESPONSE
            | SERVER_SIDE_EMIT_RESPONSE
            | BROADCAST_CLIENT_COUNT
            | BROADCAST_ACK => {
                let Some(id) = request_id.as_ref().and_then(Value::as_str) else {
                    return;
                };
                if let Some(tx) = lock(&self.requests).get(id) {
                    let _ = tx.send((kind, data, attachments));
                }
            }
            _ => {
                let Some(local) = self.local(nsp) else { return };
                let respond = |kind, data| self.respond(nsp, uid, kind, data, &[]);
                match kind {
                    FETCH_SOCKETS => {
                        let opts = opts_from(data.get("opts").unwrap_or(&Value::Null));
                        let sockets = local.fetch_sockets_local(&opts);
                        respond(
                            FETCH_SOCKETS_RESPONSE,
                            json!({ "requestId": request_id, "sockets": sockets }),
                        );
                    }
                    SERVER_SIDE_EMIT => {
                        let Some(Value::Array(mut args)) = data.get("packet").cloned() else {
                            return;
                        };
                        if args.is_empty() {
                            return;
                        }
                        let event = match args.remove(0) {
                            Value::String(s) => s,
                            other => other.to_string(),
                        };
                        let event = ServerEvent {
                            event,
                            payload: Payload { args, attachments },
                        };
                        let Some(request_id) = request_id else {
                            local.dispatch_server_event(event, None);
                            return;
                        };
                        let (reply, rx) = crate::cluster::server_event_reply();
                        local.dispatch_server_event(event, Some(reply));
                        let shared = self.clone();
                        let (nsp, uid) = (nsp.to_owned(), uid.to_owned());
                        tokio::spawn(async move {
                            let Ok(reply) = rx.await else { return };
                            let arg = reply.args.into_iter().next().unwrap_or(Value::Null);
                            let data = json!({ "requestId": request_id, "packet": arg });
                            shared.respond(
                                &nsp,
                                &uid,
                                SERVER_SIDE_EMIT_RESPONSE,
                                data,
                                &reply.attachments,
                            );
                        });
                    }
                    BROADCAST if request_id.is_some() => {
                        self.on_broadcast_with_ack(&local, nsp, uid, &data, &attachments);
                    }
                    _ => {}
                }
            }
        }
    }

    fn on_broadcast_with_ack(
        self: &Arc<Self>,
        local: &sio_core::adapter::LocalAdapter,
        nsp: &str,
        uid: &str,
        data: &Value,
        attachments: &[Bytes],
    ) {
        let Some(packet) = data
            .get("packet")
            .and_then(|p| packet_from(p, attachments).ok())
        else {
            return;
        };
        let raw_opts = data.get("opts").cloned().unwrap_or(Value::Null);
        let opts: BroadcastOptions = opts_from(&raw_opts);
        let timeout = raw_opts
            .pointer("/flags/timeout")
            .and_then(Value::as_u64)
            .map_or(Duration::from_secs(5), Duration::from_millis);
        let request_id = data.get("requestId").cloned().unwrap_or(Value::Null);
        let (count, replies) = local.broadcast_with_ack_local(&packet, &opts, timeout);
        let count_data = json!({ "requestId": request_id, "clientCount": count });
        self.respond(nsp, uid, BROADCAST_CLIENT_COUNT, count_data, &[]);
        let shared = self.clone();
        let (nsp, uid) = (nsp.to_owned(), uid.to_owned());
        tokio::spawn(async move {
            for reply in replies.await {
                let arg = reply.args.into_iter().next().unwrap_or(Value::Null);
                let data = json!({ "requestId": request_id, "packet": arg });
                shared.respond(&nsp, &uid, BROADCAST_ACK, data, &reply.attachments);
            }
        });
    }
}
