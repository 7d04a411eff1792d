//! Limits on the reference app's cluster-wide events (`count`, `rooms`, `gather`, `kick`).
//!
//! Each of them makes every node of the cluster work (a request to all nodes, or a disconnect by
//! selector), so one client must not be able to keep the cluster busy. Two bounds apply:
//!
//! - **per socket**, a token bucket: [`PER_SOCKET_BURST`] queries at once, then
//!   [`PER_SOCKET_RATE`] per second;
//! - **per node**, at most [`NODE_IN_FLIGHT`] of them in flight at a time, whoever asked.
//!
//! A query beyond either bound is answered at once with an error (never queued), and counted.
//! The buckets live in one map keyed by socket id, created on a socket's first query and pruned
//! once they have refilled, so a socket that never asks costs nothing and the map holds at most
//! the sockets that asked within the last few seconds.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use sio_server::engine::Sid;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Cluster-wide queries a socket may make at once (the bucket's size).
pub(crate) const PER_SOCKET_BURST: u32 = 20;
/// Cluster-wide queries a socket may make per second, sustained.
pub(crate) const PER_SOCKET_RATE: u32 = 10;
/// Cluster-wide queries in flight on one node, all sockets together.
pub(crate) const NODE_IN_FLIGHT: usize = 64;

/// Why a query was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The socket spent its bucket.
    RateLimited,
    /// The node has [`NODE_IN_FLIGHT`] queries in flight.
    Busy,
}

impl Refusal {
    /// The error message the client gets.
    pub(crate) fn message(self) -> &'static str {
        match self {
            Refusal::RateLimited => "rate limited: too many cluster-wide queries from this socket",
            Refusal::Busy => "busy: too many cluster-wide queries in flight on this node",
        }
    }
}

/// A socket's bucket: tokens left at `at`.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    /// The tokens the bucket holds at `now`.
    fn level(&self, now: Instant) -> f64 {
        let refill = now.duration_since(self.at).as_secs_f64() * f64::from(PER_SOCKET_RATE);
        (self.tokens + refill).min(f64::from(PER_SOCKET_BURST))
    }
}

/// The limiter, shared by the app's namespaces.
#[derive(Debug)]
pub(crate) struct ClusterQueryLimits {
    in_flight: Arc<Semaphore>,
    buckets: Mutex<HashMap<Sid, Bucket>>,
    /// The map's size after the last prune: the next prune waits until it doubles.
    pruned_at: Mutex<usize>,
    rate_limited: AtomicU64,
    busy: AtomicU64,
}

impl Default for ClusterQueryLimits {
    fn default() -> Self {
        ClusterQueryLimits {
            in_flight: Arc::new(Semaphore::new(NODE_IN_FLIGHT)),
            buckets: Mutex::new(HashMap::new()),
            pruned_at: Mutex::new(0),
            rate_limited: AtomicU64::new(0),
            busy: AtomicU64::new(0),
        }
    }
}

impl ClusterQueryLimits {
    /// Admits one query of `socket`, or says why not. The permit bounds the node's queries in
    /// flight: hold it until the query is answered.
    pub(crate) fn admit(&self, socket: Sid) -> Result<OwnedSemaphorePermit, Refusal> {
        let now = Instant::now();
        {
            let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
            let bucket = buckets.entry(socket).or_insert(Bucket {
                tokens: f64::from(PER_SOCKET_BURST),
                at: now,
            });
            let level = bucket.level(now);
            if level < 1.0 {
                self.rate_limited.fetch_add(1, Ordering::Relaxed);
                return Err(Refusal::RateLimited);
            }
            *bucket = Bucket {
                tokens: level - 1.0,
                at: now,
            };
            self.prune(&mut buckets, now);
        }
        self.in_flight.clone().try_acquire_owned().map_err(|_| {
            self.busy.fetch_add(1, Ordering::Relaxed);
            Refusal::Busy
        })
    }

    /// Drops the buckets that are full again (their sockets asked nothing for a while, or are
    /// gone), once the map has doubled since the last prune: amortised O(1) per query.
    fn prune(&self, buckets: &mut HashMap<Sid, Bucket>, now: Instant) {
        let mut pruned_at = self.pruned_at.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() < (*pruned_at * 2).max(1024) {
            return;
        }
        let full = f64::from(PER_SOCKET_BURST);
        buckets.retain(|_, bucket| bucket.level(now) < full);
        *pruned_at = buckets.len();
    }

    /// Writes the refusal counters in the Prometheus text format.
    pub(crate) fn write_metrics(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "# HELP sio_app_cluster_queries_refused_total Cluster-wide queries (count, rooms, gather, kick) refused by the app's limits."
        );
        let _ = writeln!(out, "# TYPE sio_app_cluster_queries_refused_total counter");
        let _ = writeln!(
            out,
            "sio_app_cluster_queries_refused_total{{reason=\"rate_limited\"}} {}",
            self.rate_limited.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "sio_app_cluster_queries_refused_total{{reason=\"busy\"}} {}",
            self.busy.load(Ordering::Relaxed)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_socket_gets_its_burst_then_is_rate_limited() {
        let limits = ClusterQueryLimits::default();
        let sid = Sid::random();
        for _ in 0..PER_SOCKET_BURST {
            assert!(limits.admit(sid).is_ok());
        }
        assert_eq!(limits.admit(sid).err(), Some(Refusal::RateLimited));
        // Another socket has its own bucket.
        assert!(limits.admit(Sid::random()).is_ok());
    }

    #[test]
    fn the_node_holds_at_most_its_in_flight_bound() {
        let limits = ClusterQueryLimits::default();
        let permits: Vec<_> = (0..NODE_IN_FLIGHT)
            .map(|_| limits.admit(Sid::random()).expect("admitted"))
            .collect();
        assert_eq!(limits.admit(Sid::random()).err(), Some(Refusal::Busy));
        drop(permits);
        assert!(limits.admit(Sid::random()).is_ok());
    }

    #[test]
    fn refilled_buckets_are_pruned() {
        let limits = ClusterQueryLimits::default();
        let start = Instant::now();
        let mut buckets = HashMap::new();
        for _ in 0..2048 {
            buckets.insert(
                Sid::random(),
                Bucket {
                    tokens: 0.0,
                    at: start,
                },
            );
        }
        // Two full refills later, every bucket is full and goes.
        let later = start + std::time::Duration::from_secs(2 * u64::from(PER_SOCKET_BURST));
        limits.prune(&mut buckets, later);
        assert!(buckets.is_empty());
    }
}
