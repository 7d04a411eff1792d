//! [`RedisClusterDriver`]: sharded pub/sub on a Redis Cluster. Each channel lives on the master
//! that owns its slot (CRC16 of the name, as Redis computes it); the driver keeps one
//! [`RedisDriver`] (a publishing and a subscribing connection) per master, routes every publish
//! and subscription to the owner, and follows the cluster: every `REFRESH` it reads `CLUSTER
//! SLOTS`, and when a slot moved (a failover promoted a replica, or the slot was resharded) the
//! subscriptions of its channels move to the new owner. What a retired master's driver still
//! held (buffered, unconfirmed) is counted as lost and logged.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use bytes::Bytes;

use super::{
    BoxFuture, Driver, DriverError, DriverStats, OnMessage, RedisDriver, RedisDriverConfig,
    connection_config, lock,
};

/// How often the slot map is read again.
const REFRESH: Duration = Duration::from_millis(250);

/// The most messages kept while no slot map is known yet.
const EARLY_LIMIT: usize = 10_000;

/// The hash slot of a channel: CRC16 (XMODEM) of the name, or of its `{hash tag}`, mod 16384.
#[must_use]
pub fn slot(channel: &str) -> u16 {
    let bytes = channel.as_bytes();
    let key = match bytes.iter().position(|b| *b == b'{') {
        Some(open) => match bytes[open + 1..].iter().position(|b| *b == b'}') {
            Some(len) if len > 0 => &bytes[open + 1..open + 1 + len],
            _ => bytes,
        },
        None => bytes,
    };
    let mut crc: u16 = 0;
    for byte in key {
        crc ^= u16::from(*byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc % 16_384
}

#[derive(Default)]
struct Topology {
    /// `(first slot, last slot, master "host:port")`.
    slots: Vec<(u16, u16, String)>,
    masters: HashMap<String, RedisDriver>,
    /// Every channel subscribed, and the master it is subscribed on.
    channels: HashMap<String, Option<String>>,
    /// Messages published before the first slot map.
    early: Vec<(String, Bytes)>,
    /// Counters of retired masters' drivers.
    retired: DriverStats,
}

impl Topology {
    fn owner(&self, channel: &str) -> Option<&str> {
        let slot = slot(channel);
        self.slots
            .iter()
            .find(|(first, last, _)| (*first..=*last).contains(&slot))
            .map(|(_, _, addr)| addr.as_str())
    }
}

struct Shared {
    seeds: Vec<String>,
    config: RedisDriverConfig,
    topology: Mutex<Topology>,
    /// Itself, for the masters' receivers.
    weak: Weak<Shared>,
    /// The receiver of every master's messages.
    on_message: OnceLock<OnMessage>,
    /// Messages a master received before the receiver was set (dropped).
    early_received: AtomicU64,
    moves: AtomicU64,
}

/// A [`Driver`] on a Redis Cluster, with sharded pub/sub.
#[derive(Clone)]
pub struct RedisClusterDriver {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for RedisClusterDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let topology = lock(&self.shared.topology);
        f.debug_struct("RedisClusterDriver")
            .field("masters", &topology.masters.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// `scheme://[auth@]` of a seed URL, to reach the other nodes the same way.
fn url_base(seed: &str) -> String {
    let (scheme, rest) = seed.split_once("://").unwrap_or(("redis", seed));
    let auth = rest
        .split_once('@')
        .map(|(auth, _)| format!("{auth}@"))
        .unwrap_or_default();
    format!("{scheme}://{auth}")
}

impl RedisClusterDriver {
    /// A driver for the cluster reached through `seeds` (URLs as [`RedisDriver::new`] takes
    /// them; any reachable one will do). Discovers the masters in the background: what is
    /// published meanwhile waits. Call inside a tokio runtime.
    pub fn new(seeds: &[String], config: RedisDriverConfig) -> Result<Self, redis::RedisError> {
        for seed in seeds {
            redis::Client::open(seed.as_str())?;
        }
        let shared = Arc::new_cyclic(|weak| Shared {
            weak: weak.clone(),
            seeds: seeds.to_vec(),
            config: RedisDriverConfig {
                sharded: true,
                ..config
            },
            topology: Mutex::new(Topology::default()),
            on_message: OnceLock::new(),
            early_received: AtomicU64::new(0),
            moves: AtomicU64::new(0),
        });
        tokio::spawn(follow(Arc::downgrade(&shared)));
        Ok(RedisClusterDriver { shared })
    }

    /// Subscriptions moved to another master so far (failovers, reshards).
    #[must_use]
    pub fn moves(&self) -> u64 {
        self.shared.moves.load(Ordering::Relaxed)
    }
}

/// Reads `CLUSTER SLOTS` from the first node that answers.
async fn read_slots(shared: &Shared) -> Option<Vec<(u16, u16, String)>> {
    let known: Vec<String> = {
        let topology = lock(&shared.topology);
        let base = shared
            .seeds
            .first()
            .map(|s| url_base(s))
            .unwrap_or_default();
        topology
            .masters
            .keys()
            .map(|addr| format!("{base}{addr}"))
            .chain(shared.seeds.iter().cloned())
            .collect()
    };
    for url in known {
        let Ok(client) = redis::Client::open(url.as_str()) else {
            continue;
        };
        let Ok(Ok(mut conn)) = tokio::time::timeout(
            Duration::from_secs(1),
            client.get_multiplexed_async_connection_with_config(&connection_config()),
        )
        .await
        else {
            continue;
        };
        let reply: Result<redis::Value, _> = redis::cmd("CLUSTER")
            .arg("SLOTS")
            .query_async(&mut conn)
            .await;
        if let Ok(redis::Value::Array(ranges)) = reply {
            let mut slots = Vec::new();
            for range in ranges {
                let redis::Value::Array(items) = range else {
                    continue;
                };
                let (Some(redis::Value::Int(first)), Some(redis::Value::Int(last))) =
                    (items.first(), items.get(1))
                else {
                    continue;
                };
                let Some(redis::Value::Array(master)) = items.get(2) else {
                    continue;
                };
                let host = match master.first() {
                    Some(redis::Value::BulkString(h)) => String::from_utf8_lossy(h).into_owned(),
                    _ => continue,
                };
                let Some(redis::Value::Int(port)) = master.get(1) else {
                    continue;
                };
                let (Ok(first), Ok(last)) = (u16::try_from(*first), u16::try_from(*last)) else {
                    continue;
                };
                slots.push((first, last, format!("{host}:{port}")));
            }
            if !slots.is_empty() {
                slots.sort();
                return Some(slots);
            }
        }
    }
    None
}

/// Keeps the slot map current and the subscriptions on the owners.
async fn follow(weak: Weak<Shared>) {
    loop {
        let Some(shared) = weak.upgrade() else { return };
        match read_slots(&shared).await {
            Some(slots) => apply(&shared, slots),
            None => tracing::debug!("no Redis Cluster node answers CLUSTER SLOTS"),
        }
        drop(shared);
        tokio::time::sleep(REFRESH).await;
    }
}

/// The driver of master `addr`, started when first needed.
fn master<'a>(shared: &Shared, topology: &'a mut Topology, addr: &str) -> Option<&'a RedisDriver> {
    if !topology.masters.contains_key(addr) {
        let base = shared
            .seeds
            .first()
            .map(|s| url_base(s))
            .unwrap_or_default();
        let driver = match RedisDriver::new(&format!("{base}{addr}"), shared.config.clone()) {
            Ok(driver) => driver,
            Err(err) => {
                tracing::warn!(master = addr, error = %err, "cannot reach a Redis Cluster master");
                return None;
            }
        };
        // Each master's messages go straight to the cluster driver's receiver, on the task
        // that read them.
        let owner = shared.weak.clone();
        driver.set_on_message(Arc::new(move |message| {
            if let Some(shared) = owner.upgrade() {
                match shared.on_message.get() {
                    Some(on_message) => on_message(message),
                    None => {
                        shared.early_received.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
        topology.masters.insert(addr.to_owned(), driver);
    }
    topology.masters.get(addr)
}

fn add_stats(into: &mut DriverStats, s: DriverStats) {
    into.published += s.published;
    into.received += s.received;
    into.reconnects += s.reconnects;
    into.buffered += s.buffered;
    into.dropped += s.dropped;
    into.unconfirmed += s.unconfirmed;
    into.receive_dropped += s.receive_dropped;
    into.moved += s.moved;
    into.resume_incomplete += s.resume_incomplete;
}

/// Applies a slot map: moves subscriptions whose owner changed, retires masters that own no
/// slot any more, and sends what waited for a first map.
fn apply(shared: &Shared, slots: Vec<(u16, u16, String)>) {
    let mut topology = lock(&shared.topology);
    if topology.slots == slots {
        return;
    }
    tracing::info!(ranges = slots.len(), "Redis Cluster slot map changed");
    topology.slots = slots;
    let channels: Vec<(String, Option<String>)> = topology
        .channels
        .iter()
        .map(|(c, at)| (c.clone(), at.clone()))
        .collect();
    for (channel, at) in channels {
        let owner = topology.owner(&channel).map(str::to_owned);
        if owner == at {
            continue;
        }
        if let Some(old) = at.as_deref().and_then(|a| topology.masters.get(a)) {
            old.unsubscribe(std::slice::from_ref(&channel), &[]);
        }
        if let Some(new) = owner.as_deref() {
            if let Some(driver) = master(shared, &mut topology, new) {
                driver.subscribe(std::slice::from_ref(&channel), &[]);
            }
            if at.is_some() {
                shared.moves.fetch_add(1, Ordering::Relaxed);
                tracing::info!(
                    channel,
                    to = new,
                    "subscription moved to the slot's new owner"
                );
            }
        }
        topology.channels.insert(channel, owner);
    }
    let owners: BTreeSet<String> = topology.slots.iter().map(|s| s.2.clone()).collect();
    let retired: Vec<String> = topology
        .masters
        .keys()
        .filter(|addr| !owners.contains(*addr))
        .cloned()
        .collect();
    for addr in retired {
        if let Some(driver) = topology.masters.remove(&addr) {
            let mut stats = driver.stats();
            // What it still held is lost: it can no longer reach its master.
            let stranded = stats.buffered;
            stats.dropped += stranded;
            stats.buffered = 0;
            if stranded > 0 {
                tracing::warn!(master = %addr, lost = stranded, "messages held for a retired Redis Cluster master are lost");
            }
            add_stats(&mut topology.retired, stats);
        }
    }
    for (channel, payload) in std::mem::take(&mut topology.early) {
        if let Some(owner) = topology.owner(&channel).map(str::to_owned)
            && let Some(driver) = master(shared, &mut topology, &owner)
        {
            driver.publish(&channel, payload);
        }
    }
}

impl Driver for RedisClusterDriver {
    fn publish(&self, channel: &str, payload: Bytes) {
        let shared = &self.shared;
        let mut topology = lock(&shared.topology);
        match topology.owner(channel).map(str::to_owned) {
            Some(owner) => {
                if let Some(driver) = master(shared, &mut topology, &owner) {
                    driver.publish(channel, payload);
                }
            }
            None if topology.early.len() < EARLY_LIMIT => {
                topology.early.push((channel.to_owned(), payload));
            }
            None => topology.retired.dropped += 1,
        }
    }

    fn subscribe(&self, channels: &[String], patterns: &[String]) {
        let _ = patterns;
        let shared = &self.shared;
        let mut topology = lock(&shared.topology);
        for channel in channels {
            if topology.channels.contains_key(channel) {
                continue;
            }
            let owner = topology.owner(channel).map(str::to_owned);
            if let Some(owner) = owner.as_deref()
                && let Some(driver) = master(shared, &mut topology, owner)
            {
                driver.subscribe(std::slice::from_ref(channel), &[]);
            }
            topology.channels.insert(channel.clone(), owner);
        }
    }

    fn unsubscribe(&self, channels: &[String], patterns: &[String]) {
        let _ = patterns;
        let mut topology = lock(&self.shared.topology);
        for channel in channels {
            if let Some(Some(at)) = topology.channels.remove(channel)
                && let Some(driver) = topology.masters.get(&at)
            {
                driver.unsubscribe(std::slice::from_ref(channel), &[]);
            }
        }
    }

    fn subscriptions_settled(&self, deadline: Duration) -> BoxFuture<bool> {
        let shared = self.shared.clone();
        Box::pin(async move {
            let until = tokio::time::Instant::now() + deadline;
            // Every subscription needs an owner first.
            loop {
                let placed = lock(&shared.topology)
                    .channels
                    .values()
                    .all(Option::is_some);
                if placed {
                    break;
                }
                if tokio::time::Instant::now() >= until {
                    return false;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            let waits: Vec<BoxFuture<bool>> = lock(&shared.topology)
                .masters
                .values()
                .map(|d| d.subscriptions_settled(until - tokio::time::Instant::now()))
                .collect();
            futures_util::future::join_all(waits)
                .await
                .into_iter()
                .all(|ok| ok)
        })
    }

    fn numsub(&self, channel: &str) -> BoxFuture<Result<usize, DriverError>> {
        let topology = lock(&self.shared.topology);
        let driver = topology
            .owner(channel)
            .and_then(|owner| topology.masters.get(owner))
            .cloned();
        let channel = channel.to_owned();
        Box::pin(async move {
            match driver {
                Some(driver) => driver.numsub(&channel).await,
                None => Err(DriverError::Disconnected("no slot owner known".into())),
            }
        })
    }

    fn set_on_message(&self, on_message: OnMessage) -> bool {
        self.shared.on_message.set(on_message).is_ok()
    }

    fn is_connected(&self) -> bool {
        let topology = lock(&self.shared.topology);
        !topology.slots.is_empty() && topology.masters.values().all(Driver::is_connected)
    }

    fn stats(&self) -> DriverStats {
        let topology = lock(&self.shared.topology);
        let mut stats = topology.retired;
        stats.buffered = topology.early.len() as u64;
        stats.moved = self.shared.moves.load(Ordering::Relaxed);
        stats.receive_dropped += self.shared.early_received.load(Ordering::Relaxed);
        for driver in topology.masters.values() {
            add_stats(&mut stats, driver.stats());
        }
        stats
    }

    fn flush(&self, deadline: Duration) -> BoxFuture<()> {
        let flushes: Vec<BoxFuture<()>> = lock(&self.shared.topology)
            .masters
            .values()
            .map(|d| d.flush(deadline))
            .collect();
        Box::pin(async move {
            futures_util::future::join_all(flushes).await;
        })
    }

    fn supports_patterns(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::slot;

    #[test]
    fn slots_are_redis_crc16() {
        // Values from `CLUSTER KEYSLOT`.
        assert_eq!(slot("foo"), 12_182);
        assert_eq!(slot("bar"), 5_061);
        assert_eq!(slot("{user1000}.following"), slot("user1000"));
        assert_eq!(slot("a{}b"), slot("a{}b"));
    }
}
