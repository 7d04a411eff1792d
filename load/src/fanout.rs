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
use crate::{Common, Failures, pace};

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

/// The closed loop's feedback for one publisher: subscribers count the deliveries of its
/// messages (once per read, not per message) and wake it when enough arrived.
#[derive(Debug)]
#[repr(align(64))]
struct Credit {
    delivered: AtomicU64,
    /// Wake the publisher once `delivered` reaches this (`u64::MAX`: nobody waits).
    wake_at: AtomicU64,
    notify: Notify,
}

impl Credit {
    fn new() -> Credit {
        Credit {
            delivered: AtomicU64::new(0),
            wake_at: AtomicU64::new(u64::MAX),
            notify: Notify::new(),
        }
    }

    /// `n` more deliveries arrived.
    fn add(&self, n: u64) {
        // SeqCst here and in `Gate::open`: the store of `wake_at` then load of `delivered`
        // there, and the add then load here, must not both miss each other.
        let d = self.delivered.fetch_add(n, Ordering::SeqCst) + n;
        if d >= self.wake_at.load(Ordering::SeqCst)
            && self.wake_at.swap(u64::MAX, Ordering::SeqCst) != u64::MAX
        {
            self.notify.notify_one();
        }
    }
}

/// How long a closed-loop publisher waits for deliveries that do not come (lost, or a
/// subscriber gone) before it writes them off and publishes again.
const STALL: Duration = Duration::from_secs(1);

/// A closed-loop publisher's side of its [`Credit`].
#[derive(Debug)]
struct Gate<'a> {
    credit: &'a Credit,
    /// Deliveries allowed in flight.
    window: u64,
    /// Deliveries expected for what it published.
    expected: u64,
    /// Deliveries written off after a stall.
    forgiven: u64,
    last_seen: u64,
    last_progress: Instant,
    stalls: u64,
}

impl Gate<'_> {
    /// Whether one more publish may go.
    fn open(&mut self) -> bool {
        let d = self.credit.delivered.load(Ordering::SeqCst);
        if d != self.last_seen {
            self.last_seen = d;
            self.last_progress = Instant::now();
        }
        // Written off but arrived after all: take back what was forgiven too early.
        self.forgiven = self.forgiven.min(self.expected.saturating_sub(d));
        let owed = self.expected - self.forgiven;
        let backlog = owed.saturating_sub(d);
        if backlog < self.window {
            return true;
        }
        if self.last_progress.elapsed() >= STALL {
            self.forgiven += backlog;
            self.stalls += 1;
            self.last_progress = Instant::now();
            return true;
        }
        // Open again once backlog < window.
        let at = owed + 1 - self.window;
        self.credit.wake_at.store(at, Ordering::SeqCst);
        self.credit.delivered.load(Ordering::SeqCst) >= at
    }
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

/// How far back (in sequence numbers) a subscriber remembers which messages arrived.
const WINDOW: u64 = 256;

/// Per-publisher sequence tracking in one subscriber: one cache line (a subscriber touches one
/// per message, and 5 000 subscribers × 10 publishers of them do not stay in cache). The
/// counters are per subscriber and publisher: 32 bits are plenty.
#[derive(Debug, Default, Clone, Copy)]
#[repr(align(64))]
struct Track {
    /// The next sequence number expected (sequences start at 1).
    next: u64,
    /// Bit `i` (word `i / 64`, bit `i % 64`): sequence `next - 1 - i` arrived.
    window: [u64; (WINDOW / 64) as usize],
    /// Distinct messages (late ones beyond the window included).
    unique: u32,
    /// Messages seen twice (within the window).
    duplicates: u32,
    /// Messages that arrived after a later one of the same publisher (within the window).
    reordered: u32,
    /// Messages that arrived more than `WINDOW` sequence numbers late: counted as delivered
    /// (they cannot be told from duplicates any more).
    late: u32,
}

impl Track {
    fn see(&mut self, seq: u64) {
        if self.next == 0 {
            self.next = 1;
        }
        if seq >= self.next {
            self.shift(seq - self.next + 1);
            self.window[0] |= 1;
            self.next = seq + 1;
            self.unique += 1;
            return;
        }
        let back = self.next - 1 - seq;
        if back >= WINDOW {
            self.late += 1;
            self.unique += 1;
            return;
        }
        let (word, bit) = ((back / 64) as usize, back % 64);
        if self.window[word] & (1 << bit) == 0 {
            self.window[word] |= 1 << bit;
            self.unique += 1;
            self.reordered += 1;
        } else {
            self.duplicates += 1;
        }
    }

    /// Shifts the window by `n` positions (towards older).
    fn shift(&mut self, n: u64) {
        if n >= WINDOW {
            self.window = [0; (WINDOW / 64) as usize];
            return;
        }
        let (words, bits) = ((n / 64) as usize, n % 64);
        let len = self.window.len();
        for i in (0..len).rev() {
            let src = i.checked_sub(words);
            let hi = src.map_or(0, |s| self.window[s] << bits);
            let lo = match src.and_then(|s| s.checked_sub(1)) {
                Some(s) if bits > 0 => self.window[s] >> (64 - bits),
                _ => 0,
            };
            self.window[i] = hi | lo;
        }
    }
}

/// What a subscriber reports at the end.
#[derive(Debug)]
struct SubResult {
    room: usize,
    tracks: Vec<Track>,
    disconnected: bool,
    malformed: u64,
    /// Reads that brought messages, and the messages they brought.
    reads: u64,
    messages: u64,
}

/// What a publisher reports at the end.
#[derive(Debug, Default)]
struct PubResult {
    /// Publishes sent to each room.
    sent: Vec<u64>,
    /// Closed loop: times it wrote off deliveries that did not come.
    stalls: u64,
    skipped: u64,
    ack_errors: u64,
    unacked: u64,
    disconnected: bool,
    /// The connection, still open.
    connection: Option<Ws>,
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
        let member = i / args.rooms;
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
    let deadline = Instant::now() + common.connect_timeout() * 2 + Duration::from_secs(1);
    while (ctx.subs_settled.load(Ordering::Relaxed) as usize) < n_subs && Instant::now() < deadline
    {
        bar.set_position(ctx.subs_settled.load(Ordering::Relaxed));
        bar.set_message(format!("{} joined", ctx.subs_ready.load(Ordering::Relaxed)));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bar.finish_and_clear();
    let subs_ready = ctx.subs_ready.load(Ordering::Relaxed);

    // Publishers.
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
    let deadline = Instant::now() + common.connect_timeout() + Duration::from_secs(1);
    while (ctx.pubs_settled.load(Ordering::Relaxed) as usize) < args.publishers
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
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

/// A subscriber's bookkeeping, fed one frame at a time by [`RawWs::read`] and settled once per
/// read.
struct Sink {
    tracks: Vec<Track>,
    rec: Recorder,
    /// The read's arrival time, taken at its first message (0: not yet).
    now: u64,
    /// Messages in this read.
    n: u64,
    /// Reads that brought messages, and the messages they brought.
    reads: u64,
    messages: u64,
    /// Closed loop: messages in this read, by publisher.
    by_publisher: Vec<u64>,
    malformed: u64,
    /// An Engine.IO ping to answer.
    ping: bool,
    /// The server disconnected us.
    closing: bool,
}

impl Sink {
    fn frame(&mut self, frame: Option<&[u8]>) {
        let Some(payload) = frame else {
            self.malformed += 1;
            return;
        };
        let stamp = match client::fast_stamp(payload) {
            Some(s) => s,
            None => {
                // Not the usual shape: the general parser (pings, spaces, namespaces, ...).
                let Ok(text) = std::str::from_utf8(payload) else {
                    self.malformed += 1;
                    return;
                };
                match client::parse(text) {
                    Packet::Event { args, .. } => match client::parse_stamp(args) {
                        Some(s) => s,
                        None => {
                            self.malformed += 1;
                            return;
                        }
                    },
                    Packet::Ping => {
                        self.ping = true;
                        return;
                    }
                    Packet::Close | Packet::Disconnect => {
                        self.closing = true;
                        return;
                    }
                    _ => return,
                }
            }
        };
        let Some(track) = self.tracks.get_mut(stamp.publisher as usize) else {
            self.malformed += 1;
            return;
        };
        track.see(stamp.seq);
        if let Some(c) = self.by_publisher.get_mut(stamp.publisher as usize) {
            *c += 1;
        }
        if stamp.measured {
            if self.now == 0 {
                self.now = now_ns();
            }
            self.rec.record(self.now.saturating_sub(stamp.sent_ns));
        }
        self.n += 1;
    }

    /// Publishes this read's counts.
    fn settle(&mut self, ctx: &Ctx, i: usize) {
        self.now = 0;
        if self.n == 0 {
            return;
        }
        // Live count (sharded: no shared cache line between threads in the common case).
        ctx.delivered.add(i, self.n);
        self.reads += 1;
        self.messages += self.n;
        self.n = 0;
        if let Some(credits) = &ctx.credits {
            for (c, n) in credits.iter().zip(&mut self.by_publisher) {
                if *n > 0 {
                    c.add(*n);
                    *n = 0;
                }
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn subscriber(
    i: usize,
    targets: Arc<Vec<Target>>,
    t: usize,
    source: Option<std::net::IpAddr>,
    timeout: Duration,
    rooms: Arc<Vec<String>>,
    room: usize,
    ctx: Arc<Ctx>,
    rec: Recorder,
    mut stop: watch::Receiver<bool>,
) -> Option<SubResult> {
    let settle = |ready: bool| {
        if ready {
            ctx.subs_ready.fetch_add(1, Ordering::Relaxed);
        }
        ctx.subs_settled.fetch_add(1, Ordering::Relaxed);
    };
    let mut ws = match RawWs::open(&targets[t], source, timeout).await {
        Ok(ws) => ws,
        Err(err) => {
            ctx.failures.open(&err);
            settle(false);
            return None;
        }
    };
    if let Err(err) = ws.join(&rooms[room], timeout).await {
        ctx.failures.add(format!("join: {err}"));
        settle(false);
        return None;
    }
    ctx.members[room].fetch_add(1, Ordering::Relaxed);
    settle(true);
    let mut sink = Sink {
        tracks: vec![Track::default(); ctx.publishers],
        rec,
        now: 0,
        n: 0,
        reads: 0,
        messages: 0,
        by_publisher: if ctx.credits.is_some() {
            vec![0; ctx.publishers]
        } else {
            Vec::new()
        },
        malformed: 0,
        ping: false,
        closing: false,
    };
    for text in ws.take_pending() {
        sink.frame(Some(&text));
    }
    sink.settle(&ctx, i);
    let mut disconnected = false;
    // One stop future for the whole loop: a fresh `changed()` per read would register a waiter
    // on the shared channel each time.
    let mut stopped = std::pin::pin!(async move {
        let _ = stop.changed().await;
    });
    loop {
        let open = tokio::select! {
            biased;
            r = ws.read(|f| sink.frame(f)) => r.unwrap_or(false),
            () = &mut stopped => break,
        };
        sink.settle(&ctx, i);
        if sink.ping {
            sink.ping = false;
            if ws.send_text("3").await.is_err() {
                disconnected = true;
                break;
            }
        }
        if !open || sink.closing {
            disconnected = true;
            break;
        }
    }
    sink.rec.flush();
    Some(SubResult {
        room,
        tracks: sink.tracks,
        disconnected,
        malformed: sink.malformed,
        reads: sink.reads,
        messages: sink.messages,
    })
}

/// A publisher's calls: `publish` to its rooms in turn, `[publisher, seq, sent_ns, measured]`
/// as data; the ack must be `[true]`.
struct Publish<'a> {
    j: usize,
    rooms: &'a [String],
    ctx: &'a Ctx,
    pad: &'a str,
    n: usize,
    /// Publishes sent to each room.
    sent: Vec<u64>,
    ack_errors: u64,
    /// Closed loop only.
    gate: Option<Gate<'a>>,
}

impl Calls for Publish<'_> {
    fn write(&mut self, id: u64, now_ns: u64, measured: bool, out: &mut String) {
        let (j, ctx) = (self.j, self.ctx);
        let k = (j + self.n) % self.rooms.len();
        self.n += 1;
        self.sent[k] += 1;
        let seq = self.sent[k];
        ctx.sent[j * self.rooms.len() + k].fetch_add(1, Ordering::Relaxed);
        ctx.published.add(j, 1);
        if let Some(g) = &mut self.gate {
            g.expected += ctx.members[k].load(Ordering::Relaxed);
        }
        let _ = write!(
            out,
            r#"42{id}["publish",{{"room":"{}","data":[{j},{seq},{now_ns},{}{}]}}]"#,
            self.rooms[k],
            u8::from(measured),
            self.pad
        );
    }

    fn answered(&mut self, args: &str, matched: bool) {
        if matched {
            self.ctx.acked.add(self.j, 1);
        }
        if args != "[true]" {
            self.ack_errors += 1;
            if self.ack_errors <= 3 {
                self.ctx.failures.add(format!("publish ack: {args:.80}"));
            }
        }
    }

    fn done(&mut self) {
        self.ctx.pubs_done.fetch_add(1, Ordering::Relaxed);
    }

    fn ready(&mut self) -> bool {
        self.gate.as_mut().is_none_or(Gate::open)
    }

    async fn wait(&self) {
        match &self.gate {
            // Woken by the deliveries, or after a while to look for a stall.
            Some(g) => {
                let _ = tokio::time::timeout(STALL / 4, g.credit.notify.notified()).await;
            }
            None => std::future::pending().await,
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn publisher(
    j: usize,
    targets: Arc<Vec<Target>>,
    t: usize,
    source: Option<std::net::IpAddr>,
    timeout: Duration,
    rooms: Arc<Vec<String>>,
    ctx: Arc<Ctx>,
    pacing: Option<Duration>,
    window: u64,
    max_inflight: u64,
    pad: Arc<str>,
    mut rec: Recorder,
    mut start: watch::Receiver<Option<Times>>,
    mut stop: watch::Receiver<bool>,
) -> PubResult {
    let mut result = PubResult {
        sent: vec![0; rooms.len()],
        ..PubResult::default()
    };
    let mut ws = match client::open(&targets[t], source, timeout).await {
        Ok(ws) => ws,
        Err(err) => {
            ctx.failures.open(&err);
            ctx.pubs_settled.fetch_add(1, Ordering::Relaxed);
            return result;
        }
    };
    ctx.pubs_ready.fetch_add(1, Ordering::Relaxed);
    ctx.pubs_settled.fetch_add(1, Ordering::Relaxed);
    let mut stopped = std::pin::pin!(async move {
        let _ = stop.changed().await;
    });
    let Some((t0, warm_end, end)) = caller::wait_start(&mut ws, &mut start, stopped.as_mut()).await
    else {
        result.disconnected = true;
        return result;
    };
    let plan = Plan {
        pacing: match pacing {
            // Publishers staggered over one period.
            Some(period) => Pacing::Rate {
                first: t0 + period.mul_f64(j as f64 / ctx.publishers as f64),
                period,
            },
            None => Pacing::Closed,
        },
        warm_end,
        end,
        max_inflight,
    };
    // The window in deliveries: `window` publishes to an average room.
    let members: u64 = ctx.members.iter().map(|m| m.load(Ordering::Relaxed)).sum();
    let per_publish = members.div_ceil(rooms.len() as u64).max(1);
    let mut calls = Publish {
        j,
        rooms: &rooms,
        ctx: &ctx,
        pad: &pad,
        n: 0,
        sent: vec![0; rooms.len()],
        ack_errors: 0,
        gate: ctx.credits.as_ref().map(|c| Gate {
            credit: &c[j],
            window: window.max(1) * per_publish,
            expected: 0,
            forgiven: 0,
            last_seen: 0,
            last_progress: Instant::now(),
            stalls: 0,
        }),
    };
    let tally = caller::run(&mut ws, &mut calls, &plan, &mut rec, stopped).await;
    result.sent = calls.sent;
    result.ack_errors = calls.ack_errors;
    result.stalls = calls.gate.map_or(0, |g| g.stalls);
    result.skipped = tally.skipped;
    result.unacked = tally.unanswered;
    result.disconnected = tally.disconnected;
    rec.flush();
    // Kept open until the run ends (the caller drops it), so no disconnect disturbs the drain.
    if !result.disconnected {
        result.connection = Some(ws);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracks_loss_duplicates_and_reordering() {
        let mut t = Track::default();
        for s in [1, 2, 3, 5, 4, 4, 7] {
            t.see(s);
        }
        assert_eq!(t.unique, 6); // 1 2 3 5 4 7
        assert_eq!(t.duplicates, 1); // the second 4
        assert_eq!(t.reordered, 1); // 4 after 5
        assert_eq!(t.next, 8); // 6 missing
        let mut t = Track::default();
        t.see(1);
        t.see(200);
        t.see(1); // 199 back: inside the window, a duplicate
        t.see(100); // missing so far: reordered
        t.see(100);
        assert_eq!((t.unique, t.duplicates, t.reordered), (3, 2, 1));
        t.see(1000);
        t.see(5); // far beyond the window
        assert_eq!((t.unique, t.late), (5, 1));
        // Shifts across words keep the bits.
        let mut t = Track::default();
        for s in 1..=130 {
            t.see(s);
        }
        t.see(140);
        assert_eq!(t.window[0] & 1, 1);
        t.see(135);
        t.see(3); // 137 back: still remembered
        assert_eq!((t.duplicates, t.reordered), (1, 1));
    }

    #[test]
    fn gate_keeps_a_window_of_deliveries_in_flight() {
        let credit = Credit::new();
        let mut gate = Gate {
            credit: &credit,
            window: 100,
            expected: 0,
            forgiven: 0,
            last_seen: 0,
            last_progress: Instant::now(),
            stalls: 0,
        };
        assert!(gate.open());
        gate.expected = 150; // three publishes to rooms of 50
        assert!(!gate.open());
        // It asked to be woken once the backlog is below the window again.
        assert_eq!(credit.wake_at.load(Ordering::SeqCst), 51);
        credit.add(50);
        assert_eq!(credit.wake_at.load(Ordering::SeqCst), 51);
        credit.add(1);
        assert_eq!(credit.wake_at.load(Ordering::SeqCst), u64::MAX);
        // The wake-up is stored for the next waiter.
        let notified = credit.notify.notified();
        let waker = futures_util::task::noop_waker();
        let mut notified = std::pin::pin!(notified);
        assert!(
            notified
                .as_mut()
                .poll(&mut std::task::Context::from_waker(&waker))
                .is_ready()
        );
        assert!(gate.open());
        // A stall: nothing arrives for STALL, the backlog is written off, and taken back
        // when it arrives after all.
        gate.expected = 251;
        assert!(!gate.open());
        gate.last_progress = Instant::now() - STALL;
        assert!(gate.open());
        assert_eq!((gate.stalls, gate.forgiven), (1, 200));
        credit.add(200);
        assert!(gate.open());
        assert_eq!(gate.forgiven, 0);
    }

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
