//! Closes connections that join no namespace in time, as the reference server does.
//!
//! Every connection gets the same timeout, so deadlines arrive in order: one FIFO and one task
//! per server (running only while connections wait) replace a timer task per connection.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::time::Instant;

/// A connection that may time out before joining a namespace (the Socket.IO layer's client).
pub(crate) trait AwaitsNamespace: Send + Sync + 'static {
    /// The connection's deadline passed: it closes unless it joined a namespace.
    fn on_connect_timeout(&self);
}

struct Waiting<C> {
    queue: VecDeque<(Instant, Weak<C>)>,
    /// Whether the task that expires deadlines runs (it stops when the queue empties).
    running: bool,
}

/// The connections waiting for their first namespace.
pub(crate) struct ConnectTimeouts<C> {
    timeout: Duration,
    waiting: Mutex<Waiting<C>>,
}

impl<C: AwaitsNamespace> ConnectTimeouts<C> {
    pub(crate) fn new(timeout: Duration) -> Arc<Self> {
        Arc::new(ConnectTimeouts {
            timeout,
            waiting: Mutex::new(Waiting {
                queue: VecDeque::new(),
                running: false,
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Waiting<C>> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts the clock of a new connection. Must run inside a tokio runtime.
    pub(crate) fn watch(self: &Arc<Self>, client: &Arc<C>) {
        let deadline = Instant::now() + self.timeout;
        let mut waiting = self.lock();
        waiting.queue.push_back((deadline, Arc::downgrade(client)));
        if !waiting.running {
            waiting.running = true;
            tokio::spawn(self.clone().run());
        }
    }

    async fn run(self: Arc<Self>) {
        let mut expired = Vec::new();
        loop {
            let now = Instant::now();
            let next = {
                let mut waiting = self.lock();
                while let Some((deadline, _)) = waiting.queue.front() {
                    if *deadline > now {
                        break;
                    }
                    if let Some((_, client)) = waiting.queue.pop_front() {
                        expired.push(client);
                    }
                }
                let next = waiting.queue.front().map(|(deadline, _)| *deadline);
                if next.is_none() {
                    waiting.running = false;
                    waiting.queue.shrink_to_fit();
                }
                next
            };
            for client in expired.drain(..) {
                if let Some(client) = client.upgrade() {
                    client.on_connect_timeout();
                }
            }
            match next {
                Some(deadline) => tokio::time::sleep_until(deadline).await,
                None => return,
            }
        }
    }
}
