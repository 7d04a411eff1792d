//! `server_stats`: every two seconds each node tells every admin client of the cluster (a
//! broadcast to the admin namespace, through the adapter) its id, host, process, connections,
//! namespaces and what its engine did since the last report (`aggregatedEvents`).

use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;
use sio_server::engine::CloseReason;
use sio_server::{Metrics, Namespace, Server};

use crate::serialize::now_millis;

/// How often each node reports.
pub(crate) const INTERVAL: Duration = Duration::from_secs(2);

/// The close reasons counted in the metrics, reported as `rawDisconnection` sub-types.
const CLOSE_REASONS: [CloseReason; 7] = CloseReason::ALL;

/// One entry of `aggregatedEvents`.
#[derive(Debug, Serialize)]
struct AggregatedEvent {
    timestamp: u64,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(rename = "subType", skip_serializing_if = "Option::is_none")]
    sub_type: Option<&'static str>,
    count: u64,
}

/// One namespace in the stats.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct NamespaceStats {
    name: String,
    sockets_count: usize,
}

/// The `server_stats` payload.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ServerStats<'a> {
    server_id: &'a str,
    hostname: &'a str,
    pid: u32,
    uptime: f64,
    clients_count: usize,
    polling_clients_count: usize,
    aggregated_events: Vec<AggregatedEvent>,
    namespaces: Vec<NamespaceStats>,
}

/// The counters at the last report.
#[derive(Debug, Default, Clone, Copy)]
struct Counters {
    connections: u64,
    packets_in: u64,
    packets_out: u64,
    bytes_in: u64,
    bytes_out: u64,
    closes: [u64; CLOSE_REASONS.len()],
}

impl Counters {
    fn read(metrics: &Metrics) -> Self {
        let mut closes = [0; CLOSE_REASONS.len()];
        for (slot, reason) in closes.iter_mut().zip(CLOSE_REASONS) {
            *slot = metrics.closes(reason);
        }
        Counters {
            connections: metrics.handshakes(),
            packets_in: metrics.packets_in(),
            packets_out: metrics.packets_out(),
            bytes_in: metrics.bytes_in(),
            bytes_out: metrics.bytes_out(),
            closes,
        }
    }

    /// What happened between `before` and `self`, stamped `timestamp` (the second it is
    /// reported in, as the UI buckets by second).
    fn since(&self, before: &Counters, timestamp: u64) -> Vec<AggregatedEvent> {
        let mut out = Vec::new();
        let mut push = |kind, sub_type, count: u64| {
            if count > 0 {
                out.push(AggregatedEvent {
                    timestamp,
                    kind,
                    sub_type,
                    count,
                });
            }
        };
        push(
            "rawConnection",
            None,
            self.connections.saturating_sub(before.connections),
        );
        for (i, reason) in CLOSE_REASONS.iter().enumerate() {
            push(
                "rawDisconnection",
                Some(reason.as_str()),
                self.closes[i].saturating_sub(before.closes[i]),
            );
        }
        push(
            "packetsIn",
            None,
            self.packets_in.saturating_sub(before.packets_in),
        );
        push(
            "packetsOut",
            None,
            self.packets_out.saturating_sub(before.packets_out),
        );
        push(
            "bytesIn",
            None,
            self.bytes_in.saturating_sub(before.bytes_in),
        );
        push(
            "bytesOut",
            None,
            self.bytes_out.saturating_sub(before.bytes_out),
        );
        out
    }
}

/// The host name (from the kernel, else `HOSTNAME`, else `localhost`).
pub(crate) fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// Reports this node's stats to the admin namespace now and every [`INTERVAL`], until the
/// task is aborted.
pub(crate) async fn report(io: Server, admin: Namespace, server_id: String) {
    let hostname = hostname();
    let started = Instant::now();
    let mut last = Counters::default();
    let mut ticks = tokio::time::interval(INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let now = Counters::read(io.metrics());
        let timestamp = now_millis() / 1000 * 1000;
        let (polling, _) = io.sessions_by_transport();
        let mut namespaces: Vec<NamespaceStats> = io
            .namespaces()
            .into_iter()
            .filter_map(|name| {
                let count = io.namespace(&name)?.local_socket_count();
                Some(NamespaceStats {
                    name,
                    sockets_count: count,
                })
            })
            .collect();
        namespaces.sort_by(|a, b| a.name.cmp(&b.name));
        let stats = ServerStats {
            server_id: &server_id,
            hostname: &hostname,
            pid: std::process::id(),
            uptime: started.elapsed().as_secs_f64(),
            clients_count: io.session_count(),
            polling_clients_count: polling,
            aggregated_events: now.since(&last, timestamp),
            namespaces,
        };
        last = now;
        let value = serde_json::to_value(&stats).unwrap_or(Value::Null);
        if let Err(err) = admin.emit("server_stats", &value).await {
            tracing::debug!(error = %err, "admin UI: server_stats not sent");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregated_events_are_the_differences_since_the_last_report() {
        let before = Counters {
            connections: 2,
            packets_in: 10,
            ..Counters::default()
        };
        let mut now = before;
        now.connections = 5;
        now.packets_in = 10;
        now.bytes_out = 42;
        now.closes[2] = 1;
        let events = now.since(&before, 1000);
        let got: Vec<_> = events
            .iter()
            .map(|e| (e.kind, e.sub_type, e.count, e.timestamp))
            .collect();
        assert_eq!(
            got,
            vec![
                ("rawConnection", None, 3, 1000),
                ("rawDisconnection", Some("ping timeout"), 1, 1000),
                ("bytesOut", None, 42, 1000),
            ]
        );
    }
}
