//! `fanout` and `cross-node`: subscribers in rooms, publishers publishing at a fixed total rate.
//!
//! Each publish carries `[publisher, seq, sent_ns]` (plus optional padding); `seq` counts the
//! publishes of one publisher to one room, so every subscriber sees, per publisher, the sequence
//! 1, 2, 3, ... and tracks gaps (loss), repeats (duplicates) and late arrivals (reordering) with
//! a 64-wide window. Once publishing stops the run waits (bounded) for the deliveries still on
//! their way, then counts every expected delivery that never arrived as lost.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use clap::Args;
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use crate::caller::{self, Calls, Pacing, Plan, Times};
use crate::client::{self, Packet, Target, Ws};
use crate::raw::RawWs;
use crate::report::{self, Table};
use crate::stats::{self, Counter, Recorder, Shards, Usage, now_ns, round2};
use crate::{Common, Failures, pace, wait_settled};

mod publisher;
mod subscriber;
mod track;

use publisher::{Credit, publisher};
use subscriber::subscriber;
use track::{Track, WINDOW};

/// Flags of `fanout` and `cross-node`.
#[derive(Debug, Clone, Args)]
pub(crate) struct FanoutArgs {
    #[command(flatten)]
    pub(crate) common: Common,
    /// Rooms.
    #[arg(long, default_value_t = 10)]
    rooms: usize,
    /// Subscribers per room (each subscriber is one connection in one room).
    #[arg(long, default_value_t = 500)]
    room_size: usize,
    /// Publisher connections (in no room); each publishes to the rooms in turn.
    #[arg(long, default_value_t = 10)]
    publishers: usize,
    /// Publishes per second, all publishers together (overrides --delivery-rate).
    #[arg(long)]
    rate: Option<f64>,
    /// Deliveries per second to offer: publishes per second = this / room size.
    #[arg(long, default_value_t = 50_000.0)]
    delivery_rate: f64,
    /// Seconds of publishing, warm-up included.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds at the start whose messages are delivered and checked but not measured.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Longest wait, in seconds, for deliveries still on their way once publishing stops.
    #[arg(long, default_value_t = 5.0)]
    drain: f64,
    /// Padding added to each message's data, in bytes.
    #[arg(long, default_value_t = 0)]
    payload_bytes: usize,
    /// Connections opened per second while setting up.
    #[arg(long, default_value_t = 2000.0)]
    connect_rate: f64,
    /// Unacknowledged publishes one publisher may have; a publish due beyond that is skipped
    /// (and counted), so an overloaded server slows the offered rate instead of queueing.
    #[arg(long, default_value_t = 1000)]
    max_inflight: u64,
    /// Saturation: instead of a fixed rate, each publisher publishes closed-loop, keeping
    /// `--window` publishes in flight (not yet delivered to every member of their room), so the
    /// server runs flat out; --rate and --delivery-rate are ignored.
    #[arg(long)]
    pub(crate) saturate: bool,
    /// With --saturate: publishes per publisher whose deliveries have not all arrived yet. Each
    /// subscriber then has up to window × publishers / rooms messages queued or in flight: the
    /// deeper, the more frames a server writes (and the generator reads) per syscall, so the
    /// saturated rate depends on it; report it with the rate.
    #[arg(long, default_value_t = 16, requires = "saturate")]
    window: u64,
    /// Direct messages instead of room broadcasts: each subscriber joins no room, and the
    /// publishers send the reference app's `direct` (`{to: sid, data}`) to the subscribers in
    /// turn, so every message has one recipient; --rooms is then the number of subscribers
    /// (spread over the targets in turn, as room members are) and --room-size must be 1.
    #[arg(long)]
    pub(crate) direct: bool,
}

/// Where subscribers and publishers connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placement {
    /// Both spread over every target.
    Spread,
    /// Everything on the first target.
    First,
    /// Publishers on the first target, subscribers on the others.
    Cross,
}

impl Placement {
    fn name(self) -> &'static str {
        match self {
            Placement::Spread => "spread",
            Placement::First => "first-target",
            Placement::Cross => "cross-node",
        }
    }

    /// The target of subscriber `i` of room `room`'s `m`-th member.
    fn subscriber(self, m: usize, n_targets: usize) -> usize {
        match self {
            Placement::Spread => m % n_targets,
            Placement::First => 0,
            Placement::Cross => 1 + m % (n_targets - 1).max(1),
        }
    }

    fn publisher(self, j: usize, n_targets: usize) -> usize {
        match self {
            Placement::Spread => j % n_targets,
            Placement::First | Placement::Cross => 0,
        }
    }
}

/// What every connection task shares.
#[derive(Debug)]
struct Ctx {
    publishers: usize,
    delivered: Counter,
    subs_settled: AtomicU64,
    subs_ready: AtomicU64,
    pubs_settled: AtomicU64,
    pubs_ready: AtomicU64,
    /// Members of each room (subscribers whose join was acked).
    members: Vec<AtomicU64>,
    /// With `--direct`: each "room"'s one subscriber's socket id, once it connected.
    sids: Vec<std::sync::OnceLock<String>>,
    /// With `--direct`: publishers send `direct` to `sids` instead of `publish` to rooms.
    direct: bool,
    published: Counter,
    acked: Counter,
    failures: Failures,
    /// Publishes sent, by publisher and room (`j * rooms + k`).
    sent: Vec<AtomicU64>,
    /// Publishers that stopped sending (end of the run, or their connection failed).
    pubs_done: AtomicU64,
    /// With --saturate: deliveries of each publisher's messages (the closed loop's feedback).
    credits: Option<Vec<Credit>>,
}

impl Ctx {
    /// Publishes sent by publisher `j` to room `k` so far.
    fn sent(&self, j: usize, k: usize) -> u64 {
        self.sent[j * self.members.len() + k].load(Ordering::Relaxed)
    }

    /// Deliveries expected for what was sent so far: each publish, times its room's members.
    fn expected(&self) -> u64 {
        (0..self.publishers)
            .flat_map(|j| (0..self.members.len()).map(move |k| (j, k)))
            .map(|(j, k)| self.sent(j, k) * self.members[k].load(Ordering::Relaxed))
            .sum()
    }
}

/// One run's results.
struct Outcome {
    results: Value,
    usage: Value,
    latency: Histogram<u64>,
    ack_latency: Histogram<u64>,
    table: Table,
    deliveries_per_s: f64,
    server_us_per_delivery: Option<f64>,
}

/// Runs `fanout`.
pub(crate) async fn run(args: FanoutArgs) -> anyhow::Result<()> {
    let out = fanout(&args, Placement::Spread, 0).await?;
    let common = &args.common;
    out.table.print(&format!(
        "fanout ({})",
        if common.label.is_empty() {
            "-"
        } else {
            &common.label
        }
    ));
    let mut report = common.json(
        if args.saturate { "saturate" } else { "fanout" },
        config_json(&args),
    );
    report["results"] = out.results;
    report["usage"] = out.usage;
    common.write(
        &report,
        "fan-out end-to-end latency",
        &[
            ("delivery", &out.latency),
            ("publish ack", &out.ack_latency),
        ],
    )
}

/// Runs `cross-node`: everything on the first target, then publishers on the first target and
/// subscribers on the others.
pub(crate) async fn run_cross_node(args: FanoutArgs) -> anyhow::Result<()> {
    let common = &args.common;
    anyhow::ensure!(
        common.targets.len() >= 2,
        "cross-node needs at least two --target (publishers on the first, subscribers on the others)"
    );
    let label = if common.label.is_empty() {
        "-"
    } else {
        &common.label
    };
    report::phase(common.quiet, "run 1/2: everything on the first target");
    let single = fanout(&args, Placement::First, 1).await?;
    single.table.print(&format!(
        "cross-node baseline: all on {} ({label})",
        common.targets[0]
    ));
    // Let the servers settle (closing connections) between the runs.
    tokio::time::sleep(Duration::from_secs(2)).await;
    report::phase(
        common.quiet,
        "run 2/2: publishers on the first target, subscribers on the others",
    );
    let cross = fanout(&args, Placement::Cross, 2).await?;
    cross.table.print(&format!(
        "cross-node: publishers on the first target, subscribers on the others ({label})"
    ));
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(round2(a / b)),
        _ => None,
    };
    let q = |h: &Histogram<u64>, p: f64| (!h.is_empty()).then(|| h.value_at_quantile(p) as f64);
    let ratios = json!({
        "p50_latency": ratio(q(&cross.latency, 0.5), q(&single.latency, 0.5)),
        "p99_latency": ratio(q(&cross.latency, 0.99), q(&single.latency, 0.99)),
        "deliveries_per_s": ratio(Some(cross.deliveries_per_s), Some(single.deliveries_per_s)),
        "server_cpu_us_per_delivery": ratio(cross.server_us_per_delivery, single.server_us_per_delivery),
    });
    let mut table = Table::default();
    for (name, key) in [
        ("p50 latency", "p50_latency"),
        ("p99 latency", "p99_latency"),
        ("deliveries/s", "deliveries_per_s"),
        ("server CPU per delivery", "server_cpu_us_per_delivery"),
    ] {
        table.row(name, format!("{} × (cross / single)", ratios[key]));
    }
    table.print(&format!("cross-node: what the cluster adds ({label})"));
    let mut report = common.json("cross-node", config_json(&args));
    report["single"] = json!({ "results": single.results, "usage": single.usage });
    report["cross"] = json!({ "results": cross.results, "usage": cross.usage });
    report["ratios"] = ratios;
    common.write(
        &report,
        "cross-node fan-out latency",
        &[
            ("all on first target", &single.latency),
            ("cross-node", &cross.latency),
        ],
    )
}

fn config_json(args: &FanoutArgs) -> Value {
    if args.saturate {
        return json!({
            "rooms": args.rooms,
            "room_size": args.room_size,
            "publishers": args.publishers,
            "saturate": true,
            "window": args.window,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "drain_s": args.drain,
            "payload_bytes": args.payload_bytes,
            "max_inflight": args.max_inflight,
        });
    }
    json!({
        "rooms": args.rooms,
        "room_size": args.room_size,
        "publishers": args.publishers,
        "publish_rate": publish_rate(args),
        "offered_deliveries_per_s": publish_rate(args) * args.room_size as f64,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "drain_s": args.drain,
        "payload_bytes": args.payload_bytes,
        "max_inflight": args.max_inflight,
    })
}

fn publish_rate(args: &FanoutArgs) -> f64 {
    args.rate
        .unwrap_or(args.delivery_rate / args.room_size.max(1) as f64)
}

async fn fanout(args: &FanoutArgs, placement: Placement, run_no: u32) -> anyhow::Result<Outcome> {
    let common = &args.common;
    let quiet = common.quiet;
    let targets = Arc::new(common.targets()?);
    anyhow::ensure!(
        args.rooms > 0 && args.room_size > 0,
        "--rooms and --room-size must be positive"
    );
    anyhow::ensure!(args.publishers > 0, "--publishers must be positive");
    anyhow::ensure!(
        !args.direct || args.room_size == 1,
        "--direct needs --room-size 1 (one recipient per message)"
    );
    anyhow::ensure!(
        args.duration > args.warmup,
        "--duration must exceed --warmup"
    );
    let rate = publish_rate(args);
    anyhow::ensure!(
        args.saturate || rate > 0.0,
        "the publish rate must be positive"
    );
    let n_subs = args.rooms * args.room_size;
    let run_id = format!("{:x}{run_no}", std::process::id() ^ (now_ns() as u32));
    let rooms: Arc<Vec<String>> = Arc::new(
        (0..args.rooms)
            .map(|k| format!("fanout-{run_id}-{k}"))
            .collect(),
    );
    let ctx = Arc::new(Ctx {
        publishers: args.publishers,
        delivered: Counter::new(),
        subs_settled: AtomicU64::new(0),
        subs_ready: AtomicU64::new(0),
        pubs_settled: AtomicU64::new(0),
        pubs_ready: AtomicU64::new(0),
        members: (0..args.rooms).map(|_| AtomicU64::new(0)).collect(),
        sids: (0..args.rooms)
            .map(|_| std::sync::OnceLock::new())
            .collect(),
        direct: args.direct,
        published: Counter::new(),
        acked: Counter::new(),
        failures: Failures::default(),
        sent: (0..args.publishers * args.rooms)
            .map(|_| AtomicU64::new(0))
            .collect(),
        pubs_done: AtomicU64::new(0),
        credits: args
            .saturate
            .then(|| (0..args.publishers).map(|_| Credit::new()).collect()),
    });
    // A shard per generator thread or two: each is ~240 KiB of counters, and samples spread
    // over many shards would miss the cache (the shards are only there against lock contention).
    let latency = Shards::new(common.worker_threads() * 2);
    let ack_latency = Shards::new(common.worker_threads());
    let (stop_tx, stop_rx) = watch::channel(false);

    // Subscribers.
    report::phase(
        quiet,
        &format!(
            "[{}] {n_subs} subscribers in {} rooms of {}, at {}/s",
            placement.name(),
            args.rooms,
            args.room_size,
            args.connect_rate
        ),
    );
    let bar = report::bar(quiet, n_subs as u64, "subscribe");
    let setup_start = Instant::now();
    let mut subs = Vec::with_capacity(n_subs);
    for i in 0..n_subs {
        pace(setup_start, i, args.connect_rate).await;
        if i % 64 == 0 {
            bar.set_position(ctx.subs_settled.load(Ordering::Relaxed));
        }
        let room = i % args.rooms;
        // Members of one room go to different targets; so do the recipients of --direct (each
        // alone in its "room").
        let member = if args.direct { i } else { i / args.rooms };
        let t = placement.subscriber(member, targets.len());
        subs.push(tokio::spawn(subscriber(
            i,
            targets.clone(),
            t,
            common.source(i),
            common.connect_timeout(),
            rooms.clone(),
            room,
            ctx.clone(),
            latency.recorder(i),
            stop_rx.clone(),
        )));
    }
    // Opening and then joining: two timeouts.
    wait_settled(
        &ctx.subs_settled,
        n_subs,
        common.connect_timeout() * 2 + Duration::from_secs(1),
        Duration::from_millis(50),
        || {
            bar.set_position(ctx.subs_settled.load(Ordering::Relaxed));
            bar.set_message(format!("{} joined", ctx.subs_ready.load(Ordering::Relaxed)));
        },
    )
    .await;
    bar.finish_and_clear();
    let subs_ready = ctx.subs_ready.load(Ordering::Relaxed);

    // Publishers. With --direct they address each subscriber by its socket id (one that did
    // not connect gets an id nobody has: its messages count as lost).
    let rooms: Arc<Vec<String>> = if args.direct {
        Arc::new(
            ctx.sids
                .iter()
                .enumerate()
                .map(|(k, sid)| sid.get().cloned().unwrap_or_else(|| format!("absent-{k}")))
                .collect(),
        )
    } else {
        rooms
    };
    let start_at = Arc::new(watch::channel(None::<Times>));
    let mut pubs = Vec::with_capacity(args.publishers);
    let pacing = (!args.saturate).then(|| Duration::from_secs_f64(args.publishers as f64 / rate));
    for j in 0..args.publishers {
        let t = placement.publisher(j, targets.len());
        pubs.push(tokio::spawn(publisher(
            j,
            targets.clone(),
            t,
            common.source(n_subs + j),
            common.connect_timeout(),
            rooms.clone(),
            ctx.clone(),
            pacing,
            args.window,
            args.max_inflight,
            padding(args.payload_bytes),
            ack_latency.recorder(j),
            start_at.1.clone(),
            stop_rx.clone(),
        )));
    }
    wait_settled(
        &ctx.pubs_settled,
        args.publishers,
        common.connect_timeout() + Duration::from_secs(1),
        Duration::from_millis(20),
        || {},
    )
    .await;
    let pubs_ready = ctx.pubs_ready.load(Ordering::Relaxed);
    let offer = if args.saturate {
        format!(
            "closed loop, {} publishes in flight per publisher",
            args.window
        )
    } else {
        format!(
            "{rate:.1}/s ({:.0} deliveries/s offered)",
            rate * args.room_size as f64
        )
    };
    report::phase(
        quiet,
        &format!(
            "{subs_ready}/{n_subs} subscribers joined, {pubs_ready}/{} publishers ready in {:.1} s; publishing {offer} for {} s",
            args.publishers,
            setup_start.elapsed().as_secs_f64(),
            args.duration
        ),
    );
    anyhow::ensure!(
        pubs_ready > 0 && subs_ready > 0,
        "setup failed: {}",
        ctx.failures.json()
    );

    // Publish.
    let t0 = Instant::now() + Duration::from_millis(200);
    let warm_end = t0 + Duration::from_secs_f64(args.warmup);
    let end = t0 + Duration::from_secs_f64(args.duration);
    let _ = start_at.0.send(Some((t0, warm_end, end)));
    let bar = report::bar(quiet, (args.duration * 10.0) as u64, "publish");
    let mut last = (Instant::now(), ctx.delivered.sum());
    let mut before = None;
    loop {
        let now = Instant::now();
        if now >= end {
            break;
        }
        if before.is_none() && now >= warm_end {
            before = Some(stats::snapshot(&common.server_pids));
        }
        tokio::time::sleep(Duration::from_millis(100).min(end - now)).await;
        let d = ctx.delivered.sum();
        let dt = last.0.elapsed().as_secs_f64();
        if dt >= 0.5 {
            bar.set_message(format!(
                "{:.0} deliveries/s, {} published",
                (d - last.1) as f64 / dt,
                ctx.published.sum()
            ));
            last = (Instant::now(), d);
        }
        bar.set_position((now.saturating_duration_since(t0).as_secs_f64() * 10.0) as u64);
    }
    bar.finish_and_clear();
    let before = before.unwrap_or_else(|| stats::snapshot(&common.server_pids));

    // Drain: publishers stop at `end` (one blocked on a server that does not read may take a
    // moment), then wait, bounded, for what they sent to arrive.
    let drain = Duration::from_secs_f64(args.drain.max(0.0));
    let drain_end = Instant::now() + drain;
    let stop_sending_by = Instant::now() + Duration::from_secs(2);
    while ctx.pubs_done.load(Ordering::Relaxed) < pubs_ready && Instant::now() < stop_sending_by {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    while ctx.delivered.sum() < ctx.expected() && Instant::now() < drain_end {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let after = stats::snapshot(&common.server_pids);
    let drained_in = end.elapsed();
    let _ = stop_tx.send(true);
    let mut pub_results = Vec::with_capacity(pubs.len());
    for p in pubs {
        match tokio::time::timeout(Duration::from_secs(2), p).await {
            Ok(Ok(r)) => pub_results.push(r),
            Ok(Err(_)) => ctx.failures.add("publisher task panicked".into()),
            Err(_) => ctx.failures.add("publisher did not stop in time".into()),
        }
    }
    let expected = ctx.expected();
    let sent: Vec<u64> = (0..args.rooms)
        .map(|k| (0..args.publishers).map(|j| ctx.sent(j, k)).sum())
        .collect();

    // Collect.
    let mut lost = 0u64;
    let mut unique = 0u64;
    let mut duplicates = 0u64;
    let mut reordered = 0u64;
    let mut late = 0u64;
    let mut disconnected = 0u64;
    let mut malformed = 0u64;
    let (mut reads, mut messages) = (0u64, 0u64);
    for s in subs {
        let Ok(Ok(Some(r))) = tokio::time::timeout(Duration::from_secs(5), s).await else {
            continue;
        };
        disconnected += u64::from(r.disconnected);
        malformed += r.malformed;
        reads += r.reads;
        messages += r.messages;
        for (j, tr) in r.tracks.iter().enumerate() {
            let should = ctx.sent(j, r.room);
            lost += should.saturating_sub(u64::from(tr.unique));
            unique += u64::from(tr.unique);
            duplicates += u64::from(tr.duplicates);
            reordered += u64::from(tr.reordered);
            late += u64::from(tr.late);
        }
    }
    let latency = latency.merged();
    let ack_latency = ack_latency.merged();
    let usage = Usage::between(&before, &after);
    let threads = common.worker_threads();
    let window = args.duration - args.warmup;
    let measured = latency.len();
    let deliveries_per_s = measured as f64 / window;
    let server_us = usage.server_us_per(measured);
    let published_total: u64 = sent.iter().sum();
    let skipped: u64 = pub_results.iter().map(|r| r.skipped).sum();
    let ack_errors: u64 = pub_results.iter().map(|r| r.ack_errors).sum();
    let unacked: u64 = pub_results.iter().map(|r| r.unacked).sum();
    let pub_disconnected = pub_results.iter().filter(|r| r.disconnected).count();
    let stalls: u64 = pub_results.iter().map(|r| r.stalls).sum();
    let offered = (!args.saturate).then_some(rate * args.room_size as f64);
    let generator_us = (measured > 0).then(|| usage.own_cpu_s * 1e6 / measured as f64);
    let server_share = usage.server_cpu_s.map(|s| s / usage.wall_s.max(1e-9));
    let per_core = usage
        .server_cpu_s
        .filter(|cpu| *cpu > 0.0 && measured > 0)
        .map(|cpu| (measured as f64 / cpu).round());

    let results = json!({
        "placement": placement.name(),
        "subscribers": n_subs,
        "subscribers_joined": subs_ready,
        "publishers_ready": pubs_ready,
        "published": published_total,
        "publishes_skipped_inflight_limit": skipped,
        "publish_ack_errors": ack_errors,
        "publishes_unacked": unacked,
        "expected_deliveries": expected,
        "delivered_unique": unique,
        "lost": lost,
        "duplicates": duplicates,
        "reordered": reordered,
        "late_beyond_window": late,
        "malformed": malformed,
        "subscribers_disconnected": disconnected,
        "publishers_disconnected": pub_disconnected,
        "offered_deliveries_per_s": offered.map(round2),
        "saturate": args.saturate,
        "publisher_stalls": stalls,
        "deliveries_per_s": round2(deliveries_per_s),
        "measured_deliveries": measured,
        "latency": stats::latency_json(&latency),
        "publish_ack_latency": stats::latency_json(&ack_latency),
        "server_cpu_us_per_delivery": server_us,
        "server_core_share": server_share.map(round2),
        // What one full core would sustain at this CPU cost (the share varies with what else
        // runs on the server's core).
        "deliveries_per_s_per_server_core": per_core,
        "generator_cpu_us_per_delivery": generator_us.map(|us| (us * 1000.0).round() / 1000.0),
        "deliveries_per_read": (reads > 0).then(|| round2(messages as f64 / reads as f64)),
        "drain_s": round2(drained_in.as_secs_f64()),
        "failures": ctx.failures.json(),
    });

    let mut table = Table::default();
    table.row("targets", common.targets.join(", "));
    table.row("placement", placement.name());
    table.row(
        "setup",
        format!(
            "{subs_ready}/{n_subs} subscribers in {} rooms, {pubs_ready}/{} publishers",
            args.rooms, args.publishers
        ),
    );
    ctx.failures.rows(&mut table);
    let how = if args.saturate {
        format!(
            "closed loop, {} in flight per publisher ({stalls} stalls)",
            args.window
        )
    } else {
        format!("at {rate:.1}/s offered ({skipped} skipped at the in-flight limit)")
    };
    table.row(
        "published",
        format!("{published_total} {how}, {ack_errors} ack errors, {unacked} unacked"),
    );
    table.row(
        "deliveries",
        format!("{unique} of {expected} expected: {lost} lost, {duplicates} duplicated, {reordered} reordered, {late} more than {WINDOW} late, {disconnected} subscribers disconnected"),
    );
    table.row(
        "rate",
        match offered {
            Some(o) => format!(
                "{deliveries_per_s:.0} deliveries/s measured over {window:.1} s ({o:.0}/s offered)"
            ),
            None => format!(
                "{deliveries_per_s:.0} deliveries/s sustained over {window:.1} s (saturation){}",
                per_core.map_or(String::new(), |c| format!(
                    "; {c:.0}/s per full server core at this CPU cost"
                ))
            ),
        },
    );
    table.latency("end-to-end latency", &latency);
    table.latency("publish ack latency", &ack_latency);
    table.usage(
        &usage,
        server_us.map(|us| format!("{us:.3} µs per delivery")),
        threads,
    );
    if let Some(us) = generator_us {
        table.row(
            "generator CPU",
            format!(
                "{us:.3} µs per delivery ({:.1} deliveries per read)",
                messages as f64 / reads.max(1) as f64
            ),
        );
    }
    Ok(Outcome {
        results,
        usage: usage.json(threads),
        latency,
        ack_latency,
        table,
        deliveries_per_s,
        server_us_per_delivery: server_us,
    })
}

fn padding(bytes: usize) -> Arc<str> {
    if bytes == 0 {
        Arc::from("")
    } else {
        Arc::from(format!(",\"{}\"", "x".repeat(bytes)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placement_spreads_room_members() {
        // With two targets and even room counts, each room still has members on both.
        let targets: Vec<usize> = (0..4).map(|m| Placement::Spread.subscriber(m, 2)).collect();
        assert_eq!(targets, [0, 1, 0, 1]);
        let cross: Vec<usize> = (0..4).map(|m| Placement::Cross.subscriber(m, 3)).collect();
        assert_eq!(cross, [1, 2, 1, 2]);
        assert_eq!(Placement::Cross.publisher(5, 3), 0);
    }
}
