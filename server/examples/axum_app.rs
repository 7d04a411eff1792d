//! An axum app that mounts the Socket.IO service beside its own routes.
//!
//! `cargo run -p sio-server --example axum_app` serves on `127.0.0.1:3000` (`PORT` overrides
//! it; `PORT=0` takes a free port, printed on stdout):
//!
//! - `GET /hello`: the app's own route;
//! - `GET /online`: how many clients are connected, read from the Socket.IO server;
//! - `POST /announce` with a text body: emitted to every client as `announcement`;
//! - `/socket.io/`: Socket.IO (polling and websocket); each client is greeted with `welcome`.
//!
//! The service is a tower `Service`, so it mounts with `route_service` at the server's path
//! (`Server::builder().path(..)` changes both). axum serves connections with upgrades on, which
//! websockets need.

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use sio_server::{Server, Socket};

async fn hello() -> &'static str {
    "hello from axum"
}

async fn online(State(io): State<Server>) -> String {
    io.session_count().to_string()
}

async fn announce(State(io): State<Server>, text: String) -> &'static str {
    match io.emit("announcement", &text).await {
        Ok(()) => "sent",
        Err(_) => "not sent",
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let io = Server::builder().build();
    io.on_connection(|socket: Socket| async move {
        let _ = socket.emit("welcome", &format!("you are {}", socket.id()));
    });
    let app = Router::new()
        .route("/hello", get(hello))
        .route("/online", get(online))
        .route("/announce", post(announce))
        .route_service("/socket.io/", io.service())
        .with_state(io.clone());
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("axum app on http://{}", listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = tokio::signal::ctrl_c().await;
            // Clients hear the server is going away before the listener closes.
            io.close().await;
        })
        .await
}
