//! The server the official protocol test suites run against.
//!
//! `cargo run --release -p sio-server --example conformance -- --port 3000` serves a raw
//! Engine.IO echo endpoint at `/engine.io/` (ping interval 300 ms, ping timeout 200 ms, max
//! payload 1 000 000): every message is sent back unchanged, text or binary; and a Socket.IO
//! server at `/socket.io/` (same timings) with namespaces `/` and `/custom`: right after a
//! connect it emits `auth` with the CONNECT payload, answers `message` with `message-back` and
//! the same arguments, and acks `message-with-ack` with its arguments.

use std::sync::Arc;
use std::time::Duration;

use sio_server::engine::{
    CloseReason, CorsConfig, Engine, EngineConfig, EngineHandler, Frame, Message, Session,
};
use sio_server::{Event, Server, Socket};

struct Echo;

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

    fn on_close(&self, _session: &Arc<Session>, _reason: CloseReason) {}
}

fn port_from_args() -> u16 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == "--port")
        .and_then(|i| args.get(i + 1))
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port = port_from_args();
    let engine = Engine::new(
        EngineConfig {
            path: "/engine.io/".into(),
            ping_interval: Duration::from_millis(300),
            ping_timeout: Duration::from_millis(200),
            max_payload: 1_000_000,
            cors: Some(CorsConfig::any()),
            ..EngineConfig::default()
        },
        Echo,
    );
    let io = Server::builder()
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(200))
        .max_payload(1_000_000)
        .cors(CorsConfig::any())
        .build();
    for nsp in ["/", "/custom"] {
        io.of(nsp).on_connection(|socket: Socket| async move {
            let auth = socket.handshake().auth.clone();
            let _ = socket.emit("auth", &auth);
            socket.on("message", |socket: Socket, event: Event| async move {
                let _ = socket.emit_payload("message-back", event.payload);
            });
            socket.on(
                "message-with-ack",
                |_socket: Socket, event: Event| async move {
                    event.ack.send_payload(event.payload);
                },
            );
        });
    }
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    eprintln!("conformance server on http://127.0.0.1:{port}");
    let handler = move |req: http::Request<hyper::body::Incoming>, peer| {
        let engine = engine.clone();
        let io = io.clone();
        async move {
            if engine.config().matches_path(req.uri().path()) {
                engine.handle(req, Some(peer)).await
            } else if io.handles_path(req.uri().path()) {
                io.handle(req, Some(peer)).await
            } else {
                http::Response::builder()
                    .status(404)
                    .body(Default::default())
                    .unwrap_or_default()
            }
        }
    };
    sio_server::serve::serve_http(listener, handler, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}
