//! A Redis Streams adapter, wire-compatible with Node's `@socket.io/redis-streams-adapter` 0.3,
//! with connection state recovery that survives the death of a node.
//!
//! Broadcasts, joins, leaves and disconnects by selector go into a stream (`XADD … MAXLEN ~`);
//! every node reads the stream from the last id it saw, so a node that loses Redis for a while
//! catches up instead of losing messages (within `max_len`). A broadcast's stream id is its
//! recovery offset. This node delivers even its own broadcasts from the stream, so every node
//! delivers in stream order. The server count comes from `PUBSUB NUMSUB` on the namespace's
//! pub/sub channel, as in Node.
//!
//! Sessions (pid → sid, rooms, data, namespace) are written to Redis when they change and
//! refreshed on a period, not only at disconnect: a node that is SIGKILLed leaves its clients'
//! sessions behind, and any node can restore them. A restore claims the record and becomes its
//! owner in one step, so it happens at most once, and a node that missed the reconnect cannot
//! write its stale state back (see `sessions`).
//!
//! Requests that need no replay (`fetch_sockets`, `server_side_emit`, broadcasts with acks) go
//! over pub/sub as in Node (see [`requests`](self)); `all_rooms` has no message in Node's
//! protocol, so it answers for this node and names the others as not asked.

mod adapter;
mod appender;
mod requests;
mod sessions;
pub mod wire;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use sio_core::adapter::LocalAdapter;
use sio_core::adapter::recovery::{append_offset, is_recoverable};
use tokio::sync::watch;

pub use adapter::RedisStreamsAdapter;

use crate::driver::Driver;
use wire::{DISCONNECT_SOCKETS, SOCKETS_JOIN, SOCKETS_LEAVE, broadcast_of, decode_entry};

/// Settings of the streams adapter, each with its default (Node's defaults).
#[derive(Debug, Clone)]
pub struct StreamsConfig {
    /// The stream name, or the prefix of the stream names when `stream_count > 1`.
    /// Default: `socket.io`.
    pub stream_name: String,
    /// How many streams the namespaces are spread over (by a hash of the name; one namespace
    /// always uses one stream, which keeps its order). Default: 1.
    pub stream_count: usize,
    /// The prefix of the pub/sub channels. Default: `socket.io`.
    pub channel_prefix: String,
    /// The approximate length the streams are trimmed to (`MAXLEN ~`). Default: 10 000.
    pub max_len: usize,
    /// Entries read per `XREAD`. Default: 100.
    pub read_count: usize,
    /// How long an `XREAD` blocks. Default: 5 s.
    pub block: Duration,
    /// The prefix of the session keys. Default: `sio:session:`.
    pub session_key_prefix: String,
    /// This node's uid on the wire. Default: a random UUID.
    pub node_id: String,
}

impl Default for StreamsConfig {
    fn default() -> Self {
        StreamsConfig {
            stream_name: "socket.io".into(),
            stream_count: 1,
            channel_prefix: "socket.io".into(),
            max_len: 10_000,
            read_count: 100,
            block: Duration::from_secs(5),
            session_key_prefix: "sio:session:".into(),
            node_id: uuid::Uuid::new_v4().to_string(),
        }
    }
}

/// Counters of the streams adapter.
#[derive(Debug, Default)]
struct Counters {
    xadd_failed: AtomicU64,
    entries_read: AtomicU64,
    bad_entries: AtomicU64,
    sessions_written: AtomicU64,
    session_write_failures: AtomicU64,
    /// Writes refused because another node restored the session meanwhile.
    session_writes_superseded: AtomicU64,
    sessions_restored: AtomicU64,
}

/// A command connection, made again after a failure.
struct Conn {
    client: redis::Client,
    conn: tokio::sync::Mutex<Option<MultiplexedConnection>>,
    timeout: Duration,
}

impl Conn {
    async fn get(&self) -> redis::RedisResult<MultiplexedConnection> {
        let mut slot = self.conn.lock().await;
        if let Some(conn) = slot.as_ref() {
            return Ok(conn.clone());
        }
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(self.timeout));
        let conn = self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        *slot = Some(conn.clone());
        Ok(conn)
    }

    async fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> redis::RedisResult<T> {
        let mut conn = self.get().await?;
        let result = cmd.query_async(&mut conn).await;
        if result.is_err() {
            *self.conn.lock().await = None;
        }
        result
    }
}

/// Where a stream's reader is: the id (`ms`, `seq`) of the last entry it applied, `None` before
/// it has read.
type ReaderAt = Option<(u64, u64)>;

pub(crate) struct Shared {
    config: StreamsConfig,
    conn: Conn,
    client: redis::Client,
    driver: Arc<dyn Driver>,
    namespaces: Mutex<HashMap<String, LocalAdapter>>,
    /// One reader per stream, and where it is: the id of the last entry it applied.
    readers: Mutex<HashMap<String, watch::Receiver<ReaderAt>>>,
    counters: Counters,
    reader_connected: AtomicBool,
    sessions: sessions::Writer,
    /// The ordered queue of stream appends.
    appends: tokio::sync::mpsc::Sender<appender::Append>,
    /// Requests waiting for other nodes' responses, by request id.
    requests: Mutex<HashMap<String, tokio::sync::mpsc::UnboundedSender<requests::Response>>>,
}

/// The node-wide side of the streams adapter: the Redis connections, one stream reader per
/// stream, the session writer, and the namespaces' local indexes. Give it to
/// `Server::builder().adapter::<RedisStreamsAdapter>(cluster)`.
#[derive(Clone)]
pub struct RedisStreamsCluster {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for RedisStreamsCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStreamsCluster")
            .field("config", &self.shared.config)
            .finish()
    }
}

impl RedisStreamsCluster {
    /// A cluster on Redis at `url`; `driver` carries the pub/sub side channel (server count).
    /// Call inside a tokio runtime.
    pub fn new(
        url: &str,
        driver: Arc<dyn Driver>,
        config: StreamsConfig,
    ) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let (appends, appends_rx) = tokio::sync::mpsc::channel(appender::QUEUE);
        let shared = Arc::new(Shared {
            appends,
            conn: Conn {
                client: client.clone(),
                conn: tokio::sync::Mutex::new(None),
                timeout: Duration::from_secs(2),
            },
            client,
            driver,
            namespaces: Mutex::new(HashMap::new()),
            readers: Mutex::new(HashMap::new()),
            counters: Counters::default(),
            reader_connected: AtomicBool::new(false),
            sessions: sessions::Writer::default(),
            requests: Mutex::new(HashMap::new()),
            config,
        });
        tokio::spawn(sessions::run(Arc::downgrade(&shared)));
        tokio::spawn(appender::run(Arc::downgrade(&shared), appends_rx));
        let weak = Arc::downgrade(&shared);
        let receiving = shared.driver.set_on_message(Arc::new(move |received| {
            if let Some(shared) = weak.upgrade() {
                shared.on_message(&received);
            }
        }));
        if !receiving {
            tracing::error!(
                "the driver already delivers its messages elsewhere (one driver per cluster): \
                 this cluster will receive nothing"
            );
        }
        Ok(RedisStreamsCluster { shared })
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    fn public_channel(&self, nsp: &str) -> String {
        format!("{}#{nsp}#", self.config.channel_prefix)
    }

    fn session_key(&self, pid: &str) -> String {
        format!("{}{pid}", self.config.session_key_prefix)
    }

    fn register(self: &Arc<Self>, local: &LocalAdapter, stream: &str) {
        lock(&self.namespaces).insert(local.nsp().to_owned(), local.clone());
        let mut readers = lock(&self.readers);
        if !readers.contains_key(stream) {
            let (position, seen) = watch::channel(None);
            readers.insert(stream.to_owned(), seen);
            tokio::spawn(read_stream(
                Arc::downgrade(self),
                stream.to_owned(),
                position,
            ));
        }
    }

    /// Waits, at most `wait`, until this node's reader of `stream` has applied entry `id` (or
    /// a later one); whether it has.
    pub(super) async fn reader_reached(&self, stream: &str, id: &str, wait: Duration) -> bool {
        let Some(target) = wire::parse_id(id) else {
            return false;
        };
        let Some(mut seen) = lock(&self.readers).get(stream).cloned() else {
            return false;
        };
        let reached = seen.wait_for(|at| at.is_some_and(|at| at >= target));
        matches!(tokio::time::timeout(wait, reached).await, Ok(Ok(_)))
    }

    fn local(&self, nsp: &str) -> Option<LocalAdapter> {
        lock(&self.namespaces).get(nsp).cloned()
    }

    /// Applies one stream entry to this node's sockets.
    fn apply(&self, id: &str, fields: &HashMap<String, Vec<u8>>) {
        self.counters.entries_read.fetch_add(1, Ordering::Relaxed);
        // A namespace this node has no socket in costs a lookup, not a decode.
        let nsp = fields.get("nsp").and_then(|n| std::str::from_utf8(n).ok());
        if nsp.and_then(|n| self.local(n)).is_none_or(|l| l.is_empty()) {
            return;
        }
        let entry = match decode_entry(fields) {
            Ok(entry) => entry,
            Err(err) => {
                self.counters.bad_entries.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(id, error = %err, "bad stream entry skipped");
                return;
            }
        };
        let Some(local) = self.local(&entry.nsp) else {
            return;
        };
        let own = entry.uid == self.config.node_id;
        match entry.kind {
            wire::BROADCAST => {
                let Some((mut packet, opts)) = broadcast_of(&entry) else {
                    return;
                };
                if local.recovery().is_some() && is_recoverable(&packet, &opts) {
                    append_offset(&mut packet, id);
                    local.broadcast_local_with_offset(&packet, &opts, &Arc::from(id));
                } else {
                    local.broadcast_local(&packet, &opts);
                }
            }
            // Our own selector operations were applied when they were made.
            _ if own => {}
            SOCKETS_JOIN | SOCKETS_LEAVE | DISCONNECT_SOCKETS => {
                let opts = crate::wire::opts_from(entry.data.get("opts").unwrap_or(&entry.data));
                let rooms = crate::wire::rooms_from(entry.data.get("rooms"));
                match entry.kind {
                    SOCKETS_JOIN => local.add_sockets_local(&opts, &rooms),
                    SOCKETS_LEAVE => local.del_sockets_local(&opts, &rooms),
                    _ => {
                        let close = entry.data.get("close").and_then(|c| c.as_bool()) == Some(true);
                        local.disconnect_sockets_local(&opts, close);
                    }
                }
            }
            _ => {}
        }
    }
}

/// One entry of an `XREAD`/`XRANGE` answer: id and fields.
type RawEntry = (String, HashMap<String, Vec<u8>>);

fn bytes_of(value: &redis::Value) -> Option<Vec<u8>> {
    match value {
        redis::Value::BulkString(b) => Some(b.clone()),
        redis::Value::SimpleString(s) => Some(s.clone().into_bytes()),
        _ => None,
    }
}

/// Parses `[[id, [field, value, ...]], ...]`.
pub(crate) fn parse_entries(value: &redis::Value) -> Vec<RawEntry> {
    let redis::Value::Array(items) = value else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| {
            let redis::Value::Array(pair) = item else {
                return None;
            };
            let id = String::from_utf8(bytes_of(pair.first()?)?).ok()?;
            let redis::Value::Array(kv) = pair.get(1)? else {
                return None;
            };
            let mut fields = HashMap::new();
            for chunk in kv.chunks(2) {
                if let [k, v] = chunk {
                    fields.insert(String::from_utf8(bytes_of(k)?).ok()?, bytes_of(v)?);
                }
            }
            Some((id, fields))
        })
        .collect()
}

/// The entries of an `XREAD` answer on one stream (RESP2 array or RESP3 map).
fn parse_xread(value: &redis::Value) -> Vec<RawEntry> {
    match value {
        redis::Value::Array(streams) => streams
            .iter()
            .flat_map(|s| match s {
                redis::Value::Array(pair) if pair.len() == 2 => parse_entries(&pair[1]),
                _ => Vec::new(),
            })
            .collect(),
        redis::Value::Map(streams) => streams.iter().flat_map(|(_, v)| parse_entries(v)).collect(),
        _ => Vec::new(),
    }
}

/// Reads a stream for as long as the cluster lives, from the id last seen, across reconnects.
async fn read_stream(
    weak: std::sync::Weak<Shared>,
    stream: String,
    position: watch::Sender<ReaderAt>,
) {
    let mut last: Option<String> = None;
    let mut backoff = Duration::from_millis(50);
    loop {
        let Some(shared) = weak.upgrade() else { return };
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(shared.config.block + Duration::from_secs(3)));
        let conn = shared
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await;
        let (block, count) = (shared.config.block, shared.config.read_count);
        let name = format!("sio-stream-reader-{}", shared.config.node_id);
        drop(shared);
        let mut conn = match conn {
            Ok(conn) => conn,
            Err(err) => {
                tracing::debug!(error = %err, "stream reader cannot connect");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
                continue;
            }
        };
        // Named, so that operators (and tests) can tell the readers apart in CLIENT LIST.
        let _: redis::RedisResult<()> = redis::cmd("CLIENT")
            .arg("SETNAME")
            .arg(&name)
            .query_async(&mut conn)
            .await;
        if last.is_none() {
            // Start after the newest entry; an empty stream starts at the beginning.
            let newest: redis::RedisResult<redis::Value> = redis::cmd("XREVRANGE")
                .arg(&stream)
                .arg("+")
                .arg("-")
                .arg("COUNT")
                .arg(1)
                .query_async(&mut conn)
                .await;
            match newest {
                Ok(v) => {
                    last = Some(
                        parse_entries(&v)
                            .into_iter()
                            .next()
                            .map_or_else(|| "0-0".to_owned(), |(id, _)| id),
                    );
                }
                Err(_) => {
                    tokio::time::sleep(backoff).await;
                    continue;
                }
            }
        }
        backoff = Duration::from_millis(50);
        // Starting after the newest entry, the reader is where that entry is.
        position.send_replace(last.as_deref().and_then(wire::parse_id));
        if let Some(shared) = weak.upgrade() {
            shared.reader_connected.store(true, Ordering::Release);
        }
        loop {
            let from = last.clone().unwrap_or_else(|| "0-0".into());
            let read: redis::RedisResult<redis::Value> = redis::cmd("XREAD")
                .arg("COUNT")
                .arg(count)
                .arg("BLOCK")
                .arg(block.as_millis() as u64)
                .arg("STREAMS")
                .arg(&stream)
                .arg(&from)
                .query_async(&mut conn)
                .await;
            let Some(shared) = weak.upgrade() else { return };
            match read {
                Ok(value) => {
                    for (id, fields) in parse_xread(&value) {
                        shared.apply(&id, &fields);
                        last = Some(id);
                    }
                    position.send_replace(last.as_deref().and_then(wire::parse_id));
                }
                Err(err) => {
                    shared.reader_connected.store(false, Ordering::Release);
                    tracing::warn!(stream, error = %err, "stream read failed; reconnecting");
                    break;
                }
            }
        }
        tokio::time::sleep(backoff).await;
    }
}
