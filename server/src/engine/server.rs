//! The Engine.IO server: the session table, the handshake, and the routing of each request to
//! its transport; the [`EngineHandler`] seam to the layer above.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response};
use http_body_util::Full;
use tokio::sync::Notify;

use super::http_util::{self, Query, cors_headers, preflight};
use super::packet::{self, Frame, Packet};
use super::{
    CloseReason, EngineConfig, EngineError, RequestInfo, Session, Sid, Transport, compression,
    forward, polling,
};
use crate::metrics::{Metrics, add};

/// A message received from a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message<'a> {
    /// A text message.
    Text(&'a str),
    /// A binary message.
    Binary(Bytes),
}

/// The layer above the engine: told of every session's start, messages and end.
pub trait EngineHandler: Send + Sync + 'static {
    /// Per-session state of the layer above, cloned into the transport tasks.
    type Conn: Clone + Send + Sync + 'static;

    /// A session opened. Called before its first message.
    fn on_open(&self, session: &Arc<Session>) -> Self::Conn;

    /// A message arrived. Called in order, from one task at a time per session.
    fn on_message(&self, conn: &Self::Conn, message: Message<'_>);

    /// Whether the session may read the client's next message now. `Pending` pauses reading
    /// (backpressure) until the handler wakes the task. Default: always ready.
    fn poll_read_ready(
        &self,
        conn: &Self::Conn,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        let _ = (conn, cx);
        std::task::Poll::Ready(())
    }

    /// The session moved from polling to WebSocket. Default: nothing.
    fn on_upgrade(&self, conn: &Self::Conn) {
        let _ = conn;
    }

    /// The session ended. Called exactly once, after the last `on_message`.
    fn on_close(&self, conn: &Self::Conn, reason: CloseReason);
}

/// The response body type of the engine.
pub type Body = Full<Bytes>;

pub(crate) struct Entry<C> {
    pub(crate) session: Arc<Session>,
    pub(crate) conn: C,
}

impl<C: Clone> Clone for Entry<C> {
    fn clone(&self) -> Self {
        Entry {
            session: self.session.clone(),
            conn: self.conn.clone(),
        }
    }
}

/// The Engine.IO server: sessions, transports and heartbeats.
pub struct Engine<H: EngineHandler> {
    pub(super) config: EngineConfig,
    pub(super) handler: H,
    pub(super) sessions: RwLock<HashMap<Sid, Entry<H::Conn>>>,
    pub(super) forwarder: Option<forward::Forwarder>,
    /// Sessions counted against `max_connections`: taken by a handshake before the session
    /// exists (check and reservation in one atomic step), given back when it ends.
    pub(super) reserved: AtomicUsize,
    /// Set when the shutdown starts: handshakes are refused from then on.
    pub(super) closing: AtomicBool,
    /// Woken when the last session ends.
    pub(super) emptied: Notify,
    pub(crate) metrics: Arc<Metrics>,
}

impl<H: EngineHandler> std::fmt::Debug for Engine<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.config)
            .field("sessions", &self.session_count())
            .finish()
    }
}

impl<H: EngineHandler> Engine<H> {
    /// An engine with `config` that reports to `handler`.
    pub fn new(config: EngineConfig, handler: H) -> Arc<Self> {
        Self::with_metrics(config, handler, Arc::default())
    }

    /// An engine that counts into `metrics` (shared with the layer above).
    pub fn with_metrics(config: EngineConfig, handler: H, metrics: Arc<Metrics>) -> Arc<Self> {
        let forwarder = config.forwarding.clone().map(forward::Forwarder::new);
        Arc::new(Engine {
            config,
            forwarder,
            handler,
            sessions: RwLock::new(HashMap::new()),
            reserved: AtomicUsize::new(0),
            closing: AtomicBool::new(false),
            emptied: Notify::new(),
            metrics,
        })
    }

    /// The counters.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The settings.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The handler.
    pub fn handler(&self) -> &H {
        &self.handler
    }

    /// The number of live sessions.
    pub fn session_count(&self) -> usize {
        self.sessions.read().map(|s| s.len()).unwrap_or(0)
    }

    /// Live sessions by transport: `(polling, websocket)`.
    pub fn sessions_by_transport(&self) -> (usize, usize) {
        let sessions = self.sessions.read().unwrap_or_else(|e| e.into_inner());
        let ws = sessions
            .values()
            .filter(|e| e.session.transport() == Transport::Websocket)
            .count();
        (sessions.len() - ws, ws)
    }

    /// Refuses new handshakes from now on (`503`), and closes every session: what is queued is
    /// delivered first (as `close` does), and whatever is still open after `drain` is dropped.
    /// Resolves when no session is left.
    pub async fn shutdown(&self, reason: CloseReason, drain: Duration) {
        self.closing.store(true, Ordering::Release);
        let all = self.live_sessions();
        for session in &all {
            session.close_with(reason);
        }
        let _ = tokio::time::timeout(drain, self.emptied()).await;
        // What is left is dropped (a handshake that raced the start of the shutdown included).
        let left = self.live_sessions();
        for session in &left {
            session.stop_with(reason);
        }
        // Their supervisors report the ends at once; the bound is a safety net.
        let _ = tokio::time::timeout(Duration::from_secs(1), self.emptied()).await;
    }

    fn live_sessions(&self) -> Vec<Arc<Session>> {
        self.sessions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .map(|e| e.session.clone())
            .collect()
    }

    /// Resolves once no session is left.
    async fn emptied(&self) {
        loop {
            // Registered before the check, so that the last session's end cannot slip between.
            let emptied = self.emptied.notified();
            tokio::pin!(emptied);
            emptied.as_mut().enable();
            if self.session_count() == 0 {
                return;
            }
            emptied.await;
        }
    }

    fn entry(&self, sid: &Sid) -> Option<Entry<H::Conn>> {
        self.sessions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(sid)
            .cloned()
    }

    /// Answers one HTTP request addressed to the engine's path.
    pub async fn handle<B>(
        self: &Arc<Self>,
        req: Request<B>,
        remote_addr: Option<SocketAddr>,
    ) -> Response<Body>
    where
        B: http_body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let origin = req
            .headers()
            .get(http::header::ORIGIN)
            .and_then(|o| o.to_str().ok())
            .map(str::to_owned);
        let mut response = if req.method() == Method::OPTIONS && self.config.cors.is_some() {
            preflight(&req)
        } else {
            match self.route(req, remote_addr).await {
                Ok(response) => response,
                Err(err) => err.into_response(),
            }
        };
        if let Some(cors) = &self.config.cors {
            cors_headers(cors, origin.as_deref(), response.headers_mut());
        }
        response
    }

    async fn route<B>(
        self: &Arc<Self>,
        req: Request<B>,
        remote_addr: Option<SocketAddr>,
    ) -> Result<Response<Body>, EngineError>
    where
        B: http_body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let query = Query::parse(req.uri().query().unwrap_or(""));
        let transport = match query.transport.as_deref() {
            Some("polling") if self.config.polling => Transport::Polling,
            Some("websocket") if self.config.websocket => Transport::Websocket,
            _ => return Err(EngineError::UnknownTransport),
        };
        if let (Some(cors), Some(origin)) = (&self.config.cors, req.headers().get("origin")) {
            let allowed = origin.to_str().map(|o| cors.allows(o)).unwrap_or(false);
            if !allowed {
                return Err(EngineError::Forbidden);
            }
        }
        let is_ws_upgrade = http_util::is_websocket_upgrade(&req);
        match &query.sid {
            Some(sid) => {
                let sid: Sid = sid.parse().map_err(|_| EngineError::UnknownSid)?;
                if let Some(forwarder) = &self.forwarder
                    && forwarder.is_foreign(&sid, req.headers())
                {
                    let (interval, max) = (self.config.ping_interval, self.config.max_payload);
                    return Ok(forwarder
                        .forward(sid, req, interval, max, &self.metrics)
                        .await);
                }
                let entry = self
                    .entry(&sid)
                    .filter(|e| e.session.check_alive())
                    .ok_or(EngineError::UnknownSid)?;
                match transport {
                    Transport::Polling => {
                        if entry.session.transport() != Transport::Polling {
                            return Err(EngineError::BadRequest);
                        }
                        match *req.method() {
                            Method::GET => {
                                let encoding = self
                                    .config
                                    .http_compression
                                    .map(|c| (c, compression::negotiate(req.headers())));
                                Ok(polling::poll(&entry.session, &self.metrics, encoding).await)
                            }
                            Method::POST => Ok(self.post(&entry, req).await),
                            _ => Err(EngineError::BadRequest),
                        }
                    }
                    Transport::Websocket => {
                        if !is_ws_upgrade {
                            return Err(EngineError::BadRequest);
                        }
                        if !self.config.allow_upgrades
                            || entry.session.transport() != Transport::Polling
                            || entry.session.is_upgrading()
                        {
                            // Already upgraded (or upgrading): accept the websocket and close it
                            // at once, leaving the session as it is.
                            return self.reject_websocket(req);
                        }
                        self.upgrade(entry, req)
                    }
                }
            }
            None => {
                if query.eio.as_deref() != Some("4") {
                    return Err(EngineError::UnsupportedProtocolVersion);
                }
                if req.method() != Method::GET {
                    return Err(EngineError::BadHandshakeMethod);
                }
                let req = match &self.config.allow_request {
                    Some(allow) => {
                        let (parts, body) = req.into_parts();
                        if !allow(&parts) {
                            return Err(EngineError::Forbidden);
                        }
                        Request::from_parts(parts, body)
                    }
                    None => req,
                };
                if transport == Transport::Websocket && !is_ws_upgrade {
                    return Err(EngineError::BadRequest);
                }
                self.handshake(req, transport, remote_addr)
            }
        }
    }

    fn handshake<B>(
        self: &Arc<Self>,
        req: Request<B>,
        transport: Transport,
        remote_addr: Option<SocketAddr>,
    ) -> Result<Response<Body>, EngineError> {
        if transport == Transport::Websocket && !http_util::is_websocket_upgrade(&req) {
            return Err(EngineError::BadRequest);
        }
        if self.closing.load(Ordering::Acquire) {
            add(&self.metrics.refused_shutdown, 1);
            return Ok(http_util::service_unavailable());
        }
        let max = self.config.max_connections.unwrap_or(usize::MAX);
        let reserved = self
            .reserved
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            });
        if reserved.is_err() {
            add(&self.metrics.refused_full, 1);
            return Ok(http_util::service_unavailable());
        }
        // From here on the session exists and its supervisor gives the reservation back.
        add(&self.metrics.handshakes, 1);
        let sid = match &self.forwarder {
            Some(forwarder) => Sid::tagged(forwarder.tag()),
            None => Sid::random(),
        };
        let (mut parts, _) = req.into_parts();
        let on_upgrade = parts.extensions.remove::<hyper::upgrade::OnUpgrade>();
        let ws_key = parts.headers.get("sec-websocket-key").cloned();
        let issued_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let request = RequestInfo::new(&parts.uri, &parts.headers, remote_addr, issued_ms);
        let session = Arc::new(Session::new(
            sid,
            transport,
            self.config.max_buffered_packets,
            self.config.max_buffered_bytes,
            request,
        ));
        let conn = self.handler.on_open(&session);
        let entry = Entry {
            session: session.clone(),
            conn: conn.clone(),
        };
        self.sessions
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(sid, entry.clone());
        tracing::debug!(sid = %sid, transport = transport.as_str(), "session opened");
        self.spawn_supervisor(entry.clone());
        let upgrades: &[&str] = if transport == Transport::Polling
            && self.config.allow_upgrades
            && self.config.websocket
        {
            &["websocket"]
        } else {
            &[]
        };
        let open = packet::open_packet(
            sid.as_str(),
            upgrades,
            self.config.ping_interval.as_millis(),
            self.config.ping_timeout.as_millis(),
            self.config.max_payload,
        );
        match transport {
            Transport::Polling => Ok(http_util::text_response(Bytes::from(open))),
            Transport::Websocket => {
                let (Some(on_upgrade), Some(key)) = (on_upgrade, ws_key) else {
                    session.stop_with(CloseReason::TransportError);
                    return Err(EngineError::BadRequest);
                };
                let engine = self.clone();
                tokio::spawn(async move {
                    engine.run_new_websocket(entry, on_upgrade, open).await;
                });
                Ok(http_util::switching_protocols(key.as_bytes()))
            }
        }
    }

    /// Starts the task that pings the client, enforces the timeouts, and reports the end of the
    /// session exactly once.
    fn spawn_supervisor(self: &Arc<Self>, entry: Entry<H::Conn>) {
        let engine = self.clone();
        tokio::spawn(async move {
            let reason = heartbeat(
                &entry.session,
                engine.config.ping_interval,
                engine.config.ping_timeout,
            )
            .await;
            let sid = entry.session.sid();
            let emptied = {
                let mut sessions = engine.sessions.write().unwrap_or_else(|e| e.into_inner());
                sessions.remove(&sid);
                sessions.is_empty()
            };
            engine.reserved.fetch_sub(1, Ordering::AcqRel);
            if emptied {
                engine.emptied.notify_waiters();
            }
            tracing::debug!(sid = %sid, reason = reason.as_str(), "session closed");
            engine.metrics.closed(reason);
            engine.handler.on_close(&entry.conn, reason);
        });
    }

    /// Applies one decoded client packet to a session.
    pub(super) fn on_packet(&self, entry: &Entry<H::Conn>, packet: Packet<'_>) {
        match packet {
            Packet::Message(text) => {
                add(&self.metrics.packets_in, 1);
                add(&self.metrics.bytes_in, text.len() as u64);
                self.handler.on_message(&entry.conn, Message::Text(text));
            }
            Packet::Binary(bin) => {
                add(&self.metrics.packets_in, 1);
                add(&self.metrics.bytes_in, bin.len() as u64);
                self.handler.on_message(&entry.conn, Message::Binary(bin));
            }
            Packet::Pong(_) => entry.session.pong.notify_one(),
            Packet::Ping(data) => {
                let mut pong = String::with_capacity(1 + data.len());
                pong.push('3');
                pong.push_str(data);
                let _ = entry.session.send(Frame::Text(pong.into()));
            }
            Packet::Close => {
                let session = &entry.session;
                let poll_pending = session.outbox.has_reader();
                if session.transport() == Transport::Polling && !poll_pending {
                    session.begin_client_close();
                } else {
                    session.stop_with(CloseReason::TransportClose);
                }
            }
            Packet::Noop => {}
            Packet::Open | Packet::Upgrade => entry.session.stop_with(CloseReason::ParseError),
        }
    }
}

/// Pings every `interval`, expects a pong within `timeout`, and returns once the session ends.
async fn heartbeat(session: &Session, interval: Duration, timeout: Duration) -> CloseReason {
    // Deadlines count from the scheduled instants, not from when timers happen to fire.
    let mut next_ping = tokio::time::Instant::now() + interval;
    loop {
        tokio::select! {
            _ = session.stopped() => break,
            _ = session.close_requested.notified() => {
                // A graceful close: the transport delivers what is queued and ends the session;
                // a client that never collects it is dropped after the ping timeout.
                if tokio::time::timeout(timeout, session.stopped()).await.is_err() {
                    session.stop_with(if session.is_client_closing() {
                        CloseReason::TransportClose
                    } else {
                        session.graceful_reason()
                    });
                }
                break;
            }
            _ = tokio::time::sleep_until(next_ping) => {
                let deadline = next_ping + timeout;
                session.set_pong_deadline(Some(deadline));
                if session.send(Frame::ping()).is_err() {
                    session.stop_with(CloseReason::TransportError);
                    break;
                }
                tokio::select! {
                    _ = session.stopped() => break,
                    _ = session.pong.notified() => {
                        session.set_pong_deadline(None);
                        next_ping = tokio::time::Instant::now() + interval;
                    }
                    _ = tokio::time::sleep_until(deadline) => {
                        session.stop_with(CloseReason::PingTimeout);
                        break;
                    }
                }
            }
        }
    }
    session.close_reason().unwrap_or(CloseReason::ServerClose)
}
