//! The WebSocket transport, over hyper's upgrade and tokio-tungstenite; and the upgrade of a
//! polling session to WebSocket (`2probe` / `3probe`, then `5`).

use std::sync::Arc;
use std::time::Duration;

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::{Sink, SinkExt, StreamExt};
use http::{Request, Response};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::frame::Frame as WsFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data as OpData, OpCode};
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Message as WsMessage, Utf8Bytes};

use super::CloseReason;
use super::packet::{self, Frame, Packet};
use super::{Body, EngineError, EngineHandler, Entry, http_util};
use crate::metrics::add;

/// What a websocket runs on: the raw TCP stream when the connection came from our own listener
/// (hyper's read buffer is then released), any upgraded connection otherwise.
trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {
    /// Whether a read may find data (`Pending` registers the task for when it may). Lets an
    /// idle socket's task skip the read attempt (and tungstenite's buffer preparation) when
    /// it was woken to write.
    fn poll_read_ready(&self, _cx: &mut Context<'_>) -> Poll<()> {
        Poll::Ready(())
    }
}

impl Io for tokio::net::TcpStream {
    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<()> {
        tokio::net::TcpStream::poll_read_ready(self, cx).map(|_| ())
    }
}

impl Io for TokioIo<hyper::upgrade::Upgraded> {}

/// Boxed: the stream is moved through several futures (and `async fn` arguments are stored
/// twice in their state), so a pointer keeps each connection's task small.
type Ws = Box<WebSocketStream<Box<dyn Io>>>;

/// Frames written between two flushes, at most.
const WRITE_BATCH: u64 = 64;

impl<H: EngineHandler> super::Engine<H> {
    fn ws_config(&self) -> WebSocketConfig {
        let mut config = WebSocketConfig::default();
        config.read_buffer_size = self.config.websocket_read_buffer;
        // Frames fed between two flushes accumulate and go out in one write (one syscall per
        // batch instead of one per frame).
        config.write_buffer_size = 16 * 1024;
        config.max_message_size = Some(self.config.max_payload);
        config.max_frame_size = Some(self.config.max_payload);
        config
    }

    async fn accept(&self, on_upgrade: OnUpgrade) -> Option<Ws> {
        let upgraded = match on_upgrade.await {
            Ok(upgraded) => upgraded,
            Err(err) => {
                tracing::debug!(error = %err, "websocket upgrade failed");
                return None;
            }
        };
        let config = Some(self.ws_config());
        // Take the TCP stream back from hyper, with whatever it had read ahead, so that its
        // 8 KiB read buffer does not live as long as the websocket.
        let ws = match upgraded.downcast::<TokioIo<tokio::net::TcpStream>>() {
            Ok(parts) => {
                let stream: Box<dyn Io> = Box::new(parts.io.into_inner());
                WebSocketStream::from_partially_read(
                    stream,
                    parts.read_buf.to_vec(),
                    Role::Server,
                    config,
                )
                .await
            }
            Err(upgraded) => {
                let stream: Box<dyn Io> = Box::new(TokioIo::new(upgraded));
                WebSocketStream::from_raw_socket(stream, Role::Server, config).await
            }
        };
        Some(Box::new(ws))
    }

    /// Runs a session that started on WebSocket: sends the open packet, then serves it.
    pub(crate) async fn run_new_websocket(
        self: Arc<Self>,
        entry: Entry<H::Conn>,
        on_upgrade: OnUpgrade,
        open: String,
    ) {
        let session = entry.session.clone();
        // Boxed: the handshake's state is short-lived, the task's lasts as long as the socket.
        let Some(ws) = Box::pin(self.accept(on_upgrade)).await else {
            session.stop_with(CloseReason::TransportError);
            return;
        };
        session.outbox.push_front(Frame::Text(open.into()));
        let Some(_reader) = session.outbox.reader().await else {
            return;
        };
        self.serve_websocket(&entry, ws).await;
    }

    /// Answers a websocket handshake with `101` and, once the connection is upgraded, runs
    /// `serve` on the websocket.
    fn upgrade_with<B, F, Fut>(
        self: &Arc<Self>,
        mut req: Request<B>,
        serve: F,
    ) -> Result<Response<Body>, EngineError>
    where
        F: FnOnce(Arc<Self>, Ws) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let key = req
            .headers()
            .get(http::header::SEC_WEBSOCKET_KEY)
            .cloned()
            .ok_or(EngineError::BadRequest)?;
        let on_upgrade = req
            .extensions_mut()
            .remove::<OnUpgrade>()
            .ok_or(EngineError::BadRequest)?;
        let engine = self.clone();
        tokio::spawn(async move {
            if let Some(ws) = engine.accept(on_upgrade).await {
                serve(engine, ws).await;
            }
        });
        Ok(http_util::switching_protocols(key.as_bytes()))
    }

    /// Accepts a websocket that upgrades an existing polling session.
    pub(crate) fn upgrade<B>(
        self: &Arc<Self>,
        entry: Entry<H::Conn>,
        req: Request<B>,
    ) -> Result<Response<Body>, EngineError> {
        self.upgrade_with(req, move |engine, ws| async move {
            engine.run_upgrade(entry, ws).await;
        })
    }

    /// Completes a websocket handshake only to close the socket right away.
    pub(crate) fn reject_websocket<B>(
        self: &Arc<Self>,
        req: Request<B>,
    ) -> Result<Response<Body>, EngineError> {
        self.upgrade_with(req, |_, mut ws| async move {
            let _ = tokio::time::timeout(
                Duration::from_secs(1),
                WebSocketStream::close(&mut ws, None),
            )
            .await;
        })
    }

    async fn run_upgrade(&self, entry: Entry<H::Conn>, mut ws: Ws) {
        let session = entry.session.clone();
        let probe = tokio::time::timeout(self.config.upgrade_timeout, async {
            // `2probe` → `3probe`, then the pending GET answers a noop; `5` completes the upgrade.
            let mut probed = false;
            loop {
                let msg = tokio::select! {
                    _ = session.stopped() => return false,
                    msg = ws.next() => msg,
                };
                let Some(Ok(WsMessage::Text(text))) = msg else {
                    return false;
                };
                match packet::decode_text(&text) {
                    Ok(Packet::Ping("probe")) if !probed => {
                        if ws
                            .send(WsMessage::Text(Utf8Bytes::from_static("3probe")))
                            .await
                            .is_err()
                            || !session.begin_upgrade()
                        {
                            return false;
                        }
                        probed = true;
                    }
                    Ok(Packet::Upgrade) if probed => return true,
                    Ok(Packet::Noop) => {}
                    _ => return false,
                }
            }
        })
        .await;
        if probe != Ok(true) {
            tracing::debug!(sid = %session.sid(), "upgrade did not complete");
            session.abort_upgrade();
            let _ = WebSocketStream::close(&mut ws, None).await;
            return;
        }
        session.finish_upgrade();
        self.handler().on_upgrade(&entry.conn);
        let Some(_reader) = session.outbox.reader().await else {
            return;
        };
        tracing::debug!(sid = %session.sid(), "upgraded to websocket");
        self.serve_websocket(&entry, ws).await;
    }

    /// Reads client packets and writes queued frames until the session ends. The caller holds
    /// the outbox's reader permit.
    async fn serve_websocket(&self, entry: &Entry<H::Conn>, mut ws: Ws) {
        let session = &entry.session;
        let end = Driver {
            engine: self,
            entry,
            ws: &mut ws,
            pending: Batch::default(),
            deadline: None,
            read_idle: false,
        }
        .await;
        let linger = match end {
            End::Graceful => {
                session.stop_with(session.graceful_reason());
                Duration::from_secs(1)
            }
            End::Failed(reason) => {
                session.stop_with(reason);
                Duration::from_millis(100)
            }
            // Ended for another reason than a server close: say goodbye briefly, without
            // waiting on a client that does not read.
            End::Stopped => Duration::from_millis(100),
        };
        // Boxed, as it only runs once: the task's own state stays small for the socket's life.
        let _ = Box::pin(tokio::time::timeout(
            linger,
            WebSocketStream::close(&mut ws, None),
        ))
        .await;
    }

    fn on_ws_message(&self, entry: &Entry<H::Conn>, msg: WsMessage) {
        let session = &entry.session;
        match msg {
            WsMessage::Text(text) => match packet::decode_text(&text) {
                Ok(p) => self.on_packet(entry, p),
                Err(err) => {
                    tracing::debug!(sid = %session.sid(), error = %err, "invalid packet");
                    session.stop_with(CloseReason::ParseError);
                }
            },
            WsMessage::Binary(bin) => self.on_packet(entry, Packet::Binary(bin)),
            WsMessage::Close(_) => session.stop_with(CloseReason::TransportClose),
            WsMessage::Ping(_) | WsMessage::Pong(_) | WsMessage::Frame(_) => {}
        }
    }
}

/// How a websocket's service ended.
enum End {
    /// The session was ended (by either side, or a timeout) while the socket was idle or busy.
    Stopped,
    /// A close marker was reached and everything before it written: close the socket politely.
    Graceful,
    /// Writing failed or stalled.
    Failed(CloseReason),
}

/// The frames written since the last flush.
#[derive(Default)]
struct Batch {
    frames: u64,
    bytes: u64,
    /// A close marker was reached: once flushed, the service ends gracefully.
    closing: bool,
}

/// The service of one websocket, as a hand-written future: it reads client messages, feeds
/// queued frames and flushes them, and waits for whichever comes next. Written out rather
/// than as an `async` loop over `select!` because it lives as long as the connection: this
/// keeps its state to a few words beside the socket (an idle connection's whole cost matters
/// at tens of thousands of connections).
struct Driver<'a, H: EngineHandler> {
    engine: &'a super::Engine<H>,
    entry: &'a Entry<H::Conn>,
    ws: &'a mut Ws,
    /// Frames fed but not yet flushed (a flush is under way when `frames > 0` or `closing`).
    pending: Batch,
    /// When the flush under way gives up: a client that does not read is a slow consumer.
    /// Boxed: a timer only exists while a write is blocked.
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
    /// The last read found nothing buffered: read again once the socket is readable.
    read_idle: bool,
}

impl<H: EngineHandler> Driver<'_, H> {
    fn flushing(&self) -> bool {
        self.pending.frames > 0 || self.pending.closing
    }

    /// Feeds queued frames (up to a batch) without flushing.
    fn feed_queued(&mut self, cx: &mut Context<'_>) -> Result<(), CloseReason> {
        let session = &self.entry.session;
        while self.pending.frames < WRITE_BATCH && !self.pending.closing {
            match Pin::new(&mut *self.ws).poll_ready(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(_)) => return Err(CloseReason::TransportError),
                Poll::Pending => break,
            }
            let Poll::Ready(frame) = session.outbox.poll_pop(cx) else {
                break;
            };
            self.pending.bytes += frame.payload_len() as u64;
            if !feed(self.ws, frame, &mut self.pending)? {
                self.pending.closing = true;
            }
        }
        Ok(())
    }

    /// Drives the flush under way; `Ready(Ok)` once everything fed is written.
    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), CloseReason>> {
        match Pin::new(&mut *self.ws).poll_flush(cx) {
            Poll::Ready(Ok(())) => {
                self.deadline = None;
                let metrics = &self.engine.metrics;
                add(&metrics.packets_out, self.pending.frames);
                add(&metrics.bytes_out, self.pending.bytes);
                self.pending.frames = 0;
                self.pending.bytes = 0;
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(_)) => Poll::Ready(Err(CloseReason::TransportError)),
            Poll::Pending => {
                let config = &self.engine.config;
                let deadline = self.deadline.get_or_insert_with(|| {
                    Box::pin(tokio::time::sleep(
                        config.ping_interval + config.ping_timeout,
                    ))
                });
                match deadline.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Err(CloseReason::SlowConsumer)),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl<H: EngineHandler> Future for Driver<'_, H> {
    type Output = End;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<End> {
        let this = &mut *self;
        loop {
            if this.entry.session.is_closed() {
                return Poll::Ready(End::Stopped);
            }
            let mut progressed = false;
            // One client message per turn, so reads and writes take turns. The layer above may
            // pause reading (too much work waiting for this client): its waker resumes it, and
            // what the socket buffered meanwhile is read then.
            let paused = this
                .engine
                .handler()
                .poll_read_ready(&this.entry.conn, cx)
                .is_pending();
            if !paused {
                let readable = !this.read_idle || this.ws.get_ref().poll_read_ready(cx).is_ready();
                match if readable {
                    this.ws.poll_next_unpin(cx)
                } else {
                    Poll::Pending
                } {
                    Poll::Ready(Some(Ok(msg))) => {
                        this.read_idle = false;
                        this.engine.on_ws_message(this.entry, msg);
                        progressed = true;
                    }
                    Poll::Ready(Some(Err(err))) => {
                        tracing::debug!(sid = %this.entry.session.sid(), error = %err, "websocket error");
                        return Poll::Ready(End::Failed(CloseReason::TransportError));
                    }
                    Poll::Ready(None) => {
                        return Poll::Ready(End::Failed(CloseReason::TransportClose));
                    }
                    Poll::Pending => this.read_idle = true,
                }
            }
            if !this.flushing()
                && let Err(reason) = this.feed_queued(cx)
            {
                return Poll::Ready(End::Failed(reason));
            }
            if this.flushing() {
                match this.poll_flush(cx) {
                    Poll::Ready(Ok(())) if this.pending.closing => {
                        return Poll::Ready(End::Graceful);
                    }
                    // More may have been queued meanwhile.
                    Poll::Ready(Ok(())) => progressed = true,
                    Poll::Ready(Err(reason)) => return Poll::Ready(End::Failed(reason)),
                    Poll::Pending => {}
                }
            }
            if !progressed {
                // Every source of work is registered: the socket (read, and write while
                // flushing), the deadline, and the outbox (a frame in an empty queue, or the
                // session's end, even while a write is blocked).
                if this.flushing() {
                    this.entry.session.outbox.watch(cx);
                    if this.entry.session.is_closed() {
                        continue;
                    }
                }
                return Poll::Pending;
            }
        }
    }
}

/// Feeds one frame to the socket without flushing, counting it; `Ok(false)` for a close marker.
fn feed(ws: &mut Ws, frame: Frame, batch: &mut Batch) -> Result<bool, CloseReason> {
    let result = match frame {
        Frame::Text(text) => Pin::new(&mut *ws).start_send(ws_text(text)),
        Frame::Binary(bin) => Pin::new(&mut *ws).start_send(WsMessage::Binary(bin)),
        Frame::Group(frames) => {
            // The frames of a group (a packet and its attachments) go out back to back; the
            // socket's write buffer is unbounded, so each is accepted without waiting.
            for f in frames.iter() {
                if !feed(ws, f.clone(), batch)? {
                    return Ok(false);
                }
            }
            return Ok(true);
        }
        Frame::Close => return Ok(false),
    };
    batch.frames += 1;
    result
        .map_err(|_| CloseReason::TransportError)
        .map(|()| true)
}

/// A text message of the websocket library for one of our frames' text: the same frame
/// `Message::Text` becomes, built from the shared bytes without copying them or checking again
/// that they are UTF-8 ([`super::Text`] is built only from strings).
fn ws_text(text: super::Text) -> WsMessage {
    WsMessage::Frame(WsFrame::message(
        text.to_bytes(),
        OpCode::Data(OpData::Text),
        true,
    ))
}
