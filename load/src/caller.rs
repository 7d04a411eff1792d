//! The request loop `echo` and the fan-out's publishers share: acked calls (`42<id>[...]`)
//! sent on one connection, either open-loop on a tick or closed-loop as soon as the scenario
//! allows; acks matched by id in a ring of send times (ack latency, measured inside the window
//! only); at the end, the calls in flight drained.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::sync::watch;
use tokio::time::{Instant, Interval, MissedTickBehavior};
use tokio_tungstenite::tungstenite::Message;

use crate::client::{self, Packet, Ws};
use crate::stats::{Recorder, now_ns};

/// What a scenario's calls do.
pub(crate) trait Calls {
    /// Writes call `id`'s frame (`42<id>["event",...]`) into `out` (cleared); `now_ns` is its
    /// send time, `measured` whether it belongs to the measurement window.
    fn write(&mut self, id: u64, now_ns: u64, measured: bool, out: &mut String);

    /// An ack arrived with these arguments (a JSON array); `matched`: it answers a call in
    /// flight (not a stray or repeated id).
    fn answered(&mut self, args: &str, matched: bool);

    /// Sending ended (the end of the run, or the connection failed or was stopped).
    fn done(&mut self) {}

    /// Closed loop: whether one more call may go now.
    fn ready(&mut self) -> bool {
        true
    }

    /// Closed loop: resolves when [`Calls::ready`] may have turned true.
    fn wait(&self) -> impl Future<Output = ()> + Send + '_ {
        std::future::pending()
    }
}

/// When calls go out.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Pacing {
    /// Open loop: one call per `period`, the first at `first` (late ticks catch up in a burst);
    /// a call due while `max_inflight` are unanswered is skipped.
    Rate {
        /// The first call.
        first: Instant,
        /// Between calls.
        period: Duration,
    },
    /// Closed loop: a call whenever fewer than `max_inflight` are unanswered and
    /// [`Calls::ready`] says so.
    Closed,
}

/// The schedule of one connection's calls.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    /// When calls go out.
    pub(crate) pacing: Pacing,
    /// Calls sent (open loop: scheduled) from here on are measured.
    pub(crate) warm_end: Instant,
    /// No call is sent from here on.
    pub(crate) end: Instant,
    /// Unanswered calls allowed.
    pub(crate) max_inflight: u64,
}

/// What one connection's calls came to.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Tally {
    /// Calls sent.
    pub(crate) sent: u64,
    /// Calls answered.
    pub(crate) completed: u64,
    /// Calls skipped at the in-flight limit (open loop).
    pub(crate) skipped: u64,
    /// Calls still unanswered at the end.
    pub(crate) unanswered: u64,
    /// The connection failed.
    pub(crate) disconnected: bool,
}

/// Start, end of the warm-up, end of sending.
pub(crate) type Times = (Instant, Instant, Instant);

/// Waits for the run's start times, answering pings; `None` when the connection closed or the
/// run was stopped first.
pub(crate) async fn wait_start(
    ws: &mut Ws,
    start: &mut watch::Receiver<Option<Times>>,
    mut stopped: Pin<&mut impl Future<Output = ()>>,
) -> Option<Times> {
    loop {
        if let Some(times) = *start.borrow_and_update() {
            return Some(times);
        }
        tokio::select! {
            r = start.changed() => if r.is_err() { return None; },
            msg = ws.next() => if !idle_message(ws, msg).await { return None; },
            () = &mut stopped => return None,
        }
    }
}

/// Handles a message on a connection that only needs to stay alive; `false` when it closed.
pub(crate) async fn idle_message(
    ws: &mut Ws,
    msg: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>,
) -> bool {
    match msg {
        Some(Ok(Message::Text(text))) => {
            if client::parse(&text) == Packet::Ping {
                return ws.send(client::text_static("3")).await.is_ok();
            }
            true
        }
        Some(Ok(Message::Close(_)) | Err(_)) | None => false,
        Some(Ok(_)) => true,
    }
}

/// Runs the calls of one connection until `plan.end`, then waits for the ones in flight
/// (until `stopped` resolves). Ack latencies of measured calls go to `rec`.
pub(crate) async fn run<C: Calls>(
    ws: &mut Ws,
    calls: &mut C,
    plan: &Plan,
    rec: &mut Recorder,
    mut stopped: Pin<&mut impl Future<Output = ()>>,
) -> Tally {
    let mut tally = Tally::default();
    let mut ticker: Option<Interval> = match plan.pacing {
        Pacing::Rate { first, period } => {
            let mut t = tokio::time::interval_at(first, period);
            t.set_missed_tick_behavior(MissedTickBehavior::Burst);
            Some(t)
        }
        Pacing::Closed => None,
    };
    let closed_loop = ticker.is_none();
    // Send times by ack id. Bit 0: the call is measured; the clock's lowest bit is noise anyway
    // and bit 1 is set so that a stored time is never 0 (0 = free slot).
    let slots = (plan.max_inflight.max(1) * 2).next_power_of_two() as usize;
    let mut sent_at = vec![0u64; slots];
    let mut frame = String::with_capacity(128);
    let mut next_id = 0u64;
    let mut inflight = 0u64;
    let mut sending = true;
    loop {
        if !sending && inflight == 0 {
            break;
        }
        let free = inflight < plan.max_inflight && sent_at[(next_id as usize) & (slots - 1)] == 0;
        let go = closed_loop && sending && free && calls.ready();
        // Open loop: the next tick's time; closed loop: now.
        let mut due: Option<Instant> = None;
        tokio::select! {
            biased;
            () = &mut stopped => break,
            msg = ws.next() => {
                let text = match msg {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Close(_)) | Err(_)) | None => {
                        tally.disconnected = true;
                        break;
                    }
                    Some(Ok(_)) => continue,
                };
                match client::parse(&text) {
                    Packet::Ack { id, args } => {
                        let slot = &mut sent_at[(id as usize) & (slots - 1)];
                        let sent = *slot;
                        let matched = sent != 0;
                        if matched {
                            *slot = 0;
                            inflight -= 1;
                            tally.completed += 1;
                            if sent & 1 == 1 {
                                rec.record(now_ns().saturating_sub(sent & !1));
                            }
                        }
                        calls.answered(args, matched);
                    }
                    Packet::Ping => {
                        let failed = ws.send(client::text_static("3")).await.is_err();
                        if failed {
                            tally.disconnected = true;
                            break;
                        }
                    }
                    Packet::Close | Packet::Disconnect => {
                        tally.disconnected = true;
                        break;
                    }
                    _ => {}
                }
            }
            at = async { ticker.as_mut().expect("open loop").tick().await }, if sending && !closed_loop => {
                due = Some(at);
            }
            () = std::future::ready(()), if go => due = Some(Instant::now()),
            () = calls.wait(), if closed_loop && sending && free && !go => {}
            () = tokio::time::sleep_until(plan.end), if closed_loop && sending && !go => {
                due = Some(plan.end);
            }
        }
        let Some(at) = due else { continue };
        if at >= plan.end {
            sending = false;
            calls.done();
            continue;
        }
        if !free {
            tally.skipped += 1;
            continue;
        }
        let id = next_id;
        next_id += 1;
        let now = now_ns();
        // Measured when scheduled (open loop) or sent (closed loop) after the warm-up: a late
        // tick sent after it is not.
        let measured = at >= plan.warm_end;
        frame.clear();
        calls.write(id, now, measured, &mut frame);
        sent_at[(id as usize) & (slots - 1)] = ((now | 2) & !1) | u64::from(measured);
        inflight += 1;
        tally.sent += 1;
        if ws.send(Message::Text(frame.as_str().into())).await.is_err() {
            tally.disconnected = true;
            break;
        }
    }
    if sending {
        // Ended early (stopped or disconnected): it sends no more.
        calls.done();
    }
    tally.unanswered = inflight;
    rec.flush();
    tally
}
