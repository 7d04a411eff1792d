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
use sio_server::adapter::{
    AckReplies, Adapter, AdapterError, BroadcastOptions, ClusterResponse, LocalAdapter, Room,
    ServerEvent, SocketInfo,
};
use sio_server::protocol::{Packet, Payload};
use tokio::time::Instant;

use super::namespace::Response;
use super::request_id;
use super::tracker::{Expectation, Tracker};
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
                SubscriptionMode::Dynamic => !wire::looks_like_a_socket_id(room),
                SubscriptionMode::DynamicPrivate => true,
            };
            if dynamic {
                return self.state.room_channel(room);
            }
        }
        self.state.channel.clone()
    }

    /// Who is expected to answer a request: our nodes by heartbeat, and as many others as the
    /// last subscriber count adds (Node's nodes do not heartbeat).
    fn expectation(&self) -> Expectation {
        let nsp = self.state.local.nsp();
        let named = self.cluster.live_peers(Some(nsp));
        Expectation {
            anonymous: self
                .cluster
                .subscribers(nsp)
                .saturating_sub(1 + named.len()),
            named,
        }
    }

    /// Publishes a request and feeds each response to `on_response` until every expected
    /// node answered (and `on_response` says it needs no more), or `timeout` passed. Returns
    /// the nodes that did not answer.
    async fn request(
        &self,
        request_id: &str,
        expect: Expectation,
        message: Bytes,
        timeout: Duration,
        mut on_response: impl FnMut(&mut Tracker, Response) -> bool,
    ) -> Vec<String> {
        let started = Instant::now();
        let mut tracker = Tracker::new(expect);
        let mut rx = self.state.await_responses(request_id);
        let mut peers = self.cluster.inner.peers_changed.subscribe();
        self.publish(&self.state.channel, message);
        let deadline = Instant::now() + timeout;
        let mut satisfied = tracker.complete();
        while !satisfied {
            tokio::select! {
                response = rx.recv() => {
                    let Some(response) = response else { break };
                    satisfied = on_response(&mut tracker, response);
                }
                changed = peers.changed() => {
                    if changed.is_err() { break }
                    tracker.forget_dead(&self.cluster.live_peers(Some(self.state.local.nsp())));
                    satisfied = tracker.complete();
                }
                _ = tokio::time::sleep_until(deadline) => break,
            }
        }
        self.state.stop_awaiting(request_id);
        let missing = tracker.missing();
        self.cluster
            .inner
            .latency
            .record(started.elapsed(), missing.is_empty());
        missing
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
        let id = request_id();
        let data = json!({
            "packet": wire::packet_json(&packet),
            "requestId": id,
            "opts": wire::opts_json(&opts, Some(timeout)),
        });
        let message = self
            .state
            .encode(MessageType::Broadcast, data, &packet.attachments);
        let expect = self.expectation();
        let mut remote_expected = 0usize;
        let mut replies = Vec::new();
        let missing_nodes = self
            .request(&id, expect, message, timeout, |tracker, response| {
                match response.value.get("type").and_then(Value::as_u64) {
                    Some(11) => {
                        tracker.record(response.uid.as_deref());
                        remote_expected += response
                            .value
                            .get("clientCount")
                            .and_then(Value::as_u64)
                            .unwrap_or(0) as usize;
                    }
                    Some(12) => {
                        let arg = response.value.get("packet").cloned().unwrap_or(Value::Null);
                        replies.push(Payload {
                            args: vec![arg],
                            attachments: response.attachments,
                        });
                    }
                    _ => {}
                }
                tracker.complete() && replies.len() >= remote_expected
            })
            .await;
        let mut all = local_task.await.unwrap_or_default();
        all.extend(replies);
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
        let expect = self.expectation();
        let missing = self
            .request(&id, expect, message, timeout, |tracker, response| {
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
        let expect = self.expectation();
        let missing = self
            .request(&id, expect, message, timeout, |tracker, response| {
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
        let expect = self.expectation();
        let mut replies = Vec::new();
        let missing = self
            .request(&id, expect, message, timeout, |tracker, response| {
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
                .parse::<sio_server::engine::Sid>()
                .is_ok_and(|sid| self.state.local.get(sid).is_some());
            self.state.subscribes_to(private)
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
