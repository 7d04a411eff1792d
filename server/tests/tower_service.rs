//! The server mounted as a tower `Service` inside someone else's hyper app.

mod common;

use std::convert::Infallible;

use bytes::Bytes;
use common::sio::RawClient;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use sio_server::{Server, Socket};
use tower_service::Service;

#[tokio::test]
async fn mounts_inside_a_hyper_app() {
    let io = Server::builder().build();
    io.on_connection(|socket: Socket| async move {
        let _ = socket.emit("hello", "from a mounted server");
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let sio = io.service();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let sio = sio.clone();
            let app = service_fn(move |req: http::Request<Incoming>| {
                let mut sio = sio.clone();
                async move {
                    if req.uri().path().starts_with("/socket.io") {
                        sio.call(req).await
                    } else {
                        Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::from("app"))))
                    }
                }
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), app)
                    .with_upgrades(),
            );
        }
    });
    assert_eq!(
        common::http(addr, "GET", "/other", b"").await,
        (200, "app".into())
    );
    let (mut client, _) = RawClient::connect(addr, "/").await;
    assert_eq!(
        client.next_text().await,
        r#"42["hello","from a mounted server"]"#
    );
}

fn handshake_request() -> http::Request<Full<Bytes>> {
    http::Request::get("/socket.io/?EIO=4&transport=polling")
        .body(Full::new(Bytes::new()))
        .unwrap()
}

// Paused time: the 5 s drain passes at once.
#[tokio::test(start_paused = true)]
async fn handshakes_during_close_get_503_while_clients_drain() {
    let io = Server::builder().build();
    // A polling session with no poll pending: the close waits for it to collect its close
    // packet (up to the 5 s drain).
    assert_eq!(io.handle(handshake_request(), None).await.status(), 200);
    let closing = tokio::spawn({
        let io = io.clone();
        async move { io.close().await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(!closing.is_finished(), "the client is still draining");
    let refused = io.handle(handshake_request(), None).await;
    assert_eq!(refused.status(), 503);
    assert_eq!(io.metrics().refused_shutdown(), 1);
    assert_eq!(io.session_count(), 1);
    closing.await.unwrap();
    assert_eq!(io.session_count(), 0, "the drain ends every session");
}
