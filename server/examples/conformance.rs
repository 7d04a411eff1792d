//! The server the official protocol test suites run against.
//!
//! `cargo run --release -p sio-server --example conformance -- --port 3000` serves a raw
//! Engine.IO echo endpoint at `/engine.io/` (ping interval 300 ms, ping timeout 200 ms, max
//! payload 1 000 000): every message is sent back unchanged, text or binary; and a Socket.IO
//! server at `/socket.io/` (same timings) with namespaces `/` and `/custom`: right after a
//! connect it emits `auth` with the CONNECT payload, answers `message` with `message-back` and
//! the same arguments, and acks `message-with-ack` with its arguments.
//!
//! `--parser msgpack` makes the Socket.IO server speak `socket.io-msgpack-parser` (default:
//! `json`). With either parser, `call-me-back` (with an ack) makes the server emit `callback`
//! with the same arguments and an ack of its own, and ack the client with what the client's
//! `callback` ack answered (`{"error": "..."}` when it did not within 5 s): acks both ways.

use std::sync::Arc;
use std::time::Duration;

use sio_server::engine::{
    CloseReason, CorsConfig, Engine, EngineConfig, EngineHandler, Frame, Message, Session,
};
use sio_server::protocol::ParserKind;
use sio_server::{Event, Payload, Server, Socket};

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

/// The value after `--name` on the command line.
fn arg(name: &str) -> Option<String> {
    let mut args = std::env::args().skip_while(|a| a != name);
    args.nth(1)
}

fn port_from_args() -> u16 {
    arg("--port").and_then(|p| p.parse().ok()).unwrap_or(3000)
}

fn parser_from_args() -> Result<ParserKind, std::io::Error> {
    match arg("--parser").as_deref() {
        None | Some("json") => Ok(ParserKind::Json),
        Some("msgpack") => Ok(ParserKind::MsgPack),
        Some(other) => Err(std::io::Error::other(format!(
            "unknown --parser {other}: json or msgpack"
        ))),
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port = port_from_args();
    let parser = parser_from_args()?;
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
        .parser(parser)
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
            socket.on("call-me-back", |socket: Socket, event: Event| async move {
                let answer = socket
                    .emit_with_ack("callback", event.payload, Duration::from_secs(5))
                    .await
                    .unwrap_or_else(|err| {
                        Payload::from_value(&serde_json::json!({"error": err.to_string()}))
                            .unwrap_or_default()
                    });
                event.ack.send_payload(answer);
            });
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
