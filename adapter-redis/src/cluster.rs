//! The node-wide side of the Redis adapter: one driver, one dispatcher of received messages,
//! heartbeats that tell which nodes are alive, and the registry of namespace adapters.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::time::Instant;

use sio_core::engine::{NodeTag, OwnerDirectory};

use crate::driver::{Driver, Received, ResumeGate};

/// How a sharded node subscribes to room channels (Node's `subscriptionMode`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SubscriptionMode {
    /// Only the namespace channels: every broadcast goes on the namespace channel.
    Static,
    /// Also a public room's channel while this node holds a member of it; a broadcast to
    /// exactly one public room goes on the room's channel. The default, as in Node.
    #[default]
    Dynamic,
    /// As `Dynamic`, and the same for private rooms (socket ids): a message to one socket
    /// reaches only the node that holds it.
    DynamicPrivate,
}

impl std::str::FromStr for SubscriptionMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "static" => Ok(SubscriptionMode::Static),
            "dynamic" => Ok(SubscriptionMode::Dynamic),
            "dynamic-private" => Ok(SubscriptionMode::DynamicPrivate),
            other => Err(format!(
                "unknown subscription mode {other:?} (static, dynamic, dynamic-private)"
            )),
        }
    }
}

/// A namespace's handler of the messages received on its channels.
pub(crate) trait NsHandler: Send + Sync + 'static {
    /// The namespace name.
    fn nsp(&self) -> &str;
    /// The channel every node of the namespace subscribes to (Node's nodes included): its
    /// subscriber count, refreshed every heartbeat interval, tells how many nodes serve it.
    fn census_channel(&self) -> &str;
    /// Handles a message received on one of the namespace's channels.
    fn on_message(self: Arc<Self>, cluster: &RedisCluster, message: &Received);
}

/// Settings of the Redis adapter, each with its default.
#[derive(Debug, Clone)]
pub struct RedisAdapterConfig {
    /// The channel prefix. Default: `socket.io` (as Node's adapter).
    pub prefix: String,
    /// This node's id, used as the adapter `uid` on the wire and in `missing_nodes`. Default:
    /// a random UUID.
    pub node_id: String,
    /// How often a node announces itself; a node silent for two intervals is dead.
    /// Default: 5 s.
    pub heartbeat_interval: Duration,
    /// Answer requests on the requester's own response channel. Default: `false` (Node's
    /// default; every node then sees every response).
    pub publish_on_specific_response_channel: bool,
    /// How the sharded adapter subscribes to room channels (not used by the classic one).
    /// Default: [`SubscriptionMode::Dynamic`].
    pub subscription_mode: SubscriptionMode,
    /// Where this node serves forwarded requests for its sessions, announced in every heartbeat
    /// (fields `tag` and `addr`, which Node nodes ignore). Default: `None` (not announced).
    pub route: Option<NodeRoute>,
}

/// A node's session-forwarding route: the tag of its session ids and its internal address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRoute {
    /// The tag that prefixes the node's session ids.
    pub tag: NodeTag,
    /// The node's internal HTTP address, `host:port`.
    pub addr: String,
}

impl Default for RedisAdapterConfig {
    fn default() -> Self {
        RedisAdapterConfig {
            prefix: "socket.io".into(),
            node_id: uuid::Uuid::new_v4().to_string(),
            heartbeat_interval: Duration::from_secs(5),
            publish_on_specific_response_channel: false,
            subscription_mode: SubscriptionMode::Dynamic,
            route: None,
        }
    }
}

#[derive(Debug, Clone)]
struct Peer {
    last_seen: Instant,
    namespaces: BTreeSet<String>,
    route: Option<NodeRoute>,
}

/// Upper bounds (seconds) of the request latency histogram buckets.
const LATENCY_BUCKETS: [f64; 11] = [
    0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// Cluster request latencies: a Prometheus histogram.
#[derive(Debug, Default)]
pub(crate) struct RequestLatency {
    buckets: [std::sync::atomic::AtomicU64; 11],
    count: std::sync::atomic::AtomicU64,
    sum_us: std::sync::atomic::AtomicU64,
    incomplete: std::sync::atomic::AtomicU64,
}

impl RequestLatency {
    pub(crate) fn record(&self, elapsed: Duration, complete: bool) {
        let secs = elapsed.as_secs_f64();
        for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
            if secs <= *bound {
                self.buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_us
            .fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
        if !complete {
            self.incomplete.fetch_add(1, Ordering::Relaxed);
        }
    }
}

pub(crate) struct ClusterInner {
    pub(crate) latency: RequestLatency,
    pub(crate) driver: Arc<dyn Driver>,
    pub(crate) config: RedisAdapterConfig,
    namespaces: Mutex<HashMap<String, Weak<dyn NsHandler>>>,
    peers: Mutex<HashMap<String, Peer>>,
    /// The subscribers of each namespace's census channel, as last counted.
    subscribers: Mutex<HashMap<String, usize>>,
    pub(crate) peers_changed: watch::Sender<u64>,
    closed: AtomicBool,
}

/// The node-wide Redis cluster state: the `Config` of [`RedisAdapter`](crate::RedisAdapter),
/// shared by the adapters of every namespace.
#[derive(Clone)]
pub struct RedisCluster {
    pub(crate) inner: Arc<ClusterInner>,
}

impl std::fmt::Debug for RedisCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisCluster")
            .field("node_id", &self.inner.config.node_id)
            .field("live_peers", &self.live_peers(None))
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl RedisCluster {
    /// Starts the node's cluster state on `driver`: subscribes to the heartbeat channel, starts
    /// the dispatcher and the heartbeat. Call inside a tokio runtime. One driver serves one
    /// cluster: a driver whose messages already go elsewhere ([`Driver::set_on_message`] was
    /// called) delivers nothing to this one, which logs it as an error.
    pub fn new(driver: Arc<dyn Driver>, config: RedisAdapterConfig) -> Self {
        let (peers_changed, _) = watch::channel(0);
        let inner = Arc::new(ClusterInner {
            latency: RequestLatency::default(),
            driver,
            config,
            namespaces: Mutex::new(HashMap::new()),
            peers: Mutex::new(HashMap::new()),
            subscribers: Mutex::new(HashMap::new()),
            peers_changed,
            closed: AtomicBool::new(false),
        });
        let cluster = RedisCluster { inner };
        // Set before the first subscription, so that nothing received is dropped.
        let weak = Arc::downgrade(&cluster.inner);
        let heartbeats = cluster.heartbeat_channel();
        let receiving = cluster
            .inner
            .driver
            .set_on_message(Arc::new(move |message| route(&weak, &heartbeats, &message)));
        if !receiving {
            tracing::error!(
                "the driver already delivers its messages elsewhere (one driver per cluster): \
                 this cluster will receive nothing"
            );
        }
        cluster
            .inner
            .driver
            .subscribe(&[cluster.heartbeat_channel()], &[]);
        // Every node subscribes to the heartbeat channel: after a reconnect, publishing resumes
        // once it has as many subscribers as there were nodes.
        let weak = Arc::downgrade(&cluster.inner);
        cluster.inner.driver.set_resume_gate(ResumeGate {
            channel: cluster.heartbeat_channel(),
            listeners: Arc::new(move || {
                weak.upgrade()
                    .map_or(0, |inner| 1 + live_peers(&inner, None).len())
            }),
        });
        tokio::spawn(heartbeat(Arc::downgrade(&cluster.inner)));
        cluster
    }

    /// This node's id.
    #[must_use]
    pub fn node_id(&self) -> &str {
        &self.inner.config.node_id
    }

    /// The driver.
    #[must_use]
    pub fn driver(&self) -> &Arc<dyn Driver> {
        &self.inner.driver
    }

    /// Appends the Redis and cluster counters in the Prometheus text format.
    pub fn write_metrics(&self, out: &mut String) {
        use std::fmt::Write as _;
        let stats = self.inner.driver.stats();
        let mut counter = |name: &str, help: &str, kind: &str, value: u64| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
            let _ = writeln!(out, "{name} {value}");
        };
        counter(
            "sio_redis_published_total",
            "Messages published to Redis.",
            "counter",
            stats.published,
        );
        counter(
            "sio_redis_received_total",
            "Messages received from Redis.",
            "counter",
            stats.received,
        );
        counter(
            "sio_redis_reconnects_total",
            "Reconnections to Redis.",
            "counter",
            stats.reconnects,
        );
        counter(
            "sio_redis_buffered",
            "Messages waiting for Redis to come back or in flight to it.",
            "gauge",
            stats.buffered,
        );
        counter(
            "sio_redis_dropped_total",
            "Messages dropped because the outage buffer was full.",
            "counter",
            stats.dropped,
        );
        counter(
            "sio_redis_unconfirmed_total",
            "Messages in a publish that failed: Redis may have published some, none are sent again (at most once).",
            "counter",
            stats.unconfirmed,
        );
        counter(
            "sio_redis_receive_dropped_total",
            "Messages received from Redis and dropped because the adapter did not keep up.",
            "counter",
            stats.receive_dropped,
        );
        counter(
            "sio_redis_subscriptions_moved_total",
            "Subscriptions moved to another Redis Cluster master (failover, reshard).",
            "counter",
            stats.moved,
        );
        counter(
            "sio_redis_resume_incomplete_total",
            "Messages published after a reconnect before every known node had resubscribed (the wait timed out); they may miss those nodes.",
            "counter",
            stats.resume_incomplete,
        );
        counter(
            "sio_redis_connected",
            "1 when both Redis connections are up.",
            "gauge",
            u64::from(self.inner.driver.is_connected()),
        );
        let l = &self.inner.latency;
        let _ = writeln!(
            out,
            "# HELP sio_cluster_request_seconds Cluster requests (fetch, rooms, acks), until complete or timed out."
        );
        let _ = writeln!(out, "# TYPE sio_cluster_request_seconds histogram");
        for (i, bound) in LATENCY_BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "sio_cluster_request_seconds_bucket{{le=\"{bound}\"}} {}",
                l.buckets[i].load(Ordering::Relaxed)
            );
        }
        let count = l.count.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "sio_cluster_request_seconds_bucket{{le=\"+Inf\"}} {count}"
        );
        let _ = writeln!(
            out,
            "sio_cluster_request_seconds_sum {}",
            l.sum_us.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "sio_cluster_request_seconds_count {count}");
        let _ = writeln!(
            out,
            "# HELP sio_cluster_requests_incomplete_total Cluster requests some node did not answer."
        );
        let _ = writeln!(out, "# TYPE sio_cluster_requests_incomplete_total counter");
        let _ = writeln!(
            out,
            "sio_cluster_requests_incomplete_total {}",
            l.incomplete.load(Ordering::Relaxed)
        );
    }

    pub(crate) fn heartbeat_channel(&self) -> String {
        heartbeat_channel(&self.inner.config.prefix)
    }

    /// The ids of the other nodes alive now (that serve `nsp`, when given).
    #[must_use]
    pub fn live_peers(&self, nsp: Option<&str>) -> BTreeSet<String> {
        live_peers(&self.inner, nsp)
    }

    /// The address of the live node that announced `tag` (the owner directory of session
    /// forwarding).
    #[must_use]
    pub fn route_of(&self, tag: NodeTag) -> Option<String> {
        let horizon = self.inner.config.heartbeat_interval * 2;
        let now = Instant::now();
        lock(&self.inner.peers)
            .values()
            .filter(|p| now.duration_since(p.last_seen) <= horizon)
            .filter_map(|p| p.route.as_ref())
            .find(|r| r.tag == tag)
            .map(|r| r.addr.clone())
    }

    pub(crate) fn register(&self, state: Arc<dyn NsHandler>) {
        lock(&self.inner.namespaces).insert(state.nsp().to_owned(), Arc::downgrade(&state));
        // Tell the others at once that this node now serves the namespace, and again once its
        // subscriptions are in place (they answer a newcomer's heartbeat with theirs).
        send_heartbeat(&self.inner, "heartbeat");
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let Some(driver) = weak.upgrade().map(|inner| inner.driver.clone()) else {
                return;
            };
            driver.subscriptions_settled(Duration::from_secs(10)).await;
            if let Some(inner) = weak.upgrade() {
                send_heartbeat(&inner, "heartbeat");
                count_subscribers(&inner).await;
            }
        });
    }

    /// How many nodes serve `nsp`, Node's included, as last counted (at least this one).
    #[must_use]
    pub fn subscribers(&self, nsp: &str) -> usize {
        lock(&self.inner.subscribers).get(nsp).copied().unwrap_or(1)
    }

    /// Forgets a namespace that closed on this node (unless it was created again since):
    /// the heartbeats stop naming it, and its messages are no longer dispatched.
    pub(crate) fn unregister<T: NsHandler>(&self, state: &Arc<T>) {
        let mut namespaces = lock(&self.inner.namespaces);
        let current = namespaces
            .get(state.nsp())
            .is_some_and(|w| std::ptr::addr_eq(w.as_ptr(), Arc::as_ptr(state)));
        if current {
            namespaces.remove(state.nsp());
        }
    }

    /// Announces this node's departure (once) and waits (up to 2 s) until everything queued
    /// for Redis went out.
    pub(crate) async fn announce_departure(&self) {
        if !self.inner.closed.swap(true, Ordering::AcqRel) {
            send_heartbeat(&self.inner, "bye");
        }
        self.inner.driver.flush(Duration::from_secs(2)).await;
    }
}

impl OwnerDirectory for RedisCluster {
    fn locate(&self, tag: NodeTag) -> Option<String> {
        self.route_of(tag)
    }
}

fn live_peers(inner: &ClusterInner, nsp: Option<&str>) -> BTreeSet<String> {
    let horizon = inner.config.heartbeat_interval * 2;
    let now = Instant::now();
    lock(&inner.peers)
        .iter()
        .filter(|(_, p)| now.duration_since(p.last_seen) <= horizon)
        .filter(|(_, p)| nsp.is_none_or(|n| p.namespaces.contains(n)))
        .map(|(id, _)| id.clone())
        .collect()
}

fn heartbeat_channel(prefix: &str) -> String {
    format!("{prefix}-nodes#")
}

fn send_heartbeat(inner: &ClusterInner, kind: &str) {
    let namespaces: Vec<String> = lock(&inner.namespaces).keys().cloned().collect();
    let mut message = json!({ "type": kind, "uid": inner.config.node_id, "nsps": namespaces });
    if let (Some(route), Some(fields)) = (&inner.config.route, message.as_object_mut()) {
        fields.insert("tag".into(), Value::from(route.tag.as_str()));
        fields.insert("addr".into(), Value::from(route.addr.as_str()));
    }
    inner.driver.publish(
        &heartbeat_channel(&inner.config.prefix),
        Bytes::from(message.to_string()),
    );
}

/// Counts the subscribers of every namespace's census channel.
async fn count_subscribers(inner: &ClusterInner) {
    let namespaces: Vec<(String, String)> = lock(&inner.namespaces)
        .values()
        .filter_map(Weak::upgrade)
        .map(|ns| (ns.nsp().to_owned(), ns.census_channel().to_owned()))
        .collect();
    for (nsp, channel) in namespaces {
        match inner.driver.numsub(&channel).await {
            Ok(n) => {
                lock(&inner.subscribers).insert(nsp, n);
            }
            Err(err) => tracing::debug!(error = %err, "cannot count the subscribers"),
        }
    }
}

/// Announces this node every interval and forgets nodes silent for two intervals.
async fn heartbeat(weak: Weak<ClusterInner>) {
    // The first heartbeat waits (up to an interval) for the subscriptions and says "hello":
    // every node answers it at once, and the answers reach this node.
    let started = Instant::now();
    let mut kind = "hello";
    loop {
        let Some(inner) = weak.upgrade() else { return };
        if inner.driver.is_connected() || started.elapsed() >= inner.config.heartbeat_interval {
            break;
        }
        drop(inner);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    loop {
        let Some(inner) = weak.upgrade() else { return };
        if inner.closed.load(Ordering::Acquire) {
            return;
        }
        let interval = inner.config.heartbeat_interval;
        send_heartbeat(&inner, kind);
        kind = "heartbeat";
        count_subscribers(&inner).await;
        let horizon = interval * 2;
        let now = Instant::now();
        let mut departed = Vec::new();
        lock(&inner.peers).retain(|id, p| {
            let alive = now.duration_since(p.last_seen) <= horizon;
            if !alive {
                departed.push(id.clone());
            }
            alive
        });
        if !departed.is_empty() {
            tracing::warn!(nodes = ?departed, "nodes stopped heartbeating");
            inner.peers_changed.send_modify(|v| *v += 1);
        }
        drop(inner);
        // Check departures more often than we announce, so a dead node is noticed within two
        // intervals.
        tokio::time::sleep(interval / 2).await;
        let Some(inner) = weak.upgrade() else { return };
        prune(&inner);
        drop(inner);
        tokio::time::sleep(interval / 2).await;
    }
}

fn prune(inner: &ClusterInner) {
    let horizon = inner.config.heartbeat_interval * 2;
    let now = Instant::now();
    let before = lock(&inner.peers).len();
    lock(&inner.peers).retain(|_, p| now.duration_since(p.last_seen) <= horizon);
    if lock(&inner.peers).len() != before {
        inner.peers_changed.send_modify(|v| *v += 1);
    }
}

fn on_heartbeat(inner: &ClusterInner, payload: &[u8]) {
    let Ok(value) = serde_json::from_slice::<Value>(payload) else {
        tracing::debug!("malformed heartbeat dropped");
        return;
    };
    let Some(uid) = value.get("uid").and_then(Value::as_str) else {
        return;
    };
    if uid == inner.config.node_id {
        return;
    }
    let kind = value.get("type").and_then(Value::as_str).unwrap_or("");
    let namespaces: BTreeSet<String> = value
        .get("nsps")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let route = match (
        value.get("tag").and_then(Value::as_str),
        value.get("addr").and_then(Value::as_str),
    ) {
        (Some(tag), Some(addr)) => tag.parse().ok().map(|tag| NodeRoute {
            tag,
            addr: addr.to_owned(),
        }),
        _ => None,
    };
    let mut peers = lock(&inner.peers);
    match kind {
        "bye" if peers.remove(uid).is_some() => {
            drop(peers);
            tracing::info!(node = uid, "node left the cluster");
            inner.peers_changed.send_modify(|v| *v += 1);
        }
        "heartbeat" | "hello" => {
            let new = !peers.contains_key(uid);
            let grew = peers
                .get(uid)
                .is_some_and(|p| !namespaces.is_subset(&p.namespaces));
            peers.insert(
                uid.to_owned(),
                Peer {
                    last_seen: Instant::now(),
                    namespaces,
                    route,
                },
            );
            drop(peers);
            if new {
                tracing::info!(node = uid, "node joined the cluster");
            }
            // Answer a newcomer at once, so it knows this node (and its route) now rather than
            // at the next interval.
            if (new || kind == "hello") && !inner.closed.load(Ordering::Acquire) {
                send_heartbeat(inner, "heartbeat");
            }
            if new || grew {
                inner.peers_changed.send_modify(|v| *v += 1);
            }
        }
        _ => {}
    }
}

/// The namespace of a channel: `<prefix>#<nsp>#…`, `<prefix>-request#<nsp>#…` or
/// `<prefix>-response#<nsp>#…`.
pub(crate) fn channel_nsp<'a>(prefix: &str, channel: &'a str) -> Option<&'a str> {
    let rest = channel.strip_prefix(prefix)?;
    let rest = rest
        .strip_prefix('#')
        .or_else(|| rest.strip_prefix("-request#"))
        .or_else(|| rest.strip_prefix("-response#"))?;
    rest.find('#').map(|end| &rest[..end])
}

/// Routes a received message to the namespace it concerns (a map lookup by the name in the
/// channel), on the driver's task that read it.
fn route(weak: &Weak<ClusterInner>, heartbeats: &str, message: &Received) {
    let Some(inner) = weak.upgrade() else { return };
    if message.channel == heartbeats {
        on_heartbeat(&inner, &message.payload);
        return;
    }
    let state = channel_nsp(&inner.config.prefix, &message.channel)
        .and_then(|nsp| lock(&inner.namespaces).get(nsp).and_then(Weak::upgrade));
    if let Some(state) = state {
        let cluster = RedisCluster { inner };
        state.on_message(&cluster, message);
    }
}

/// A reply handle for a server event that asks for an ack, and where its answer arrives.
pub(crate) fn server_event_reply() -> (
    sio_core::adapter::ServerEventReply,
    tokio::sync::oneshot::Receiver<sio_core::protocol::Payload>,
) {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let reply = sio_core::adapter::ServerEventReply::new(move |payload| tx.send(payload).is_ok());
    (reply, rx)
}

#[cfg(test)]
mod tests {
    use super::channel_nsp;

    #[test]
    fn the_namespace_is_read_from_the_channel() {
        assert_eq!(channel_nsp("socket.io", "socket.io#/#"), Some("/"));
        assert_eq!(
            channel_nsp("socket.io", "socket.io#/chat#room#"),
            Some("/chat")
        );
        assert_eq!(
            channel_nsp("socket.io", "socket.io-request#/a#"),
            Some("/a")
        );
        assert_eq!(
            channel_nsp("socket.io", "socket.io-response#/#n1#"),
            Some("/")
        );
        assert_eq!(channel_nsp("socket.io", "other#/#"), None);
        assert_eq!(channel_nsp("socket.io", "socket.io#/"), None);
    }
}
