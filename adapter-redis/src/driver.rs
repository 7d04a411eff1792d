//! The small interface the adapter needs from a pub/sub system, with two implementations:
//! [`RedisDriver`] (real Redis, reconnecting, with a bounded outage buffer) and [`MemoryHub`]
//! (an in-process stand-in for fast multi-node tests).

use std::collections::{BTreeSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::{Notify, mpsc, watch};

mod loss;
mod memory;
mod publisher;
mod redis_cluster;

pub use memory::{MemoryDriver, MemoryHub, glob_match};
pub use redis_cluster::{RedisClusterDriver, slot};

use loss::Loss;

/// A boxed, sendable future.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// A message received on a subscribed channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The channel it was published on.
    pub channel: String,
    /// The payload.
    pub payload: Bytes,
}

/// What a driver calls with every message it receives, on the task that read it from the
/// connection: no channel and no task in between, so a message costs no wake-up of its own
/// (the receiver must not block; it hands the message on without waiting).
pub type OnMessage = Arc<dyn Fn(Received) + Send + Sync>;

/// Why a driver request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DriverError {
    /// The pub/sub server cannot be reached now.
    #[error("not connected: {0}")]
    Disconnected(String),
}

/// Counters of a driver.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DriverStats {
    /// Messages published.
    pub published: u64,
    /// Messages received.
    pub received: u64,
    /// Reconnections after a lost connection.
    pub reconnects: u64,
    /// Messages waiting in the outage buffer or in flight to Redis now.
    pub buffered: u64,
    /// Messages dropped because the outage buffer was full.
    pub dropped: u64,
    /// Messages in a pipeline that failed: Redis may have published some of them, and they
    /// are not sent again (delivery is at most once).
    pub unconfirmed: u64,
    /// Received messages dropped because the adapter did not keep up.
    pub receive_dropped: u64,
    /// Subscriptions moved to another Redis Cluster master (failover, reshard); messages
    /// published to the new owner before the move are lost inside Redis, unseen.
    pub moved: u64,
    /// Messages published after a reconnect whose wait for the other nodes to resubscribe
    /// timed out, before they all had: they may have missed the nodes still away.
    pub resume_incomplete: u64,
}

/// How a driver knows, after a reconnect, that the other nodes listen again: it holds back
/// what it publishes until `channel` has as many subscribers as `listeners` said before the
/// outage (or a timeout passed).
#[derive(Clone)]
pub struct ResumeGate {
    /// A channel that every node subscribes to.
    pub channel: String,
    /// The number of subscribers of `channel` when every known node listens, this one included.
    pub listeners: Arc<dyn Fn() -> usize + Send + Sync>,
}

impl std::fmt::Debug for ResumeGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResumeGate")
            .field("channel", &self.channel)
            .field("listeners", &(self.listeners)())
            .finish()
    }
}

/// What the adapter needs from pub/sub.
pub trait Driver: Send + Sync + 'static {
    /// Queues a message for publication. Never blocks: while disconnected, messages wait in a
    /// bounded buffer and go out in order after the reconnect.
    fn publish(&self, channel: &str, payload: Bytes);

    /// Subscribes to exact channels and glob patterns, now and after every reconnect.
    fn subscribe(&self, channels: &[String], patterns: &[String]);

    /// Drops subscriptions made with [`Driver::subscribe`] (a namespace that closed, a room
    /// without local members).
    fn unsubscribe(&self, channels: &[String], patterns: &[String]);

    /// Resolves to `true` once every subscription change asked for so far is confirmed by the
    /// server, or to `false` after `deadline`. Default: `true` at once.
    fn subscriptions_settled(&self, deadline: Duration) -> BoxFuture<bool> {
        let _ = deadline;
        Box::pin(async { true })
    }

    /// The number of subscribers of `channel` (`PUBSUB NUMSUB`).
    fn numsub(&self, channel: &str) -> BoxFuture<Result<usize, DriverError>>;

    /// Sets what receives every message; `false` (and ignored) when one is already set.
    /// Messages received before it is set are dropped and counted
    /// ([`DriverStats::receive_dropped`]): set it before subscribing.
    fn set_on_message(&self, on_message: OnMessage) -> bool;

    /// The received messages as a channel (tests and tools; an adapter uses
    /// [`Driver::set_on_message`]); `None` when a receiver is already set. Holds up to
    /// 65 536 messages; beyond that the newest are dropped.
    fn take_messages(&self) -> Option<mpsc::Receiver<Received>> {
        let (tx, rx) = mpsc::channel(RECEIVED_CAPACITY);
        let on_message: OnMessage = Arc::new(move |message| {
            let _ = tx.try_send(message);
        });
        self.set_on_message(on_message).then_some(rx)
    }

    /// Whether both directions are connected now.
    fn is_connected(&self) -> bool;

    /// The counters.
    fn stats(&self) -> DriverStats;

    /// Resolves once every queued message went out, or after `deadline` (for shutdown: what
    /// was acknowledged to clients is not lost). Default: at once.
    fn flush(&self, deadline: Duration) -> BoxFuture<()> {
        let _ = deadline;
        Box::pin(async {})
    }

    /// Sets how to know that the other nodes listen again after a reconnect. Default: ignored.
    fn set_resume_gate(&self, gate: ResumeGate) {
        let _ = gate;
    }

    /// Whether glob-pattern subscriptions work (not with sharded pub/sub). Default: `true`.
    fn supports_patterns(&self) -> bool {
        true
    }
}

/// Capacity of the channel [`Driver::take_messages`] makes.
const RECEIVED_CAPACITY: usize = 65_536;

/// Settings of [`RedisDriver`].
#[derive(Debug, Clone)]
pub struct RedisDriverConfig {
    /// The most messages kept while Redis is unreachable; beyond it the oldest are dropped
    /// (and counted). Default: 10 000.
    pub max_buffered: usize,
    /// The longest wait between two reconnection attempts (the first is 10 ms, then it
    /// doubles). Default: 100 ms.
    pub max_backoff: Duration,
    /// After a reconnection, publishing waits until the other nodes have resubscribed (see
    /// [`ResumeGate`]), or this long at most. Default: 1 s.
    pub resume_timeout: Duration,
    /// Use sharded pub/sub (`SPUBLISH` / `SSUBSCRIBE`, Redis 7+). Default: `false`.
    pub sharded: bool,
}

impl Default for RedisDriverConfig {
    fn default() -> Self {
        RedisDriverConfig {
            max_buffered: 10_000,
            max_backoff: Duration::from_millis(100),
            resume_timeout: Duration::from_secs(1),
            sharded: false,
        }
    }
}

struct RedisShared {
    client: redis::Client,
    config: RedisDriverConfig,
    subscriptions: Mutex<Subscriptions>,
    sub_commands: mpsc::UnboundedSender<SubCommand>,
    /// The sequence number of the last subscription change asked for (under `subscriptions`).
    sub_requested: AtomicU64,
    /// The sequence number of the last subscription change the server confirmed.
    sub_confirmed: watch::Sender<u64>,
    /// The outage buffer: messages not handed to Redis yet.
    outbox: Mutex<VecDeque<(String, Bytes)>>,
    outbox_ready: Notify,
    /// The size of the batch handed to Redis and not confirmed yet.
    in_flight: AtomicUsize,
    /// Woken whenever the outbox and the in-flight slot become empty.
    drained: Notify,
    resume_gate: Mutex<Option<ResumeGate>>,
    publisher: Mutex<Option<redis::aio::MultiplexedConnection>>,
    on_message: OnceLock<OnMessage>,
    pub_connected: AtomicBool,
    sub_connected: AtomicBool,
    published: AtomicU64,
    received: AtomicU64,
    reconnects: AtomicU64,
    dropped: Loss,
    unconfirmed: Loss,
    receive_dropped: Loss,
    resume_incomplete: Loss,
}

#[derive(Debug, Clone, Default)]
struct Subscriptions {
    channels: BTreeSet<String>,
    patterns: BTreeSet<String>,
}

/// A subscription change for the subscriber task, with its sequence number.
#[derive(Debug)]
enum SubCommand {
    Add(u64, Subscriptions),
    Remove(u64, Subscriptions),
}

/// A [`Driver`] on Redis: one connection publishes (pipelined), one subscribes; both reconnect
/// with exponential backoff, and subscriptions are restored after a reconnect.
#[derive(Clone)]
pub struct RedisDriver {
    shared: Arc<RedisShared>,
}

impl std::fmt::Debug for RedisDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisDriver")
            .field("connected", &self.is_connected())
            .field("stats", &self.stats())
            .finish()
    }
}

impl RedisDriver {
    /// A driver for `url`: `redis://[[user]:password@]host:port[/db]`, or `rediss://` for TLS
    /// (server certificates checked against the system's roots, or the bundle named by
    /// `SSL_CERT_FILE`; `#insecure` at the end of the URL skips the check). Connects in the
    /// background: messages published before the first connection wait in the buffer. Call
    /// inside a tokio runtime.
    pub fn new(url: &str, config: RedisDriverConfig) -> Result<Self, redis::RedisError> {
        if url.starts_with("rediss://") {
            // TLS (rustls with the system's roots; `SSL_CERT_FILE` names another CA bundle).
            // Installing fails only when a provider is already installed, which is as good.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let client = redis::Client::open(url)?;
        let (sub_commands, sub_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(RedisShared {
            client,
            config,
            subscriptions: Mutex::new(Subscriptions::default()),
            sub_commands,
            sub_requested: AtomicU64::new(0),
            sub_confirmed: watch::Sender::new(0),
            outbox: Mutex::new(VecDeque::new()),
            outbox_ready: Notify::new(),
            in_flight: AtomicUsize::new(0),
            drained: Notify::new(),
            resume_gate: Mutex::new(None),
            publisher: Mutex::new(None),
            on_message: OnceLock::new(),
            pub_connected: AtomicBool::new(false),
            sub_connected: AtomicBool::new(false),
            published: AtomicU64::new(0),
            received: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
            dropped: Loss::new("outage buffer full: dropped the oldest messages"),
            unconfirmed: Loss::new("publish failed: messages not confirmed, not sent again"),
            receive_dropped: Loss::new("adapter not keeping up: dropped received messages"),
            resume_incomplete: Loss::new(
                "published before every node had resubscribed: they may miss some nodes",
            ),
        });
        tokio::spawn(publisher::run_publisher(Arc::downgrade(&shared)));
        if shared.config.sharded {
            tokio::spawn(run_sharded_subscriber(Arc::downgrade(&shared), sub_rx));
        } else {
            tokio::spawn(run_subscriber(Arc::downgrade(&shared), sub_rx));
        }
        Ok(RedisDriver { shared })
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl RedisShared {
    /// Records that a subscriber connection is up and subscribed (again).
    fn subscribed(&self, was_connected: &mut bool, what: &str) {
        if *was_connected {
            self.reconnects.fetch_add(1, Ordering::Relaxed);
            tracing::info!("redis {what} reconnected and resubscribed");
        }
        *was_connected = true;
        self.sub_connected.store(true, Ordering::Release);
    }

    /// The subscriptions to restore, and the sequence number of the last change they include.
    fn snapshot(&self) -> (Subscriptions, u64) {
        let subs = lock(&self.subscriptions);
        (subs.clone(), self.sub_requested.load(Ordering::Acquire))
    }

    /// Records that the server confirmed every subscription change up to `seq`.
    fn confirm(&self, seq: u64) {
        self.sub_confirmed.send_if_modified(|confirmed| {
            let newer = seq > *confirmed;
            if newer {
                *confirmed = seq;
            }
            newer
        });
    }

    /// Hands a received message to the adapter, on the task that read it.
    fn deliver(&self, channel: String, payload: Bytes) {
        self.received.fetch_add(1, Ordering::Relaxed);
        match self.on_message.get() {
            Some(on_message) => on_message(Received { channel, payload }),
            None => self.receive_dropped.record(1),
        }
    }

    fn publish_command(&self) -> &'static str {
        if self.config.sharded {
            "SPUBLISH"
        } else {
            "PUBLISH"
        }
    }

    /// Subscribers of the resume channel expected once every known node is back.
    fn expected_listeners(&self) -> usize {
        lock(&self.resume_gate)
            .as_ref()
            .map_or(0, |gate| (gate.listeners)())
    }

    /// The channels to subscribe to after a reconnect, the resume gate's last: once it counts
    /// this node as a subscriber again, this node listens to everything again (patterns are
    /// subscribed before the channels).
    fn resubscription_order<'a>(&self, subs: &'a Subscriptions) -> Vec<&'a String> {
        let gate = lock(&self.resume_gate).as_ref().map(|g| g.channel.clone());
        let (mut last, mut order): (Vec<&String>, Vec<&String>) = subs
            .channels
            .iter()
            .partition(|c| gate.as_ref() == Some(*c));
        order.append(&mut last);
        order
    }

    /// Messages not yet confirmed by Redis: buffered or in flight.
    fn pending(&self) -> usize {
        lock(&self.outbox).len() + self.in_flight.load(Ordering::Acquire)
    }
}

/// `PUBSUB NUMSUB` (or `SHARDNUMSUB`) of `channel` on `conn`.
async fn numsub_on(
    conn: &mut redis::aio::MultiplexedConnection,
    channel: &str,
    sharded: bool,
) -> Result<usize, DriverError> {
    let sub = if sharded { "SHARDNUMSUB" } else { "NUMSUB" };
    let reply: Vec<redis::Value> = redis::cmd("PUBSUB")
        .arg(sub)
        .arg(channel)
        .query_async(conn)
        .await
        .map_err(|e| DriverError::Disconnected(e.to_string()))?;
    match reply.get(1) {
        Some(redis::Value::Int(n)) => Ok((*n).max(0) as usize),
        _ => Err(DriverError::Disconnected("unexpected NUMSUB reply".into())),
    }
}

impl RedisShared {
    /// A RESP3 connection (Redis 6+), whose end is reported on the returned channel as a
    /// [`redis::PushKind::Disconnection`]. With `deliver`, the sharded messages it receives go
    /// to that driver's receiver on the connection's own task, and only the other pushes
    /// (subscription replies, the disconnection) to the channel.
    async fn connect_resp3(
        &self,
        deliver: Option<Weak<RedisShared>>,
    ) -> (
        redis::RedisResult<redis::aio::MultiplexedConnection>,
        mpsc::UnboundedReceiver<redis::PushInfo>,
    ) {
        let info = self.client.get_connection_info().clone();
        let settings = info
            .redis_settings()
            .clone()
            .set_protocol(redis::ProtocolVersion::RESP3);
        let (push_tx, pushes) = mpsc::unbounded_channel::<redis::PushInfo>();
        let on_push = move |push: redis::PushInfo| -> Result<(), ()> {
            if push.kind == redis::PushKind::SMessage
                && let Some(shared) = deliver.as_ref().and_then(Weak::upgrade)
            {
                shared.deliver_push(push.data);
                return Ok(());
            }
            push_tx.send(push).map_err(|_| ())
        };
        let connected = match redis::Client::open(info.set_redis_settings(settings)) {
            Ok(client) => {
                client
                    .get_multiplexed_async_connection_with_config(
                        &connection_config().set_push_sender(on_push),
                    )
                    .await
            }
            Err(err) => Err(err),
        };
        (connected, pushes)
    }

    /// Delivers a sharded message push (`[channel, payload]`), without copying the payload.
    fn deliver_push(&self, data: Vec<redis::Value>) {
        let mut data = data.into_iter();
        if let (Some(redis::Value::BulkString(channel)), Some(redis::Value::BulkString(payload))) =
            (data.next(), data.next())
        {
            let channel = String::from_utf8(channel)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
            self.deliver(channel, Bytes::from(payload));
        }
    }
}

fn connection_config() -> redis::AsyncConnectionConfig {
    redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(Duration::from_secs(2)))
}

/// Receives messages, restoring the subscriptions after every reconnect.
async fn run_subscriber(
    weak: Weak<RedisShared>,
    mut commands: mpsc::UnboundedReceiver<SubCommand>,
) {
    let mut backoff = publisher::INITIAL_BACKOFF;
    let mut was_connected = false;
    loop {
        let Some(shared) = weak.upgrade() else { return };
        let pubsub = shared.client.get_async_pubsub().await;
        let max = shared.config.max_backoff;
        let mut pubsub = match pubsub {
            Ok(p) => p,
            Err(err) => {
                tracing::debug!(error = %err, "redis subscriber cannot connect");
                drop(shared);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(max);
                continue;
            }
        };
        let (subs, seq) = shared.snapshot();
        let mut ok = true;
        for pattern in &subs.patterns {
            ok &= pubsub.psubscribe(pattern).await.is_ok();
        }
        for channel in shared.resubscription_order(&subs) {
            ok &= pubsub.subscribe(channel).await.is_ok();
        }
        if !ok {
            drop(shared);
            tokio::time::sleep(backoff).await;
            continue;
        }
        shared.subscribed(&mut was_connected, "subscriber");
        shared.confirm(seq);
        backoff = publisher::INITIAL_BACKOFF;
        drop(shared);
        let (mut sink, mut stream) = pubsub.split();
        loop {
            tokio::select! {
                command = commands.recv() => {
                    let Some(command) = command else { return };
                    let mut failed = false;
                    let seq = match &command {
                        SubCommand::Add(seq, add) => {
                            for channel in &add.channels {
                                failed |= sink.subscribe(channel).await.is_err();
                            }
                            for pattern in &add.patterns {
                                failed |= sink.psubscribe(pattern).await.is_err();
                            }
                            *seq
                        }
                        SubCommand::Remove(seq, removed) => {
                            for channel in &removed.channels {
                                failed |= sink.unsubscribe(channel).await.is_err();
                            }
                            for pattern in &removed.patterns {
                                failed |= sink.punsubscribe(pattern).await.is_err();
                            }
                            *seq
                        }
                    };
                    if failed {
                        break;
                    }
                    if let Some(shared) = weak.upgrade() {
                        shared.confirm(seq);
                    }
                }
                msg = stream.next() => {
                    let Some(msg) = msg else { break };
                    let Some(shared) = weak.upgrade() else { return };
                    shared.deliver(
                        msg.get_channel_name().to_owned(),
                        Bytes::copy_from_slice(msg.get_payload_bytes()),
                    );
                }
            }
        }
        if let Some(shared) = weak.upgrade() {
            shared.sub_connected.store(false, Ordering::Release);
        }
        tracing::warn!("redis subscription lost; reconnecting");
    }
}

/// Receives sharded messages (`SSUBSCRIBE`, RESP3 pushes), restoring the subscriptions after
/// every reconnect.
async fn run_sharded_subscriber(
    weak: Weak<RedisShared>,
    mut commands: mpsc::UnboundedReceiver<SubCommand>,
) {
    let mut backoff = publisher::INITIAL_BACKOFF;
    let mut was_connected = false;
    loop {
        let Some(shared) = weak.upgrade() else { return };
        let max = shared.config.max_backoff;
        let (connected, mut pushes) = shared.connect_resp3(Some(weak.clone())).await;
        let mut conn = match connected {
            Ok(conn) => conn,
            Err(err) => {
                tracing::debug!(error = %err, "redis sharded subscriber cannot connect");
                drop(shared);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(max);
                continue;
            }
        };
        let (subs, seq) = shared.snapshot();
        let mut ok = true;
        for channel in shared.resubscription_order(&subs) {
            ok &= redis::cmd("SSUBSCRIBE")
                .arg(channel)
                .exec_async(&mut conn)
                .await
                .is_ok();
        }
        if !ok {
            drop(shared);
            tokio::time::sleep(backoff).await;
            continue;
        }
        shared.subscribed(&mut was_connected, "sharded subscriber");
        shared.confirm(seq);
        backoff = publisher::INITIAL_BACKOFF;
        drop(shared);
        loop {
            tokio::select! {
                command = commands.recv() => {
                    let Some(command) = command else { return };
                    let (seq, verb, channels) = match command {
                        SubCommand::Add(seq, add) => (seq, "SSUBSCRIBE", add.channels.into_iter().collect::<Vec<_>>()),
                        SubCommand::Remove(seq, removed) => (seq, "SUNSUBSCRIBE", removed.channels.into_iter().collect()),
                    };
                    let mut failed = false;
                    for channel in &channels {
                        failed |= redis::cmd(verb).arg(channel).exec_async(&mut conn).await.is_err();
                    }
                    if failed {
                        break;
                    }
                    if let Some(shared) = weak.upgrade() {
                        shared.confirm(seq);
                    }
                }
                push = pushes.recv() => {
                    let Some(push) = push else { break };
                    // Sharded messages went to the receiver on the connection's task.
                    if push.kind == redis::PushKind::Disconnection {
                        break;
                    }
                }
            }
        }
        if let Some(shared) = weak.upgrade() {
            shared.sub_connected.store(false, Ordering::Release);
        }
        tracing::warn!("redis sharded subscription lost; reconnecting");
    }
}

impl Driver for RedisDriver {
    fn supports_patterns(&self) -> bool {
        !self.shared.config.sharded
    }

    fn flush(&self, deadline: Duration) -> BoxFuture<()> {
        let shared = self.shared.clone();
        Box::pin(async move {
            let until = tokio::time::Instant::now() + deadline;
            loop {
                // Registered before the check, so a wake-up between the two is not missed.
                let drained = shared.drained.notified();
                tokio::pin!(drained);
                drained.as_mut().enable();
                if shared.pending() == 0 {
                    return;
                }
                if tokio::time::timeout_at(until, drained).await.is_err() {
                    return;
                }
            }
        })
    }

    fn set_resume_gate(&self, gate: ResumeGate) {
        *lock(&self.shared.resume_gate) = Some(gate);
    }

    fn publish(&self, channel: &str, payload: Bytes) {
        let shared = &self.shared;
        {
            let mut outbox = lock(&shared.outbox);
            if outbox.len() >= shared.config.max_buffered.max(1) {
                outbox.pop_front();
                shared.dropped.record(1);
            }
            outbox.push_back((channel.to_owned(), payload));
        }
        shared.outbox_ready.notify_one();
    }

    fn subscribe(&self, channels: &[String], patterns: &[String]) {
        let mut added = Subscriptions::default();
        let mut subs = lock(&self.shared.subscriptions);
        for c in channels {
            if subs.channels.insert(c.clone()) {
                added.channels.insert(c.clone());
            }
        }
        for p in patterns {
            if subs.patterns.insert(p.clone()) {
                added.patterns.insert(p.clone());
            }
        }
        if !added.channels.is_empty() || !added.patterns.is_empty() {
            // Numbered and sent under the lock: the task sees changes in the order made.
            let seq = self.shared.sub_requested.fetch_add(1, Ordering::AcqRel) + 1;
            let _ = self.shared.sub_commands.send(SubCommand::Add(seq, added));
        }
    }

    fn unsubscribe(&self, channels: &[String], patterns: &[String]) {
        let mut subs = lock(&self.shared.subscriptions);
        let removed = Subscriptions {
            channels: channels
                .iter()
                .filter(|c| subs.channels.remove(*c))
                .cloned()
                .collect(),
            patterns: patterns
                .iter()
                .filter(|p| subs.patterns.remove(*p))
                .cloned()
                .collect(),
        };
        if !removed.channels.is_empty() || !removed.patterns.is_empty() {
            let seq = self.shared.sub_requested.fetch_add(1, Ordering::AcqRel) + 1;
            let _ = self
                .shared
                .sub_commands
                .send(SubCommand::Remove(seq, removed));
        }
    }

    fn subscriptions_settled(&self, deadline: Duration) -> BoxFuture<bool> {
        let wanted = self.shared.sub_requested.load(Ordering::Acquire);
        let mut confirmed = self.shared.sub_confirmed.subscribe();
        Box::pin(async move {
            tokio::time::timeout(deadline, confirmed.wait_for(|seq| *seq >= wanted))
                .await
                .is_ok_and(|r| r.is_ok())
        })
    }

    fn numsub(&self, channel: &str) -> BoxFuture<Result<usize, DriverError>> {
        let conn = lock(&self.shared.publisher).clone();
        let channel = channel.to_owned();
        let sharded = self.shared.config.sharded;
        Box::pin(async move {
            let mut conn = conn.ok_or_else(|| DriverError::Disconnected("redis".into()))?;
            numsub_on(&mut conn, &channel, sharded).await
        })
    }

    fn set_on_message(&self, on_message: OnMessage) -> bool {
        self.shared.on_message.set(on_message).is_ok()
    }

    fn is_connected(&self) -> bool {
        self.shared.pub_connected.load(Ordering::Acquire)
            && self.shared.sub_connected.load(Ordering::Acquire)
    }

    fn stats(&self) -> DriverStats {
        let s = &self.shared;
        DriverStats {
            published: s.published.load(Ordering::Relaxed),
            received: s.received.load(Ordering::Relaxed),
            reconnects: s.reconnects.load(Ordering::Relaxed),
            buffered: s.pending() as u64,
            dropped: s.dropped.total(),
            unconfirmed: s.unconfirmed.total(),
            receive_dropped: s.receive_dropped.total(),
            resume_incomplete: s.resume_incomplete.total(),
            moved: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("socket.io#/#*", "socket.io#/#"));
        assert!(glob_match("socket.io#/#*", "socket.io#/#room#"));
        assert!(!glob_match("socket.io#/#*", "socket.io#/chat#"));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("a?c", "ac"));
    }

    #[tokio::test]
    async fn the_memory_hub_routes_by_channel_and_pattern() {
        let hub = MemoryHub::new();
        let a = hub.driver();
        let b = hub.driver();
        let mut rx = b.take_messages().unwrap();
        b.subscribe(&["req".into()], &["bc#*".into()]);
        a.publish("req", Bytes::from_static(b"1"));
        a.publish("bc#room", Bytes::from_static(b"2"));
        a.publish("other", Bytes::from_static(b"3"));
        assert_eq!(rx.recv().await.unwrap().payload, Bytes::from_static(b"1"));
        assert_eq!(rx.recv().await.unwrap().channel, "bc#room");
        assert!(rx.try_recv().is_err());
        assert_eq!(a.numsub("req").await, Ok(1));
        b.unsubscribe(&["req".into()], &[]);
        assert_eq!(a.numsub("req").await, Ok(0));
        b.subscribe(&["req".into()], &[]);
        assert_eq!(a.numsub("req").await, Ok(1));
        b.detach();
        assert_eq!(a.numsub("req").await, Ok(0));
    }
}
