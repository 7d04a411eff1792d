//! Shared fixture: an Engine.IO echo server on a free port, a minimal HTTP/1.1 client, a raw
//! Socket.IO client (`sio`), and a
//! websocket client.

#![allow(dead_code, unreachable_pub, missing_docs)]

pub mod sio;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sio_server::engine::{
    CloseReason, Engine, EngineConfig, EngineHandler, Frame, Message, Session,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

/// Echoes every message and records why sessions ended.
pub struct Echo {
    pub closed: Arc<Mutex<Vec<CloseReason>>>,
}

impl EngineHandler for Echo {
    type Conn = Arc<Session>;

    fn on_open(&self, session: &Arc<Session>) -> Arc<Session> {
        session.clone()
    }

    fn on_message(&self, session: &Arc<Session>, message: Message<'_>) {
        let frame = match message {
            Message::Text(text) => Frame::message(text),
            Message::Binary(bin) => Frame::Binary(bin),
        };
        let _ = session.send(frame);
    }

    fn on_close(&self, _session: &Arc<Session>, reason: CloseReason) {
        self.closed.lock().unwrap().push(reason);
    }
}

pub struct EchoServer {
    pub addr: std::net::SocketAddr,
    pub engine: Arc<Engine<Echo>>,
    stop: Option<oneshot::Sender<()>>,
}

impl EchoServer {
    pub async fn start(config: EngineConfig) -> EchoServer {
        let engine = Engine::new(
            config,
            Echo {
                closed: Arc::default(),
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let e = engine.clone();
        tokio::spawn(sio_server::serve::serve_http(
            listener,
            move |req, peer| {
                let e = e.clone();
                async move { e.handle(req, Some(peer)).await }
            },
            async move {
                let _ = stopped.await;
            },
        ));
        EchoServer {
            addr,
            engine,
            stop: Some(stop),
        }
    }

    /// A config with short timers for tests.
    pub fn fast_config() -> EngineConfig {
        EngineConfig {
            path: "/engine.io/".into(),
            ping_interval: Duration::from_millis(300),
            ping_timeout: Duration::from_millis(200),
            ..EngineConfig::default()
        }
    }

    pub fn url(&self, query: &str) -> String {
        format!("/engine.io/?{query}")
    }

    pub fn close_reasons(&self) -> Vec<CloseReason> {
        self.engine.handler().closed.lock().unwrap().clone()
    }

    /// Waits until a session ended with `reason` (up to 3 s).
    pub async fn wait_closed(&self, reason: CloseReason) {
        for _ in 0..300 {
            if self.close_reasons().contains(&reason) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!(
            "no session closed with {reason:?}; got {:?}",
            self.close_reasons()
        );
    }

    pub async fn handshake(&self) -> String {
        let (status, body) =
            http(self.addr, "GET", &self.url("EIO=4&transport=polling"), b"").await;
        assert_eq!(status, 200, "{body}");
        let json: serde_json::Value = serde_json::from_str(&body[1..]).unwrap();
        json["sid"].as_str().unwrap().to_owned()
    }

    pub async fn get(&self, sid: &str) -> (u16, String) {
        http(
            self.addr,
            "GET",
            &self.url(&format!("EIO=4&transport=polling&sid={sid}")),
            b"",
        )
        .await
    }

    pub async fn post(&self, sid: &str, body: &[u8]) -> (u16, String) {
        http(
            self.addr,
            "POST",
            &self.url(&format!("EIO=4&transport=polling&sid={sid}")),
            body,
        )
        .await
    }

    pub async fn ws(&self, query: &str) -> Ws {
        let url = format!("ws://{}{}", self.addr, self.url(query));
        let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        ws
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

pub type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

/// One HTTP/1.1 request on a fresh connection; returns the status and the body.
pub async fn http(
    addr: std::net::SocketAddr,
    method: &str,
    target: &str,
    body: &[u8],
) -> (u16, String) {
    http_with_headers(addr, method, target, &[], body).await
}

pub async fn http_with_headers(
    addr: std::net::SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    let (status, _, body) = http_full(addr, method, target, headers, body).await;
    (status, body)
}

/// Returns the status, the raw response head, and the body.
pub async fn http_full(
    addr: std::net::SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    http_on_with_headers(&mut stream, method, target, headers, body).await
}

/// One HTTP/1.1 request on a connection already open; returns the status, the raw response
/// head, and the body.
pub async fn http_on(
    stream: &mut TcpStream,
    method: &str,
    target: &str,
    body: &[u8],
) -> (u16, String, String) {
    http_on_with_headers(stream, method, target, &[], body).await
}

async fn http_on_with_headers(
    stream: &mut TcpStream,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String, String) {
    let (status, head, body) = http_bytes_on(stream, method, target, headers, body).await;
    (status, head, String::from_utf8_lossy(&body).into_owned())
}

/// One HTTP/1.1 request on a fresh connection; returns the status, the raw response head, and
/// the body's bytes as they came (compressed bodies are not decoded).
pub async fn http_bytes(
    addr: std::net::SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    http_bytes_on(&mut stream, method, target, headers, body).await
}

async fn http_bytes_on(
    stream: &mut TcpStream,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String, Vec<u8>) {
    let addr = stream.peer_addr().unwrap();
    let mut request = format!(
        "{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut raw))
        .await
        .expect("response in time")
        .unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(raw.len());
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let body = raw.get(split + 4..).unwrap_or_default().to_vec();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head, body)
}

/// Serves a Socket.IO server on a free port until the returned guard is dropped.
pub async fn serve_io(io: &sio_server::Server) -> (std::net::SocketAddr, StopGuard) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let io = io.clone();
    tokio::spawn(async move {
        let _ = io
            .serve(listener, async move {
                let _ = stopped.await;
            })
            .await;
    });
    (addr, StopGuard(Some(stop)))
}

/// Every socket that connects to `/` of `io`, as it connects.
pub fn connected_sockets(
    io: &sio_server::Server,
) -> tokio::sync::mpsc::UnboundedReceiver<sio_server::Socket> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    io.on_connection(move |socket: sio_server::Socket| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(socket);
        }
    });
    rx
}

/// Stops a server when dropped.
pub struct StopGuard(Option<oneshot::Sender<()>>);

impl Drop for StopGuard {
    fn drop(&mut self) {
        if let Some(stop) = self.0.take() {
            let _ = stop.send(());
        }
    }
}

/// Polls `check` every 10 ms for up to 5 s.
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..500 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for: {what}");
}
