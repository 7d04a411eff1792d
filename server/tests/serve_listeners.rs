//! `Server::serve` takes a bound listener of either kind, the standard library's or tokio's,
//! without its signature naming the runtime's type (`sio_server::Listener`, sealed).

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use sio_server::Server;
use tokio::sync::oneshot;

/// A polling handshake against `addr` returns the Engine.IO open packet.
async fn handshakes(addr: SocketAddr) {
    let (status, body) =
        common::http(addr, "GET", "/socket.io/?EIO=4&transport=polling", b"").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.starts_with("0{\"sid\":"), "{body}");
}

/// Serves a server on `listener` (bound at `addr`), handshakes through it, then stops it:
/// `serve` returns `Ok` once its shutdown future resolves.
async fn serves_then_stops(listener: impl sio_server::Listener + Send + 'static, addr: SocketAddr) {
    let io = Server::builder().build();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        io.serve(listener, async move {
            let _ = stopped.await;
        })
        .await
    });
    handshakes(addr).await;
    let _ = stop.send(());
    let served = tokio::time::timeout(Duration::from_secs(30), task).await;
    assert!(matches!(served, Ok(Ok(Ok(())))), "{served:?}");
}

#[tokio::test]
async fn serves_on_a_std_listener() {
    // Left blocking, as `bind` returns it: the server makes it non-blocking itself.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    serves_then_stops(listener, addr).await;
}

#[tokio::test]
async fn serves_on_a_tokio_listener() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    serves_then_stops(listener, addr).await;
}
