//! [`NsState`]: one namespace's state shared by its adapter and the cluster's dispatcher, and
//! the handling of what other nodes publish for it (broadcasts, requests, responses).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};
use sio_core::adapter::{BroadcastOptions, LocalAdapter};

use super::tracker::Pending;
use crate::broadcast_frame::decode_broadcast_frame;
use crate::cluster::RedisCluster;
use crate::driver::Received;
use crate::wire::{self, Channels, RequestType};

/// A response to one of this node's requests.
#[derive(Debug)]
pub(super) struct Response {
    /// The answering node, when it said (Node nodes do not).
    pub(super) uid: Option<String>,
    /// The response itself.
    pub(super) value: Value,
    /// Binary blobs the value's placeholders refer to.
    pub(super) attachments: Vec<Bytes>,
}

/// One namespace's state, shared by its adapter and the dispatcher.
pub(crate) struct NsState {
    /// The namespace name.
    nsp: String,
    /// This node's sockets of the namespace.
    pub(super) local: LocalAdapter,
    /// The namespace's channels.
    pub(super) channels: Channels,
    /// This node's requests waiting for responses, by request id.
    pub(super) pending: Pending,
    /// How this node's own messages look, to drop them undecoded.
    own: wire::OwnMarks,
}

impl NsState {
    /// The state of namespace `local.nsp()`, with its channels.
    pub(super) fn new(local: LocalAdapter, channels: Channels, uid: &str) -> Self {
        NsState {
            own: wire::OwnMarks::new(uid),
            nsp: local.nsp().to_owned(),
            local,
            channels,
            pending: Pending::default(),
        }
    }

    /// The namespace name.
    pub(crate) fn nsp(&self) -> &str {
        &self.nsp
    }
}

impl crate::cluster::NsHandler for NsState {
    fn nsp(&self) -> &str {
        &self.nsp
    }

    fn census_channel(&self) -> &str {
        &self.channels.request
    }

    /// Handles a message received on one of this namespace's channels.
    fn on_message(self: Arc<Self>, cluster: &RedisCluster, message: &Received) {
        let channel = message.channel.as_str();
        if let Some(rest) = channel.strip_prefix(self.channels.broadcast.as_str()) {
            // A room's channel (`…#<room>#`) carries broadcasts to that room only: without a
            // local member there is nothing to do, and nothing is decoded.
            if let Some(room) = rest.strip_suffix('#')
                && !self.local.has_room(room)
            {
                return;
            }
            self.on_broadcast(cluster, &message.payload);
        } else if channel == self.channels.request {
            self.on_request(cluster, &message.payload);
        } else {
            self.on_response(&message.payload);
        }
    }
}

impl NsState {
    fn on_broadcast(&self, cluster: &RedisCluster, payload: &[u8]) {
        if self.own.is_own_broadcast(payload) {
            return;
        }
        // Encode once: the packet goes straight from the message to the clients' frame.
        if self.local.takes_json_frames()
            && let Some(msg) = decode_broadcast_frame(payload)
        {
            if msg.uid == cluster.node_id() || msg.nsp != self.nsp {
                return;
            }
            if self
                .local
                .broadcast_local_frame(&msg.frame, &msg.opts)
                .is_some()
            {
                return;
            }
        }
        match wire::decode_broadcast(payload) {
            Ok(msg) if msg.uid == cluster.node_id() => {}
            Ok(msg) if msg.packet.nsp != self.nsp => {}
            Ok(msg) => {
                self.local.broadcast_local(&msg.packet, &msg.opts);
            }
            Err(err) => {
                tracing::warn!(nsp = %self.nsp, error = %err, "malformed broadcast from redis dropped")
            }
        }
    }

    fn respond(&self, cluster: &RedisCluster, requester: Option<&str>, body: Bytes) {
        let channel = match requester {
            Some(uid) if cluster.inner.config.publish_on_specific_response_channel => {
                format!("{}{uid}#", self.channels.response)
            }
            _ => self.channels.response.clone(),
        };
        cluster.inner.driver.publish(&channel, body);
    }

    fn on_request(self: &Arc<Self>, cluster: &RedisCluster, payload: &[u8]) {
        if self.own.is_own_request(payload) {
            return;
        }
        let message = match wire::decode_message(payload) {
            Ok(m) => m,
            Err(err) => {
                tracing::warn!(nsp = %self.nsp, error = %err, "malformed request from redis dropped");
                return;
            }
        };
        let request = &message.value;
        let uid = request.get("uid").and_then(Value::as_str);
        if uid == Some(cluster.node_id()) {
            return;
        }
        let Some(kind) = request
            .get("type")
            .and_then(Value::as_u64)
            .and_then(RequestType::from_code)
        else {
            tracing::debug!(nsp = %self.nsp, "request of unknown type dropped");
            return;
        };
        let request_id = request.get("requestId").cloned().unwrap_or(Value::Null);
        let me = Value::String(cluster.node_id().to_owned());
        let opts = request.get("opts").map(wire::opts_from);
        let rooms = wire::rooms_from(request.get("rooms"));
        match kind {
            RequestType::Sockets => {
                let opts = BroadcastOptions {
                    rooms: rooms.into_iter().collect(),
                    ..BroadcastOptions::default()
                };
                let ids: Vec<String> = self
                    .local
                    .matching_ids(&opts)
                    .iter()
                    .map(ToString::to_string)
                    .collect();
                let body = json!({"requestId": request_id, "sockets": ids, "uid": me});
                self.respond(cluster, uid, Bytes::from(body.to_string()));
            }
            RequestType::AllRooms => {
                let body =
                    json!({"requestId": request_id, "rooms": self.local.rooms_local(), "uid": me});
                self.respond(cluster, uid, Bytes::from(body.to_string()));
            }
            RequestType::RemoteJoin | RequestType::RemoteLeave | RequestType::RemoteDisconnect => {
                self.apply_remote(cluster, kind, request, opts, &rooms, uid);
            }
            RequestType::RemoteFetch => {
                let opts = opts.unwrap_or_default();
                let sockets = self.local.fetch_sockets_local(&opts);
                let body = json!({"requestId": request_id, "sockets": sockets, "uid": me});
                self.respond(cluster, uid, Bytes::from(body.to_string()));
            }
            RequestType::ServerSideEmit => self.on_server_side_emit(cluster, &message, request_id),
            RequestType::Broadcast => {
                self.on_broadcast_with_ack(cluster, &message, request_id, uid)
            }
            RequestType::BroadcastClientCount | RequestType::BroadcastAck => {}
        }
    }

    fn apply_remote(
        &self,
        cluster: &RedisCluster,
        kind: RequestType,
        request: &Value,
        opts: Option<BroadcastOptions>,
        rooms: &[String],
        uid: Option<&str>,
    ) {
        let opts = match opts {
            Some(opts) => opts,
            None => {
                // The legacy form names one socket and one room, and expects an answer.
                let Some(sid) = request.get("sid").and_then(Value::as_str) else {
                    return;
                };
                let Ok(sid) = sid.parse::<sio_core::engine::Sid>() else {
                    return;
                };
                if self.local.get(sid).is_none() {
                    return;
                }
                let room = request
                    .get("room")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                // The socket's own room selects exactly it.
                let only = BroadcastOptions {
                    rooms: [sid.to_string()].into(),
                    ..BroadcastOptions::default()
                };
                match kind {
                    // Refusals (limits) are logged by the local index.
                    RequestType::RemoteJoin => {
                        self.local.add_sockets_local(&only, &[room.to_owned()])
                    }
                    RequestType::RemoteLeave => {
                        self.local.del_sockets_local(&only, &[room.to_owned()])
                    }
                    _ => {
                        let close = request.get("close").and_then(Value::as_bool) == Some(true);
                        if let Some(socket) = self.local.get(sid) {
                            socket.disconnect(close);
                        }
                    }
                }
                let body = json!({"requestId": request.get("requestId"), "uid": cluster.node_id()});
                self.respond(cluster, uid, Bytes::from(body.to_string()));
                return;
            }
        };
        match kind {
            RequestType::RemoteJoin => self.local.add_sockets_local(&opts, rooms),
            RequestType::RemoteLeave => self.local.del_sockets_local(&opts, rooms),
            _ => {
                let close = request.get("close").and_then(Value::as_bool) == Some(true);
                self.local.disconnect_sockets_local(&opts, close);
            }
        }
    }

    fn on_server_side_emit(
        &self,
        cluster: &RedisCluster,
        message: &wire::Message,
        request_id: Value,
    ) {
        let Some(event) = wire::server_event(message.value.get("data"), &message.attachments)
        else {
            return;
        };
        if request_id.is_null() {
            self.local.dispatch_server_event(event, None);
            return;
        }
        let (reply, rx) = crate::cluster::server_event_reply();
        self.local.dispatch_server_event(event, Some(reply));
        let cluster = cluster.clone();
        let channel = self.channels.response.clone();
        tokio::spawn(async move {
            let Ok(reply) = rx.await else { return };
            let arg = reply.args.into_iter().next().unwrap_or(Value::Null);
            let body = json!({
                "type": RequestType::ServerSideEmit as u8,
                "requestId": request_id,
                "data": arg,
                "uid": cluster.node_id(),
            });
            cluster
                .inner
                .driver
                .publish(&channel, Bytes::from(body.to_string()));
        });
    }

    fn on_broadcast_with_ack(
        self: &Arc<Self>,
        cluster: &RedisCluster,
        message: &wire::Message,
        request_id: Value,
        uid: Option<&str>,
    ) {
        let Some(request_id) = request_id.as_str().map(str::to_owned) else {
            return;
        };
        let packet = match message
            .value
            .get("packet")
            .map(|p| wire::packet_from(p, &message.attachments))
        {
            Some(Ok(packet)) => packet,
            _ => {
                tracing::warn!(nsp = %self.nsp, "malformed broadcast request dropped");
                return;
            }
        };
        let opts = message
            .value
            .get("opts")
            .map(wire::opts_from)
            .unwrap_or_default();
        let timeout = message
            .value
            .get("opts")
            .and_then(|o| o.get("flags"))
            .and_then(|f| f.get("timeout"))
            .and_then(Value::as_u64)
            .map_or(Duration::from_secs(5), Duration::from_millis)
            .min(Duration::from_secs(60));
        let (count, replies) = self.local.broadcast_with_ack_local(&packet, &opts, timeout);
        let me = cluster.node_id().to_owned();
        let body = json!({
            "type": RequestType::BroadcastClientCount as u8,
            "requestId": request_id,
            "clientCount": count,
            "uid": me,
        });
        self.respond(cluster, uid, Bytes::from(body.to_string()));
        if count == 0 {
            return;
        }
        let state = self.clone();
        let cluster = cluster.clone();
        let requester = uid.map(str::to_owned);
        tokio::spawn(async move {
            for reply in replies.await {
                let arg = reply.args.first().cloned().unwrap_or(Value::Null);
                let body = wire::encode_broadcast_ack(&me, &request_id, &arg, &reply.attachments);
                state.respond(&cluster, requester.as_deref(), body);
            }
        });
    }

    fn on_response(&self, payload: &[u8]) {
        if self.pending.is_empty() {
            // Not waiting for anything: another node's response, not decoded.
            return;
        }
        let message = match wire::decode_message(payload) {
            Ok(m) => m,
            Err(err) => {
                tracing::warn!(nsp = %self.nsp, error = %err, "malformed response from redis dropped");
                return;
            }
        };
        let Some(request_id) = message
            .value
            .get("requestId")
            .and_then(Value::as_str)
            .map(str::to_owned)
        else {
            return;
        };
        let uid = message.value.get("uid").and_then(Value::as_str);
        let response = Response {
            uid: uid.map(str::to_owned),
            value: message.value,
            attachments: message.attachments,
        };
        self.pending.deliver(&request_id, response);
    }
}
