//! [`RedisAdapter`]: one namespace's cluster operations over Redis, speaking the wire format of
//! Node's `@socket.io/redis-adapter`.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};
use sio_server::adapter::{
    AckReplies, Adapter, AdapterError, BroadcastOptions, ClusterResponse, LocalAdapter, Room,
    ServerEvent, SocketInfo,
};
use sio_server::protocol::{Packet, Payload};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::cluster::RedisCluster;
use crate::driver::Received;
use crate::wire::{self, Channels, RequestType};

/// A response to one of this node's requests.
#[derive(Debug)]
pub(crate) struct Response {
    uid: Option<String>,
    value: Value,
    attachments: Vec<Bytes>,
}

/// One namespace's state, shared by its adapter and the dispatcher.
pub(crate) struct NsState {
    nsp: String,
    local: LocalAdapter,
    channels: Channels,
    pending: Mutex<HashMap<String, mpsc::UnboundedSender<Response>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn request_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_owned()
}

impl NsState {
    pub(crate) fn nsp(&self) -> &str {
        &self.nsp
    }

    pub(crate) fn owns_channel(&self, channel: &str) -> bool {
        channel.starts_with(&self.channels.broadcast)
            || channel == self.channels.request
            || channel == self.channels.response
            || channel == self.channels.specific_response
    }

    pub(crate) fn on_message(self: &Arc<Self>, cluster: &RedisCluster, message: &Received) {
        let channel = message.channel.as_str();
        if channel.starts_with(&self.channels.broadcast) {
            self.on_broadcast(cluster, &message.payload);
        } else if channel == self.channels.request {
            self.on_request(cluster, &message.payload);
        } else {
            self.on_response(&message.payload);
        }
    }

    fn on_broadcast(&self, cluster: &RedisCluster, payload: &[u8]) {
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
                let Ok(sid) = sid.parse::<sio_server::engine::Sid>() else {
                    return;
                };
                if self.local.get(sid).is_none() {
                    return;
                }
                let room = request
                    .get("room")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                match kind {
                    RequestType::RemoteJoin => self.local.add_all(sid, [room.to_owned()]),
                    RequestType::RemoteLeave => self.local.del(sid, room),
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
        let Some(Value::Array(data)) = message.value.get("data") else {
            return;
        };
        let mut args = data.clone();
        if args.is_empty() {
            return;
        }
        let event = match args.remove(0) {
            Value::String(s) => s,
            other => other.to_string(),
        };
        let event = ServerEvent {
            event,
            payload: Payload {
                args,
                attachments: message.attachments.clone(),
            },
        };
        if request_id.is_null() {
            self.local.dispatch_server_event(event, None);
            return;
        }
        let (tx, rx) = oneshot::channel();
        self.local.dispatch_server_event(event, Some(tx));
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
        let message = match wire::decode_message(payload) {
            Ok(m) => m,
            Err(err) => {
                tracing::warn!(nsp = %self.nsp, error = %err, "malformed response from redis dropped");
                return;
            }
        };
        let Some(request_id) = message.value.get("requestId").and_then(Value::as_str) else {
            return;
        };
        let pending = lock(&self.pending).get(request_id).cloned();
        if let Some(tx) = pending {
            let _ = tx.send(Response {
                uid: message
                    .value
                    .get("uid")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                value: message.value,
                attachments: message.attachments,
            });
        }
    }
}

/// Who is expected to answer a request.
struct Expectation {
    /// Our nodes, known by heartbeat.
    named: BTreeSet<String>,
    /// Other subscribers (Node.js nodes, which do not heartbeat).
    anonymous: usize,
}

/// Tracks a request's answers until every expected node answered, a node died, or time ran out.
struct Tracker {
    expect: Expectation,
    answered: HashSet<String>,
    anonymous_answers: usize,
    departed: BTreeSet<String>,
}

impl Tracker {
    fn new(expect: Expectation) -> Self {
        Tracker {
            expect,
            answered: HashSet::new(),
            anonymous_answers: 0,
            departed: BTreeSet::new(),
        }
    }

    fn record(&mut self, uid: Option<&str>) {
        match uid {
            Some(uid) if self.expect.named.contains(uid) => {
                self.answered.insert(uid.to_owned());
            }
            // A node not (yet) known by heartbeat is one of the anonymous subscribers.
            Some(uid) => {
                if self.answered.insert(uid.to_owned()) {
                    self.anonymous_answers += 1;
                }
            }
            None => self.anonymous_answers += 1,
        }
    }

    fn complete(&self) -> bool {
        self.expect.named.iter().all(|n| self.answered.contains(n))
            && self.anonymous_answers >= self.expect.anonymous
    }

    /// Stops waiting for nodes that are no longer alive.
    fn forget_dead(&mut self, live: &BTreeSet<String>) {
        let dead: Vec<String> = self
            .expect
            .named
            .iter()
            .filter(|n| !live.contains(*n) && !self.answered.contains(*n))
            .cloned()
            .collect();
        for node in dead {
            self.expect.named.remove(&node);
            self.departed.insert(node);
        }
    }

    fn missing(&self) -> Vec<String> {
        let mut missing: Vec<String> = self
            .expect
            .named
            .iter()
            .filter(|n| !self.answered.contains(*n))
            .cloned()
            .chain(self.departed.iter().cloned())
            .collect();
        for i in self.anonymous_answers..self.expect.anonymous {
            missing.push(format!("unknown-node-{}", i + 1));
        }
        missing.sort();
        missing.dedup();
        missing
    }
}

/// The Redis adapter of one namespace.
pub struct RedisAdapter {
    state: Arc<NsState>,
    cluster: RedisCluster,
}

impl std::fmt::Debug for RedisAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisAdapter")
            .field("nsp", &self.state.nsp)
            .field("node_id", &self.cluster.node_id())
            .finish()
    }
}

impl RedisAdapter {
    /// The node-wide cluster state.
    pub fn cluster(&self) -> &RedisCluster {
        &self.cluster
    }

    fn publish(&self, channel: &str, body: Bytes) {
        self.cluster.inner.driver.publish(channel, body);
    }

    async fn expectation(&self) -> Expectation {
        let named = self.cluster.live_peers(Some(&self.state.nsp));
        let subscribers = self
            .cluster
            .inner
            .driver
            .numsub(&self.state.channels.request)
            .await
            .unwrap_or(0);
        Expectation {
            anonymous: subscribers.saturating_sub(1 + named.len()),
            named,
        }
    }

    /// Publishes a request and feeds each response to `on_response` until the expected nodes
    /// answered or `timeout` passed. Returns the nodes that did not answer.
    async fn request(
        &self,
        request_id: &str,
        body: Bytes,
        timeout: Duration,
        mut on_response: impl FnMut(Response),
    ) -> Vec<String> {
        let started = Instant::now();
        let expect = self.expectation().await;
        if expect.named.is_empty() && expect.anonymous == 0 {
            return Vec::new();
        }
        let mut tracker = Tracker::new(expect);
        let (tx, mut rx) = mpsc::unbounded_channel();
        lock(&self.state.pending).insert(request_id.to_owned(), tx);
        let mut peers = self.cluster.inner.peers_changed.subscribe();
        self.publish(&self.state.channels.request, body);
        let deadline = Instant::now() + timeout;
        while !tracker.complete() {
            tokio::select! {
                response = rx.recv() => {
                    let Some(response) = response else { break };
                    tracker.record(response.uid.as_deref());
                    on_response(response);
                }
                changed = peers.changed() => {
                    if changed.is_err() { break }
                    tracker.forget_dead(&self.cluster.live_peers(Some(&self.state.nsp)));
                }
                _ = tokio::time::sleep_until(deadline) => break,
            }
        }
        lock(&self.state.pending).remove(request_id);
        let missing = tracker.missing();
        self.cluster
            .inner
            .latency
            .record(started.elapsed(), missing.is_empty());
        missing
    }

    fn selector_request(
        &self,
        kind: RequestType,
        opts: &BroadcastOptions,
        extra: Vec<(&str, Value)>,
    ) {
        let mut fields = vec![
            ("uid", Value::String(self.cluster.node_id().to_owned())),
            ("opts", wire::opts_json(opts)),
        ];
        fields.extend(extra);
        self.publish(
            &self.state.channels.request,
            wire::json_message(kind, fields),
        );
    }
}

impl Adapter for RedisAdapter {
    type Config = RedisCluster;

    fn new(local: LocalAdapter, cluster: &Arc<RedisCluster>) -> Self {
        let nsp = local.nsp().to_owned();
        let channels = Channels::new(&cluster.inner.config.prefix, &nsp, cluster.node_id());
        let state = Arc::new(NsState {
            nsp,
            local,
            channels,
            pending: Mutex::new(HashMap::new()),
        });
        let mut channels = vec![
            state.channels.request.clone(),
            state.channels.response.clone(),
            state.channels.specific_response.clone(),
        ];
        let mut patterns = Vec::new();
        if cluster.inner.driver.supports_patterns() {
            patterns.push(format!("{}*", state.channels.broadcast));
        } else {
            // Sharded pub/sub has no patterns: every broadcast goes on the namespace channel.
            channels.push(state.channels.broadcast.clone());
        }
        cluster.inner.driver.subscribe(&channels, &patterns);
        cluster.register(&state);
        RedisAdapter {
            state,
            cluster: RedisCluster::clone(cluster),
        }
    }

    async fn init(&self) -> Result<(), AdapterError> {
        Ok(())
    }

    async fn close(&self) {
        self.cluster.announce_departure().await;
    }

    fn local(&self) -> &LocalAdapter {
        &self.state.local
    }

    async fn broadcast(&self, packet: Packet, opts: BroadcastOptions) -> Result<(), AdapterError> {
        if !opts.flags.local {
            let body = wire::encode_broadcast(self.cluster.node_id(), &packet, &opts);
            let channel = if self.cluster.inner.driver.supports_patterns() {
                self.state.channels.broadcast_channel(&opts)
            } else {
                self.state.channels.broadcast.clone()
            };
            self.publish(&channel, body);
        }
        self.state.local.broadcast_local(&packet, &opts);
        Ok(())
    }

    async fn broadcast_with_ack(
        &self,
        packet: Packet,
        opts: BroadcastOptions,
        timeout: Duration,
    ) -> Result<AckReplies, AdapterError> {
        let (local_count, local_replies) = self
            .state
            .local
            .broadcast_with_ack_local(&packet, &opts, timeout);
        let local_task = tokio::spawn(local_replies);
        if opts.flags.local {
            let replies = local_task.await.unwrap_or_default();
            return Ok(AckReplies {
                replies,
                expected: local_count,
                missing_nodes: Vec::new(),
            });
        }
        let started = Instant::now();
        let request_id = request_id();
        let mut with_timeout = opts.clone();
        with_timeout.flags.local = false;
        let body = wire::encode_broadcast_request(
            self.cluster.node_id(),
            &request_id,
            &packet,
            &with_timeout,
            timeout,
        );
        let expect = self.expectation().await;
        let mut tracker = Tracker::new(expect);
        let (tx, mut rx) = mpsc::unbounded_channel();
        lock(&self.state.pending).insert(request_id.clone(), tx);
        let mut peers = self.cluster.inner.peers_changed.subscribe();
        self.publish(&self.state.channels.request, body);
        let deadline = Instant::now() + timeout;
        let mut remote_expected = 0usize;
        let mut replies = Vec::new();
        loop {
            if tracker.complete() && replies.len() >= remote_expected {
                break;
            }
            tokio::select! {
                response = rx.recv() => {
                    let Some(response) = response else { break };
                    match response.value.get("type").and_then(Value::as_u64).and_then(RequestType::from_code) {
                        Some(RequestType::BroadcastClientCount) => {
                            tracker.record(response.uid.as_deref());
                            remote_expected += response
                                .value
                                .get("clientCount")
                                .and_then(Value::as_u64)
                                .unwrap_or(0) as usize;
                        }
                        Some(RequestType::BroadcastAck) => {
                            let arg = response.value.get("packet").cloned().unwrap_or(Value::Null);
                            replies.push(Payload { args: vec![arg], attachments: response.attachments });
                        }
                        _ => {}
                    }
                }
                changed = peers.changed() => {
                    if changed.is_err() { break }
                    tracker.forget_dead(&self.cluster.live_peers(Some(&self.state.nsp)));
                }
                _ = tokio::time::sleep_until(deadline) => break,
            }
        }
        lock(&self.state.pending).remove(&request_id);
        let mut all = local_task.await.unwrap_or_default();
        all.extend(replies);
        let missing_nodes = tracker.missing();
        self.cluster
            .inner
            .latency
            .record(started.elapsed(), missing_nodes.is_empty());
        Ok(AckReplies {
            replies: all,
            expected: local_count + remote_expected,
            missing_nodes,
        })
    }

    async fn add_sockets(
        &self,
        opts: BroadcastOptions,
        rooms: Vec<Room>,
    ) -> Result<(), AdapterError> {
        self.state.local.add_sockets_local(&opts, &rooms);
        if !opts.flags.local {
            self.selector_request(
                RequestType::RemoteJoin,
                &opts,
                vec![("rooms", json!(rooms))],
            );
        }
        Ok(())
    }

    async fn del_sockets(
        &self,
        opts: BroadcastOptions,
        rooms: Vec<Room>,
    ) -> Result<(), AdapterError> {
        self.state.local.del_sockets_local(&opts, &rooms);
        if !opts.flags.local {
            self.selector_request(
                RequestType::RemoteLeave,
                &opts,
                vec![("rooms", json!(rooms))],
            );
        }
        Ok(())
    }

    async fn disconnect_sockets(
        &self,
        opts: BroadcastOptions,
        close: bool,
    ) -> Result<(), AdapterError> {
        if !opts.flags.local {
            self.selector_request(
                RequestType::RemoteDisconnect,
                &opts,
                vec![("close", json!(close))],
            );
        }
        self.state.local.disconnect_sockets_local(&opts, close);
        Ok(())
    }

    async fn fetch_sockets(
        &self,
        opts: BroadcastOptions,
        timeout: Duration,
    ) -> Result<ClusterResponse<Vec<SocketInfo>>, AdapterError> {
        let mut sockets = self.state.local.fetch_sockets_local(&opts);
        if opts.flags.local {
            return Ok(ClusterResponse::complete(sockets));
        }
        let id = request_id();
        let body = wire::json_message(
            RequestType::RemoteFetch,
            vec![
                ("uid", json!(self.cluster.node_id())),
                ("requestId", json!(id)),
                ("opts", wire::opts_json(&opts)),
            ],
        );
        let missing = self
            .request(&id, body, timeout, |response| {
                if let Some(Value::Array(found)) = response.value.get("sockets") {
                    for s in found {
                        if let Ok(info) = serde_json::from_value::<SocketInfo>(s.clone()) {
                            sockets.push(info);
                        }
                    }
                }
            })
            .await;
        Ok(ClusterResponse {
            value: sockets,
            missing_nodes: missing,
        })
    }

    async fn all_rooms(
        &self,
        timeout: Duration,
    ) -> Result<ClusterResponse<BTreeSet<Room>>, AdapterError> {
        let mut rooms = self.state.local.rooms_local();
        let id = request_id();
        let body = wire::json_message(
            RequestType::AllRooms,
            vec![
                ("uid", json!(self.cluster.node_id())),
                ("requestId", json!(id)),
            ],
        );
        let missing = self
            .request(&id, body, timeout, |response| {
                rooms.extend(wire::rooms_from(response.value.get("rooms")));
            })
            .await;
        Ok(ClusterResponse {
            value: rooms,
            missing_nodes: missing,
        })
    }

    async fn server_side_emit(
        &self,
        event: ServerEvent,
        ack_timeout: Option<Duration>,
    ) -> Result<ClusterResponse<Vec<Payload>>, AdapterError> {
        let mut data = vec![Value::String(event.event)];
        data.extend(event.payload.args);
        let mut fields = vec![
            ("uid", json!(self.cluster.node_id())),
            ("data", Value::Array(data)),
        ];
        let Some(timeout) = ack_timeout else {
            self.publish(
                &self.state.channels.request,
                wire::json_message(RequestType::ServerSideEmit, fields),
            );
            return Ok(ClusterResponse::complete(Vec::new()));
        };
        let id = request_id();
        fields.push(("requestId", json!(id)));
        let mut replies = Vec::new();
        let missing = self
            .request(
                &id,
                wire::json_message(RequestType::ServerSideEmit, fields),
                timeout,
                |response| {
                    replies.push(Payload {
                        args: vec![response.value.get("data").cloned().unwrap_or(Value::Null)],
                        attachments: response.attachments,
                    });
                },
            )
            .await;
        Ok(ClusterResponse {
            value: replies,
            missing_nodes: missing,
        })
    }

    fn write_metrics(&self, out: &mut String) {
        self.cluster.write_metrics(out);
    }

    fn is_ready(&self) -> bool {
        // Both connections up and the subscriptions in place: messages published for this
        // node's clients will reach it.
        self.cluster.inner.driver.is_connected()
    }

    async fn server_count(&self) -> Result<usize, AdapterError> {
        let live = self.cluster.live_peers(Some(&self.state.nsp)).len();
        let subscribers = self
            .cluster
            .inner
            .driver
            .numsub(&self.state.channels.request)
            .await
            .map_err(|e| AdapterError::Transport(e.to_string()))?;
        Ok(subscribers.max(1 + live))
    }
}
