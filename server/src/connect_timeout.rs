//! Closes connections that join no namespace in time, as the reference server does.
//!
//! Every connection gets the same timeout, so deadlines arrive in order: one FIFO and one task
//! per server (running only while connections wait) replace a timer task per connection.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::time::Instant;

use crate::adapter::Adapter;
use crate::client::Client;

struct Waiting<A: Adapter> {
    queue: VecDeque<(Instant, Weak<Client<A>>)>,
    /// Whether the task that expires deadlines runs (it stops when the queue empties).
    running: bool,
}

/// The connections waiting for their first namespace.
pub(crate) struct ConnectTimeouts<A: Adapter> {
    timeout: Duration,
    waiting: Mutex<Waiting<A>>,
}

impl<A: Adapter> ConnectTimeouts<A> {
    pub(crate) fn new(timeout: Duration) -> Arc<Self> {
        Arc::new(ConnectTimeouts {
            timeout,
            waiting: Mutex::new(Waiting {
                queue: VecDeque::new(),
                running: false,
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Waiting<A>> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts the clock of a new connection. Must run inside a tokio runtime.
    pub(crate) fn watch(self: &Arc<Self>, client: &Arc<Client<A>>) {
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
