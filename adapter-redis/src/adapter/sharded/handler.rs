//! [`ShardedNs`]: one namespace's state under the sharded adapter, and the handling of what
//! other nodes (ours and Node's `createShardedAdapter`) publish for it.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};
use sio_core::adapter::{BroadcastOptions, LocalAdapter, RoomChange, SocketInfo};
use sio_core::protocol::JsonEvent;

use super::wire::{self as sw, MessageType};
use crate::adapter::namespace::Response;
use crate::adapter::tracker::Pending;
use crate::broadcast_frame::decode_sharded_frame;
use crate::cluster::{NsHandler, RedisCluster, SubscriptionMode};
use crate::driver::{Driver, Received};
use crate::wire::{self, decode_message};

/// One namespace's state under the sharded adapter.
pub(crate) struct ShardedNs {
    nsp: String,
    pub(super) local: LocalAdapter,
    pub(super) mode: SubscriptionMode,
    /// `<prefix>#<nsp>#`: requests, and broadcasts not on a room channel.
    pub(super) channel: String,
    /// `<prefix>#<nsp>#<uid>#`: responses to this node's requests.
    response_channel: String,
    uid: String,
    json_prefix: Vec<u8>,
    msgpack_prefix: Vec<u8>,
    pub(super) pending: Pending,
}

impl ShardedNs {
    pub(super) fn new(
        local: LocalAdapter,
        prefix: &str,
        uid: &str,
        mode: SubscriptionMode,
    ) -> Self {
        let channel = format!("{prefix}#{}#", local.nsp());
        ShardedNs {
            nsp: local.nsp().to_owned(),
            response_channel: format!("{channel}{uid}#"),
            channel,
            local,
            mode,
            uid: uid.to_owned(),
            json_prefix: sw::json_prefix(uid),
            msgpack_prefix: sw::msgpack_prefix(uid),
            pending: Pending::default(),
        }
    }

    /// The channels subscribed for the namespace's whole life.
    pub(super) fn static_channels(&self) -> Vec<String> {
        vec![self.channel.clone(), self.response_channel.clone()]
    }

    /// The channel of `room`.
    pub(super) fn room_channel(&self, room: &str) -> String {
        format!("{}{room}#", self.channel)
    }

    /// Whether this node subscribes to the channel of a room (`private`: a socket's own). In
    /// `dynamic` mode too, for its sockets' own rooms: our socket ids have 22 characters, so a
    /// Node node (which takes only 20-character names for socket ids) sends a message to one
    /// of our sockets on that socket's channel.
    pub(super) fn subscribes_to(&self, private: bool) -> bool {
        let _ = private;
        self.mode != SubscriptionMode::Static
    }

    /// Whether a join (`private`: a socket's CONNECT) waits for its room's subscription: in
    /// `dynamic` mode our own messages to a socket go on the namespace channel, so a CONNECT
    /// does not wait.
    pub(super) fn waits_for(&self, private: bool) -> bool {
        match self.mode {
            SubscriptionMode::Static => false,
            SubscriptionMode::Dynamic => !private,
            SubscriptionMode::DynamicPrivate => true,
        }
    }

    /// Keeps the room subscriptions in step with the local rooms.
    pub(super) fn observe_rooms(self: &Arc<Self>, driver: Arc<dyn Driver>) {
        if self.mode == SubscriptionMode::Static {
            return;
        }
        let weak = Arc::downgrade(self);
        self.local.observe_rooms(Arc::new(move |change| {
            let Some(state) = weak.upgrade() else { return };
            match change {
                RoomChange::Created { room, private } if state.subscribes_to(private) => {
                    driver.subscribe(&[state.room_channel(room)], &[]);
                }
                RoomChange::Deleted { room, private } if state.subscribes_to(private) => {
                    driver.unsubscribe(&[state.room_channel(room)], &[]);
                }
                _ => {}
            }
        }));
    }

    /// Encodes a message of this node.
    pub(super) fn encode(&self, kind: MessageType, data: Value, attachments: &[Bytes]) -> Bytes {
        sw::encode(&self.uid, &self.nsp, kind, data, attachments)
    }

    /// The `BROADCAST` message of an event encoded once.
    pub(super) fn encode_event(&self, event: &JsonEvent, opts: &BroadcastOptions) -> Bytes {
        sw::encode_broadcast_event(&self.uid, &self.nsp, event, opts)
    }

    fn respond(
        &self,
        cluster: &RedisCluster,
        requester: &str,
        kind: MessageType,
        data: Value,
        attachments: &[Bytes],
    ) {
        let channel = format!("{}{requester}#", self.channel);
        cluster
            .inner
            .driver
            .publish(&channel, self.encode(kind, data, attachments));
    }

    fn on_response(
        &self,
        uid: Option<&str>,
        kind: MessageType,
        data: Value,
        attachments: Vec<Bytes>,
    ) {
        let Some(request_id) = data
            .get("requestId")
            .and_then(Value::as_str)
            .map(str::to_owned)
        else {
            return;
        };
        let mut value = data;
        if let Value::Object(map) = &mut value {
            map.insert("type".into(), Value::from(kind as u8));
        }
        let response = Response {
            uid: uid.map(str::to_owned),
            value,
            attachments,
        };
        self.pending.deliver(&request_id, response);
    }

    fn on_request(
        self: &Arc<Self>,
        cluster: &RedisCluster,
        requester: &str,
        kind: MessageType,
        data: &Value,
        attachments: Vec<Bytes>,
    ) {
        let opts = data.get("opts").map(wire::opts_from).unwrap_or_default();
        let request_id = data.get("requestId").cloned();
        match kind {
            MessageType::Broadcast => {
                let packet = match data
                    .get("packet")
                    .map(|p| wire::packet_from(p, &attachments))
                {
                    Some(Ok(packet)) if packet.nsp == self.nsp => packet,
                    _ => {
                        tracing::warn!(nsp = %self.nsp, "malformed broadcast from redis dropped");
                        return;
                    }
                };
                match request_id {
                    None => {
                        self.local.broadcast_local(&packet, &opts);
                    }
                    Some(request_id) => {
                        let timeout = data
                            .get("opts")
                            .and_then(|o| o.get("flags"))
                            .and_then(|f| f.get("timeout"))
                            .and_then(Value::as_u64)
                            .map_or(Duration::from_secs(5), Duration::from_millis)
                            .min(Duration::from_secs(60));
                        let (count, replies) =
                            self.local.broadcast_with_ack_local(&packet, &opts, timeout);
                        self.respond(
                            cluster,
                            requester,
                            MessageType::BroadcastClientCount,
                            json!({"requestId": request_id, "clientCount": count}),
                            &[],
                        );
                        if count == 0 {
                            return;
                        }
                        let state = self.clone();
                        let cluster = cluster.clone();
                        let requester = requester.to_owned();
                        tokio::spawn(async move {
                            for reply in replies.await {
                                let arg = reply.args.into_iter().next().unwrap_or(Value::Null);
                                state.respond(
                                    &cluster,
                                    &requester,
                                    MessageType::BroadcastAck,
                                    json!({"requestId": request_id, "packet": arg}),
                                    &reply.attachments,
                                );
                            }
                        });
                    }
                }
            }
            MessageType::SocketsJoin => {
                self.local
                    .add_sockets_local(&opts, &wire::rooms_from(data.get("rooms")));
            }
            MessageType::SocketsLeave => {
                self.local
                    .del_sockets_local(&opts, &wire::rooms_from(data.get("rooms")));
            }
            MessageType::DisconnectSockets => {
                let close = data.get("close").and_then(Value::as_bool) == Some(true);
                self.local.disconnect_sockets_local(&opts, close);
            }
            MessageType::FetchSockets => {
                let sockets: Vec<SocketInfo> = self.local.fetch_sockets_local(&opts);
                self.respond(
                    cluster,
                    requester,
                    MessageType::FetchSocketsResponse,
                    json!({"requestId": request_id, "sockets": sockets}),
                    &[],
                );
            }
            MessageType::AllRooms => {
                self.respond(
                    cluster,
                    requester,
                    MessageType::AllRoomsResponse,
                    json!({"requestId": request_id, "rooms": self.local.rooms_local()}),
                    &[],
                );
            }
            MessageType::ServerSideEmit => {
                self.on_server_side_emit(cluster, requester, data, attachments, request_id);
            }
            _ => {}
        }
    }

    fn on_server_side_emit(
        &self,
        cluster: &RedisCluster,
        requester: &str,
        data: &Value,
        attachments: Vec<Bytes>,
        request_id: Option<Value>,
    ) {
        let Some(event) = wire::server_event(data.get("packet"), &attachments) else {
            return;
        };
        let Some(request_id) = request_id else {
            self.local.dispatch_server_event(event, None);
            return;
        };
        let (reply, rx) = crate::cluster::server_event_reply();
        self.local.dispatch_server_event(event, Some(reply));
        let cluster = cluster.clone();
        let channel = format!("{}{requester}#", self.channel);
        let (uid, nsp) = (self.uid.clone(), self.nsp.clone());
        tokio::spawn(async move {
            let Ok(reply) = rx.await else { return };
            let arg = reply.args.into_iter().next().unwrap_or(Value::Null);
            let body = sw::encode(
                &uid,
                &nsp,
                MessageType::ServerSideEmitResponse,
                json!({"requestId": request_id, "packet": arg}),
                &reply.attachments,
            );
            cluster.inner.driver.publish(&channel, body);
        });
    }
}

impl ShardedNs {
    /// Encode once: a JSON broadcast (no binary, no acks) goes straight from the message to the
    /// clients' frame. Returns whether it was handled; otherwise the tree path decides.
    fn on_framed_broadcast(&self, message: &Received) -> bool {
        if message.channel == self.response_channel || !self.local.takes_json_frames() {
            return false;
        }
        let Some(msg) = decode_sharded_frame(&message.payload) else {
            return false;
        };
        if msg.kind != Some(MessageType::Broadcast as u64) || msg.request_id {
            return false;
        }
        if msg.uid.as_deref() == Some(self.uid.as_str())
            || msg.nsp.as_deref() != Some(self.nsp.as_str())
        {
            return true;
        }
        match &msg.packet {
            Some((nsp, frame)) if *nsp == self.nsp => {
                self.local.broadcast_local_frame(frame, &msg.opts).is_some()
            }
            _ => false,
        }
    }
}

impl NsHandler for ShardedNs {
    fn nsp(&self) -> &str {
        &self.nsp
    }

    fn census_channel(&self) -> &str {
        &self.channel
    }

    fn on_message(self: Arc<Self>, cluster: &RedisCluster, message: &Received) {
        let payload = &message.payload;
        if payload.starts_with(&self.json_prefix) || payload.starts_with(&self.msgpack_prefix) {
            // Our own, back from Redis: not decoded.
            return;
        }
        if self.on_framed_broadcast(message) {
            return;
        }
        let decoded = match decode_message(payload) {
            Ok(m) => m,
            Err(err) => {
                tracing::warn!(nsp = %self.nsp, error = %err, "malformed message from redis dropped");
                return;
            }
        };
        let mut value = decoded.value;
        let uid = value.get("uid").and_then(Value::as_str).map(str::to_owned);
        if uid.as_deref() == Some(self.uid.as_str())
            || value.get("nsp").and_then(Value::as_str) != Some(self.nsp.as_str())
        {
            return;
        }
        let Some(kind) = value
            .get("type")
            .and_then(Value::as_u64)
            .and_then(MessageType::from_code)
        else {
            tracing::debug!(nsp = %self.nsp, "message of unknown type dropped");
            return;
        };
        let data = value
            .get_mut("data")
            .map(Value::take)
            .unwrap_or(Value::Null);
        if kind.is_response() {
            self.on_response(uid.as_deref(), kind, data, decoded.attachments);
        } else if message.channel != self.response_channel {
            let requester = uid.unwrap_or_default();
            self.on_request(cluster, &requester, kind, &data, decoded.attachments);
        }
    }
}
