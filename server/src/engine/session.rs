//! One Engine.IO session: its outbound queue, its transport, and how it ends.
//!
//! The session is shared by the transport tasks (a long-polling request or a websocket task),
//! the heartbeat supervisor that owns its lifetime, and the layer above, which sends frames and
//! may close it. A session ends exactly once, with one [`CloseReason`].

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::outbox::{Outbox, PushError};
use super::packet::Frame;
use super::request::RequestInfo;
use super::{CloseReason, Sid};

/// Timers on both sides tick in milliseconds and fire up to one tick early or late: a request
/// that arrives within this margin of its session's ping deadline finds the session timed out,
/// as a client that waited `pingInterval + pingTimeout` by its own clock expects.
const TIMER_GRANULARITY: std::time::Duration = std::time::Duration::from_millis(2);

/// The transport a session currently uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// HTTP long-polling.
    Polling,
    /// WebSocket.
    Websocket,
}

impl Transport {
    /// The name used in query strings and metrics: `polling` or `websocket`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Polling => "polling",
            Transport::Websocket => "websocket",
        }
    }
}

/// The error of sending to a session that cannot take the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The session has ended.
    #[error("session closed")]
    Closed,
    /// The outbound queue is full: the session is being closed as a slow consumer.
    #[error("outbound queue full")]
    Full,
}

/// An Engine.IO session.
#[derive(Debug)]
pub struct Session {
    sid: Sid,
    /// The outbound queue, read by whichever transport currently writes.
    pub(crate) outbox: Outbox,
    transport: AtomicU8,
    upgrading: AtomicBool,
    /// Wakes a pending polling request when an upgrade starts, so it answers with a noop.
    pub(crate) upgrade_started: Notify,
    /// Wakes the supervisor when a pong arrives.
    pub(crate) pong: Notify,
    /// Wakes the supervisor when a graceful close was requested.
    pub(crate) close_requested: Notify,
    stop: CancellationToken,
    reason: OnceLock<CloseReason>,
    posting: AtomicBool,
    client_closing: AtomicBool,
    /// A server close reached a poll that also carried packets: the next poll delivers it.
    pub(crate) close_next_poll: AtomicBool,
    /// The reason a graceful close ends with (server close, or shutdown).
    requested_close: OnceLock<CloseReason>,
    /// When the unanswered ping's timeout expires.
    pong_deadline: std::sync::Mutex<Option<tokio::time::Instant>>,
    request: Arc<RequestInfo>,
}

impl Session {
    pub(crate) fn new(
        sid: Sid,
        transport: Transport,
        queue: usize,
        queue_bytes: usize,
        request: RequestInfo,
    ) -> Session {
        Session {
            sid,
            outbox: Outbox::new(queue, queue_bytes),
            transport: AtomicU8::new(transport as u8),
            upgrading: AtomicBool::new(false),
            upgrade_started: Notify::new(),
            pong: Notify::new(),
            close_requested: Notify::new(),
            stop: CancellationToken::new(),
            reason: OnceLock::new(),
            posting: AtomicBool::new(false),
            client_closing: AtomicBool::new(false),
            close_next_poll: AtomicBool::new(false),
            pong_deadline: std::sync::Mutex::new(None),
            requested_close: OnceLock::new(),
            request: Arc::new(request),
        }
    }

    /// The session id.
    #[must_use]
    pub fn sid(&self) -> Sid {
        self.sid
    }

    /// The transport in use now.
    #[must_use]
    pub fn transport(&self) -> Transport {
        if self.transport.load(Ordering::Acquire) == Transport::Websocket as u8 {
            Transport::Websocket
        } else {
            Transport::Polling
        }
    }

    /// The handshake request.
    #[must_use]
    pub fn request(&self) -> &Arc<RequestInfo> {
        &self.request
    }

    /// Queues a frame for the client. A full queue closes the session as a slow consumer.
    pub fn send(&self, frame: Frame) -> Result<(), SendError> {
        match self.outbox.push(frame) {
            Ok(()) => Ok(()),
            Err(PushError::Closed) => Err(SendError::Closed),
            Err(PushError::Full) => {
                if !self.is_closed() {
                    tracing::debug!(sid = %self.sid, "outbound queue full, closing slow consumer");
                }
                self.stop_with(CloseReason::SlowConsumer);
                Err(SendError::Full)
            }
        }
    }

    /// Queues a frame unless the queue is full, in which case the frame is dropped (the session
    /// stays open). For volatile packets. Returns whether the frame was queued.
    pub fn send_volatile(&self, frame: Frame) -> bool {
        self.outbox.push(frame).is_ok()
    }

    /// Closes the session after the frames already queued have been delivered (bounded by the
    /// ping timeout: a client that does not collect them is dropped anyway).
    pub fn close(&self) {
        self.close_with(CloseReason::ServerClose);
    }

    /// Like [`Session::close`], ending with `reason` once the queue is delivered.
    pub fn close_with(&self, reason: CloseReason) {
        if self.is_closed() {
            return;
        }
        let _ = self.requested_close.set(reason);
        if self.outbox.push(Frame::Close).is_err() {
            self.stop_with(reason);
        } else {
            self.close_requested.notify_one();
        }
    }

    /// The reason of the graceful close under way (server close by default).
    pub(crate) fn graceful_reason(&self) -> CloseReason {
        self.requested_close
            .get()
            .copied()
            .unwrap_or(CloseReason::ServerClose)
    }

    /// Whether the session has ended (or is ending).
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.stop.is_cancelled()
    }

    /// Ends the session now with `reason`, unless it already ended.
    pub fn stop_with(&self, reason: CloseReason) {
        if self.reason.set(reason).is_ok() {
            self.stop.cancel();
            self.outbox.close();
        }
    }

    /// The reason the session ended, once it has.
    pub(crate) fn close_reason(&self) -> Option<CloseReason> {
        self.reason.get().copied()
    }

    /// Resolves when the session ends.
    pub(crate) fn stopped(&self) -> tokio_util::sync::WaitForCancellationFuture<'_> {
        self.stop.cancelled()
    }

    pub(crate) fn is_upgrading(&self) -> bool {
        self.upgrading.load(Ordering::Acquire)
    }

    /// Marks the start of an upgrade; returns `false` when one is already under way.
    pub(crate) fn begin_upgrade(&self) -> bool {
        let started = !self.upgrading.swap(true, Ordering::AcqRel);
        if started {
            self.upgrade_started.notify_waiters();
        }
        started
    }

    pub(crate) fn abort_upgrade(&self) {
        self.upgrading.store(false, Ordering::Release);
    }

    pub(crate) fn finish_upgrade(&self) {
        self.transport
            .store(Transport::Websocket as u8, Ordering::Release);
        self.upgrading.store(false, Ordering::Release);
    }

    /// A polling client sent a close packet while no poll was pending: its next poll gets a
    /// noop and ends the session (or the supervisor ends it after the ping timeout).
    pub(crate) fn begin_client_close(&self) {
        self.client_closing.store(true, Ordering::Release);
        self.close_requested.notify_one();
    }

    pub(crate) fn is_client_closing(&self) -> bool {
        self.client_closing.load(Ordering::Acquire)
    }

    pub(crate) fn set_pong_deadline(&self, deadline: Option<tokio::time::Instant>) {
        *self.pong_deadline.lock().unwrap_or_else(|e| e.into_inner()) = deadline;
    }

    /// Ends the session if its ping went unanswered past the timeout, even when the supervisor's
    /// timer has not fired yet; returns whether the session is closed.
    pub(crate) fn check_alive(&self) -> bool {
        let overdue = self
            .pong_deadline
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some_and(|d| tokio::time::Instant::now() + TIMER_GRANULARITY >= d);
        if overdue {
            self.stop_with(CloseReason::PingTimeout);
        }
        !self.is_closed()
    }

    /// Claims the right to process a POST; `false` when one is already in progress.
    pub(crate) fn begin_post(&self) -> bool {
        !self.posting.swap(true, Ordering::AcqRel)
    }

    pub(crate) fn end_post(&self) {
        self.posting.store(false, Ordering::Release);
    }
}
