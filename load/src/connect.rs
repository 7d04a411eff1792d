//! `connect`: open N connections at rate R, hold them, and measure what each costs the servers.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Args;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

use crate::client::{self, Packet, Target};
use crate::report::{self, Table};
use crate::stats::{self, Usage, round2};
use crate::{Common, Failures, pace, wait_settled};

/// Flags of `connect`.
#[derive(Debug, Clone, Args)]
pub(crate) struct ConnectArgs {
    #[command(flatten)]
    pub(crate) common: Common,
    /// Connections to open.
    #[arg(long, short = 'n', default_value_t = 1000)]
    connections: usize,
    /// Connections opened per second (0: as fast as possible).
    #[arg(long, default_value_t = 1000.0)]
    rate: f64,
    /// Seconds to hold them open once every attempt has settled (pings are answered).
    #[arg(long, default_value_t = 10.0)]
    hold: f64,
}

#[derive(Debug, Default)]
struct Shared {
    settled: AtomicU64,
    opened: AtomicU64,
    closed_early: AtomicU64,
    pings: AtomicU64,
}

/// Runs the scenario.
pub(crate) async fn run(args: ConnectArgs) -> anyhow::Result<()> {
    let common = &args.common;
    let targets = Arc::new(common.targets()?);
    let n = args.connections;
    let quiet = common.quiet;
    let shared = Arc::new(Shared::default());
    let alive_per_target: Arc<Vec<AtomicU64>> =
        Arc::new(targets.iter().map(|_| AtomicU64::new(0)).collect());
    let failures = Failures::default();
    let handshakes = stats::Shards::new(16);
    let (stop_tx, stop_rx) = watch::channel(false);

    let before = stats::snapshot(&common.server_pids);
    report::phase(
        quiet,
        &format!(
            "opening {n} connections at {}/s to {} target(s) from {} source address(es)",
            args.rate,
            targets.len(),
            common.source_ips.len().max(1)
        ),
    );
    let bar = report::bar(quiet, n as u64, "connect");
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(n);
    for i in 0..n {
        pace(start, i, args.rate).await;
        if i % 64 == 0 {
            update_bar(&bar, &shared);
        }
        let t = i % targets.len();
        tasks.push(tokio::spawn(connection(
            targets.clone(),
            t,
            common.source(i),
            common.connect_timeout(),
            handshakes.clone(),
            i,
            shared.clone(),
            alive_per_target.clone(),
            failures.clone(),
            stop_rx.clone(),
        )));
    }
    // Every attempt settles within the connect timeout.
    wait_settled(
        &shared.settled,
        n,
        common.connect_timeout() + Duration::from_secs(1),
        Duration::from_millis(50),
        || update_bar(&bar, &shared),
    )
    .await;
    update_bar(&bar, &shared);
    bar.finish_and_clear();
    let connect_wall = start.elapsed();
    let connected = stats::snapshot(&common.server_pids);
    report::phase(
        quiet,
        &format!(
            "{} open, {} failed in {:.1} s; holding for {} s",
            shared.opened.load(Ordering::Relaxed),
            failures.total(),
            connect_wall.as_secs_f64(),
            args.hold
        ),
    );
    let hold = Duration::from_secs_f64(args.hold.max(0.0));
    let bar = report::bar(quiet, hold.as_secs().max(1), "hold");
    let hold_start = Instant::now();
    while hold_start.elapsed() < hold {
        bar.set_position(hold_start.elapsed().as_secs());
        bar.set_message(format!(
            "{} alive",
            shared.opened.load(Ordering::Relaxed) - shared.closed_early.load(Ordering::Relaxed)
        ));
        tokio::time::sleep(
            Duration::from_millis(200).min(hold.saturating_sub(hold_start.elapsed())),
        )
        .await;
    }
    bar.finish_and_clear();
    let after = stats::snapshot(&common.server_pids);
    let opened = shared.opened.load(Ordering::Relaxed);
    let closed_early = shared.closed_early.load(Ordering::Relaxed);
    let alive = opened - closed_early;
    let _ = stop_tx.send(true);
    for task in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    }
    let hist = handshakes.merged();

    // Memory: RSS from before opening to the end of the hold, per connection still open.
    let whole = Usage::between(&before, &after);
    let setup = Usage::between(&before, &connected);
    let idle = Usage::between(&connected, &after);
    let per_server: Vec<_> = whole
        .servers
        .iter()
        .enumerate()
        .map(|(k, (pid, _, rss0, rss1))| {
            // Connections are spread over the targets in turn: with one pid per target (in
            // the same order), each server's share is known.
            let conns = if common.server_pids.len() == targets.len() {
                alive_per_target[k].load(Ordering::Relaxed)
            } else {
                alive / whole.servers.len().max(1) as u64
            };
            let delta = match (rss0, rss1) {
                (Some(a), Some(b)) => Some(b.saturating_sub(*a)),
                _ => None,
            };
            json!({
                "pid": pid,
                "rss_before_kib": rss0,
                "rss_after_kib": rss1,
                "rss_delta_kib": delta,
                "connections": conns,
                "rss_per_connection_bytes": delta.filter(|_| conns > 0).map(|d| round2(d as f64 * 1024.0 / conns as f64)),
            })
        })
        .collect();
    let rss_delta_total: Option<u64> = whole
        .servers
        .iter()
        .map(|(_, _, a, b)| Some(b.as_ref()?.saturating_sub(*a.as_ref()?)))
        .sum();
    let rss_per_conn = rss_delta_total
        .filter(|_| alive > 0)
        .map(|d| round2(d as f64 * 1024.0 / alive as f64));
    let threads = common.worker_threads();
    let report = {
        let mut r = common.json(
            "connect",
            json!({ "connections": n, "rate": args.rate, "hold_s": args.hold }),
        );
        r["results"] = json!({
            "requested": n,
            "opened": opened,
            "failed": failures.total(),
            "failures": failures.json(),
            "closed_during_hold": closed_early,
            "alive_at_end": alive,
            "pings_answered": shared.pings.load(Ordering::Relaxed),
            "connect_wall_s": round2(connect_wall.as_secs_f64()),
            "connect_rate_achieved": round2(opened as f64 / connect_wall.as_secs_f64().max(1e-9)),
            "handshake": stats::latency_json(&hist),
            "rss_delta_kib": rss_delta_total,
            "rss_per_connection_bytes": rss_per_conn,
            "servers": per_server,
            "server_cpu_us_per_handshake": setup.server_us_per(opened),
            "server_idle_cpu_us_per_connection_s": idle.server_cpu_s.filter(|_| alive > 0)
                .map(|c| round2(c * 1e6 / (alive as f64 * idle.wall_s.max(1e-9)))),
            "generator_rss_kib": stats::rss_kib("self"),
        });
        r["usage"] = json!({
            "connect": setup.json(threads),
            "hold": idle.json(threads),
        });
        r
    };

    let mut table = Table::default();
    table.row("targets", common.targets.join(", "));
    table.row(
        "connections",
        format!("{opened} opened of {n}, {} failed, {closed_early} closed during hold, {alive} alive at end", failures.total()),
    );
    failures.rows(&mut table);
    table.row(
        "connect phase",
        format!(
            "{:.1} s ({:.0}/s achieved)",
            connect_wall.as_secs_f64(),
            opened as f64 / connect_wall.as_secs_f64().max(1e-9)
        ),
    );
    table.latency("handshake", &hist);
    table.row("pings answered", shared.pings.load(Ordering::Relaxed));
    for s in &report["results"]["servers"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        table.row(
            &format!("server {}", s["pid"]),
            format!(
                "RSS {} → {} KiB, {} bytes/connection over {} connections",
                s["rss_before_kib"],
                s["rss_after_kib"],
                s["rss_per_connection_bytes"],
                s["connections"]
            ),
        );
    }
    if let Some(b) = rss_per_conn {
        table.row(
            "RSS per connection",
            format!("{b:.0} bytes ({:.2} KiB), all servers", b / 1024.0),
        );
    }
    if let Some(us) = setup.server_us_per(opened) {
        table.row(
            "server CPU",
            format!("{us:.1} µs per handshake (connect phase)"),
        );
    }
    if let Some(v) = report["results"]["server_idle_cpu_us_per_connection_s"].as_f64() {
        table.row(
            "server idle CPU",
            format!("{v:.3} µs per connection-second (hold)"),
        );
    }
    table.row(
        "generator",
        format!(
            "{:.2} s CPU in connect phase ({:.0}% of {threads} thread(s)), RSS {} KiB",
            setup.own_cpu_s,
            setup.own_load(threads) * 100.0,
            stats::rss_kib("self").unwrap_or(0)
        ),
    );
    table.print(&format!(
        "connect ({})",
        if common.label.is_empty() {
            "-"
        } else {
            &common.label
        }
    ));
    common.write(
        &report,
        "handshake latency (connect)",
        &[("handshake", &hist)],
    )
}

fn update_bar(bar: &indicatif::ProgressBar, shared: &Shared) {
    let settled = shared.settled.load(Ordering::Relaxed);
    let opened = shared.opened.load(Ordering::Relaxed);
    bar.set_position(settled);
    bar.set_message(format!("{opened} open, {} failed", settled - opened));
}

#[allow(clippy::too_many_arguments)]
async fn connection(
    targets: Arc<Vec<Target>>,
    t: usize,
    source: Option<std::net::IpAddr>,
    timeout: Duration,
    handshakes: Arc<stats::Shards>,
    i: usize,
    shared: Arc<Shared>,
    alive_per_target: Arc<Vec<AtomicU64>>,
    failures: Failures,
    mut stop: watch::Receiver<bool>,
) {
    let t0 = Instant::now();
    let result = client::open(&targets[t], source, timeout).await;
    let mut ws = match result {
        Ok(ws) => {
            handshakes.record_one(i, t0.elapsed());
            shared.opened.fetch_add(1, Ordering::Relaxed);
            alive_per_target[t].fetch_add(1, Ordering::Relaxed);
            shared.settled.fetch_add(1, Ordering::Relaxed);
            ws
        }
        Err(err) => {
            failures.open(&err);
            shared.settled.fetch_add(1, Ordering::Relaxed);
            return;
        }
    };
    let mut stopped = std::pin::pin!(async move {
        let _ = stop.changed().await;
    });
    loop {
        tokio::select! {
            () = &mut stopped => return,
            msg = ws.next() => match msg {
                Some(Ok(Message::Text(text))) => {
                    if client::parse(&text) == Packet::Ping {
                        shared.pings.fetch_add(1, Ordering::Relaxed);
                        if ws.send(client::text_static("3")).await.is_err() {
                            break;
                        }
                    }
                }
                Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                Some(Ok(_)) => {}
            },
        }
    }
    shared.closed_early.fetch_add(1, Ordering::Relaxed);
    alive_per_target[t].fetch_sub(1, Ordering::Relaxed);
}
