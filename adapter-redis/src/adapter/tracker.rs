//! [`Tracker`]: who is expected to answer one of this node's requests, and who did; and the
//! machinery both adapters share to send a request and wait for its answers.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;
use sio_core::adapter::{AckReplies, BroadcastOptions, LocalAdapter};
use sio_core::protocol::{Packet, Payload};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::namespace::Response;
use crate::cluster::RedisCluster;

/// Who is expected to answer a request.
pub(super) struct Expectation {
    /// Our nodes, known by heartbeat.
    pub(super) named: BTreeSet<String>,
    /// Other subscribers (Node.js nodes, which do not heartbeat).
    pub(super) anonymous: usize,
}

/// Tracks a request's answers until every expected node answered, a node died, or time ran out.
pub(super) struct Tracker {
    expect: Expectation,
    answered: HashSet<String>,
    anonymous_answers: usize,
    departed: BTreeSet<String>,
}

impl Tracker {
    /// Starts tracking a request to `expect`.
    pub(super) fn new(expect: Expectation) -> Self {
        Tracker {
            expect,
            answered: HashSet::new(),
            anonymous_answers: 0,
            departed: BTreeSet::new(),
        }
    }

    /// Records an answer from `uid` (`None`: a node that did not say who it is).
    pub(super) fn record(&mut self, uid: Option<&str>) {
        match uid {
            Some(uid) if self.expect.named.contains(uid) => {
                self.answered.insert(uid.to_owned());
            }
            // A node not (yet) known by heartbeat is one of the anonymous subscribers.
            Some(uid) => {
                if self.answered.insert(uid.to_owned()) {
                    self.anonymous_answers += 1;
                }
            }
            None => self.anonymous_answers += 1,
        }
    }

    /// Whether every expected node answered.
    pub(super) fn complete(&self) -> bool {
        self.expect.named.iter().all(|n| self.answered.contains(n))
            && self.anonymous_answers >= self.expect.anonymous
    }

    /// Stops waiting for nodes that are no longer alive.
    pub(super) fn forget_dead(&mut self, live: &BTreeSet<String>) {
        let dead: Vec<String> = self
            .expect
            .named
            .iter()
            .filter(|n| !live.contains(*n) && !self.answered.contains(*n))
            .cloned()
            .collect();
        for node in dead {
            self.expect.named.remove(&node);
            self.departed.insert(node);
        }
    }

    /// The nodes that did not answer (`unknown-node-N` for anonymous ones), sorted.
    pub(super) fn missing(&self) -> Vec<String> {
        let mut missing: Vec<String> = self
            .expect
            .named
            .iter()
            .filter(|n| !self.answered.contains(*n))
            .cloned()
            .chain(self.departed.iter().cloned())
            .collect();
        for i in self.anonymous_answers..self.expect.anonymous {
            missing.push(format!("unknown-node-{}", i + 1));
        }
        missing.sort();
        missing.dedup();
        missing
    }
}

impl Expectation {
    /// Who is expected to answer a request on `nsp`: our nodes by heartbeat, and as many
    /// others as the last subscriber count adds (Node's nodes do not heartbeat).
    pub(super) fn of(cluster: &RedisCluster, nsp: &str) -> Self {
        let named = cluster.live_peers(Some(nsp));
        Expectation {
            anonymous: cluster.subscribers(nsp).saturating_sub(1 + named.len()),
            named,
        }
    }
}

/// A namespace's requests waiting for responses, by request id.
#[derive(Default)]
pub(super) struct Pending(Mutex<HashMap<String, mpsc::UnboundedSender<Response>>>);

impl Pending {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, mpsc::UnboundedSender<Response>>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts collecting the responses to request `request_id`.
    pub(super) fn open(&self, request_id: &str) -> mpsc::UnboundedReceiver<Response> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.lock().insert(request_id.to_owned(), tx);
        rx
    }

    /// Stops collecting the responses to request `request_id`.
    pub(super) fn close(&self, request_id: &str) {
        self.lock().remove(request_id);
    }

    /// Whether no request is waiting.
    pub(super) fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Hands `response` to the request `request_id`, if it is still waiting.
    pub(super) fn deliver(&self, request_id: &str, response: Response) {
        let tx = self.lock().get(request_id).cloned();
        if let Some(tx) = tx {
            let _ = tx.send(response);
        }
    }
}

/// One request on its way: publish it with [`Request::send`].
pub(super) struct Request<'a> {
    /// The node-wide state.
    pub(super) cluster: &'a RedisCluster,
    /// The namespace.
    pub(super) nsp: &'a str,
    /// Where its responses are collected.
    pub(super) pending: &'a Pending,
    /// Its id.
    pub(super) id: &'a str,
}

impl Request<'_> {
    /// Publishes `body` on `channel` (always: a node not counted yet still gets it) and feeds
    /// each response to `on_response` (which says whether it needs no more) until the
    /// `expect`ed nodes answered, or `timeout` passed. Returns the nodes that did not answer.
    pub(super) async fn send(
        self,
        channel: &str,
        body: Bytes,
        expect: Expectation,
        timeout: Duration,
        mut on_response: impl FnMut(&mut Tracker, Response) -> bool,
    ) -> Vec<String> {
        let started = Instant::now();
        let mut tracker = Tracker::new(expect);
        let mut satisfied = tracker.complete();
        let mut rx = self.pending.open(self.id);
        let mut peers = self.cluster.inner.peers_changed.subscribe();
        self.cluster.inner.driver.publish(channel, body);
        let deadline = started + timeout;
        while !satisfied {
            tokio::select! {
                response = rx.recv() => {
                    let Some(response) = response else { break };
                    satisfied = on_response(&mut tracker, response);
                }
                changed = peers.changed() => {
                    if changed.is_err() { break }
                    tracker.forget_dead(&self.cluster.live_peers(Some(self.nsp)));
                    satisfied = tracker.complete();
                }
                _ = tokio::time::sleep_until(deadline) => break,
            }
        }
        self.pending.close(self.id);
        let missing = tracker.missing();
        self.cluster
            .inner
            .latency
            .record(started.elapsed(), missing.is_empty());
        missing
    }
}

/// What a broadcast with acks gathered from the other nodes.
#[derive(Default)]
pub(super) struct RemoteAcks {
    /// How many clients the nodes that answered sent it to.
    pub(super) expected: usize,
    /// The acks received.
    pub(super) replies: Vec<Payload>,
}

impl RemoteAcks {
    /// Records a node's client count (`clientCount` in `response`).
    pub(super) fn count(&mut self, tracker: &mut Tracker, response: &Response) {
        tracker.record(response.uid.as_deref());
        let count = response.value.get("clientCount").and_then(Value::as_u64);
        self.expected += usize::try_from(count.unwrap_or(0)).unwrap_or(usize::MAX);
    }

    /// Records a client's ack (`packet` in `response`).
    pub(super) fn ack(&mut self, response: Response) {
        let arg = response.value.get("packet").cloned().unwrap_or(Value::Null);
        self.replies.push(Payload {
            args: vec![arg],
            attachments: response.attachments,
        });
    }

    /// Whether every expected node and every client it counted answered.
    pub(super) fn complete(&self, tracker: &Tracker) -> bool {
        tracker.complete() && self.replies.len() >= self.expected
    }
}

/// A broadcast with acks: sent to the local matches at once, and (unless `opts` says local)
/// to the other nodes by `remote`, which yields what they answered and who did not.
pub(super) async fn broadcast_with_acks(
    local: &LocalAdapter,
    packet: &Packet,
    opts: &BroadcastOptions,
    timeout: Duration,
    remote: impl Future<Output = (RemoteAcks, Vec<String>)>,
) -> AckReplies {
    let (local_count, local_replies) = local.broadcast_with_ack_local(packet, opts, timeout);
    let local_task = tokio::spawn(local_replies);
    let (remote, missing_nodes) = if opts.flags.local {
        (RemoteAcks::default(), Vec::new())
    } else {
        remote.await
    };
    let mut replies = local_task.await.unwrap_or_default();
    replies.extend(remote.replies);
    AckReplies {
        replies,
        expected: local_count + remote.expected,
        missing_nodes,
    }
}
