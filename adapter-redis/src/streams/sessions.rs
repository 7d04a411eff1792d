//! The session writer: keeps each recoverable session in Redis as it changes, so that any node
//! can restore it, even after the node that held it was killed.
//!
//! Writes are queued per pid (the newest state wins) and written by one task, in pipelines, so
//! a later state never lands before an earlier one. They follow the change (a join is
//! acknowledged before its record is written): a node killed in between leaves the record from
//! before it. A connected socket's record is written when it connects, joins, leaves or
//! changes its data, with a TTL of `max_disconnection_duration` plus the refresh period, and
//! rewritten every refresh period (half the duration, between 0.5 s and 60 s) from the live
//! index; so after a crash the record lives at least `max_disconnection_duration` more. At a disconnection it is written with exactly that TTL;
//! a deliberate disconnect deletes it.
//!
//! Each record has an owner key beside it (`<key>:owner`, the node id of the last node that
//! restored or wrote it). A write or a delete applies only when this node owns the record (or
//! nobody does), and a restore makes the restoring node the owner atomically with its `GETDEL`.
//! So a node that has not yet noticed that its client reconnected elsewhere (a half-open
//! connection, a node paused for a while) cannot bring the claimed record back with its late
//! refresh or disconnect write: a session is restored at most once, and never with stale
//! rooms. (Node's adapter ignores the owner key; a Node node's own writes are unconditional.)

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Mutex, Weak};
use std::time::Duration;

use sio_core::adapter::SessionState;
use tokio::sync::Notify;

use super::{Shared, lock, wire};

/// A pending operation on one session key.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    /// `SET key value PX ttl`.
    Write(SessionState, Duration),
    /// `DEL key`.
    Delete,
}

/// The queue of session writes and the live sessions to refresh.
#[derive(Default)]
pub(crate) struct Writer {
    pending: Mutex<HashMap<String, Op>>,
    /// Connected sockets with a session: pid → (namespace, sid).
    live: Mutex<HashMap<String, (String, String)>>,
    wake: Notify,
}

/// Writes a record (KEYS[1]) and its owner (KEYS[2]) unless another node owns it.
/// ARGV: this node's id, the record, the TTL in milliseconds. Returns 1 if written, 0 if not.
const WRITE_IF_OWNER: &str = r"
local owner = redis.call('GET', KEYS[2])
if owner and owner ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[3])
return 1
";

/// Deletes a record (KEYS[1]) and its owner (KEYS[2]) unless another node owns it.
/// ARGV: this node's id. Returns 1 if deleted, 0 if not.
const DELETE_IF_OWNER: &str = r"
local owner = redis.call('GET', KEYS[2])
if owner and owner ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1], KEYS[2])
return 1
";

/// Claims a record (KEYS[1]): returns and deletes it, and makes this node (ARGV[1]) the owner
/// (KEYS[2]) for ARGV[2] milliseconds, in one step. Returns nil when there is no record.
pub(crate) const CLAIM: &str = r"
local record = redis.call('GET', KEYS[1])
if not record then return nil end
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
return record
";

/// The key of the owner of the session record `key`.
pub(crate) fn owner_key(key: &str) -> String {
    format!("{key}:owner")
}

/// The refresh period for a recovery duration.
pub(crate) fn refresh_period(max: Duration) -> Duration {
    (max / 2).clamp(Duration::from_millis(500), Duration::from_secs(60))
}

impl Writer {
    pub(crate) fn live(&self, session: SessionState, max: Duration) {
        if let Some(nsp) = &session.nsp {
            lock(&self.live).insert(session.pid.clone(), (nsp.clone(), session.sid.clone()));
        }
        let ttl = max + refresh_period(max);
        self.queue(session.pid.clone(), Op::Write(session, ttl));
    }

    pub(crate) fn disconnected(&self, session: SessionState, max: Duration) {
        lock(&self.live).remove(&session.pid);
        self.queue(session.pid.clone(), Op::Write(session, max));
    }

    pub(crate) fn discard(&self, pid: &str) {
        lock(&self.live).remove(pid);
        self.queue(pid.to_owned(), Op::Delete);
    }

    /// Takes the pending write of `pid`, if any (a claim supersedes it).
    pub(crate) fn take_pending(&self, pid: &str) -> Option<Op> {
        lock(&self.pending).remove(pid)
    }

    fn queue(&self, pid: String, op: Op) {
        lock(&self.pending).insert(pid, op);
        self.wake.notify_one();
    }
}

/// Writes queued sessions, and refreshes the live ones every period.
pub(crate) async fn run(weak: Weak<Shared>) {
    let mut last_refresh = tokio::time::Instant::now();
    loop {
        let Some(shared) = weak.upgrade() else { return };
        let max = shared
            .namespaces
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .find_map(|l| l.recovery_config().map(|c| c.max_disconnection_duration));
        let period = max.map_or(Duration::from_secs(1), refresh_period);
        if let Some(max) = max
            && last_refresh.elapsed() >= period
        {
            last_refresh = tokio::time::Instant::now();
            refresh(&shared, max);
        }
        let ops: Vec<(String, Op)> = {
            let mut pending = lock(&shared.sessions.pending);
            pending.drain().collect()
        };
        if !ops.is_empty() {
            let mut pipe = redis::pipe();
            let node = &shared.config.node_id;
            for (pid, op) in &ops {
                let key = shared.session_key(pid);
                let owner = owner_key(&key);
                match op {
                    Op::Write(session, ttl) => {
                        pipe.cmd("EVAL")
                            .arg(WRITE_IF_OWNER)
                            .arg(2)
                            .arg(&key)
                            .arg(&owner)
                            .arg(node)
                            .arg(wire::encode_session(session))
                            .arg(ttl.as_millis() as u64);
                    }
                    Op::Delete => {
                        pipe.cmd("EVAL")
                            .arg(DELETE_IF_OWNER)
                            .arg(2)
                            .arg(&key)
                            .arg(&owner)
                            .arg(node);
                    }
                }
            }
            let written: redis::RedisResult<Vec<i64>> = match shared.conn.get().await {
                Ok(mut conn) => pipe.query_async(&mut conn).await,
                Err(err) => Err(err),
            };
            match written {
                Ok(applied) => {
                    let refused = applied.iter().filter(|&&done| done == 0).count();
                    shared
                        .counters
                        .sessions_written
                        .fetch_add((ops.len() - refused) as u64, Ordering::Relaxed);
                    if refused > 0 {
                        // Restored by another node meanwhile: this node's view is stale.
                        shared
                            .counters
                            .session_writes_superseded
                            .fetch_add(refused as u64, Ordering::Relaxed);
                        let mut live = lock(&shared.sessions.live);
                        for ((pid, _), done) in ops.iter().zip(&applied) {
                            if *done == 0 {
                                live.remove(pid);
                            }
                        }
                    }
                }
                Err(err) => {
                    *shared.conn.conn.lock().await = None;
                    shared
                        .counters
                        .session_write_failures
                        .fetch_add(ops.len() as u64, Ordering::Relaxed);
                    tracing::warn!(error = %err, sessions = ops.len(), "session write failed; retrying");
                    // Put back what no newer operation replaced.
                    {
                        let mut pending = lock(&shared.sessions.pending);
                        for (pid, op) in ops {
                            pending.entry(pid).or_insert(op);
                        }
                    }
                    drop(shared);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            }
        }
        let wake = async { shared.sessions.wake.notified().await };
        let _ = tokio::time::timeout(period, wake).await;
    }
}

/// Queues the current state of every live session.
fn refresh(shared: &Shared, max: Duration) {
    let live: Vec<(String, (String, String))> = lock(&shared.sessions.live)
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (pid, (nsp, sid)) in live {
        let Some(local) = shared.local(&nsp) else {
            continue;
        };
        let Some(socket) = sid.parse().ok().and_then(|s| local.get(s)) else {
            continue;
        };
        let info = socket.info(local.rooms_of(socket.id()));
        let session = SessionState {
            sid,
            pid: pid.clone(),
            rooms: info.rooms,
            data: info.data,
            nsp: Some(nsp),
        };
        let ttl = max + refresh_period(max);
        lock(&shared.sessions.pending)
            .entry(pid)
            .or_insert(Op::Write(session, ttl));
    }
}
