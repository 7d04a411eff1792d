//! The HTTP long-polling transport: GET collects queued packets, POST delivers client packets.

use std::sync::Arc;

use bytes::{Buf, BufMut, Bytes};
use http::{Request, Response};
use http_body_util::BodyExt;

use super::CloseReason;
use super::compression::{Encoding, HttpCompression};
use super::packet::{self, Frame};
use super::session::{Session, Transport};
use super::{Body, EngineError, EngineHandler, Entry, http_util};
use crate::metrics::{Metrics, add};

/// Answers a long-polling GET: waits for at least one queued packet, then returns every packet
/// queued by then as one payload, compressed when `compression` allows it (its settings, and
/// the coding the request accepts).
pub(crate) async fn poll(
    session: &Arc<Session>,
    metrics: &Metrics,
    compression: Option<(HttpCompression, Option<Encoding>)>,
) -> Response<Body> {
    let Ok(reader) = session.outbox.try_reader() else {
        if session.is_upgrading() || session.transport() != Transport::Polling {
            return EngineError::BadRequest.into_response();
        }
        // Two GETs at once: the protocol closes the session; the first GET answers `1`.
        session.stop_with(CloseReason::TransportError);
        return EngineError::BadRequest.into_response();
    };
    if session
        .close_next_poll
        .load(std::sync::atomic::Ordering::Acquire)
    {
        session.stop_with(session.graceful_reason());
        return http_util::text_response(Bytes::from_static(b"1"));
    }
    if session.is_client_closing() {
        session.stop_with(CloseReason::TransportClose);
        return http_util::text_response(Bytes::from_static(b"6"));
    }
    let mut out = Vec::new();
    let mut close_after = false;
    let upgrade_started = session.upgrade_started.notified();
    tokio::pin!(upgrade_started);
    upgrade_started.as_mut().enable();
    let first = if session.is_upgrading() {
        session.outbox.try_pop()
    } else {
        tokio::select! {
            biased;
            _ = session.stopped() => {
                // The client closed the session itself: a noop ends its pending poll. Otherwise
                // the close packet tells it the session is gone.
                let body: &'static [u8] = if session.close_reason() == Some(CloseReason::TransportClose) {
                    b"6"
                } else {
                    b"1"
                };
                return http_util::text_response(Bytes::from_static(body));
            }
            frame = session.outbox.pop() => Some(frame),
            _ = &mut upgrade_started => session.outbox.try_pop(),
        }
    };
    let mut next = first;
    let mut count = 0;
    while let Some(frame) = next {
        if matches!(frame, Frame::Close) {
            close_after = true;
            break;
        }
        packet::encode_into_payload(&frame, &mut out);
        count += 1;
        next = session.outbox.try_pop();
    }
    add(&metrics.packets_out, count);
    add(&metrics.bytes_out, out.len() as u64);
    if close_after && out.is_empty() {
        packet::encode_into_payload(&Frame::Text(Frame::close_packet()), &mut out);
        session.stop_with(session.graceful_reason());
    } else if close_after {
        // As the reference server: the packets first, the close packet in the next poll, so
        // that clients handle the packets (a DISCONNECT, say) before the transport closes.
        session
            .close_next_poll
            .store(true, std::sync::atomic::Ordering::Release);
    } else if out.is_empty() {
        // Woken by an upgrade (or a closed queue): a noop lets the client pause polling.
        packet::encode_into_payload(&Frame::noop(), &mut out);
    }
    drop(reader);
    match compression {
        Some((settings, Some(encoding))) if out.len() >= settings.threshold => {
            match encoding.compress(&out) {
                Ok(body) => {
                    http_util::compressed_text_response(Bytes::from(body), encoding.token())
                }
                Err(_) => http_util::text_response(Bytes::from(out)),
            }
        }
        Some(_) => http_util::vary_accept_encoding(http_util::text_response(Bytes::from(out))),
        None => http_util::text_response(Bytes::from(out)),
    }
}

impl<H: EngineHandler> super::Engine<H> {
    /// Answers a long-polling POST: decodes the client's packets and hands them on.
    pub(crate) async fn post<B>(&self, entry: &Entry<H::Conn>, req: Request<B>) -> Response<Body>
    where
        B: http_body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let session = &entry.session;
        if !session.begin_post() {
            session.stop_with(CloseReason::TransportError);
            return EngineError::BadRequest.into_response();
        }
        let body = match read_body(req.into_body(), self.config.max_payload).await {
            Ok(body) => body,
            Err(err) => {
                session.end_post();
                session.stop_with(CloseReason::TransportError);
                if err == BodyError::TooLarge {
                    add(&self.metrics.payloads_too_large, 1);
                    return http_util::payload_too_large();
                }
                return EngineError::BadRequest.into_response();
            }
        };
        match packet::decode_payload(&body) {
            Ok(packets) => {
                for p in packets {
                    // The layer above may pause reading (too much work waiting): the answer
                    // to the POST waits, and so does the client's next one.
                    tokio::select! {
                        () = std::future::poll_fn(|cx| self.handler().poll_read_ready(&entry.conn, cx)) => {}
                        () = session.stopped() => break,
                    }
                    if session.is_closed() {
                        break;
                    }
                    self.on_packet(entry, p);
                }
            }
            Err(err) => {
                tracing::debug!(sid = %session.sid(), error = %err, "invalid polling payload");
                session.stop_with(CloseReason::ParseError);
            }
        }
        session.end_post();
        http_util::ok_response()
    }
}

/// How long an oversized body is read and discarded before the `413` goes out, so that a client
/// that sends its whole body before reading the answer (Python's `urllib`, ...) gets the status
/// instead of a broken pipe. Beyond it the connection closes anyway.
const LINGER: std::time::Duration = std::time::Duration::from_secs(5);

/// Why a request body was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyError {
    /// Longer than the max payload (declared or sent).
    TooLarge,
    /// The body could not be read.
    Failed,
}

/// Reads a body of at most `max` bytes. A longer one (by its `Content-Length` or by what
/// arrives) is read to its end and discarded, for up to [`LINGER`], before the error returns.
async fn read_body<B>(body: B, max: usize) -> Result<Bytes, BodyError>
where
    B: http_body::Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    tokio::pin!(body);
    let mut collected = bytes::BytesMut::new();
    if body.size_hint().lower() <= max as u64 {
        loop {
            let Some(frame) = body.frame().await else {
                return Ok(collected.freeze());
            };
            let Ok(data) = frame.map_err(Into::into)?.into_data() else {
                continue;
            };
            if collected.len() + data.remaining() > max {
                break;
            }
            collected.put(data);
        }
    }
    drop(collected);
    let _ = tokio::time::timeout(LINGER, async {
        while let Some(Ok(_)) = body.frame().await {}
    })
    .await;
    Err(BodyError::TooLarge)
}

impl From<Box<dyn std::error::Error + Send + Sync>> for BodyError {
    fn from(_: Box<dyn std::error::Error + Send + Sync>) -> Self {
        BodyError::Failed
    }
}
