//! Counters of what the server does, cheap to update (relaxed atomics, counted per batch on hot
//! paths), rendered in the Prometheus text format.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use sio_core::engine::CloseReason;

const REASONS: [CloseReason; 7] = CloseReason::ALL;

fn reason_label(reason: CloseReason) -> &'static str {
    match reason {
        CloseReason::TransportClose => "transport_close",
        CloseReason::TransportError => "transport_error",
        CloseReason::PingTimeout => "ping_timeout",
        CloseReason::ParseError => "parse_error",
        CloseReason::ServerClose => "server_close",
        CloseReason::ServerShutdown => "server_shutdown",
        CloseReason::SlowConsumer => "slow_consumer",
    }
}

/// Counters of one server (engine and Socket.IO layers). Read them through the accessors, or
/// all at once with [`Metrics::write_prometheus`]; only the server updates them.
#[derive(Debug, Default)]
pub struct Metrics {
    pub(crate) handshakes: AtomicU64,
    pub(crate) refused_full: AtomicU64,
    pub(crate) packets_in: AtomicU64,
    pub(crate) bytes_in: AtomicU64,
    pub(crate) packets_out: AtomicU64,
    pub(crate) bytes_out: AtomicU64,
    pub(crate) socket_connects: AtomicU64,
    pub(crate) socket_refusals: AtomicU64,
    pub(crate) broadcasts: AtomicU64,
    pub(crate) ack_timeouts: AtomicU64,
    pub(crate) socket_recoveries: AtomicU64,
    pub(crate) forwarded_requests: AtomicU64,
    pub(crate) forward_failures: AtomicU64,
    pub(crate) relayed_websockets: AtomicU64,
    pub(crate) pending_acks: AtomicU64,
    pub(crate) namespaces_refused: AtomicU64,
    pub(crate) namespaces_removed: AtomicU64,
    pub(crate) handlers_waited: AtomicU64,
    pub(crate) volatile_dropped: AtomicU64,
    pub(crate) joins_refused: AtomicU64,
    pub(crate) payloads_too_large: AtomicU64,
    pub(crate) refused_shutdown: AtomicU64,
    closes: [AtomicU64; 7],
}

/// One read accessor per counter.
macro_rules! readers {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {
        impl Metrics {
            $(
                $(#[$doc])*
                #[must_use]
                pub fn $name(&self) -> u64 {
                    self.$name.load(Ordering::Relaxed)
                }
            )*
        }
    };
}

readers! {
    /// Sessions opened.
    handshakes,
    /// Handshakes refused because the node was full.
    refused_full,
    /// Messages received from clients.
    packets_in,
    /// Bytes of messages received from clients.
    bytes_in,
    /// Engine.IO packets written to clients.
    packets_out,
    /// Bytes written to clients (payloads, before framing).
    bytes_out,
    /// Sockets connected to a namespace.
    socket_connects,
    /// Sockets refused by a middleware or for an unknown namespace.
    socket_refusals,
    /// Broadcasts started on this node.
    broadcasts,
    /// Acks that did not arrive in time.
    ack_timeouts,
    /// Sockets restored by connection state recovery.
    socket_recoveries,
    /// Requests for another node's session, forwarded to their owner.
    forwarded_requests,
    /// Forwarded requests whose owner was dead or unreachable (answered "Session ID unknown").
    forward_failures,
    /// Websocket upgrades relayed to the session's owner.
    relayed_websockets,
    /// Acks awaited now (a gauge): emits with an ack whose reply, timeout or disconnect has not
    /// come yet.
    pending_acks,
    /// Namespace connects refused because the node holds `max_namespaces` namespaces.
    namespaces_refused,
    /// Empty child namespaces removed after their grace period.
    namespaces_removed,
    /// Events that waited because their socket had `max_handlers_per_socket` handlers running.
    handlers_waited,
    /// Volatile packets dropped because the client's outbound queue was full (in packets or
    /// bytes).
    volatile_dropped,
    /// Room joins refused (room name too long, or too many rooms for the socket).
    joins_refused,
    /// Polling request bodies refused with `413` for exceeding the max payload.
    payloads_too_large,
    /// Handshakes refused with `503` because the node is shutting down.
    refused_shutdown,
}

/// Adds `n` to a counter.
pub(crate) fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// Subtracts `n` from a gauge.
pub(crate) fn sub(gauge: &AtomicU64, n: u64) {
    gauge.fetch_sub(n, Ordering::Relaxed);
}

impl Metrics {
    /// Counts a session that ended.
    pub(crate) fn closed(&self, reason: CloseReason) {
        if let Some(i) = REASONS.iter().position(|r| *r == reason) {
            add(&self.closes[i], 1);
        }
    }

    /// Sessions that ended with `reason`.
    #[must_use]
    pub fn closes(&self, reason: CloseReason) -> u64 {
        REASONS
            .iter()
            .position(|r| *r == reason)
            .map_or(0, |i| self.closes[i].load(Ordering::Relaxed))
    }

    /// Appends the counters in the Prometheus text format.
    pub fn write_prometheus(&self, out: &mut String) {
        let counter = |out: &mut String, name: &str, help: &str, value: &AtomicU64| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} counter");
            let _ = writeln!(out, "{name} {}", value.load(Ordering::Relaxed));
        };
        counter(
            out,
            "sio_handshakes_total",
            "Engine.IO sessions opened.",
            &self.handshakes,
        );
        counter(
            out,
            "sio_handshakes_refused_total",
            "Handshakes refused because the node was full.",
            &self.refused_full,
        );
        counter(
            out,
            "sio_packets_in_total",
            "Messages received from clients.",
            &self.packets_in,
        );
        counter(
            out,
            "sio_bytes_in_total",
            "Bytes of messages received from clients.",
            &self.bytes_in,
        );
        counter(
            out,
            "sio_packets_out_total",
            "Engine.IO packets written to clients.",
            &self.packets_out,
        );
        counter(
            out,
            "sio_bytes_out_total",
            "Bytes written to clients.",
            &self.bytes_out,
        );
        counter(
            out,
            "sio_forwarded_requests_total",
            "Requests for another node's session, forwarded to their owner.",
            &self.forwarded_requests,
        );
        counter(
            out,
            "sio_forward_failures_total",
            "Forwarded requests whose owner was dead or unreachable (answered Session ID unknown).",
            &self.forward_failures,
        );
        counter(
            out,
            "sio_relayed_websockets_total",
            "Websocket upgrades relayed to the session's owner.",
            &self.relayed_websockets,
        );
        counter(
            out,
            "sio_socket_connects_total",
            "Sockets connected to a namespace.",
            &self.socket_connects,
        );
        counter(
            out,
            "sio_socket_refusals_total",
            "Namespace connects refused.",
            &self.socket_refusals,
        );
        counter(
            out,
            "sio_broadcasts_total",
            "Broadcasts started on this node.",
            &self.broadcasts,
        );
        counter(
            out,
            "sio_ack_timeouts_total",
            "Acks that did not arrive in time.",
            &self.ack_timeouts,
        );
        for (name, help, value) in [
            (
                "sio_namespaces_refused_total",
                "Namespace connects refused because the node holds max_namespaces namespaces.",
                &self.namespaces_refused,
            ),
            (
                "sio_namespaces_removed_total",
                "Empty child namespaces removed after their grace period.",
                &self.namespaces_removed,
            ),
            (
                "sio_handlers_waited_total",
                "Events that waited for a free handler slot of their socket.",
                &self.handlers_waited,
            ),
            (
                "sio_volatile_dropped_total",
                "Volatile packets dropped because the client's outbound queue was full.",
                &self.volatile_dropped,
            ),
            (
                "sio_joins_refused_total",
                "Room joins refused (name too long, or too many rooms).",
                &self.joins_refused,
            ),
            (
                "sio_payloads_too_large_total",
                "Polling request bodies refused with 413.",
                &self.payloads_too_large,
            ),
            (
                "sio_socket_recoveries_total",
                "Sockets restored by connection state recovery.",
                &self.socket_recoveries,
            ),
            (
                "sio_handshakes_refused_shutdown_total",
                "Handshakes refused because the node is shutting down.",
                &self.refused_shutdown,
            ),
        ] {
            counter(out, name, help, value);
        }
        let _ = writeln!(out, "# HELP sio_pending_acks Acks awaited now.");
        let _ = writeln!(out, "# TYPE sio_pending_acks gauge");
        let _ = writeln!(
            out,
            "sio_pending_acks {}",
            self.pending_acks.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP sio_disconnects_total Sessions ended, by reason."
        );
        let _ = writeln!(out, "# TYPE sio_disconnects_total counter");
        for (i, reason) in REASONS.iter().enumerate() {
            let _ = writeln!(
                out,
                "sio_disconnects_total{{reason=\"{}\"}} {}",
                reason_label(*reason),
                self.closes[i].load(Ordering::Relaxed)
            );
        }
    }
}
