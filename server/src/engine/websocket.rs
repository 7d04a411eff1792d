//! The WebSocket transport, over hyper's upgrade and tokio-tungstenite; and the upgrade of a
//! polling session to WebSocket (`2probe` / `3probe`, then `5`).

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use http::{Request, Response};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Message as WsMessage, Utf8Bytes};

use super::packet::{self, Frame, Packet};
use super::session::CloseReason;
use super::{Body, EngineError, EngineHandler, Entry, http_util};
use crate::metrics::{Metrics, add};

/// What a websocket runs on: the raw TCP stream when the connection came from our own listener
/// (hyper's read buffer is then released), any upgraded connection otherwise.
trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}

impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}

type Ws = WebSocketStream<Box<dyn Io>>;

/// Frames written between two flushes, at most.
const WRITE_BATCH: usize = 64;

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
        Some(ws)
    }

    /// Runs a session that started on WebSocket: sends the open packet, then serves it.
    pub(crate) async fn run_new_websocket(
        self: Arc<Self>,
        entry: Entry<H::Conn>,
        on_upgrade: OnUpgrade,
        open: String,
    ) {
        let session = entry.session.clone();
        let Some(mut ws) = self.accept(on_upgrade).await else {
            session.stop_with(CloseReason::TransportError);
            return;
        };
        if ws.send(WsMessage::Text(open.into())).await.is_err() {
            session.stop_with(CloseReason::TransportError);
            return;
        }
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
            let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
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
            let _ = ws.close(None).await;
            return;
        }
        session.finish_upgrade();
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
        let write_timeout = self.config.ping_interval + self.config.ping_timeout;
        loop {
            tokio::select! {
                biased;
                _ = session.stopped() => break,
                frame = session.outbox.pop() => {
                    match write_frames(&mut ws, frame, session, write_timeout, &self.metrics).await {
                        Ok(true) => {}
                        Ok(false) => {
                            let _ = tokio::time::timeout(Duration::from_secs(1), ws.close(None)).await;
                            session.stop_with(session.graceful_reason());
                            return;
                        }
                        Err(reason) => {
                            session.stop_with(reason);
                            break;
                        }
                    }
                }
                msg = ws.next() => match msg {
                    Some(Ok(WsMessage::Text(text))) => match packet::decode_text(&text) {
                        Ok(p) => self.on_packet(entry, p),
                        Err(err) => {
                            tracing::debug!(sid = %session.sid(), error = %err, "invalid packet");
                            session.stop_with(CloseReason::ParseError);
                        }
                    },
                    Some(Ok(WsMessage::Binary(bin))) => self.on_packet(entry, Packet::Binary(bin)),
                    Some(Ok(WsMessage::Close(_))) | None => {
                        session.stop_with(CloseReason::TransportClose);
                    }
                    Some(Ok(_)) => {}
                    Some(Err(err)) => {
                        tracing::debug!(sid = %session.sid(), error = %err, "websocket error");
                        session.stop_with(CloseReason::TransportError);
                    }
                },
            }
        }
        // Ending for another reason than a server close: say goodbye briefly, without waiting
        // on a client that does not read.
        let _ = tokio::time::timeout(Duration::from_millis(100), ws.close(None)).await;
    }
}

/// Writes `first` and whatever else is queued (up to a batch), then flushes. Returns `Ok(false)`
/// when a close marker was reached.
async fn write_frames(
    ws: &mut Ws,
    first: Frame,
    session: &super::Session,
    timeout: Duration,
    metrics: &Metrics,
) -> Result<bool, CloseReason> {
    let mut bytes = 0u64;
    let mut written = 0u64;
    let work = async {
        let mut next = Some(first);
        while let Some(frame) = next {
            bytes += frame_len(&frame);
            if !feed(ws, frame).await? {
                ws.flush().await.map_err(|_| CloseReason::TransportError)?;
                return Ok(false);
            }
            written += 1;
            next = if written < WRITE_BATCH as u64 {
                session.outbox.try_pop()
            } else {
                None
            };
        }
        ws.flush().await.map_err(|_| CloseReason::TransportError)?;
        Ok(true)
    };
    let result = tokio::time::timeout(timeout, work)
        .await
        .unwrap_or(Err(CloseReason::SlowConsumer));
    add(&metrics.packets_out, written);
    add(&metrics.bytes_out, bytes);
    result
}

fn frame_len(frame: &Frame) -> u64 {
    match frame {
        Frame::Text(t) => t.len() as u64,
        Frame::Binary(b) => b.len() as u64,
        Frame::Group(g) => g.iter().map(frame_len).sum(),
        Frame::Close => 0,
    }
}

/// Feeds one frame to the socket without flushing; `Ok(false)` for a close marker.
async fn feed(ws: &mut Ws, frame: Frame) -> Result<bool, CloseReason> {
    let result = match frame {
        Frame::Text(text) => ws.feed(WsMessage::Text(text)).await,
        Frame::Binary(bin) => ws.feed(WsMessage::Binary(bin)).await,
        Frame::Group(frames) => {
            for f in frames.iter() {
                if !Box::pin(feed(ws, f.clone())).await? {
                    return Ok(false);
                }
            }
            Ok(())
        }
        Frame::Close => return Ok(false),
    };
    result
        .map(|()| true)
        .map_err(|_| CloseReason::TransportError)
}
