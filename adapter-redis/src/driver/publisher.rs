//! The publishing side of [`RedisDriver`](super::RedisDriver): one task that takes batches from
//! the outage buffer and pipelines them to Redis, reconnecting as needed.
//!
//! Delivery is **at most once**: a batch leaves the outage buffer when it is handed to Redis
//! (it waits in its own in-flight slot, so the buffer dropping its oldest entries meanwhile
//! cannot touch it), and a pipeline that fails is not sent again, because Redis may have
//! published any prefix of it already and pub/sub has no way to ask. Those messages are counted
//! as unconfirmed. Messages still in the buffer when the connection is known to be down were
//! certainly not sent: they wait for the reconnect. (The connection speaks RESP3, Redis 6 or
//! later, so that it reports its end.)

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{RedisShared, lock};

/// The first wait before reconnecting; it doubles up to `max_backoff`.
pub(super) const INITIAL_BACKOFF: Duration = Duration::from_millis(10);

/// The most messages in one pipeline.
const BATCH: usize = 512;

/// How often the number of subscribers is asked while waiting for the other nodes to
/// resubscribe after a reconnect.
const RESUBSCRIBE_CHECK: Duration = Duration::from_millis(5);

/// Publishes the outbox, in order and pipelined, reconnecting as needed.
pub(super) async fn run_publisher(weak: Weak<RedisShared>) {
    let mut backoff = INITIAL_BACKOFF;
    let mut listeners_before_outage: Option<usize> = None;
    loop {
        let Some(shared) = weak.upgrade() else { return };
        // RESP3, so that the connection reports its end: what is published after that waits
        // for the reconnect instead of going into a pipeline that cannot be confirmed.
        let (connected, pushes) = shared.connect_resp3(None).await;
        let mut conn = match connected {
            Ok(conn) => conn,
            Err(err) => {
                tracing::debug!(error = %err, "redis publisher cannot connect");
                let max = shared.config.max_backoff;
                drop(shared);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(max);
                continue;
            }
        };
        backoff = INITIAL_BACKOFF;
        let mut incomplete = false;
        if let Some(expected) = listeners_before_outage {
            shared.reconnects.fetch_add(1, Ordering::Relaxed);
            let (waited, all_back) = wait_for_listeners(&shared, &mut conn, expected).await;
            incomplete = !all_back;
            tracing::info!(
                buffered = lock(&shared.outbox).len(),
                waited_ms = waited.as_millis() as u64,
                "redis publisher reconnected"
            );
        }
        shared.pub_connected.store(true, Ordering::Release);
        *lock(&shared.publisher) = Some(conn.clone());
        drop(shared);
        let Some(expected) = serve(&weak, conn, pushes, incomplete).await else {
            return;
        };
        listeners_before_outage = Some(expected);
        if let Some(shared) = weak.upgrade() {
            shared.pub_connected.store(false, Ordering::Release);
            *lock(&shared.publisher) = None;
        }
    }
}

/// Publishes batches on `conn` until it breaks; then returns how many subscribers of the
/// resume channel there were (to wait for after the reconnect), or `None` when the driver was
/// dropped. While `incomplete` (the resume stopped waiting before every node had
/// resubscribed), each batch first asks whether they all have now, and is counted as
/// published to an incomplete cluster until they have.
async fn serve(
    weak: &Weak<RedisShared>,
    mut conn: redis::aio::MultiplexedConnection,
    mut pushes: mpsc::UnboundedReceiver<redis::PushInfo>,
    mut incomplete: bool,
) -> Option<usize> {
    let command = weak.upgrade()?.publish_command();
    loop {
        let shared = weak.upgrade()?;
        if disconnected(&mut pushes) {
            tracing::warn!(
                buffered = lock(&shared.outbox).len(),
                "redis publisher disconnected; buffering until reconnected"
            );
            return Some(shared.expected_listeners());
        }
        let batch = take_batch(&shared);
        if batch.is_empty() {
            shared.drained.notify_waiters();
            drop(shared);
            let ready = weak.upgrade()?;
            tokio::select! {
                () = ready.outbox_ready.notified() => {}
                push = pushes.recv() => {
                    if push.is_none_or(|p| p.kind == redis::PushKind::Disconnection) {
                        tracing::warn!("redis publisher disconnected; buffering until reconnected");
                        return Some(ready.expected_listeners());
                    }
                }
                // Re-check now and then so that a dropped driver ends this task.
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
            continue;
        }
        if incomplete {
            incomplete = !all_listening(&shared, &mut conn, shared.expected_listeners()).await;
            if !incomplete {
                tracing::info!("every node has resubscribed");
            }
        }
        let mut pipe = redis::pipe();
        for (channel, payload) in &batch {
            pipe.cmd(command)
                .arg(channel)
                .arg(payload.as_ref())
                .ignore();
        }
        let sent = pipe.exec_async(&mut conn).await;
        shared.in_flight.store(0, Ordering::Release);
        match sent {
            Ok(()) => {
                shared
                    .published
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                if incomplete {
                    shared.resume_incomplete.record(batch.len() as u64);
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, messages = batch.len(), "redis publish failed; the batch is not sent again");
                shared.unconfirmed.record(batch.len() as u64);
                shared.drained.notify_waiters();
                return Some(shared.expected_listeners());
            }
        }
    }
}

/// Whether the connection reported its end.
fn disconnected(pushes: &mut mpsc::UnboundedReceiver<redis::PushInfo>) -> bool {
    loop {
        match pushes.try_recv() {
            Ok(push) if push.kind == redis::PushKind::Disconnection => return true,
            Ok(_) => {}
            Err(mpsc::error::TryRecvError::Empty) => return false,
            Err(mpsc::error::TryRecvError::Disconnected) => return true,
        }
    }
}

/// Moves up to [`BATCH`] messages from the outage buffer to the in-flight slot.
fn take_batch(shared: &RedisShared) -> Vec<(String, Bytes)> {
    let mut outbox = lock(&shared.outbox);
    let n = outbox.len().min(BATCH);
    let batch: Vec<(String, Bytes)> = outbox.drain(..n).collect();
    shared.in_flight.store(batch.len(), Ordering::Release);
    batch
}

/// Whether the resume channel has `expected` subscribers (`true` without a resume gate).
async fn all_listening(
    shared: &RedisShared,
    conn: &mut redis::aio::MultiplexedConnection,
    expected: usize,
) -> bool {
    let Some(channel) = lock(&shared.resume_gate)
        .as_ref()
        .map(|g| g.channel.clone())
    else {
        return true;
    };
    match super::numsub_on(conn, &channel, shared.config.sharded).await {
        Ok(n) => n >= expected,
        Err(err) => {
            tracing::debug!(error = %err, "redis NUMSUB failed while resuming");
            false
        }
    }
}

/// After a reconnect, waits until the resume channel has `expected` subscribers again (the
/// other nodes resubscribed, so what was buffered reaches them), or `resume_timeout` passed.
/// Redis does not announce subscriptions, so this asks `PUBSUB NUMSUB` every few milliseconds,
/// for this short while only. Returns how long it waited and whether they all came back.
async fn wait_for_listeners(
    shared: &Arc<RedisShared>,
    conn: &mut redis::aio::MultiplexedConnection,
    expected: usize,
) -> (Duration, bool) {
    let started = Instant::now();
    let deadline = started + shared.config.resume_timeout;
    loop {
        if all_listening(shared, conn, expected).await {
            return (started.elapsed(), true);
        }
        if Instant::now() >= deadline {
            tracing::warn!(
                expected,
                "not every node resubscribed in time; publishing anyway (counted until they have)"
            );
            return (started.elapsed(), false);
        }
        tokio::time::sleep(RESUBSCRIBE_CHECK).await;
    }
}
