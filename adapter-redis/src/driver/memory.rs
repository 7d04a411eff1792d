//! [`MemoryHub`]: an in-process pub/sub hub standing in for one Redis, for fast multi-node
//! tests, and the glob matching of its pattern subscriptions.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::mpsc;

use super::{
    BoxFuture, Driver, DriverError, DriverStats, OnMessage, RECEIVED_CAPACITY, Received,
    Subscriptions, lock,
};

/// Whether `channel` matches a Redis glob `pattern` (`*`, `?`; enough for the adapter's
/// patterns).
#[must_use]
pub fn glob_match(pattern: &str, channel: &str) -> bool {
    fn matches(p: &[u8], c: &[u8]) -> bool {
        match (p.first(), c.first()) {
            (None, None) => true,
            (Some(b'*'), _) => matches(&p[1..], c) || (!c.is_empty() && matches(p, &c[1..])),
            (Some(b'?'), Some(_)) => matches(&p[1..], &c[1..]),
            (Some(a), Some(b)) if a == b => matches(&p[1..], &c[1..]),
            _ => false,
        }
    }
    matches(pattern.as_bytes(), channel.as_bytes())
}

struct MemoryMember {
    subscriptions: Subscriptions,
    tx: mpsc::Sender<Received>,
}

/// An in-process pub/sub hub standing in for one Redis: every [`MemoryDriver`] made from it
/// sees what the others publish.
#[derive(Clone, Default)]
pub struct MemoryHub {
    members: Arc<Mutex<HashMap<u64, MemoryMember>>>,
    next: Arc<AtomicU64>,
}

impl std::fmt::Debug for MemoryHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryHub")
            .field("members", &lock(&self.members).len())
            .finish()
    }
}

impl MemoryHub {
    /// A new, empty hub.
    #[must_use]
    pub fn new() -> Self {
        MemoryHub::default()
    }

    /// A driver attached to this hub (a node's connection). Dropping it detaches it, as a
    /// killed process's connection would.
    #[must_use]
    pub fn driver(&self) -> MemoryDriver {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(RECEIVED_CAPACITY);
        lock(&self.members).insert(
            id,
            MemoryMember {
                subscriptions: Subscriptions::default(),
                tx,
            },
        );
        MemoryDriver {
            hub: self.clone(),
            id,
            rx: Arc::new(Mutex::new(Some(rx))),
            stats: Arc::default(),
        }
    }
}

/// A [`Driver`] on a [`MemoryHub`].
#[derive(Clone)]
pub struct MemoryDriver {
    hub: MemoryHub,
    id: u64,
    rx: Arc<Mutex<Option<mpsc::Receiver<Received>>>>,
    stats: Arc<(AtomicU64, AtomicU64)>,
}

impl std::fmt::Debug for MemoryDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryDriver")
            .field("id", &self.id)
            .finish()
    }
}

impl MemoryDriver {
    /// Detaches from the hub: nothing more is sent or received, and the hub no longer counts
    /// this driver's subscriptions (as Redis after the node's process is killed).
    pub fn detach(&self) {
        lock(&self.hub.members).remove(&self.id);
    }
}

impl Driver for MemoryDriver {
    fn publish(&self, channel: &str, payload: Bytes) {
        let members = lock(&self.hub.members);
        if !members.contains_key(&self.id) {
            // Detached: like a dead connection, nothing goes out.
            return;
        }
        self.stats.0.fetch_add(1, Ordering::Relaxed);
        for member in members.values() {
            let subs = &member.subscriptions;
            if subs.channels.contains(channel)
                || subs.patterns.iter().any(|p| glob_match(p, channel))
            {
                let _ = member.tx.try_send(Received {
                    channel: channel.to_owned(),
                    payload: payload.clone(),
                });
            }
        }
    }

    fn subscribe(&self, channels: &[String], patterns: &[String]) {
        if let Some(member) = lock(&self.hub.members).get_mut(&self.id) {
            member
                .subscriptions
                .channels
                .extend(channels.iter().cloned());
            member
                .subscriptions
                .patterns
                .extend(patterns.iter().cloned());
        }
    }

    fn unsubscribe(&self, channels: &[String], patterns: &[String]) {
        if let Some(member) = lock(&self.hub.members).get_mut(&self.id) {
            for channel in channels {
                member.subscriptions.channels.remove(channel);
            }
            for pattern in patterns {
                member.subscriptions.patterns.remove(pattern);
            }
        }
    }

    fn numsub(&self, channel: &str) -> BoxFuture<Result<usize, DriverError>> {
        let n = lock(&self.hub.members)
            .values()
            .filter(|m| m.subscriptions.channels.contains(channel))
            .count();
        Box::pin(async move { Ok(n) })
    }

    fn set_on_message(&self, on_message: OnMessage) -> bool {
        // The hub delivers inside `publish`; a task of its own keeps the receiver out of the
        // publisher's call (and its locks).
        let Some(mut rx) = lock(&self.rx).take() else {
            return false;
        };
        tokio::spawn(async move {
            while let Some(message) = rx.recv().await {
                on_message(message);
            }
        });
        true
    }

    fn take_messages(&self) -> Option<mpsc::Receiver<Received>> {
        lock(&self.rx).take()
    }

    fn is_connected(&self) -> bool {
        lock(&self.hub.members).contains_key(&self.id)
    }

    fn stats(&self) -> DriverStats {
        DriverStats {
            published: self.stats.0.load(Ordering::Relaxed),
            received: self.stats.1.load(Ordering::Relaxed),
            ..DriverStats::default()
        }
    }
}
