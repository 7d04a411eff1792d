//! The reference-app events (`join`, `leave`, `publish`, `echo`, `whoami`, `count`, `rooms`) on
//! socketioxide 0.18 with axum: a peer for side-by-side load comparisons with `sio-node`.
//!
//! `sio-peer-socketioxide --port 3000 [--node-id ID] [--seconds N]`

use clap::Parser;
use serde::Deserialize;
use serde_json::Value;
use socketioxide::SocketIo;
use socketioxide::extract::{AckSender, Data, SocketRef};

#[derive(Parser)]
struct Flags {
    /// Port to listen on (127.0.0.1).
    #[arg(long, default_value_t = 3000)]
    port: u16,
    /// The id `whoami` answers.
    #[arg(long, default_value = "socketioxide")]
    node_id: String,
    /// Exit after this many seconds (0: run until SIGINT/SIGTERM).
    #[arg(long, default_value_t = 0)]
    seconds: u64,
}

#[derive(Deserialize)]
struct Publish {
    room: String,
    #[serde(default)]
    data: Value,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let flags = Flags::parse();
    let (layer, io) = SocketIo::builder().build_layer();
    let node_id: &'static str = Box::leak(flags.node_id.into_boxed_str());
    let io2 = io.clone();
    io.ns("/", async move |s: SocketRef| {
        let io = io2.clone();
        s.on(
            "join",
            async |s: SocketRef, Data(room): Data<String>, ack: AckSender| {
                s.join(room);
                let _ = ack.send(&true);
            },
        );
        s.on(
            "leave",
            async |s: SocketRef, Data(room): Data<String>, ack: AckSender| {
                s.leave(room);
                let _ = ack.send(&true);
            },
        );
        s.on(
            "publish",
            async |s: SocketRef, Data(p): Data<Publish>, ack: AckSender| {
                // `within`: the room, the sender included (`to` would exclude it).
                let _ = s.within(p.room).emit("message", &p.data).await;
                let _ = ack.send(&true);
            },
        );
        s.on("echo", async |Data(v): Data<Value>, ack: AckSender| {
            let _ = ack.send(&v);
        });
        s.on("whoami", async move |s: SocketRef, ack: AckSender| {
            let _ = ack.send(&serde_json::json!({ "sid": s.id.to_string(), "node": node_id }));
        });
        s.on(
            "count",
            async |s: SocketRef, Data(room): Data<String>, ack: AckSender| {
                let n = s
                    .within(room)
                    .fetch_sockets()
                    .await
                    .map(|v| v.len())
                    .unwrap_or(0);
                let _ = ack.send(&n);
            },
        );
        s.on("rooms", async move |ack: AckSender| {
            let rooms = io.rooms().await.unwrap_or_default();
            let _ = ack.send(&rooms);
        });
    });
    let app = axum::Router::new().layer(layer);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", flags.port)).await?;
    eprintln!("socketioxide peer listening on 127.0.0.1:{}", flags.port);
    let seconds = flags.seconds;
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let limit = async {
                if seconds == 0 {
                    std::future::pending::<()>().await;
                } else {
                    tokio::time::sleep(std::time::Duration::from_secs(seconds)).await;
                }
            };
            let term = async {
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(mut s) => {
                        s.recv().await;
                    }
                    Err(_) => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term => {}
                _ = limit => {}
            }
        })
        .await
}
