//! `echo`: C connections calling `echo` with an ack at a fixed total rate; the round trip of
//! each call, from just before its frame is written to its ack's arrival.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use clap::Args;
use serde_json::json;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::caller::{self, Calls, Pacing, Plan, Times};
use crate::client::{self, Target};
use crate::report::{self, Table};
use crate::stats::{self, Counter, Recorder, Shards, Usage, round2};
use crate::{Common, Failures, pace, wait_settled};

/// Flags of `echo`.
#[derive(Debug, Clone, Args)]
pub(crate) struct EchoArgs {
    #[command(flatten)]
    pub(crate) common: Common,
    /// Connections.
    #[arg(long, short = 'c', default_value_t = 50)]
    connections: usize,
    /// Calls per second, all connections together.
    #[arg(long, default_value_t = 5000.0)]
    rate: f64,
    /// Seconds of calls, warm-up included.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Seconds at the start whose calls are not measured.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Longest wait, in seconds, for the last acks.
    #[arg(long, default_value_t = 3.0)]
    drain: f64,
    /// Size of the string each call sends (and gets back).
    #[arg(long, default_value_t = 16)]
    payload_bytes: usize,
    /// Connections opened per second while setting up.
    #[arg(long, default_value_t = 2000.0)]
    connect_rate: f64,
    /// Unanswered calls one connection may have; a call due beyond that is skipped (counted).
    #[arg(long, default_value_t = 256)]
    max_inflight: u64,
}

#[derive(Debug)]
struct Ctx {
    settled: AtomicU64,
    ready: AtomicU64,
    completed: Counter,
    failures: Failures,
}

#[derive(Debug, Default)]
struct ConnResult {
    sent: u64,
    completed: u64,
    skipped: u64,
    mismatched: u64,
    unanswered: u64,
    disconnected: bool,
}

/// Runs the scenario.
pub(crate) async fn run(args: EchoArgs) -> anyhow::Result<()> {
    let common = &args.common;
    let quiet = common.quiet;
    let targets = Arc::new(common.targets()?);
    anyhow::ensure!(
        args.connections > 0 && args.rate > 0.0,
        "--connections and --rate must be positive"
    );
    anyhow::ensure!(
        args.duration > args.warmup,
        "--duration must exceed --warmup"
    );
    let ctx = Arc::new(Ctx {
        settled: AtomicU64::new(0),
        ready: AtomicU64::new(0),
        completed: Counter::new(),
        failures: Failures::default(),
    });
    let latency = Shards::new(common.worker_threads() * 2);
    let (start_tx, start_rx) = watch::channel(None::<Times>);
    let (stop_tx, stop_rx) = watch::channel(false);
    let payload: Arc<str> = Arc::from("x".repeat(args.payload_bytes));
    let period = Duration::from_secs_f64(args.connections as f64 / args.rate);

    report::phase(quiet, &format!("opening {} connections", args.connections));
    let setup_start = Instant::now();
    let mut tasks = Vec::with_capacity(args.connections);
    for i in 0..args.connections {
        pace(setup_start, i, args.connect_rate).await;
        tasks.push(tokio::spawn(caller(
            i,
            args.connections,
            targets.clone(),
            i % targets.len(),
            common.source(i),
            common.connect_timeout(),
            ctx.clone(),
            period,
            args.max_inflight,
            payload.clone(),
            latency.recorder(i),
            start_rx.clone(),
            stop_rx.clone(),
        )));
    }
    wait_settled(
        &ctx.settled,
        args.connections,
        common.connect_timeout() + Duration::from_secs(1),
        Duration::from_millis(20),
        || {},
    )
    .await;
    let ready = ctx.ready.load(Ordering::Relaxed);
    anyhow::ensure!(ready > 0, "no connection opened: {}", ctx.failures.json());
    report::phase(
        quiet,
        &format!(
            "{ready}/{} connected; calling echo {}/s for {} s",
            args.connections, args.rate, args.duration
        ),
    );

    let t0 = Instant::now() + Duration::from_millis(200);
    let warm_end = t0 + Duration::from_secs_f64(args.warmup);
    let end = t0 + Duration::from_secs_f64(args.duration);
    let _ = start_tx.send(Some((t0, warm_end, end)));
    let bar = report::bar(quiet, (args.duration * 10.0) as u64, "echo");
    let mut before = None;
    let mut last = (Instant::now(), ctx.completed.sum());
    loop {
        let now = Instant::now();
        if now >= end {
            break;
        }
        if before.is_none() && now >= warm_end {
            before = Some(stats::snapshot(&common.server_pids));
        }
        tokio::time::sleep(Duration::from_millis(100).min(end - now)).await;
        let dt = last.0.elapsed().as_secs_f64();
        if dt >= 0.5 {
            let c = ctx.completed.sum();
            bar.set_message(format!("{:.0} calls/s", (c - last.1) as f64 / dt));
            last = (Instant::now(), c);
        }
        bar.set_position((now.saturating_duration_since(t0).as_secs_f64() * 10.0) as u64);
    }
    bar.finish_and_clear();
    let before = before.unwrap_or_else(|| stats::snapshot(&common.server_pids));
    let drain_end = Instant::now() + Duration::from_secs_f64(args.drain.max(0.0));
    let mut totals = ConnResult::default();
    let mut disconnected = 0u64;
    let mut after = None;
    for task in tasks {
        let left = drain_end.saturating_duration_since(Instant::now()) + Duration::from_millis(500);
        match tokio::time::timeout(left, task).await {
            Ok(Ok(r)) => {
                totals.sent += r.sent;
                totals.completed += r.completed;
                totals.skipped += r.skipped;
                totals.mismatched += r.mismatched;
                totals.unanswered += r.unanswered;
                disconnected += u64::from(r.disconnected);
            }
            Ok(Err(_)) => ctx.failures.add("task panicked".into()),
            Err(_) => {
                if after.is_none() {
                    after = Some(stats::snapshot(&common.server_pids));
                }
                let _ = stop_tx.send(true);
                ctx.failures
                    .add("connection did not finish its calls by the drain deadline".into());
            }
        }
    }
    let after = after.unwrap_or_else(|| stats::snapshot(&common.server_pids));
    let _ = stop_tx.send(true);
    let hist = latency.merged();
    let usage = Usage::between(&before, &after);
    let threads = common.worker_threads();
    let window = args.duration - args.warmup;
    let measured = hist.len();
    let calls_per_s = measured as f64 / window;
    let server_us = usage.server_us_per(measured);

    let mut report = common.json(
        "echo",
        json!({
            "connections": args.connections,
            "rate": args.rate,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "payload_bytes": args.payload_bytes,
            "max_inflight": args.max_inflight,
        }),
    );
    report["results"] = json!({
        "connected": ready,
        "sent": totals.sent,
        "completed": totals.completed,
        "skipped_inflight_limit": totals.skipped,
        "unanswered": totals.unanswered,
        "mismatched_replies": totals.mismatched,
        "disconnected": disconnected,
        "calls_per_s": round2(calls_per_s),
        "measured_calls": measured,
        "latency": stats::latency_json(&hist),
        "server_cpu_us_per_call": server_us,
        "failures": ctx.failures.json(),
    });
    report["usage"] = usage.json(threads);

    let mut table = Table::default();
    table.row("targets", common.targets.join(", "));
    table.row("connections", format!("{ready} of {}", args.connections));
    ctx.failures.rows(&mut table);
    table.row(
        "calls",
        format!(
            "{} sent, {} answered, {} unanswered, {} wrong replies, {} skipped at the in-flight limit, {disconnected} disconnected",
            totals.sent, totals.completed, totals.unanswered, totals.mismatched, totals.skipped
        ),
    );
    table.row(
        "rate",
        format!(
            "{calls_per_s:.0} calls/s measured over {window:.1} s ({} offered)",
            args.rate
        ),
    );
    table.latency("round trip", &hist);
    table.usage(
        &usage,
        server_us.map(|us| format!("{us:.2} µs per call")),
        threads,
    );
    table.print(&format!(
        "echo ({})",
        if common.label.is_empty() {
            "-"
        } else {
            &common.label
        }
    ));
    common.write(&report, "echo round-trip latency", &[("echo ack", &hist)])
}

/// The `echo` calls: a fixed payload, the reply must repeat it.
struct Echo<'a> {
    i: usize,
    ctx: &'a Ctx,
    payload: &'a str,
    expected: String,
    mismatched: u64,
}

impl Calls for Echo<'_> {
    fn write(&mut self, id: u64, _now_ns: u64, _measured: bool, out: &mut String) {
        let _ = write!(out, r#"42{id}["echo","{}"]"#, self.payload);
    }

    fn answered(&mut self, args: &str, matched: bool) {
        if matched {
            self.ctx.completed.add(self.i, 1);
        }
        if args != self.expected {
            self.mismatched += 1;
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn caller(
    i: usize,
    n: usize,
    targets: Arc<Vec<Target>>,
    t: usize,
    source: Option<std::net::IpAddr>,
    timeout: Duration,
    ctx: Arc<Ctx>,
    period: Duration,
    max_inflight: u64,
    payload: Arc<str>,
    mut rec: Recorder,
    mut start: watch::Receiver<Option<Times>>,
    mut stop: watch::Receiver<bool>,
) -> ConnResult {
    let mut r = ConnResult::default();
    let mut ws = match client::open(&targets[t], source, timeout).await {
        Ok(ws) => ws,
        Err(err) => {
            ctx.failures.open(&err);
            ctx.settled.fetch_add(1, Ordering::Relaxed);
            return r;
        }
    };
    ctx.ready.fetch_add(1, Ordering::Relaxed);
    ctx.settled.fetch_add(1, Ordering::Relaxed);
    let mut stopped = std::pin::pin!(async move {
        let _ = stop.changed().await;
    });
    let Some((t0, warm_end, end)) = caller::wait_start(&mut ws, &mut start, stopped.as_mut()).await
    else {
        r.disconnected = true;
        return r;
    };
    let plan = Plan {
        // Stagger the connections over one period so the calls spread evenly in time.
        pacing: Pacing::Rate {
            first: t0 + period.mul_f64(i as f64 / n as f64),
            period,
        },
        warm_end,
        end,
        max_inflight,
    };
    let mut echo = Echo {
        i,
        ctx: &ctx,
        payload: &payload,
        expected: format!("[\"{payload}\"]"),
        mismatched: 0,
    };
    let tally = caller::run(&mut ws, &mut echo, &plan, &mut rec, stopped).await;
    r.sent = tally.sent;
    r.completed = tally.completed;
    r.skipped = tally.skipped;
    r.unanswered = tally.unanswered;
    r.disconnected = tally.disconnected;
    r.mismatched = echo.mismatched;
    r
}
