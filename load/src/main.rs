//! `sio-load`: a load generator that speaks Socket.IO v5 (Engine.IO v4 over WebSocket, JSON
//! parser) itself, for `sio-node` and the comparison peers.
//!
//! Scenarios: `connect` (handshake latency, RSS per idle connection), `fanout` (rooms,
//! publishers at a fixed rate: deliveries/s, end-to-end latency, loss and duplicates), `echo`
//! (acked calls at a fixed rate: round-trip latency), `cross-node` (the fan-out across nodes
//! against the same on one node). Every run is bounded in count and time and stops by itself; it
//! reports the generator's own CPU time and the CPU time and RSS of the `--server-pid`s.
//! `summarize` turns the JSON reports of several runs into one markdown table.

mod caller;
mod client;
mod connect;
mod echo;
mod fanout;
mod polling;
mod raw;
mod report;
mod stats;
mod summarize;

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use serde_json::{Value, json};

/// Command line.
#[derive(Debug, Parser)]
#[command(name = "sio-load", version, about = "Socket.IO v5 load generator")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Opens N connections at rate R, holds them (answering pings): handshake latency,
    /// failures, server RSS per connection.
    Connect(connect::ConnectArgs),
    /// Subscribers in rooms, publishers publishing at a fixed rate: deliveries/s, end-to-end
    /// latency, loss and duplicates, server CPU per delivery.
    Fanout(fanout::FanoutArgs),
    /// Acked `echo` calls at a fixed total rate: round-trip latency, server CPU per call.
    Echo(echo::EchoArgs),
    /// The fan-out with publishers on the first target and subscribers on the others, against
    /// the same run with everything on the first target: what the cluster adds.
    CrossNode(fanout::FanoutArgs),
    /// Reads JSON reports and writes one markdown table per scenario, with ratios.
    Summarize(summarize::SummarizeArgs),
}

/// Options of every load scenario.
#[derive(Debug, Clone, Args)]
pub(crate) struct Common {
    /// Servers: `host:port`, `http://host:port[/path/]` or `ws://...` (loopback only);
    /// comma-separated or repeated. Connections are spread over them in turn.
    #[arg(
        long = "target",
        value_delimiter = ',',
        default_value = "127.0.0.1:3000"
    )]
    pub(crate) targets: Vec<String>,
    /// Source addresses to bind client sockets to, in turn (e.g. 127.0.0.1,127.0.0.2: each
    /// gives another ~28k ephemeral ports). Default: let the kernel choose.
    #[arg(long, value_delimiter = ',')]
    pub(crate) source_ips: Vec<IpAddr>,
    /// Server process ids whose CPU time and RSS are reported (comma-separated or repeated).
    #[arg(long = "server-pid", value_delimiter = ',')]
    pub(crate) server_pids: Vec<u32>,
    /// Worker threads of the generator's runtime (default: the CPUs this process may use).
    #[arg(long, default_value_t = 0)]
    pub(crate) threads: usize,
    /// Writes the report as JSON to this file.
    #[arg(long)]
    pub(crate) json: Option<PathBuf>,
    /// Draws the latency distribution as an SVG to this file.
    #[arg(long)]
    pub(crate) svg: Option<PathBuf>,
    /// A name for the server under test, kept in the JSON (compare tables group by it).
    #[arg(long, default_value = "")]
    pub(crate) label: String,
    /// No progress bar and no phase lines.
    #[arg(long, short)]
    pub(crate) quiet: bool,
    /// Longest time one connection's handshake may take, in seconds.
    #[arg(long, default_value_t = 10.0)]
    pub(crate) connect_timeout: f64,
    /// Microseconds a generator thread sleeps each time it runs out of work, before it waits
    /// for the sockets: one wake-up then serves every socket that became readable meanwhile
    /// instead of one or two (a wake-up costs several µs on a VM). Adds up to this much to the
    /// measured latencies. Default: 500 for `fanout --saturate` (whose latencies are queueing
    /// anyway), 0 (never sleeps) otherwise.
    #[arg(long)]
    pub(crate) nap_us: Option<u64>,
    /// The Engine.IO transport of the clients: `websocket`, or `polling` (HTTP long-polling,
    /// two keep-alive connections per client). The fan-out's subscribers always use WebSocket.
    #[arg(long, value_enum, default_value_t = client::Transport::Websocket)]
    pub(crate) transport: client::Transport,
    /// With `--transport polling`: after the handshake on the target, send every GET and POST
    /// of the session to this address instead (another node of a cluster with session
    /// forwarding, which forwards them to the session's node). Loopback only.
    #[arg(long)]
    pub(crate) poll_via: Option<String>,
}

impl Common {
    /// The parsed targets.
    pub(crate) fn targets(&self) -> anyhow::Result<Vec<client::Target>> {
        client::check_sources(&self.source_ips)?;
        let poll_via = match &self.poll_via {
            Some(via) => Some(client::Target::parse(via)?.addr),
            None => None,
        };
        let targets: Vec<_> = self
            .targets
            .iter()
            .map(|t| {
                client::Target::parse(t).map(|mut target| {
                    target.transport = self.transport;
                    target.poll_via = poll_via;
                    target
                })
            })
            .collect::<anyhow::Result<_>>()?;
        anyhow::ensure!(!targets.is_empty(), "no --target");
        Ok(targets)
    }

    /// The source address of connection `i`.
    pub(crate) fn source(&self, i: usize) -> Option<IpAddr> {
        (!self.source_ips.is_empty()).then(|| self.source_ips[i % self.source_ips.len()])
    }

    /// The handshake timeout.
    pub(crate) fn connect_timeout(&self) -> Duration {
        Duration::from_secs_f64(self.connect_timeout.max(0.1))
    }

    /// The worker threads the runtime runs.
    pub(crate) fn worker_threads(&self) -> usize {
        if self.threads > 0 {
            self.threads
        } else {
            std::thread::available_parallelism().map_or(1, usize::from)
        }
    }

    /// The part of every JSON report that describes the run.
    pub(crate) fn json(&self, scenario: &str, mut config: Value) -> Value {
        // Recorded (and so grouped apart by `summarize`) only when not the default.
        if self.transport == client::Transport::Polling {
            config["transport"] = json!("polling");
        }
        if let Some(via) = &self.poll_via {
            config["poll_via"] = json!(via);
        }
        json!({
            "scenario": scenario,
            "label": self.label,
            "targets": self.targets,
            "source_ips": self.source_ips,
            "server_pids": self.server_pids,
            "generator_threads": self.worker_threads(),
            "unix_time": std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            "config": config,
        })
    }

    /// Writes the JSON report and the SVG, when asked for.
    pub(crate) fn write(
        &self,
        report: &Value,
        title: &str,
        series: &[(&str, &hdrhistogram::Histogram<u64>)],
    ) -> anyhow::Result<()> {
        if let Some(path) = &self.json {
            report::write_json(path, report)?;
            report::phase(self.quiet, &format!("wrote {}", path.display()));
        }
        if let Some(path) = &self.svg {
            report::write_svg(path, title, series)?;
            report::phase(self.quiet, &format!("wrote {}", path.display()));
        }
        Ok(())
    }
}

/// Failed connection attempts and other errors, counted by kind.
#[derive(Debug, Default, Clone)]
pub(crate) struct Failures(Arc<Mutex<std::collections::BTreeMap<String, u64>>>);

impl Failures {
    /// Counts one failure of `kind`.
    pub(crate) fn add(&self, kind: String) {
        *self
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(kind)
            .or_default() += 1;
    }

    /// Counts a failed connection attempt.
    pub(crate) fn open(&self, err: &client::OpenError) {
        self.add(format!("{}: {}", err.stage.as_str(), err.reason));
    }

    /// The total.
    pub(crate) fn total(&self) -> u64 {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .sum()
    }

    /// As JSON: kind → count.
    pub(crate) fn json(&self) -> Value {
        json!(*self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Adds rows for each kind to a table.
    pub(crate) fn rows(&self, table: &mut report::Table) {
        for (kind, n) in self.0.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            table.row("  failure", format!("{n} × {kind}"));
        }
    }
}

/// Sleeps until the `i`-th of a sequence paced at `rate` per second from `start` (no wait when
/// `rate` is 0 or less).
pub(crate) async fn pace(start: tokio::time::Instant, i: usize, rate: f64) {
    if rate > 0.0 {
        tokio::time::sleep_until(start + Duration::from_secs_f64(i as f64 / rate)).await;
    }
}

/// Waits until `settled` counts `n` connections (opened or failed) or `within` has passed,
/// calling `progress` every `every` meanwhile.
pub(crate) async fn wait_settled(
    settled: &std::sync::atomic::AtomicU64,
    n: usize,
    within: Duration,
    every: Duration,
    mut progress: impl FnMut(),
) {
    let deadline = tokio::time::Instant::now() + within;
    while (settled.load(std::sync::atomic::Ordering::Relaxed) as usize) < n
        && tokio::time::Instant::now() < deadline
    {
        progress();
        tokio::time::sleep(every).await;
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let (common, saturate) = match &cli.command {
        Command::Connect(a) => (&a.common, false),
        Command::Fanout(a) | Command::CrossNode(a) => (&a.common, a.saturate),
        Command::Echo(a) => (&a.common, false),
        Command::Summarize(a) => return summarize::run(a),
    };
    // Start the clock of message timestamps before anything is sent.
    let _ = stats::now_ns();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.worker_threads(common.worker_threads()).enable_all();
    let nap_us = common.nap_us.unwrap_or(if saturate { 500 } else { 0 });
    if nap_us > 0 {
        let nap = Duration::from_micros(nap_us);
        builder.on_thread_park(move || std::thread::sleep(nap));
    }
    let runtime = builder.build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Connect(args) => connect::run(args).await,
            Command::Fanout(args) => fanout::run(args).await,
            Command::Echo(args) => echo::run(args).await,
            Command::CrossNode(args) => fanout::run_cross_node(args).await,
            Command::Summarize(_) => Ok(()),
        }
    })
}
