//! A restored socket's replay (connection state recovery): the live packets that arrive while
//! the missed ones are read and sent wait, then follow; and a live packet the replay already
//! sent is not sent again, whether it arrived during the replay or after it.
//!
//! The second case is a lagging live path: with the Redis Streams adapter the missed packets
//! are read from the stream (`XRANGE`) while the node's reader delivers the same stream live,
//! a little behind; an entry written just before the read can reach the socket live after the
//! replay sent it. The node's reader delivers in stream order, so the first live packet that
//! the replay did not send is newer than all it sent: from then on nothing is checked, and the
//! set of replayed offsets is dropped.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::engine::Frame;

/// A frame held back while a restored socket's missed packets are replayed.
struct Held {
    frame: Frame,
    offset: Option<Arc<str>>,
    volatile: bool,
}

/// A socket's replay state. A socket that was not restored never takes a lock here: every
/// check is one atomic load.
pub(crate) struct Replay {
    /// Set while the missed packets are replayed: live packets wait in `held`.
    replaying: AtomicBool,
    held: Mutex<Option<Vec<Held>>>,
    /// Set after a replay while `replayed` may still meet a live packet.
    deduping: AtomicBool,
    /// The offsets the replay sent that have not come by live yet.
    replayed: Mutex<Option<HashSet<Arc<str>>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Replay {
    /// The state of a socket that is (`restored`) or is not about to replay what it missed.
    pub(crate) fn new(restored: bool) -> Self {
        Replay {
            replaying: AtomicBool::new(restored),
            held: Mutex::new(restored.then(Vec::new)),
            deduping: AtomicBool::new(false),
            replayed: Mutex::new(None),
        }
    }

    /// Holds a live frame while replaying; `false` when not replaying (send it now).
    pub(crate) fn hold(&self, frame: &Frame, offset: Option<&Arc<str>>, volatile: bool) -> bool {
        if !self.replaying.load(Ordering::Acquire) {
            return false;
        }
        match lock(&self.held).as_mut() {
            Some(queue) => {
                queue.push(Held {
                    frame: frame.clone(),
                    offset: offset.cloned(),
                    volatile,
                });
                true
            }
            None => false,
        }
    }

    /// Ends the replay, which sent the packets of offsets `replayed`: the frames held meanwhile
    /// go to `send` in order, except those the replay sent; later live packets are checked
    /// against `replayed` ([`Replay::sent_already`]).
    pub(crate) fn end(&self, replayed: HashSet<Arc<str>>, mut send: impl FnMut(&Frame, bool)) {
        let mut held = lock(&self.held);
        // Set before `held` goes, under its lock: a live packet that finds nothing to be held
        // in sees the replayed offsets.
        if !replayed.is_empty() {
            *lock(&self.replayed) = Some(replayed);
            self.deduping.store(true, Ordering::Release);
        }
        for h in held.take().unwrap_or_default() {
            if h.offset.as_ref().is_some_and(|o| self.sent_already(o)) {
                continue;
            }
            send(&h.frame, h.volatile);
        }
        self.replaying.store(false, Ordering::Release);
    }

    /// Whether the replay already sent the live packet of `offset` (skip it).
    pub(crate) fn sent_already(&self, offset: &Arc<str>) -> bool {
        if !self.deduping.load(Ordering::Acquire) {
            return false;
        }
        let mut replayed = lock(&self.replayed);
        let Some(set) = replayed.as_mut() else {
            return false;
        };
        if set.remove(offset) {
            return true;
        }
        // Newer than everything replayed: nothing later can have been replayed.
        *replayed = None;
        self.deduping.store(false, Ordering::Release);
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Text;

    fn frame(text: &str) -> Frame {
        Frame::Text(Text::from(text.to_owned()))
    }

    fn offsets(list: &[&str]) -> HashSet<Arc<str>> {
        list.iter().map(|o| Arc::from(*o)).collect()
    }

    #[test]
    fn a_socket_that_was_not_restored_holds_and_skips_nothing() {
        let replay = Replay::new(false);
        assert!(!replay.hold(&frame("a"), Some(&Arc::from("1")), false));
        assert!(!replay.sent_already(&Arc::from("1")));
    }

    #[test]
    fn held_frames_follow_the_replay_except_those_it_sent() {
        let replay = Replay::new(true);
        assert!(replay.hold(&frame("1"), Some(&Arc::from("1")), false));
        assert!(replay.hold(&frame("v"), None, true));
        assert!(replay.hold(&frame("3"), Some(&Arc::from("3")), false));
        let mut sent = Vec::new();
        replay.end(offsets(&["1", "2"]), |f, volatile| {
            sent.push((format!("{f:?}"), volatile));
        });
        assert_eq!(sent.len(), 2);
        assert!(sent[0].0.contains('v') && sent[0].1);
        assert!(sent[1].0.contains('3') && !sent[1].1);
        assert!(!replay.hold(&frame("4"), Some(&Arc::from("4")), false));
    }

    #[test]
    fn a_live_packet_the_replay_sent_is_skipped_until_a_newer_one_comes() {
        let replay = Replay::new(true);
        replay.end(offsets(&["5", "6", "7"]), |_, _| {});
        // The lagging live path brings 6 and 7 after the replay sent them.
        assert!(replay.sent_already(&Arc::from("6")));
        assert!(replay.sent_already(&Arc::from("7")));
        // 8 is newer than the replay: delivered, and checking stops.
        assert!(!replay.sent_already(&Arc::from("8")));
        assert!(!replay.deduping.load(Ordering::Acquire));
        assert!(lock(&replay.replayed).is_none());
        // 5 never came by live; once checking stopped, nothing is skipped any more.
        assert!(!replay.sent_already(&Arc::from("5")));
    }

    #[test]
    fn an_empty_replay_checks_nothing_afterwards() {
        let replay = Replay::new(true);
        replay.end(HashSet::new(), |_, _| {});
        assert!(!replay.deduping.load(Ordering::Acquire));
        assert!(!replay.sent_already(&Arc::from("1")));
    }
}
