//! A session's outbound queue: bounded in frames and in bytes, written by any task, read by one
//! transport at a time.
//!
//! It costs nothing on the heap while empty (a channel would keep a block of slots per session),
//! which matters with tens of thousands of mostly idle connections.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::task::{Context, Poll};

use futures_util::task::AtomicWaker;
use tokio::sync::{Semaphore, SemaphorePermit, TryAcquireError};

use super::packet::Frame;

/// Capacity kept after a burst has drained; a larger buffer is released.
const KEEP_CAPACITY: usize = 16;

/// Why a frame was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PushError {
    /// The queue holds its maximum of frames or of bytes.
    Full,
    /// The session ended; nothing more will be read.
    Closed,
}

#[derive(Default)]
struct Queue {
    frames: VecDeque<Frame>,
    /// The payload bytes of `frames`.
    bytes: usize,
    closed: bool,
}

/// The outbound frames of one session.
pub(crate) struct Outbox {
    queue: Mutex<Queue>,
    /// The waiting reader, woken when a frame lands in an empty queue (a reader waits only
    /// once it found the queue empty, so one wake per non-empty stretch suffices) and when
    /// the queue closes.
    reader_waker: AtomicWaker,
    /// One permit: the transport that currently reads (a pending poll, or the websocket).
    reader: Semaphore,
    capacity: usize,
    max_bytes: usize,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("len", &self.len())
            .field("capacity", &self.capacity)
            .field("max_bytes", &self.max_bytes)
            .finish_non_exhaustive()
    }
}

impl Outbox {
    /// An empty queue holding at most `capacity` frames and `max_bytes` bytes of payload (a
    /// frame is always taken by an empty queue, however large).
    pub(crate) fn new(capacity: usize, max_bytes: usize) -> Self {
        Outbox {
            queue: Mutex::new(Queue::default()),
            reader_waker: AtomicWaker::new(),
            reader: Semaphore::new(1),
            capacity: capacity.max(1),
            max_bytes,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a frame.
    pub(crate) fn push(&self, frame: Frame) -> Result<(), PushError> {
        let mut queue = self.lock();
        if queue.closed {
            return Err(PushError::Closed);
        }
        let size = frame.payload_len();
        let was_empty = queue.frames.is_empty();
        if queue.frames.len() >= self.capacity
            || (!was_empty && queue.bytes.saturating_add(size) > self.max_bytes)
        {
            return Err(PushError::Full);
        }
        queue.bytes += size;
        queue.frames.push_back(frame);
        drop(queue);
        if was_empty {
            self.reader_waker.wake();
        }
        Ok(())
    }

    /// Queues a frame ahead of the others (the open packet of a websocket session), even when
    /// the queue is full.
    pub(crate) fn push_front(&self, frame: Frame) {
        let mut queue = self.lock();
        if !queue.closed {
            queue.bytes += frame.payload_len();
            queue.frames.push_front(frame);
        }
        drop(queue);
        self.reader_waker.wake();
    }

    /// Takes the oldest frame, if any.
    pub(crate) fn try_pop(&self) -> Option<Frame> {
        let mut queue = self.lock();
        let frame = queue.frames.pop_front();
        if let Some(frame) = &frame {
            queue.bytes = queue.bytes.saturating_sub(frame.payload_len());
        }
        if queue.frames.is_empty() && queue.frames.capacity() > KEEP_CAPACITY {
            queue.frames = VecDeque::new();
        }
        frame
    }

    /// Takes the oldest frame, or arranges for the task to be woken when one arrives or the
    /// queue closes. Only the holder of the reader permit may call it.
    pub(crate) fn poll_pop(&self, cx: &mut Context<'_>) -> Poll<Frame> {
        if let Some(frame) = self.try_pop() {
            return Poll::Ready(frame);
        }
        self.reader_waker.register(cx.waker());
        match self.try_pop() {
            Some(frame) => Poll::Ready(frame),
            None => Poll::Pending,
        }
    }

    /// Wakes the task when a frame lands in an empty queue or the queue closes (for a reader
    /// busy writing what it took). Only the holder of the reader permit may call it.
    pub(crate) fn watch(&self, cx: &mut Context<'_>) {
        self.reader_waker.register(cx.waker());
    }

    /// Waits for a frame. Only the holder of the reader permit may call it.
    pub(crate) async fn pop(&self) -> Frame {
        std::future::poll_fn(|cx| self.poll_pop(cx)).await
    }

    /// The number of queued frames.
    pub(crate) fn len(&self) -> usize {
        self.lock().frames.len()
    }

    /// Drops what is queued and refuses further frames (the session ended).
    pub(crate) fn close(&self) {
        let frames = {
            let mut queue = self.lock();
            queue.closed = true;
            queue.bytes = 0;
            std::mem::take(&mut queue.frames)
        };
        drop(frames);
        self.reader_waker.wake();
    }

    /// Becomes the reader, if no transport is reading now.
    pub(crate) fn try_reader(&self) -> Result<SemaphorePermit<'_>, TryAcquireError> {
        self.reader.try_acquire()
    }

    /// Waits to become the reader (an upgrade waits for the pending poll to answer).
    pub(crate) async fn reader(&self) -> Option<SemaphorePermit<'_>> {
        self.reader.acquire().await.ok()
    }

    /// Whether a transport is reading now (a poll is pending, or a websocket runs).
    pub(crate) fn has_reader(&self) -> bool {
        self.reader.available_permits() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &'static str) -> Frame {
        Frame::Text(s.into())
    }

    fn content(frame: &Frame) -> &str {
        frame.as_text().expect("a text frame")
    }

    #[tokio::test]
    async fn bounded_fifo_that_wakes_its_reader() {
        let outbox = std::sync::Arc::new(Outbox::new(2, usize::MAX));
        let reader = outbox.clone();
        let got = tokio::spawn(async move { (reader.pop().await, reader.pop().await) });
        tokio::task::yield_now().await;
        outbox.push(text("a")).unwrap();
        outbox.push(text("b")).unwrap();
        let (a, b) = got.await.unwrap();
        assert_eq!((content(&a), content(&b)), ("a", "b"));
        outbox.push(text("c")).unwrap();
        outbox.push(text("d")).unwrap();
        assert_eq!(outbox.push(text("e")), Err(PushError::Full));
        assert_eq!(outbox.len(), 2);
        outbox.close();
        assert_eq!(outbox.len(), 0);
        assert_eq!(outbox.push(text("f")), Err(PushError::Closed));
    }

    #[test]
    fn one_reader_at_a_time() {
        let outbox = Outbox::new(1, usize::MAX);
        let permit = outbox.try_reader().unwrap();
        assert!(outbox.has_reader());
        assert!(outbox.try_reader().is_err());
        drop(permit);
        assert!(!outbox.has_reader());
    }

    #[test]
    fn bounded_in_bytes_too() {
        let outbox = Outbox::new(100, 10);
        // A lone frame is taken however large; behind it, frames fit within the byte bound.
        outbox.push(text("0123456789abc")).unwrap();
        assert_eq!(outbox.push(text("x")), Err(PushError::Full));
        assert!(outbox.try_pop().is_some());
        outbox.push(text("01234")).unwrap();
        outbox.push(text("56789")).unwrap();
        assert_eq!(outbox.push(text("a")), Err(PushError::Full));
        assert!(outbox.try_pop().is_some());
        outbox.push(text("abcde")).unwrap();
        assert_eq!(outbox.len(), 2);
    }

    #[test]
    fn releases_a_large_buffer_once_drained() {
        let outbox = Outbox::new(1000, usize::MAX);
        for _ in 0..100 {
            outbox.push(text("x")).unwrap();
        }
        while outbox.try_pop().is_some() {}
        assert_eq!(outbox.lock().frames.capacity(), 0);
    }
}
