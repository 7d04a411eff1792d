//! Bounds the event handlers that run at once for one socket.
//!
//! An event whose handler cannot start (the socket already has `max_handlers_per_socket`
//! running) waits in a queue, in arrival order, and starts when a slot frees. Nothing is
//! dropped: once the connection has as many events waiting, the connection stops reading
//! (its [`ReadGate`] closes) until they start, so the client is slowed down rather than its
//! events buffered without bound.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures_util::task::AtomicWaker;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::event::BoxFuture;
use crate::metrics::{Metrics, add};

/// Whether a connection may read its next message: closed while `limit` events of its sockets
/// wait for a handler slot.
pub(crate) struct ReadGate {
    waiting: AtomicUsize,
    limit: usize,
    reader: AtomicWaker,
}

impl ReadGate {
    pub(crate) fn new(limit: usize) -> Self {
        ReadGate {
            waiting: AtomicUsize::new(0),
            limit: limit.max(1),
            reader: AtomicWaker::new(),
        }
    }

    /// Ready when the connection may read; otherwise wakes the task once it may.
    pub(crate) fn poll_open(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.waiting.load(Ordering::Acquire) < self.limit {
            return Poll::Ready(());
        }
        self.reader.register(cx.waker());
        if self.waiting.load(Ordering::Acquire) < self.limit {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    fn waits(&self) {
        self.waiting.fetch_add(1, Ordering::AcqRel);
    }

    fn started(&self) {
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        self.reader.wake();
    }
}

#[derive(Default)]
struct Backlog {
    /// Handlers waiting for a slot, oldest first.
    queue: VecDeque<BoxFuture<()>>,
    /// A task is starting the waiting handlers as slots free.
    draining: bool,
}

/// The handler slots of one socket.
pub(crate) struct HandlerSlots {
    slots: Arc<Semaphore>,
    backlog: Mutex<Backlog>,
    gate: Arc<ReadGate>,
    metrics: Arc<Metrics>,
}

impl HandlerSlots {
    /// `max` handlers at once, reporting waiting events to the connection's `gate`.
    pub(crate) fn new(max: usize, gate: Arc<ReadGate>, metrics: Arc<Metrics>) -> Arc<Self> {
        Arc::new(HandlerSlots {
            slots: Arc::new(Semaphore::new(max.max(1))),
            backlog: Mutex::new(Backlog::default()),
            gate,
            metrics,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Backlog> {
        self.backlog.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a handler now if a slot is free and none waits; otherwise queues it behind the
    /// others.
    pub(crate) fn start(self: &Arc<Self>, handler: BoxFuture<()>) {
        let mut backlog = self.lock();
        if !backlog.draining
            && let Ok(permit) = self.slots.clone().try_acquire_owned()
        {
            drop(backlog);
            run(handler, permit);
            return;
        }
        backlog.queue.push_back(handler);
        self.gate.waits();
        add(&self.metrics.handlers_waited, 1);
        if !backlog.draining {
            backlog.draining = true;
            tokio::spawn(self.clone().drain());
        }
    }

    /// Starts the waiting handlers in order, each as a slot frees.
    async fn drain(self: Arc<Self>) {
        loop {
            let Ok(permit) = self.slots.clone().acquire_owned().await else {
                return;
            };
            let next = {
                let mut backlog = self.lock();
                match backlog.queue.pop_front() {
                    Some(handler) => handler,
                    None => {
                        backlog.draining = false;
                        return;
                    }
                }
            };
            self.gate.started();
            run(next, permit);
        }
    }
}

/// Runs a handler's first step (up to its first await) here, so that handlers start in the
/// order their events arrived, as in the reference server; only what then waits is handed to a
/// task of its own, which keeps the slot until the handler ends.
fn run(mut handler: BoxFuture<()>, permit: OwnedSemaphorePermit) {
    let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());
    if handler.as_mut().poll(&mut cx).is_pending() {
        // The task polls it again at once, registering its own waker.
        tokio::spawn(async move {
            handler.await;
            drop(permit);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waiting_handlers_start_in_order_as_slots_free_and_close_the_gate() {
        let gate = Arc::new(ReadGate::new(2));
        let slots = HandlerSlots::new(1, gate.clone(), Arc::default());
        let (release, released) = tokio::sync::watch::channel(false);
        let order = Arc::new(Mutex::new(Vec::new()));
        for i in 0..3 {
            let order = order.clone();
            let mut released = released.clone();
            slots.start(Box::pin(async move {
                order.lock().unwrap().push(i);
                let _ = released.wait_for(|r| *r).await;
            }));
        }
        let mut cx = Context::from_waker(futures_util::task::noop_waker_ref());
        assert_eq!(*order.lock().unwrap(), [0], "one slot: one handler runs");
        assert!(
            gate.poll_open(&mut cx).is_pending(),
            "two wait: the gate closes"
        );
        release.send_replace(true);
        for _ in 0..100 {
            if order.lock().unwrap().len() == 3 {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert_eq!(*order.lock().unwrap(), [0, 1, 2]);
        assert!(gate.poll_open(&mut cx).is_ready());
    }
}
