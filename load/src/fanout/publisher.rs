//! The fan-out's publishers: `publish` calls paced by rate, or closed-loop by the deliveries
//! of what they published (`--saturate`).

use super::*;

/// The closed loop's feedback for one publisher: subscribers count the deliveries of its
/// messages (once per read, not per message) and wake it when enough arrived.
#[derive(Debug)]
#[repr(align(64))]
pub(super) struct Credit {
    pub(super) delivered: AtomicU64,
    /// Wake the publisher once `delivered` reaches this (`u64::MAX`: nobody waits).
    pub(super) wake_at: AtomicU64,
    pub(super) notify: Notify,
}

impl Credit {
    pub(super) fn new() -> Credit {
        Credit {
            delivered: AtomicU64::new(0),
            wake_at: AtomicU64::new(u64::MAX),
            notify: Notify::new(),
        }
    }

    /// `n` more deliveries arrived.
    pub(super) fn add(&self, n: u64) {
        // SeqCst here and in `Gate::open`: the store of `wake_at` then load of `delivered`
        // there, and the add then load here, must not both miss each other.
        let d = self.delivered.fetch_add(n, Ordering::SeqCst) + n;
        if d >= self.wake_at.load(Ordering::SeqCst)
            && self.wake_at.swap(u64::MAX, Ordering::SeqCst) != u64::MAX
        {
            self.notify.notify_one();
        }
    }
}

/// How long a closed-loop publisher waits for deliveries that do not come (lost, or a
/// subscriber gone) before it writes them off and publishes again.
pub(super) const STALL: Duration = Duration::from_secs(1);

/// A closed-loop publisher's side of its [`Credit`].
#[derive(Debug)]
pub(super) struct Gate<'a> {
    pub(super) credit: &'a Credit,
    /// Deliveries allowed in flight.
    pub(super) window: u64,
    /// Deliveries expected for what it published.
    pub(super) expected: u64,
    /// Deliveries written off after a stall.
    pub(super) forgiven: u64,
    pub(super) last_seen: u64,
    pub(super) last_progress: Instant,
    pub(super) stalls: u64,
}

impl Gate<'_> {
    /// Whether one more publish may go.
    pub(super) fn open(&mut self) -> bool {
        let d = self.credit.delivered.load(Ordering::SeqCst);
        if d != self.last_seen {
            self.last_seen = d;
            self.last_progress = Instant::now();
        }
        // Written off but arrived after all: take back what was forgiven too early.
        self.forgiven = self.forgiven.min(self.expected.saturating_sub(d));
        let owed = self.expected - self.forgiven;
        let backlog = owed.saturating_sub(d);
        if backlog < self.window {
            return true;
        }
        if self.last_progress.elapsed() >= STALL {
            self.forgiven += backlog;
            self.stalls += 1;
            self.last_progress = Instant::now();
            return true;
        }
        // Open again once backlog < window.
        let at = owed + 1 - self.window;
        self.credit.wake_at.store(at, Ordering::SeqCst);
        self.credit.delivered.load(Ordering::SeqCst) >= at
    }
}

/// What a publisher reports at the end.
#[derive(Debug, Default)]
pub(super) struct PubResult {
    /// Publishes sent to each room.
    pub(super) sent: Vec<u64>,
    /// Closed loop: times it wrote off deliveries that did not come.
    pub(super) stalls: u64,
    pub(super) skipped: u64,
    pub(super) ack_errors: u64,
    pub(super) unacked: u64,
    pub(super) disconnected: bool,
    /// The connection, still open.
    pub(super) connection: Option<Ws>,
}

/// A publisher's calls: `publish` to its rooms in turn (or `direct` to its subscribers), `[publisher, seq, sent_ns, measured]`
/// as data; the ack must be `[true]`.
pub(super) struct Publish<'a> {
    pub(super) j: usize,
    pub(super) rooms: &'a [String],
    pub(super) ctx: &'a Ctx,
    pub(super) pad: &'a str,
    pub(super) n: usize,
    /// Publishes sent to each room.
    pub(super) sent: Vec<u64>,
    pub(super) ack_errors: u64,
    /// Closed loop only.
    pub(super) gate: Option<Gate<'a>>,
}

impl Calls for Publish<'_> {
    fn write(&mut self, id: u64, now_ns: u64, measured: bool, out: &mut String) {
        let (j, ctx) = (self.j, self.ctx);
        let k = (j + self.n) % self.rooms.len();
        self.n += 1;
        self.sent[k] += 1;
        let seq = self.sent[k];
        ctx.sent[j * self.rooms.len() + k].fetch_add(1, Ordering::Relaxed);
        ctx.published.add(j, 1);
        if let Some(g) = &mut self.gate {
            g.expected += ctx.members[k].load(Ordering::Relaxed);
        }
        let (event, key) = if ctx.direct {
            ("direct", "to")
        } else {
            ("publish", "room")
        };
        let _ = write!(
            out,
            r#"42{id}["{event}",{{"{key}":"{}","data":[{j},{seq},{now_ns},{}{}]}}]"#,
            self.rooms[k],
            u8::from(measured),
            self.pad
        );
    }

    fn answered(&mut self, args: &str, matched: bool) {
        if matched {
            self.ctx.acked.add(self.j, 1);
        }
        if args != "[true]" {
            self.ack_errors += 1;
            if self.ack_errors <= 3 {
                self.ctx.failures.add(format!("publish ack: {args:.80}"));
            }
        }
    }

    fn done(&mut self) {
        self.ctx.pubs_done.fetch_add(1, Ordering::Relaxed);
    }

    fn ready(&mut self) -> bool {
        self.gate.as_mut().is_none_or(Gate::open)
    }

    async fn wait(&self) {
        match &self.gate {
            // Woken by the deliveries, or after a while to look for a stall.
            Some(g) => {
                let _ = tokio::time::timeout(STALL / 4, g.credit.notify.notified()).await;
            }
            None => std::future::pending().await,
        }
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) async fn publisher(
    j: usize,
    targets: Arc<Vec<Target>>,
    t: usize,
    source: Option<std::net::IpAddr>,
    timeout: Duration,
    rooms: Arc<Vec<String>>,
    ctx: Arc<Ctx>,
    pacing: Option<Duration>,
    window: u64,
    max_inflight: u64,
    pad: Arc<str>,
    mut rec: Recorder,
    mut start: watch::Receiver<Option<Times>>,
    mut stop: watch::Receiver<bool>,
) -> PubResult {
    let mut result = PubResult {
        sent: vec![0; rooms.len()],
        ..PubResult::default()
    };
    let mut ws = match client::open(&targets[t], source, timeout).await {
        Ok(ws) => ws,
        Err(err) => {
            ctx.failures.open(&err);
            ctx.pubs_settled.fetch_add(1, Ordering::Relaxed);
            return result;
        }
    };
    ctx.pubs_ready.fetch_add(1, Ordering::Relaxed);
    ctx.pubs_settled.fetch_add(1, Ordering::Relaxed);
    let mut stopped = std::pin::pin!(async move {
        let _ = stop.changed().await;
    });
    let Some((t0, warm_end, end)) = caller::wait_start(&mut ws, &mut start, stopped.as_mut()).await
    else {
        result.disconnected = true;
        return result;
    };
    let plan = Plan {
        pacing: match pacing {
            // Publishers staggered over one period.
            Some(period) => Pacing::Rate {
                first: t0 + period.mul_f64(j as f64 / ctx.publishers as f64),
                period,
            },
            None => Pacing::Closed,
        },
        warm_end,
        end,
        max_inflight,
    };
    // The window in deliveries: `window` publishes to an average room.
    let members: u64 = ctx.members.iter().map(|m| m.load(Ordering::Relaxed)).sum();
    let per_publish = members.div_ceil(rooms.len() as u64).max(1);
    let mut calls = Publish {
        j,
        rooms: &rooms,
        ctx: &ctx,
        pad: &pad,
        n: 0,
        sent: vec![0; rooms.len()],
        ack_errors: 0,
        gate: ctx.credits.as_ref().map(|c| Gate {
            credit: &c[j],
            window: window.max(1) * per_publish,
            expected: 0,
            forgiven: 0,
            last_seen: 0,
            last_progress: Instant::now(),
            stalls: 0,
        }),
    };
    let tally = caller::run(&mut ws, &mut calls, &plan, &mut rec, stopped).await;
    result.sent = calls.sent;
    result.ack_errors = calls.ack_errors;
    result.stalls = calls.gate.map_or(0, |g| g.stalls);
    result.skipped = tally.skipped;
    result.unacked = tally.unanswered;
    result.disconnected = tally.disconnected;
    rec.flush();
    // Kept open until the run ends (the caller drops it), so no disconnect disturbs the drain.
    if !result.disconnected {
        result.connection = Some(ws);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gate_keeps_a_window_of_deliveries_in_flight() {
        let credit = Credit::new();
        let mut gate = Gate {
            credit: &credit,
            window: 100,
            expected: 0,
            forgiven: 0,
            last_seen: 0,
            last_progress: Instant::now(),
            stalls: 0,
        };
        assert!(gate.open());
        gate.expected = 150; // three publishes to rooms of 50
        assert!(!gate.open());
        // It asked to be woken once the backlog is below the window again.
        assert_eq!(credit.wake_at.load(Ordering::SeqCst), 51);
        credit.add(50);
        assert_eq!(credit.wake_at.load(Ordering::SeqCst), 51);
        credit.add(1);
        assert_eq!(credit.wake_at.load(Ordering::SeqCst), u64::MAX);
        // The wake-up is stored for the next waiter.
        let notified = credit.notify.notified();
        let waker = futures_util::task::noop_waker();
        let mut notified = std::pin::pin!(notified);
        assert!(
            notified
                .as_mut()
                .poll(&mut std::task::Context::from_waker(&waker))
                .is_ready()
        );
        assert!(gate.open());
        // A stall: nothing arrives for STALL, the backlog is written off, and taken back
        // when it arrives after all.
        gate.expected = 251;
        assert!(!gate.open());
        gate.last_progress = Instant::now() - STALL;
        assert!(gate.open());
        assert_eq!((gate.stalls, gate.forgiven), (1, 200));
        credit.add(200);
        assert!(gate.open());
        assert_eq!(gate.forgiven, 0);
    }
}
