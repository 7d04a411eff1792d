//! The fan-out's subscribers: raw WebSocket readers that check every message's sequence and
//! record its latency.

use super::*;

/// What a subscriber reports at the end.
#[derive(Debug)]
pub(super) struct SubResult {
    pub(super) room: usize,
    pub(super) tracks: Vec<Track>,
    pub(super) disconnected: bool,
    pub(super) malformed: u64,
    /// Reads that brought messages, and the messages they brought.
    pub(super) reads: u64,
    pub(super) messages: u64,
}

/// A subscriber's bookkeeping, fed one frame at a time by [`RawWs::read`] and settled once per
/// read.
pub(super) struct Sink {
    pub(super) tracks: Vec<Track>,
    pub(super) rec: Recorder,
    /// The read's arrival time, taken at its first message (0: not yet).
    pub(super) now: u64,
    /// Messages in this read.
    pub(super) n: u64,
    /// Reads that brought messages, and the messages they brought.
    pub(super) reads: u64,
    pub(super) messages: u64,
    /// Closed loop: messages in this read, by publisher.
    pub(super) by_publisher: Vec<u64>,
    pub(super) malformed: u64,
    /// An Engine.IO ping to answer.
    pub(super) ping: bool,
    /// The server disconnected us.
    pub(super) closing: bool,
}

impl Sink {
    pub(super) fn frame(&mut self, frame: Option<&[u8]>) {
        let Some(payload) = frame else {
            self.malformed += 1;
            return;
        };
        let stamp = match client::fast_stamp(payload) {
            Some(s) => s,
            None => {
                // Not the usual shape: the general parser (pings, spaces, namespaces, ...).
                let Ok(text) = std::str::from_utf8(payload) else {
                    self.malformed += 1;
                    return;
                };
                match client::parse(text) {
                    Packet::Event { args, .. } => match client::parse_stamp(args) {
                        Some(s) => s,
                        None => {
                            self.malformed += 1;
                            return;
                        }
                    },
                    Packet::Ping => {
                        self.ping = true;
                        return;
                    }
                    Packet::Close | Packet::Disconnect => {
                        self.closing = true;
                        return;
                    }
                    _ => return,
                }
            }
        };
        let Some(track) = self.tracks.get_mut(stamp.publisher as usize) else {
            self.malformed += 1;
            return;
        };
        track.see(stamp.seq);
        if let Some(c) = self.by_publisher.get_mut(stamp.publisher as usize) {
            *c += 1;
        }
        if stamp.measured {
            if self.now == 0 {
                self.now = now_ns();
            }
            self.rec.record(self.now.saturating_sub(stamp.sent_ns));
        }
        self.n += 1;
    }

    /// Publishes this read's counts.
    pub(super) fn settle(&mut self, ctx: &Ctx, i: usize) {
        self.now = 0;
        if self.n == 0 {
            return;
        }
        // Live count (sharded: no shared cache line between threads in the common case).
        ctx.delivered.add(i, self.n);
        self.reads += 1;
        self.messages += self.n;
        self.n = 0;
        if let Some(credits) = &ctx.credits {
            for (c, n) in credits.iter().zip(&mut self.by_publisher) {
                if *n > 0 {
                    c.add(*n);
                    *n = 0;
                }
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) async fn subscriber(
    i: usize,
    targets: Arc<Vec<Target>>,
    t: usize,
    source: Option<std::net::IpAddr>,
    timeout: Duration,
    rooms: Arc<Vec<String>>,
    room: usize,
    ctx: Arc<Ctx>,
    rec: Recorder,
    mut stop: watch::Receiver<bool>,
) -> Option<SubResult> {
    let settle = |ready: bool| {
        if ready {
            ctx.subs_ready.fetch_add(1, Ordering::Relaxed);
        }
        ctx.subs_settled.fetch_add(1, Ordering::Relaxed);
    };
    let mut ws = match RawWs::open(&targets[t], source, timeout).await {
        Ok(ws) => ws,
        Err(err) => {
            ctx.failures.open(&err);
            settle(false);
            return None;
        }
    };
    if ctx.direct {
        let Some(sid) = ws.sid() else {
            ctx.failures
                .add("direct: no socket id in the CONNECT answer".into());
            settle(false);
            return None;
        };
        let _ = ctx.sids[room].set(sid.to_owned());
    } else if let Err(err) = ws.join(&rooms[room], timeout).await {
        ctx.failures.add(format!("join: {err}"));
        settle(false);
        return None;
    }
    ctx.members[room].fetch_add(1, Ordering::Relaxed);
    settle(true);
    let mut sink = Sink {
        tracks: vec![Track::default(); ctx.publishers],
        rec,
        now: 0,
        n: 0,
        reads: 0,
        messages: 0,
        by_publisher: if ctx.credits.is_some() {
            vec![0; ctx.publishers]
        } else {
            Vec::new()
        },
        malformed: 0,
        ping: false,
        closing: false,
    };
    for text in ws.take_pending() {
        sink.frame(Some(&text));
    }
    sink.settle(&ctx, i);
    let mut disconnected = false;
    // One stop future for the whole loop: a fresh `changed()` per read would register a waiter
    // on the shared channel each time.
    let mut stopped = std::pin::pin!(async move {
        let _ = stop.changed().await;
    });
    loop {
        let open = tokio::select! {
            biased;
            r = ws.read(|f| sink.frame(f)) => r.unwrap_or(false),
            () = &mut stopped => break,
        };
        sink.settle(&ctx, i);
        if sink.ping {
            sink.ping = false;
            if ws.send_text("3").await.is_err() {
                disconnected = true;
                break;
            }
        }
        if !open || sink.closing {
            disconnected = true;
            break;
        }
    }
    sink.rec.flush();
    Some(SubResult {
        room,
        tracks: sink.tracks,
        disconnected,
        malformed: sink.malformed,
        reads: sink.reads,
        messages: sink.messages,
    })
}
