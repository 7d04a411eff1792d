//! [`ShardedRedisAdapter`]: one namespace's cluster operations over Redis sharded pub/sub
//! (`SPUBLISH`/`SSUBSCRIBE`), speaking the wire format of Node's `createShardedAdapter`
//! (`@socket.io/redis-adapter` 8.3), so Rust and Node.js nodes share one sharded cluster.
//!
//! In the dynamic modes ([`SubscriptionMode`]) a node subscribes to a room's channel only while
//! it holds a member, and a broadcast to one room goes on that room's channel: a node receives
//! only the broadcasts it has clients for. A join is acknowledged once its subscription is
//! confirmed by Redis ([`Adapter::rooms_ready`]).
//!
//! What a mixed cluster (with Node nodes) cannot do: `all_rooms` (Node has no such message:
//! ours adds one that Node nodes ignore, so it waits for its timeout and names them in
//! `missing_nodes`, with only our nodes' rooms); and every node must use the same subscription
//! mode (a static node misses what a dynamic one publishes on room channels).
//!
//! - [`handler`]: the namespace's state and what other nodes publish for it;
//! - [`wire`]: the message codec.

mod handler;
pub mod wire;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};
use sio_core::adapter::{
    AckReplies, Adapter, AdapterError, BroadcastOptions, ClusterResponse, LocalAdapter, Room,
    ServerEvent, SocketInfo,
};
use sio_core::protocol::{JsonEvent, Packet, Payload};

use super::namespace::Response;
use super::request_id;
use super::tracker::{Expectation, RemoteAcks, Request, Tracker, broadcast_with_acks};
use crate::cluster::{RedisCluster, SubscriptionMode};
use handler::ShardedNs;
use wire::MessageType;

/// How long a join waits for its room subscription before it is acknowledged anyway.
const SUBSCRIBE_WAIT: Duration = Duration::from_secs(5);

/// The sharded Redis adapter of one namespace.
pub struct ShardedRedisAdapter {
    state: Arc<ShardedNs>,
    cluster: RedisCluster,
}

impl std::fmt::Debug for ShardedRedisAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShardedRedisAdapter")
            .field("nsp", &self.state.local.nsp())
            .field("node_id", &self.cluster.node_id())
            .field("mode", &self.state.mode)
            .finish()
    }
}

impl ShardedRedisAdapter {
    /// The node-wide cluster state.
    pub fn cluster(&self) -> &RedisCluster {
        &self.cluster
    }

    fn publish(&self, channel: &str, body: Bytes) {
        self.cluster.inner.driver.publish(channel, body);
    }

    /// Publishes a request message on the namespace channel.
    fn publish_message(&self, kind: MessageType, data: Value, attachments: &[Bytes]) {
        self.publish(
            &self.state.channel,
            self.state.encode(kind, data, attachments),
        );
    }

    /// The channel of a broadcast without ack, as Node's `computeChannel`.
    fn broadcast_channel(&self, opts: &BroadcastOptions) -> String {
        if let (1, Some(room)) = (opts.rooms.len(), opts.rooms.first()) {
            let dynamic = match self.state.mode {
                SubscriptionMode::Static => false,
                SubscriptionMode::Dynamic => {
                    !wire::looks_like_a_socket_id(room)
                        && room.parse::<sio_core::engine::Sid>().is_err()
                }
                SubscriptionMode::DynamicPrivate => true,
            };
            if dynamic {
                return self.state.room_channel(room);
            }
        }
        self.state.channel.clone()
    }

    /// Publishes a request on the namespace channel and feeds each response to
    /// `on_response` (which says whether it needs no more) until every expected node answered
    /// or `timeout` passed. Returns the nodes that did not answer.
    async fn request(
        &self,
        id: &str,
        message: Bytes,
        timeout: Duration,
        on_response: impl FnMut(&mut Tracker, Response) -> bool,
    ) -> Vec<String> {
        let nsp = self.state.local.nsp();
        let request = Request {
            cluster: &self.cluster,
            nsp,
            pending: &self.state.pending,
            id,
        };
        let expect = Expectation::of(&self.cluster, nsp);
        request
            .send(&self.state.channel, message, expect, timeout, on_response)
            .await
    }
}

impl Adapter for ShardedRedisAdapter {
    type Config = RedisCluster;

    fn new(local: LocalAdapter, cluster: &Arc<RedisCluster>) -> Self {
        let config = &cluster.inner.config;
        let state = Arc::new(ShardedNs::new(
            local,
            &config.prefix,
            cluster.node_id(),
            config.subscription_mode,
        ));
        cluster
            .inner
            .driver
            .subscribe(&state.static_channels(), &[]);
        state.observe_rooms(cluster.inner.driver.clone());
        cluster.register(state.clone());
        ShardedRedisAdapter {
            state,
            cluster: RedisCluster::clone(cluster),
        }
    }

    async fn close_namespace(&self) {
        self.cluster.unregister(&self.state);
        self.cluster
            .inner
            .driver
            .unsubscribe(&self.state.static_channels(), &[]);
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

    async fn broadcast(&self, packet: Packet, opts: BroadcastOptions) {
        if !opts.flags.local {
            let data = json!({
                "packet": wire::packet_json(&packet),
                "opts": wire::opts_json(&opts, None),
            });
            let body = self
                .state
                .encode(MessageType::Broadcast, data, &packet.attachments);
            self.publish(&self.broadcast_channel(&opts), body);
        }
        self.state.local.broadcast_local(&packet, &opts);
    }

    fn takes_json_events(&self, _opts: &BroadcastOptions) -> bool {
        self.state.local.takes_json_frames()
    }

    async fn broadcast_event(&self, event: JsonEvent, opts: BroadcastOptions) {
        if !opts.flags.local {
            let body = self.state.encode_event(&event, &opts);
            self.publish(&self.broadcast_channel(&opts), body);
        }
        self.state.local.broadcast_local_event(&event, &opts);
    }

    async fn broadcast_with_ack(
        &self,
        packet: Packet,
        opts: BroadcastOptions,
        timeout: Duration,
    ) -> Result<AckReplies, AdapterError> {
        let remote = async {
            let id = request_id();
            let data = json!({
                "packet": wire::packet_json(&packet),
                "requestId": id,
                "opts": wire::opts_json(&opts, Some(timeout)),
            });
            let message = self
                .state
                .encode(MessageType::Broadcast, data, &packet.attachments);
            let mut remote = RemoteAcks::default();
            let missing = self
                .request(&id, message, timeout, |tracker, response| {
                    let kind = response.value.get("type").and_then(Value::as_u64);
                    match kind.and_then(MessageType::from_code) {
                        Some(MessageType::BroadcastClientCount) => {
                            remote.count(tracker, &response);
                        }
                        Some(MessageType::BroadcastAck) => remote.ack(response),
                        _ => {}
                    }
                    remote.complete(tracker)
                })
                .await;
            (remote, missing)
        };
        Ok(broadcast_with_acks(&self.state.local, &packet, &opts, timeout, remote).await)
    }

    async fn add_sockets(
        &self,
        opts: BroadcastOptions,
        rooms: Vec<Room>,
    ) -> Result<(), AdapterError> {
        self.state.local.add_sockets_local(&opts, &rooms);
        if !opts.flags.local {
            let data = json!({"opts": wire::opts_json(&opts, None), "rooms": rooms});
            self.publish_message(MessageType::SocketsJoin, data, &[]);
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
            let data = json!({"opts": wire::opts_json(&opts, None), "rooms": rooms});
            self.publish_message(MessageType::SocketsLeave, data, &[]);
        }
        Ok(())
    }

    async fn disconnect_sockets(
        &self,
        opts: BroadcastOptions,
        close: bool,
    ) -> Result<(), AdapterError> {
        if !opts.flags.local {
            let data = json!({"opts": wire::opts_json(&opts, None), "close": close});
            self.publish_message(MessageType::DisconnectSockets, data, &[]);
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
        let data = json!({"opts": wire::opts_json(&opts, None), "requestId": id});
        let message = self.state.encode(MessageType::FetchSockets, data, &[]);
        let missing = self
            .request(&id, message, timeout, |tracker, response| {
                tracker.record(response.uid.as_deref());
                if let Some(Value::Array(found)) = response.value.get("sockets") {
                    for s in found {
                        if let Ok(info) = serde_json::from_value::<SocketInfo>(s.clone()) {
                            sockets.push(info);
                        }
                    }
                }
                tracker.complete()
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
        let message = self
            .state
            .encode(MessageType::AllRooms, json!({"requestId": id}), &[]);
        // Node nodes do not know this message: in a mixed cluster the request waits until
        // `timeout` and names them (`unknown-node-N`) in `missing_nodes`.
        let missing = self
            .request(&id, message, timeout, |tracker, response| {
                tracker.record(response.uid.as_deref());
                rooms.extend(crate::wire::rooms_from(response.value.get("rooms")));
                tracker.complete()
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
        let mut packet = vec![Value::String(event.event)];
        packet.extend(event.payload.args);
        let attachments = event.payload.attachments;
        let Some(timeout) = ack_timeout else {
            self.publish_message(
                MessageType::ServerSideEmit,
                json!({"packet": packet}),
                &attachments,
            );
            return Ok(ClusterResponse::complete(Vec::new()));
        };
        let id = request_id();
        let message = self.state.encode(
            MessageType::ServerSideEmit,
            json!({"requestId": id, "packet": packet}),
            &attachments,
        );
        let mut replies = Vec::new();
        let missing = self
            .request(&id, message, timeout, |tracker, response| {
                tracker.record(response.uid.as_deref());
                replies.push(Payload {
                    args: vec![response.value.get("packet").cloned().unwrap_or(Value::Null)],
                    attachments: response.attachments,
                });
                tracker.complete()
            })
            .await;
        Ok(ClusterResponse {
            value: replies,
            missing_nodes: missing,
        })
    }

    async fn rooms_ready(&self, rooms: &[Room]) {
        let waits = rooms.iter().any(|room| {
            let private = room
                .parse::<sio_core::engine::Sid>()
                .is_ok_and(|sid| self.state.local.get(sid).is_some());
            self.state.waits_for(private)
        });
        if waits
            && !self
                .cluster
                .inner
                .driver
                .subscriptions_settled(SUBSCRIBE_WAIT)
                .await
        {
            tracing::warn!(
                nsp = %self.state.local.nsp(),
                "room subscription not confirmed in time; acknowledging the join anyway"
            );
        }
    }

    fn write_metrics(&self, out: &mut String) {
        self.cluster.write_metrics(out);
    }

    fn is_ready(&self) -> bool {
        self.cluster.inner.driver.is_connected()
    }

    async fn server_count(&self) -> Result<usize, AdapterError> {
        let nsp = self.state.local.nsp();
        let live = self.cluster.live_peers(Some(nsp)).len();
        Ok(self.cluster.subscribers(nsp).max(1 + live))
    }
}
