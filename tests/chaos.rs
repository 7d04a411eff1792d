//! Chaos: three `sio-node` processes, a `redis-server` and HAProxy (the configuration of
//! `deploy/haproxy.cfg.tmpl`); 500 websocket clients connected through HAProxy, four to a room;
//! one client per room publishes (the reference app's `publish`, with acks), 2 000 messages/s in
//! all. For 60 s, every 5 s, a node or Redis, picked by a seeded RNG (`SIO_CHAOS_SEED`, printed),
//! is killed with SIGKILL and restarted on the same port. Clients whose connection ends connect
//! again through HAProxy and rejoin their room.
//!
//! What must hold afterwards:
//! - no node log has a panic;
//! - no connection received a message twice (delivery is at most once). A client that
//!   reconnected may get on its new connection a message its old one already had: the message
//!   was still on its way to the new node when the client joined the room there; that is a
//!   second socket, not a duplicate;
//! - memory: each node slot's RSS after the chaos (6 s after the last event, traffic still on)
//!   is within 10% of what the slot used before it (after 5 s of traffic), plus, when it holds
//!   more clients than then, the per-client cost its first process showed between idle and
//!   warm (fewer clients earn no reduction: every node carries the same Redis traffic). A restarted slot runs a new process: the fair baseline is what a fresh node
//!   in the same role used, which is the slot's own pre-chaos figure (that process was started
//!   fresh for this test and carried the same traffic). Surviving nodes take over a killed
//!   node's clients, hence the adjustment;
//! - delivery: publishing stops 6 s after the last event and clients listen 5 s more. For
//!   each acknowledged publish `P` sent at `t` from the start of the chaos until publishing
//!   stopped, and each member `M` of its room connected from before `t` until at least `t + 3 s`
//!   (or the end) — continuously connected during the publish — `M` must have received `P`,
//!   unless one of these explains the miss, in this order:
//!   - the publisher's node was killed within 10 s after `t` (what it had not yet handed to
//!     Redis died with it; on this shared machine backlogs of seconds build up);
//!   - `M`'s node was killed within 10 s after `t`, ending `M`'s connection, with `P` still
//!     queued there;
//!   - `M` is on another node than the publisher and Redis was killed within 5 s after `t`:
//!     `P` was in Redis, or on its way out of it, when Redis died. Redis pub/sub keeps what it
//!     owes a subscriber that is behind in its output buffer, and the kernel drops what was in
//!     flight on a reset connection; no node can see or count that, the kill explains it;
//!   - `M` is on another node than the publisher and Redis was killed within 10 s before `t`:
//!     `P` was published during the outage or the resume. These are allowed only as far as the
//!     counters explain them: the number of such publishes missed by at least one member must
//!     not exceed the sum, over every process that ran, of `sio_redis_unconfirmed_total`,
//!     `sio_redis_dropped_total`, `sio_redis_receive_dropped_total` and
//!     `sio_redis_resume_incomplete_total` (last scrape of each process; scraped every 500 ms
//!     and just before it is killed). Each counted message explains at most one lost publish.
//!     A publisher that resumed before the others had resubscribed without counting it, or
//!     that lost messages without counting them, fails here.
//!
//!   Any other miss fails the test.
//!
//! The figures (publishes, acks, deliveries, losses and why, RSS per slot, resume times after
//! each Redis restart) are printed; BENCHMARKS.md ("Chaos") has a run.

mod common;

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::client::Client;
use common::{HaProxy, Node, Redis, http_get};
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::task::JoinSet;

const CLIENTS: usize = 500;
/// Rooms of four: client `i` is in room `i % ROOMS`, and clients `0..ROOMS` publish.
const ROOMS: usize = 125;
/// 125 publishers at 16 messages/s each: 2 000 messages/s.
const PUBLISH_EVERY: Duration = Duration::from_micros(62_500);
const WARM_UP: Duration = Duration::from_secs(5);
const CHAOS: Duration = Duration::from_secs(60);
const EVENT_EVERY: Duration = Duration::from_secs(5);
const SETTLE: Duration = Duration::from_secs(6);
/// After publishing stops, the time left for deliveries to arrive.
const DRAIN: Duration = Duration::from_secs(5);
/// A member must be connected from before a publish until this long after it to be expected
/// to receive it.
const WINDOW: Duration = Duration::from_secs(3);
/// How long after a publish a kill (of its node, of the receiver's node, of Redis) may explain
/// its loss: on this shared machine a backlog of seconds builds up when the cluster is busy,
/// and what is queued in a killed process, or in a pipeline to a killed Redis, dies with it.
const BLAME: Duration = Duration::from_secs(10);
/// A message published this long before Redis is killed may still be in Redis (in its output
/// buffer to a subscriber that is behind) or on its way out of it: the kill explains its loss.
const IN_TRANSIT: Duration = Duration::from_secs(5);
/// Phases of the clients: publishing, listening only, stopped.
const PUBLISHING: u8 = 0;
const LISTENING: u8 = 1;
const STOPPED: u8 = 2;
const NODES: [&str; 3] = ["n1", "n2", "n3"];

/// A connection of a client: on which node, from when it had joined its room until it ended.
#[derive(Debug, Clone)]
struct Session {
    node: String,
    joined: Duration,
    ended: Option<Duration>,
}

/// A publish: its id, on which node it was sent, when, and when it was acknowledged.
#[derive(Debug, Clone)]
struct Publish {
    id: u64,
    room: usize,
    node: String,
    sent: Duration,
    acked: Option<Duration>,
}

/// What one client saw.
#[derive(Debug, Default)]
struct Seen {
    sessions: Vec<Session>,
    /// Message id, when, and in which session.
    receipts: Vec<(u64, Duration, usize)>,
    publishes: Vec<Publish>,
}

/// A kill and restart.
#[derive(Debug, Clone)]
struct Kill {
    target: String,
    killed: Duration,
    back: Duration,
}

/// splitmix64: a small seeded generator, enough to pick targets reproducibly.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// One client: connects through the load balancer, joins its room, records every message,
/// publishes when it is a publisher, and connects again whenever its connection ends.
async fn run_client(
    index: usize,
    entry: String,
    start: Instant,
    joined: Arc<AtomicUsize>,
    mut phase: watch::Receiver<u8>,
) -> (usize, Seen) {
    let room = index % ROOMS;
    let publisher = index < ROOMS;
    let mut seen = Seen::default();
    let mut in_flight = JoinSet::new();
    let mut seq = 0u64;
    let mut first = true;
    while *phase.borrow() != STOPPED {
        // A connection attempt (up to 10 s) gives way to the end of the test.
        let attempt = tokio::select! {
            client = Client::try_connect(&entry) => client,
            _ = phase.wait_for(|p| *p == STOPPED) => break,
        };
        let Some(client) = attempt else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let client = Arc::new(client);
        let wait = Duration::from_secs(5);
        let Some(who) = client.try_call("whoami", vec![], wait).await else {
            continue;
        };
        let node = who
            .first()
            .and_then(|w| w["node"].as_str())
            .unwrap_or_default()
            .to_owned();
        if client
            .try_call("join", vec![json!(format!("r{room}"))], wait)
            .await
            .is_none()
        {
            continue;
        }
        if std::mem::take(&mut first) {
            joined.fetch_add(1, Ordering::Relaxed);
        }
        seen.sessions.push(Session {
            node: node.clone(),
            joined: start.elapsed(),
            ended: None,
        });
        let mut tick = tokio::time::interval(PUBLISH_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        loop {
            tokio::select! {
                event = client.try_next(Duration::from_secs(1)) => match event {
                    Some(ev) if ev.name == "message" => {
                        if let Some(id) = ev.args.first().and_then(Value::as_u64) {
                            seen.receipts.push((id, start.elapsed(), seen.sessions.len() - 1));
                        }
                    }
                    Some(ev) if ev.name == "closed" || ev.name == "disconnect" => {
                        if let Some(s) = seen.sessions.last_mut() {
                            s.ended = Some(start.elapsed());
                        }
                        break;
                    }
                    _ => {}
                },
                _ = tick.tick(), if publisher && *phase.borrow() == PUBLISHING => {
                    let id = index as u64 * 10_000_000 + seq;
                    seq += 1;
                    let client = client.clone();
                    let node = node.clone();
                    in_flight.spawn(async move {
                        let sent = start.elapsed();
                        let data = json!({"room": format!("r{room}"), "data": id});
                        let ack = client.try_call("publish", vec![data], Duration::from_secs(5)).await;
                        let acked = ack.filter(|a| a == &vec![json!(true)]).map(|_| start.elapsed());
                        Publish { id, room, node, sent, acked }
                    });
                }
                Some(Ok(publish)) = in_flight.join_next(), if !in_flight.is_empty() => {
                    seen.publishes.push(publish);
                }
                changed = phase.changed() => {
                    if changed.is_err() || *phase.borrow() == STOPPED {
                        break;
                    }
                }
            }
        }
    }
    while let Ok(Some(Ok(publish))) =
        tokio::time::timeout(Duration::from_secs(6), in_flight.join_next()).await
    {
        seen.publishes.push(publish);
    }
    (index, seen)
}

/// The loss counters of a node's `/metrics`, summed.
fn loss_counters(addr: SocketAddr) -> Option<u64> {
    let (_, metrics) = http_get(addr, "/metrics")?;
    let names = [
        "sio_redis_unconfirmed_total ",
        "sio_redis_dropped_total ",
        "sio_redis_receive_dropped_total ",
        "sio_redis_resume_incomplete_total ",
    ];
    Some(
        metrics
            .lines()
            .filter_map(|l| {
                names
                    .iter()
                    .find_map(|n| l.strip_prefix(n))
                    .and_then(|v| v.trim().parse::<u64>().ok())
            })
            .sum(),
    )
}

/// The processes, the kills, and the last loss counters of every node process (by pid).
struct Cluster {
    redis: Redis,
    nodes: Vec<Node>,
    dir: PathBuf,
    logs: Vec<PathBuf>,
    counters: HashMap<u32, u64>,
    kills: Vec<Kill>,
}

impl Cluster {
    fn scrape(&mut self) {
        for node in &self.nodes {
            if let Some(n) = loss_counters(node.addr) {
                self.counters.insert(node.pid(), n);
            }
        }
    }

    fn log_path(&mut self, slot: usize) -> PathBuf {
        let path = self
            .dir
            .join(format!("{}.{}.log", NODES[slot], self.logs.len()));
        self.logs.push(path.clone());
        path
    }

    /// Kills one target with SIGKILL and restarts it on the same port. The kill's time is
    /// taken once the process is gone (reaped), not when the signal is decided: a publish the
    /// dying process still acknowledged is then never dated after its death.
    fn kill_and_restart(&mut self, target: usize, start: Instant) {
        self.scrape();
        let (name, killed, back) = if target == NODES.len() {
            self.redis.kill();
            let killed = start.elapsed();
            let back = self.redis.restart();
            ("redis".to_owned(), killed, back.duration_since(start))
        } else {
            let log = self.log_path(target);
            let node = &mut self.nodes[target];
            let _ = node.child.kill();
            let _ = node.child.wait();
            let killed = start.elapsed();
            node.respawn(Some(&log));
            (NODES[target].to_owned(), killed, start.elapsed())
        };
        println!(
            "chaos: {name} killed at {:.1} s, back after {} ms",
            killed.as_secs_f64(),
            (back - killed).as_millis()
        );
        self.kills.push(Kill {
            target: name,
            killed,
            back,
        });
    }

    fn rss(&self) -> Vec<u64> {
        self.nodes
            .iter()
            .map(|n| n.rss_kib().unwrap_or(0))
            .collect()
    }
}

fn start_cluster(dir: &Path) -> (Cluster, HaProxy) {
    let redis = Redis::start();
    let url = redis.url();
    let mut cluster = Cluster {
        redis,
        nodes: Vec::new(),
        dir: dir.to_owned(),
        logs: Vec::new(),
        counters: HashMap::new(),
        kills: Vec::new(),
    };
    let args = ["--redis", &url, "--heartbeat-ms", "1000"];
    let env = [("RUST_LOG", "info".to_owned())];
    for (slot, name) in NODES.iter().enumerate() {
        let log = cluster.log_path(slot);
        cluster
            .nodes
            .push(Node::spawn_logged(name, &args, &log, &env));
    }
    let servers: Vec<(&str, SocketAddr)> = NODES
        .iter()
        .zip(&cluster.nodes)
        .map(|(name, node)| (*name, node.addr))
        .collect();
    let haproxy = HaProxy::start(&servers, dir);
    (cluster, haproxy)
}

/// Whether `target` was killed within `[from, to]`.
fn killed_within(kills: &[Kill], target: &str, from: Duration, to: Duration) -> bool {
    kills
        .iter()
        .any(|k| k.target == target && k.killed >= from && k.killed <= to)
}

#[derive(Debug, Default)]
struct Tally {
    publishes: usize,
    acked: usize,
    checked: usize,
    expected: usize,
    delivered: usize,
    not_connected_throughout: usize,
    lost_publisher_killed: usize,
    lost_receiver_killed: usize,
    lost_in_redis_at_kill: usize,
    lost_after_redis_kill: usize,
    lost_redis_publishes: HashSet<u64>,
    unexplained: Vec<String>,
}

/// Sorts every (acknowledged publish, member) pair of the publishes sent in `[from,
/// publish_until]` as the module documentation says; `end` is when the clients stopped.
fn tally(seen: &[Seen], kills: &[Kill], from: Duration, publish_until: Duration) -> Tally {
    let end = publish_until + DRAIN;
    let mut t = Tally::default();
    let received: Vec<HashSet<u64>> = seen
        .iter()
        .map(|s| s.receipts.iter().map(|r| r.0).collect())
        .collect();
    for publish in seen.iter().flat_map(|s| &s.publishes) {
        t.publishes += 1;
        if publish.acked.is_none() {
            continue;
        }
        t.acked += 1;
        let sent = publish.sent;
        if sent < from || sent > publish_until {
            continue;
        }
        t.checked += 1;
        let publisher_killed = killed_within(kills, &publish.node, sent, sent + BLAME);
        let in_redis_at_kill = kills
            .iter()
            .any(|k| k.target == "redis" && k.killed > sent && k.killed <= sent + IN_TRANSIT);
        let after_redis_kill = killed_within(kills, "redis", sent.saturating_sub(BLAME), sent);
        let connected_until = (sent + WINDOW).min(end);
        for member in (publish.room..CLIENTS).step_by(ROOMS) {
            let session = seen[member]
                .sessions
                .iter()
                .find(|s| s.joined <= sent && s.ended.is_none_or(|e| e >= connected_until));
            let Some(session) = session else {
                t.not_connected_throughout += 1;
                continue;
            };
            t.expected += 1;
            let receiver_killed = kills.iter().any(|k| {
                k.target == session.node
                    && k.killed >= sent
                    && k.killed <= sent + BLAME
                    && session.ended.is_some_and(|e| e >= k.killed)
            });
            if received[member].contains(&publish.id) {
                t.delivered += 1;
            } else if publisher_killed {
                t.lost_publisher_killed += 1;
            } else if receiver_killed {
                t.lost_receiver_killed += 1;
            } else if in_redis_at_kill && session.node != publish.node {
                t.lost_in_redis_at_kill += 1;
            } else if after_redis_kill && session.node != publish.node {
                t.lost_after_redis_kill += 1;
                t.lost_redis_publishes.insert(publish.id);
            } else {
                t.unexplained.push(format!(
                    "publish {} from {} at {:.3} s not received by client {member} on {} (session {:?})",
                    publish.id,
                    publish.node,
                    sent.as_secs_f64(),
                    session.node,
                    session
                ));
            }
        }
    }
    t
}

/// Per Redis restart: from Redis accepting connections to the first delivery across nodes of
/// a message published after the kill (earlier ones may still sit in a receiver's backlog).
fn resume_times(seen: &[Seen], kills: &[Kill]) -> Vec<u128> {
    let node_of: HashMap<u64, (&str, Duration)> = seen
        .iter()
        .flat_map(|s| &s.publishes)
        .map(|p| (p.id, (p.node.as_str(), p.sent)))
        .collect();
    let node_of = &node_of;
    kills
        .iter()
        .filter(|k| k.target == "redis")
        .filter_map(|k| {
            seen.iter()
                .flat_map(|s| {
                    s.receipts.iter().filter_map(move |(id, at, _)| {
                        let member_node = s
                            .sessions
                            .iter()
                            .rev()
                            .find(|x| x.joined <= *at)
                            .map(|x| x.node.as_str())?;
                        let crossed = node_of
                            .get(id)
                            .is_some_and(|(n, sent)| *n != member_node && *sent >= k.killed);
                        (*at >= k.back && crossed).then(|| (*at - k.back).as_millis())
                    })
                })
                .min()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_nodes_and_redis_loses_only_what_is_counted() {
    let seed = std::env::var("SIO_CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    println!("chaos seed: {seed} (SIO_CHAOS_SEED={seed} repeats this run's targets)");
    let dir = std::env::temp_dir().join(format!("sio-chaos-{}-{seed}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    println!("logs in {} (removed when the test passes)", dir.display());
    let test_started = Instant::now();
    let (cluster, haproxy) = start_cluster(&dir);
    let rss_idle = cluster.rss();
    let start = Instant::now();
    let (phase_tx, phase) = watch::channel(PUBLISHING);
    let joined = Arc::new(AtomicUsize::new(0));
    let mut clients = JoinSet::new();
    for index in 0..CLIENTS {
        clients.spawn(run_client(
            index,
            haproxy.url(),
            start,
            joined.clone(),
            phase.clone(),
        ));
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while joined.load(Ordering::Relaxed) < CLIENTS {
        assert!(
            Instant::now() < deadline,
            "only {} of {CLIENTS} clients joined",
            joined.load(Ordering::Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "{CLIENTS} clients joined after {:.1} s",
        start.elapsed().as_secs_f64()
    );
    tokio::time::sleep(WARM_UP).await;

    // The chaos runs on a blocking thread: it owns the processes, so they are killed when it
    // ends, even by a panic.
    let chaos = tokio::task::spawn_blocking(move || {
        let mut cluster = cluster;
        let mut rng = Rng(seed);
        let rss_before = cluster.rss();
        let chaos_from = start.elapsed();
        let chaos_start = Instant::now();
        for round in 1..=(CHAOS.as_secs() / EVENT_EVERY.as_secs()) {
            let at = chaos_start + EVENT_EVERY * round as u32;
            while Instant::now() < at {
                cluster.scrape();
                std::thread::sleep(Duration::from_millis(500).min(at - Instant::now()));
            }
            let target = (rng.next() % (NODES.len() as u64 + 1)) as usize;
            cluster.kill_and_restart(target, start);
        }
        let settle_until = Instant::now() + SETTLE;
        while Instant::now() < settle_until {
            cluster.scrape();
            std::thread::sleep(Duration::from_millis(500));
        }
        cluster.scrape();
        let rss_after = cluster.rss();
        (cluster, rss_before, rss_after, chaos_from, start.elapsed())
    });
    let (cluster, rss_before, rss_after, chaos_from, until) = chaos.await.expect("chaos ran");
    phase_tx.send(LISTENING).unwrap();
    tokio::time::sleep(DRAIN).await;
    phase_tx.send(STOPPED).unwrap();
    let collect_deadline = Instant::now() + Duration::from_secs(15);
    let mut by_index: Vec<(usize, Seen)> = Vec::new();
    while let Ok(Some(done)) =
        tokio::time::timeout_at(collect_deadline.into(), clients.join_next()).await
    {
        by_index.push(done.expect("client task"));
    }
    assert_eq!(by_index.len(), CLIENTS, "every client task ended in time");
    by_index.sort_by_key(|(i, _)| *i);
    let seen: Vec<Seen> = by_index.into_iter().map(|(_, s)| s).collect();
    drop(haproxy);
    let rss = Rss {
        idle: rss_idle,
        before: rss_before,
        after: rss_after,
    };
    report_and_check(&cluster, &seen, &rss, chaos_from, until);
    println!(
        "chaos test took {:.1} s in all",
        test_started.elapsed().as_secs_f64()
    );
    drop(cluster);
    let _ = std::fs::remove_dir_all(&dir);
}

/// RSS (KiB) per node slot: started with no client, before the chaos, after it.
struct Rss {
    idle: Vec<u64>,
    before: Vec<u64>,
    after: Vec<u64>,
}

/// The number of clients connected to each node slot at `at`.
fn clients_per_node(seen: &[Seen], at: Duration) -> Vec<usize> {
    NODES
        .iter()
        .map(|name| {
            seen.iter()
                .flat_map(|s| &s.sessions)
                .filter(|x| x.node == *name && x.joined <= at && x.ended.is_none_or(|e| e > at))
                .count()
        })
        .collect()
}

fn report_and_check(cluster: &Cluster, seen: &[Seen], rss: &Rss, from: Duration, until: Duration) {
    let kills = &cluster.kills;
    let t = tally(seen, kills, from, until);
    let receipts: usize = seen.iter().map(|s| s.receipts.len()).sum();
    let duplicates: usize = seen
        .iter()
        .map(|s| {
            let distinct: HashSet<(u64, usize)> = s.receipts.iter().map(|r| (r.0, r.2)).collect();
            s.receipts.len() - distinct.len()
        })
        .sum();
    let reconnects: usize = seen.iter().map(|s| s.sessions.len() - 1).sum();
    let counted: u64 = cluster.counters.values().sum();
    let resumes = resume_times(seen, kills);
    let in_window = seen
        .iter()
        .flat_map(|s| &s.publishes)
        .filter(|p| p.sent >= from)
        .count();
    let rate = in_window as f64 / (until - from).as_secs_f64();
    println!(
        "kills: {}",
        kills
            .iter()
            .map(|k| k.target.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "publishes: {} ({rate:.0}/s during the chaos and settling), acked: {}, receipts: {receipts}, \
         duplicates: {duplicates}, client reconnects: {reconnects}",
        t.publishes, t.acked
    );
    println!(
        "checked (acked, sent in the chaos window): {} publishes; member deliveries expected: {}, delivered: {}, \
         members not connected throughout: {}",
        t.checked, t.expected, t.delivered, t.not_connected_throughout
    );
    println!(
        "lost: {} (publisher's node killed within 10 s), {} (receiver's node killed with it queued), \
         {} (in Redis when it was killed), {} published after a Redis kill ({} publishes; loss \
         counters of all processes: {counted}), {} unexplained",
        t.lost_publisher_killed,
        t.lost_receiver_killed,
        t.lost_in_redis_at_kill,
        t.lost_after_redis_kill,
        t.lost_redis_publishes.len(),
        t.unexplained.len()
    );
    // A slot may hold more clients after the chaos than before; the allowance is the
    // per-client cost the slot's first, fresh process showed between idle and warm. Fewer
    // clients earn no reduction: the traffic through Redis is the same for every node.
    let clients_before = clients_per_node(seen, from);
    let clients_after = clients_per_node(seen, until);
    let mut limits = Vec::new();
    for (slot, name) in NODES.iter().enumerate() {
        let per_client = rss.before[slot].saturating_sub(rss.idle[slot]) as f64
            / clients_before[slot].max(1) as f64;
        let extra = clients_after[slot].saturating_sub(clients_before[slot]);
        let expected = rss.before[slot] as f64 + per_client * extra as f64;
        limits.push(expected * 1.10);
        println!(
            "rss {name}: idle {} KiB; before {} KiB with {} clients; after {} KiB with {} clients \
             ({:+.1}% against {:.0} KiB expected for that many clients)",
            rss.idle[slot],
            rss.before[slot],
            clients_before[slot],
            rss.after[slot],
            clients_after[slot],
            (rss.after[slot] as f64 / expected - 1.0) * 100.0,
            expected
        );
    }
    println!("resume after each Redis restart (ms to the first cross-node delivery): {resumes:?}");

    let panics: Vec<String> = cluster
        .logs
        .iter()
        .filter(|log| {
            std::fs::read_to_string(log)
                .unwrap_or_default()
                .contains("panicked")
        })
        .map(|log| log.display().to_string())
        .collect();
    assert!(panics.is_empty(), "panics in {panics:?}");
    for line in t.unexplained.iter().take(5) {
        println!("unexplained: {line}");
    }
    let sent_at: HashMap<u64, (&str, Duration)> = seen
        .iter()
        .flat_map(|s| &s.publishes)
        .map(|p| (p.id, (p.node.as_str(), p.sent)))
        .collect();
    for (client, s) in seen.iter().enumerate() {
        let mut first: HashMap<(u64, usize), Duration> = HashMap::new();
        for (id, at, session) in &s.receipts {
            if let Some(before) = first.insert((*id, *session), *at) {
                println!(
                    "duplicate: client {client} got {id} (sent {:?}) at {:.3} s and {:.3} s; sessions {:?}",
                    sent_at.get(id),
                    before.as_secs_f64(),
                    at.as_secs_f64(),
                    s.sessions
                );
                break;
            }
        }
    }
    assert_eq!(duplicates, 0, "a message was delivered twice");
    assert!(
        t.checked > 0 && t.expected > 0,
        "nothing was checked: {t:?}"
    );
    assert!(
        t.unexplained.is_empty(),
        "{} unexplained losses, first: {:?}",
        t.unexplained.len(),
        &t.unexplained[..t.unexplained.len().min(10)]
    );
    assert!(
        t.lost_redis_publishes.len() as u64 <= counted,
        "{} publishes sent after a Redis kill were lost, but the nodes counted only {counted}",
        t.lost_redis_publishes.len()
    );
    for (slot, name) in NODES.iter().enumerate() {
        assert!(
            rss.after[slot] as f64 <= limits[slot],
            "{name}: RSS {} KiB after the chaos, more than 10% over {:.0} KiB",
            rss.after[slot],
            limits[slot] / 1.10
        );
    }
}
