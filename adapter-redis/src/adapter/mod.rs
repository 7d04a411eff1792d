//! [`RedisAdapter`]: one namespace's cluster operations over Redis, speaking the wire format of
//! Node's `@socket.io/redis-adapter`.
//!
//! - [`namespace`]: the namespace's state and what other nodes publish for it;
//! - [`tracker`]: who is expected to answer a request, and who did;
//! - [`sharded`]: the adapter of Node's `createShardedAdapter` wire format;
//! - here: the [`Adapter`] implementation, which publishes and waits for answers.

mod namespace;
pub(crate) mod sharded;
mod tracker;

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

use crate::cluster::RedisCluster;
use crate::wire::{self, Channels, RequestType};

use namespace::NsState;
use namespace::Response;
pub use sharded::ShardedRedisAdapter;
use tracker::{Expectation, RemoteAcks, Request, broadcast_with_acks};

/// A fresh request id.
fn request_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_owned()
}

/// The Redis adapter of one namespace.
pub struct RedisAdapter {
    state: Arc<NsState>,
    cluster: RedisCluster,
}

impl std::fmt::Debug for RedisAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisAdapter")
            .field("nsp", &self.state.nsp())
            .field("node_id", &self.cluster.node_id())
            .finish()
    }
}

impl RedisAdapter {
    /// The node-wide cluster state.
    pub fn cluster(&self) -> &RedisCluster {
        &self.cluster
    }

    /// The channel a broadcast to `opts` goes on (the namespace's, with a driver that cannot
    /// subscribe to patterns).
    fn broadcast_channel(&self, opts: &BroadcastOptions) -> String {
        if self.cluster.inner.driver.supports_patterns() {
            self.state.channels.broadcast_channel(opts)
        } else {
            self.state.channels.broadcast.clone()
        }
    }

    fn publish(&self, channel: &str, body: Bytes) {
        self.cluster.inner.driver.publish(channel, body);
    }

    /// Publishes a request on the request channel and feeds each response to `on_response`
    /// until every expected node answered or `timeout` passed. Returns the nodes that did not
    /// answer.
    async fn request(
        &self,
        request_id: &str,
        body: Bytes,
        timeout: Duration,
        mut on_response: impl FnMut(Response),
    ) -> Vec<String> {
        let nsp = self.state.nsp();
        self.request_with(request_id)
            .send(
                &self.state.channels.request,
                body,
                Expectation::of(&self.cluster, nsp),
                timeout,
                |tracker, response| {
                    tracker.record(response.uid.as_deref());
                    on_response(response);
                    tracker.complete()
                },
            )
            .await
    }

    fn request_with<'a>(&'a self, id: &'a str) -> Request<'a> {
        Request {
            cluster: &self.cluster,
            nsp: self.state.nsp(),
            pending: &self.state.pending,
            id,
        }
    }

    /// The namespace's channels and patterns, as subscribed.
    fn subscriptions(&self) -> (Vec<String>, Vec<String>) {
        let channels = &self.state.channels;
        let mut exact = vec![
            channels.request.clone(),
            channels.response.clone(),
            channels.specific_response.clone(),
        ];
        let mut patterns = Vec::new();
        if self.cluster.inner.driver.supports_patterns() {
            patterns.push(format!("{}*", channels.broadcast));
        } else {
            // Sharded pub/sub has no patterns: every broadcast goes on the namespace channel.
            exact.push(channels.broadcast.clone());
        }
        (exact, patterns)
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
        let channels = Channels::new(&cluster.inner.config.prefix, local.nsp(), cluster.node_id());
        let state = Arc::new(NsState::new(local, channels, cluster.node_id()));
        let adapter = RedisAdapter {
            state,
            cluster: RedisCluster::clone(cluster),
        };
        let (channels, patterns) = adapter.subscriptions();
        cluster.inner.driver.subscribe(&channels, &patterns);
        cluster.register(adapter.state.clone());
        adapter
    }

    async fn close_namespace(&self) {
        self.cluster.unregister(&self.state);
        let (channels, patterns) = self.subscriptions();
        self.cluster.inner.driver.unsubscribe(&channels, &patterns);
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
            let body = wire::encode_broadcast(self.cluster.node_id(), &packet, &opts);
            self.publish(&self.broadcast_channel(&opts), body);
        }
        self.state.local.broadcast_local(&packet, &opts);
    }

    fn takes_json_events(&self, _opts: &BroadcastOptions) -> bool {
        self.state.local.takes_json_frames()
    }

    async fn broadcast_event(&self, event: JsonEvent, opts: BroadcastOptions) {
        if !opts.flags.local {
            let uid = self.cluster.node_id();
            // The transcoder does not decline what the server writes; if it did, the packet.
            let body = wire::encode_broadcast_event(uid, &event, &opts).or_else(|| {
                let packet = event.to_packet().ok()?;
                Some(wire::encode_broadcast(uid, &packet, &opts))
            });
            if let Some(body) = body {
                self.publish(&self.broadcast_channel(&opts), body);
            } else {
                tracing::error!("an encoded event could not be published");
            }
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
            let mut remote = RemoteAcks::default();
            let missing = self
                .request_with(&request_id)
                .send(
                    &self.state.channels.request,
                    body,
                    Expectation::of(&self.cluster, self.state.nsp()),
                    timeout,
                    |tracker, response| {
                        let kind = response.value.get("type").and_then(Value::as_u64);
                        match kind.and_then(RequestType::from_code) {
                            Some(RequestType::BroadcastClientCount) => {
                                remote.count(tracker, &response);
                            }
                            Some(RequestType::BroadcastAck) => remote.ack(response),
                            _ => {}
                        }
                        remote.complete(tracker)
                    },
                )
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
        let nsp = self.state.local.nsp();
        let live = self.cluster.live_peers(Some(nsp)).len();
        Ok(self.cluster.subscribers(nsp).max(1 + live))
    }
}
