//! The stream appender: `XADD`s go out in the order they were made, pipelined, from one task.
//!
//! A broadcast queues its `XADD` synchronously (in the first poll of `broadcast`), so two
//! broadcasts that one client's handlers start in order reach the stream in that order, however
//! the tasks that await them are scheduled. The queue is bounded: when it is full (Redis far
//! behind or down), the append fails at once, which is counted and logged by the caller.

use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::Shared;

/// Appends waiting at most; beyond, an append fails at once.
pub(crate) const QUEUE: usize = 10_000;
/// The most appends in one pipeline.
const BATCH: usize = 256;

/// One queued append and where its id (or error) goes.
pub(crate) type Append = (redis::Cmd, oneshot::Sender<Result<String, String>>);

/// Sends the queued appends, in order, for as long as the cluster lives.
pub(crate) async fn run(weak: std::sync::Weak<Shared>, mut rx: mpsc::Receiver<Append>) {
    let mut batch: Vec<Append> = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        let Some(shared) = weak.upgrade() else { return };
        let mut pipe = redis::pipe();
        for (cmd, _) in &batch {
            pipe.add_command(cmd.clone());
        }
        let result: redis::RedisResult<Vec<String>> = match shared.conn.get().await {
            Ok(mut conn) => pipe.query_async(&mut conn).await,
            Err(err) => Err(err),
        };
        match result {
            Ok(ids) if ids.len() == batch.len() => {
                for ((_, tx), id) in batch.drain(..).zip(ids) {
                    let _ = tx.send(Ok(id));
                }
            }
            Ok(_) => {
                for (_, tx) in batch.drain(..) {
                    let _ = tx.send(Err("unexpected XADD answer".into()));
                }
            }
            Err(err) => {
                *shared.conn.conn.lock().await = None;
                let message = err.to_string();
                for (_, tx) in batch.drain(..) {
                    let _ = tx.send(Err(message.clone()));
                }
                drop(shared);
                // Do not spin on a Redis that is down; what queues meanwhile waits (bounded).
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}
