//! Connection state recovery: the session a disconnected socket leaves behind, and the in-memory
//! log of broadcast packets that lets it catch up on reconnection.
//!
//! With recovery on, every non-volatile event broadcast without an ack id carries an offset as
//! its last argument (the client keeps the last one it saw). A client that reconnects with
//! `{pid, offset}` in its CONNECT payload gets its socket id, rooms and data back, then the
//! packets it missed after `offset`, filtered by its rooms as a live broadcast would be.
//!
//! This module holds the types every adapter shares and [`RecoveryLog`], the in-memory
//! adapter's store: offsets are a per-process sequence, sessions are kept from their
//! disconnection for `max_disconnection_duration`, packets for as long and at most
//! `max_log_len` of them.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Instant;

use super::{BroadcastOptions, Room};
use crate::protocol::{Packet, PacketType};

/// Settings of connection state recovery, each with its default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecoveryConfig {
    /// How long after a disconnection a session can be restored. Default: 2 min (as Node's).
    pub max_disconnection_duration: Duration,
    /// Whether a restored socket skips the connect middlewares. Default: `true`.
    pub skip_middlewares: bool,
    /// The most packets the in-memory adapter keeps per namespace for replay (the oldest go
    /// first; a client whose offset was dropped gets a fresh session). Default: 10 000.
    pub max_log_len: usize,
}

impl Default for RecoveryConfig {
    fn default() -> Self {
        RecoveryConfig {
            max_disconnection_duration: Duration::from_secs(120),
            skip_middlewares: true,
            max_log_len: 10_000,
        }
    }
}

/// What a session restores: the socket id, its private session id, rooms, data and namespace.
/// Serialized as Node's session record (`sid`, `pid`, `rooms`, `data`) plus `nsp`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionState {
    /// The socket id, kept across the recovery.
    pub sid: String,
    /// The private session id the client presents to recover.
    pub pid: String,
    /// The rooms, the socket's own id included.
    pub rooms: Vec<Room>,
    /// The socket's `data`.
    #[serde(default)]
    pub data: Value,
    /// The namespace (absent from records written by Node, which do not check it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nsp: Option<String>,
}

/// A packet missed while disconnected, with its offset already appended to its arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct MissedPacket {
    /// The packet's offset.
    pub offset: Arc<str>,
    /// The event, ready to send.
    pub packet: Packet,
}

/// Whether a broadcast packet goes into the recovery log: a non-volatile event without ack id.
#[must_use]
pub fn is_recoverable(packet: &Packet, opts: &BroadcastOptions) -> bool {
    packet.kind.base() == PacketType::Event && packet.id.is_none() && !opts.flags.volatile
}

/// Appends `offset` as the packet's last argument.
pub fn append_offset(packet: &mut Packet, offset: &str) {
    if let Some(Value::Array(args)) = &mut packet.data {
        args.push(Value::String(offset.to_owned()));
    }
}

/// Whether a socket in `rooms` (its own id included) is selected by `opts`: the room filter of
/// a live broadcast, applied to a session's rooms.
#[must_use]
pub fn rooms_match(rooms: &[Room], opts: &BroadcastOptions) -> bool {
    let included = opts.rooms.is_empty() || rooms.iter().any(|r| opts.rooms.contains(r));
    included && !rooms.iter().any(|r| opts.except.contains(r))
}

/// The per-process offset sequence: unique across the namespaces of a node, so that an offset
/// of one namespace is unknown to another.
static NEXT_OFFSET: AtomicU64 = AtomicU64::new(1);

struct Logged {
    offset: Arc<str>,
    at: Instant,
    opts: BroadcastOptions,
    packet: Packet,
}

struct LogState {
    packets: VecDeque<Logged>,
    /// Disconnected sessions by pid, with their disconnection time.
    sessions: HashMap<String, (SessionState, Instant)>,
    last_sweep: Instant,
}

/// The in-memory adapter's recovery store of one namespace: the broadcast log and the
/// sessions of disconnected sockets.
pub struct RecoveryLog {
    config: RecoveryConfig,
    state: Mutex<LogState>,
}

impl std::fmt::Debug for RecoveryLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.lock();
        f.debug_struct("RecoveryLog")
            .field("packets", &state.packets.len())
            .field("sessions", &state.sessions.len())
            .finish()
    }
}

/// A held log: a packet recorded with [`RecoveryGuard::record`] is delivered before the guard
/// is dropped, so the log order is the delivery order.
pub(crate) struct RecoveryGuard<'a> {
    log: &'a RecoveryLog,
    state: std::sync::MutexGuard<'a, LogState>,
}

impl RecoveryGuard<'_> {
    /// Gives `packet` the next offset, appends it to its arguments and to the log.
    pub(crate) fn record(&mut self, packet: &mut Packet, opts: &BroadcastOptions) -> Arc<str> {
        let offset: Arc<str> = NEXT_OFFSET
            .fetch_add(1, Ordering::Relaxed)
            .to_string()
            .into();
        append_offset(packet, &offset);
        let now = Instant::now();
        let cutoff = now.checked_sub(self.log.config.max_disconnection_duration);
        let packets = &mut self.state.packets;
        while packets.len() >= self.log.config.max_log_len.max(1)
            || packets
                .front()
                .is_some_and(|p| cutoff.is_some_and(|c| p.at < c))
        {
            packets.pop_front();
        }
        packets.push_back(Logged {
            offset: offset.clone(),
            at: now,
            opts: BroadcastOptions {
                rooms: opts.rooms.clone(),
                except: opts.except.clone(),
                flags: opts.flags,
            },
            packet: packet.clone(),
        });
        offset
    }
}

impl RecoveryLog {
    /// An empty store.
    #[must_use]
    pub fn new(config: RecoveryConfig) -> Self {
        RecoveryLog {
            config,
            state: Mutex::new(LogState {
                packets: VecDeque::new(),
                sessions: HashMap::new(),
                last_sweep: Instant::now(),
            }),
        }
    }

    /// The settings.
    #[must_use]
    pub fn config(&self) -> &RecoveryConfig {
        &self.config
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LogState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn hold(&self) -> RecoveryGuard<'_> {
        RecoveryGuard {
            log: self,
            state: self.lock(),
        }
    }

    /// The number of packets kept for replay.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().packets.len()
    }

    /// Whether no packet is kept.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Keeps the session of a socket that just disconnected.
    pub fn persist(&self, session: SessionState) {
        let now = Instant::now();
        let mut state = self.lock();
        if now.duration_since(state.last_sweep) >= Duration::from_secs(1) {
            let max = self.config.max_disconnection_duration;
            state
                .sessions
                .retain(|_, (_, at)| now.duration_since(*at) < max);
            state.last_sweep = now;
        }
        state.sessions.insert(session.pid.clone(), (session, now));
    }

    /// Takes the session `pid` of namespace `nsp` if it has not expired and `offset` is still in
    /// the log; a session is claimed at most once.
    #[must_use]
    pub fn claim(&self, pid: &str, offset: &str, nsp: &str) -> Option<SessionState> {
        let mut state = self.lock();
        let (session, at) = state.sessions.remove(pid)?;
        if at.elapsed() >= self.config.max_disconnection_duration
            || session.nsp.as_deref() != Some(nsp)
            || !state.packets.iter().any(|p| &*p.offset == offset)
        {
            return None;
        }
        Some(session)
    }

    /// The packets after `offset` that `session`'s rooms select, oldest first.
    #[must_use]
    pub fn missed(&self, session: &SessionState, offset: &str) -> Vec<MissedPacket> {
        let state = self.lock();
        let Some(start) = state.packets.iter().position(|p| &*p.offset == offset) else {
            return Vec::new();
        };
        state
            .packets
            .iter()
            .skip(start + 1)
            .filter(|p| rooms_match(&session.rooms, &p.opts))
            .map(|p| MissedPacket {
                offset: p.offset.clone(),
                packet: p.packet.clone(),
            })
            .collect()
    }
}
