//! [`Tracker`]: who is expected to answer one of this node's requests, and who did.

use std::collections::{BTreeSet, HashSet};

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
