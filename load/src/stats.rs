//! Measuring: a shared clock, latency histograms that connection tasks feed in batches, sharded
//! counters, and the CPU time and memory of processes read from `/proc`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use hdrhistogram::Histogram;
use serde_json::{Value, json};

/// Nanoseconds since the generator started: the clock of message timestamps (publishers and
/// subscribers live in the same process, so one monotonic clock serves both ends).
pub(crate) fn now_ns() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    u64::try_from(START.get_or_init(Instant::now).elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// A latency histogram in nanoseconds: 1 ns .. 120 s, 3 significant digits.
pub(crate) fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 120_000_000_000, 3).expect("valid constant bounds")
}

/// Histograms shared by many connection tasks: each task records into a small local buffer and
/// adds it to one of a few locked shards when full, so recording costs no lock per sample.
#[derive(Debug)]
pub(crate) struct Shards {
    shards: Vec<Mutex<Histogram<u64>>>,
}

impl Shards {
    /// `n` shards (at least one).
    pub(crate) fn new(n: usize) -> Arc<Shards> {
        Arc::new(Shards {
            shards: (0..n.max(1)).map(|_| Mutex::new(histogram())).collect(),
        })
    }

    /// A recorder for the task numbered `i`.
    pub(crate) fn recorder(self: &Arc<Self>, i: usize) -> Recorder {
        Recorder {
            buf: Vec::with_capacity(RECORD_BATCH),
            shards: self.clone(),
            shard: i % self.shards.len(),
        }
    }

    /// Records one duration directly (for rare samples, such as one handshake per task).
    pub(crate) fn record_one(&self, i: usize, d: std::time::Duration) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX).max(1);
        self.shards[i % self.shards.len()]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .saturating_record(ns);
    }

    /// Every sample recorded so far (recorders flush when dropped).
    pub(crate) fn merged(&self) -> Histogram<u64> {
        let mut all = histogram();
        for shard in &self.shards {
            let h = shard.lock().unwrap_or_else(|e| e.into_inner());
            let _ = all.add(&*h);
        }
        all
    }
}

const RECORD_BATCH: usize = 256;

/// A connection task's handle on [`Shards`].
#[derive(Debug)]
pub(crate) struct Recorder {
    buf: Vec<u64>,
    shards: Arc<Shards>,
    shard: usize,
}

impl Recorder {
    /// Records one latency in nanoseconds.
    pub(crate) fn record(&mut self, ns: u64) {
        self.buf.push(ns.max(1));
        if self.buf.len() == RECORD_BATCH {
            self.flush();
        }
    }

    /// Adds the buffered samples to the shared histogram.
    pub(crate) fn flush(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let mut h = self.shards.shards[self.shard]
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        for &v in &self.buf {
            h.saturating_record(v);
        }
        self.buf.clear();
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.flush();
    }
}

/// A counter many tasks add to: one cache line per cell, a task picks its cell by number.
#[derive(Debug)]
pub(crate) struct Counter {
    cells: Box<[Cell]>,
}

#[derive(Debug, Default)]
#[repr(align(64))]
struct Cell(AtomicU64);

impl Counter {
    /// A counter at zero.
    pub(crate) fn new() -> Counter {
        Counter {
            cells: (0..32).map(|_| Cell::default()).collect(),
        }
    }

    /// Adds `v` through the cell of task `i`.
    pub(crate) fn add(&self, i: usize, v: u64) {
        self.cells[i % self.cells.len()]
            .0
            .fetch_add(v, Ordering::Relaxed);
    }

    /// The total.
    pub(crate) fn sum(&self) -> u64 {
        self.cells.iter().map(|c| c.0.load(Ordering::Relaxed)).sum()
    }
}

/// Latency percentiles in microseconds, for reports.
pub(crate) fn latency_json(h: &Histogram<u64>) -> Value {
    let us = |ns: u64| (ns as f64 / 100.0).round() / 10.0;
    if h.is_empty() {
        return json!({ "count": 0 });
    }
    json!({
        "count": h.len(),
        "mean_us": (h.mean() / 100.0).round() / 10.0,
        "p50_us": us(h.value_at_quantile(0.50)),
        "p90_us": us(h.value_at_quantile(0.90)),
        "p99_us": us(h.value_at_quantile(0.99)),
        "p999_us": us(h.value_at_quantile(0.999)),
        "max_us": us(h.max()),
        // The percentile curve (decades of 1/(1-q), µs) that `summarize --svg-dir` plots.
        "curve": crate::report::Curve::of(h, 50)
            .points
            .iter()
            .map(|&(d, ms)| json!([(d * 100.0).round() / 100.0, (ms * 10_000.0).round() / 10.0]))
            .collect::<Vec<_>>(),
    })
}

/// Clock ticks per second of `/proc/<pid>/stat` times (`USER_HZ`, 100 on every Linux ABI).
const USER_HZ: f64 = 100.0;

/// User + system CPU seconds of a process (all its threads), from `/proc/<pid>/stat`;
/// `pid` may be `self`.
pub(crate) fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields start after the last `)`.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split_ascii_whitespace();
    // After the name: state(3) ppid ... utime is field 14, stime 15 (1-based, name = 2).
    let utime: f64 = fields.nth(11)?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    Some((utime + stime) / USER_HZ)
}

/// Resident set size in KiB (`VmRSS` of `/proc/<pid>/status`).
pub(crate) fn rss_kib(pid: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// CPU time and RSS of a set of processes (the servers under test), at one moment.
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    at: Instant,
    procs: Vec<(u32, Option<f64>, Option<u64>)>,
    own_cpu: f64,
}

/// Takes a [`Snapshot`] of `pids` and of the generator itself.
pub(crate) fn snapshot(pids: &[u32]) -> Snapshot {
    Snapshot {
        at: Instant::now(),
        procs: pids
            .iter()
            .map(|&p| (p, cpu_seconds(&p.to_string()), rss_kib(&p.to_string())))
            .collect(),
        own_cpu: cpu_seconds("self").unwrap_or(0.0),
    }
}

/// One server between two snapshots: pid, CPU seconds, RSS before and after (KiB).
pub(crate) type ServerUsage = (u32, Option<f64>, Option<u64>, Option<u64>);

/// What happened between two snapshots.
#[derive(Debug, Clone)]
pub(crate) struct Usage {
    /// Wall-clock seconds.
    pub(crate) wall_s: f64,
    /// CPU seconds of all servers together (`None` without pids or when one was unreadable).
    pub(crate) server_cpu_s: Option<f64>,
    /// Per server: pid, CPU seconds, RSS before and after (KiB).
    pub(crate) servers: Vec<ServerUsage>,
    /// The generator's CPU seconds.
    pub(crate) own_cpu_s: f64,
}

impl Usage {
    /// From `a` to `b`.
    pub(crate) fn between(a: &Snapshot, b: &Snapshot) -> Usage {
        let servers: Vec<_> = a
            .procs
            .iter()
            .zip(&b.procs)
            .map(|(x, y)| {
                let cpu = match (x.1, y.1) {
                    (Some(p), Some(q)) => Some(q - p),
                    _ => None,
                };
                (x.0, cpu, x.2, y.2)
            })
            .collect();
        let server_cpu_s = if servers.is_empty() {
            None
        } else {
            servers.iter().map(|s| s.1).sum::<Option<f64>>()
        };
        Usage {
            wall_s: b.at.duration_since(a.at).as_secs_f64(),
            server_cpu_s,
            servers,
            own_cpu_s: b.own_cpu - a.own_cpu,
        }
    }

    /// Server CPU microseconds per operation.
    pub(crate) fn server_us_per(&self, ops: u64) -> Option<f64> {
        let cpu = self.server_cpu_s?;
        (ops > 0).then(|| round2(cpu * 1e6 / ops as f64))
    }

    /// The generator's CPU use as a share of the cores its runtime may use (1.0: all busy).
    pub(crate) fn own_load(&self, threads: usize) -> f64 {
        round2(self.own_cpu_s / (self.wall_s.max(1e-9) * threads.max(1) as f64))
    }

    /// JSON for reports.
    pub(crate) fn json(&self, threads: usize) -> Value {
        json!({
            "wall_s": round2(self.wall_s),
            "generator_cpu_s": round2(self.own_cpu_s),
            "generator_load": self.own_load(threads),
            "server_cpu_s": self.server_cpu_s.map(round2),
            "servers": self.servers.iter().map(|(pid, cpu, before, after)| json!({
                "pid": pid,
                "cpu_s": cpu.map(round2),
                "rss_before_kib": before,
                "rss_after_kib": after,
            })).collect::<Vec<_>>(),
        })
    }
}

/// Rounds to two decimals (reports).
pub(crate) fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_own_proc() {
        assert!(cpu_seconds("self").is_some());
        assert!(rss_kib("self").unwrap() > 0);
    }

    #[test]
    fn shards_merge() {
        let shards = Shards::new(4);
        {
            let mut a = shards.recorder(0);
            let mut b = shards.recorder(1);
            for i in 1..=100 {
                a.record(i * 1000);
                b.record(i * 1000);
            }
        }
        let h = shards.merged();
        assert_eq!(h.len(), 200);
        assert!(h.value_at_quantile(0.5) >= 49_000 && h.value_at_quantile(0.5) <= 51_000);
    }
}
