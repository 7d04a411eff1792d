//! Every Engine.IO error code, with the reference server's status and JSON body.

mod common;

use common::{EchoServer, http};
use sio_server::engine::EngineConfig;
use std::sync::Arc;

#[tokio::test]
async fn each_error_code_has_its_body() {
    let server = EchoServer::start(EchoServer::fast_config()).await;
    let a = server.addr;
    let cases = [
        (
            "GET",
            "EIO=4&transport=carrier-pigeon",
            400,
            r#"{"code":0,"message":"Transport unknown"}"#,
        ),
        (
            "GET",
            "EIO=4&transport=polling&sid=nope",
            400,
            r#"{"code":1,"message":"Session ID unknown"}"#,
        ),
        (
            "GET",
            "EIO=4&transport=polling&sid=AAAAAAAAAAAAAAAAAAAAAA",
            400,
            r#"{"code":1,"message":"Session ID unknown"}"#,
        ),
        (
            "POST",
            "EIO=4&transport=polling",
            400,
            r#"{"code":2,"message":"Bad handshake method"}"#,
        ),
        (
            "GET",
            "EIO=4&transport=websocket",
            400,
            r#"{"code":3,"message":"Bad request"}"#,
        ),
        (
            "GET",
            "EIO=3&transport=polling",
            400,
            r#"{"code":5,"message":"Unsupported protocol version"}"#,
        ),
        (
            "GET",
            "transport=polling",
            400,
            r#"{"code":5,"message":"Unsupported protocol version"}"#,
        ),
    ];
    for (method, query, status, body) in cases {
        let got = http(a, method, &server.url(query), b"").await;
        assert_eq!(got, (status, body.to_owned()), "{method} {query}");
    }
}

#[tokio::test]
async fn forbidden_by_the_allow_request_hook_and_the_origin_list() {
    let config = EngineConfig {
        allow_request: Some(Arc::new(|parts: &http::request::Parts| {
            parts.headers.get("x-let-me-in").is_some()
        })),
        cors: Some(sio_server::engine::CorsConfig::origins([
            "https://good.example",
        ])),
        ..EchoServer::fast_config()
    };
    let server = EchoServer::start(config).await;
    let url = server.url("EIO=4&transport=polling");
    let forbidden = (403, r#"{"code":4,"message":"Forbidden"}"#.to_owned());
    assert_eq!(common::http(server.addr, "GET", &url, b"").await, forbidden);
    let bad_origin = [("x-let-me-in", "1"), ("Origin", "https://evil.example")];
    assert_eq!(
        common::http_with_headers(server.addr, "GET", &url, &bad_origin, b"").await,
        forbidden
    );
    let good = [("x-let-me-in", "1"), ("Origin", "https://good.example")];
    let (status, head, body) = common::http_full(server.addr, "GET", &url, &good, b"").await;
    assert_eq!(status, 200, "{body}");
    assert!(
        head.to_ascii_lowercase()
            .contains("access-control-allow-origin: https://good.example"),
        "{head}"
    );
}

#[tokio::test]
async fn polling_on_a_websocket_session_is_a_bad_request() {
    use futures_util::StreamExt;
    let server = EchoServer::start(EchoServer::fast_config()).await;
    let mut ws = server.ws("EIO=4&transport=websocket").await;
    let open = ws.next().await.unwrap().unwrap().into_text().unwrap();
    let json: serde_json::Value = serde_json::from_str(&open[1..]).unwrap();
    let sid = json["sid"].as_str().unwrap();
    assert_eq!(json["upgrades"], serde_json::json!([]));
    assert_eq!(
        server.get(sid).await,
        (400, r#"{"code":3,"message":"Bad request"}"#.to_owned())
    );
}

#[tokio::test]
async fn the_origin_allow_list_applies_to_websockets_too() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let config = EngineConfig {
        cors: Some(sio_server::engine::CorsConfig::origins([
            "https://good.example",
        ])),
        ..EchoServer::fast_config()
    };
    let server = EchoServer::start(config).await;
    let url = format!(
        "ws://{}{}",
        server.addr,
        server.url("EIO=4&transport=websocket")
    );
    let with_origin = |origin: &str| {
        let mut request = url.as_str().into_client_request().unwrap();
        request
            .headers_mut()
            .insert("Origin", origin.parse().unwrap());
        request
    };
    let refused = tokio_tungstenite::connect_async(with_origin("https://evil.example")).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 403)
        }
        other => panic!("a foreign origin must be refused, got {other:?}"),
    }
    assert!(
        tokio_tungstenite::connect_async(with_origin("https://good.example"))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = EchoServer::start(EchoServer::fast_config()).await;
    // Slowloris: a request line and one header, then nothing.
    let mut slow = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    slow.write_all(b"GET /engine.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // Others are served meanwhile.
    assert_eq!(server.handshake().await.len(), 22);
    let started = std::time::Instant::now();
    let mut buf = Vec::new();
    let limit = sio_server::serve::HEADER_READ_TIMEOUT;
    let read = tokio::time::timeout(
        limit + std::time::Duration::from_secs(5),
        slow.read_to_end(&mut buf),
    )
    .await;
    assert!(read.is_ok(), "the connection must be closed by the server");
    assert!(started.elapsed() >= limit - std::time::Duration::from_secs(1));
}
