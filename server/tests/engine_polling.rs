//! HTTP long-polling: payload framing, binary as base64, overlapping GETs, max payload.

mod common;

use common::EchoServer;
use sio_server::engine::{CloseReason, EngineConfig};

#[tokio::test]
async fn handshake_has_the_reference_shape() {
    let server = EchoServer::start(EchoServer::fast_config()).await;
    let (status, body) = common::http(
        server.addr,
        "GET",
        &server.url("EIO=4&transport=polling"),
        b"",
    )
    .await;
    assert_eq!(status, 200);
    assert!(body.starts_with("0{\"sid\":\""), "{body}");
    let json: serde_json::Value = serde_json::from_str(&body[1..]).unwrap();
    let sid = json["sid"].as_str().unwrap();
    assert!(
        sid.len() >= 20
            && sid
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    assert_eq!(json["upgrades"], serde_json::json!(["websocket"]));
    assert_eq!(json["pingInterval"], 300);
    assert_eq!(json["pingTimeout"], 200);
    assert_eq!(json["maxPayload"], 1_000_000);
}

#[tokio::test]
async fn messages_round_trip_joined_by_the_record_separator() {
    let server = EchoServer::start(EchoServer::fast_config()).await;
    let sid = server.handshake().await;
    assert_eq!(
        server.post(&sid, "4hello\x1ebAQID\x1e4€".as_bytes()).await,
        (200, "ok".into())
    );
    let (status, body) = server.get(&sid).await;
    assert_eq!(status, 200);
    assert_eq!(body, "4hello\x1ebAQID\x1e4€");
}

#[tokio::test]
async fn a_second_concurrent_get_closes_the_session() {
    let server = EchoServer::start(EchoServer::fast_config()).await;
    let sid = server.handshake().await;
    let first = {
        let addr = server.addr;
        let url = server.url(&format!("EIO=4&transport=polling&sid={sid}"));
        tokio::spawn(async move { common::http(addr, "GET", &url, b"").await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let (status, _) = server.get(&sid).await;
    assert_eq!(status, 400);
    assert_eq!(first.await.unwrap(), (200, "1".into()));
    server.wait_closed(CloseReason::TransportError).await;
    assert_eq!(server.get(&sid).await.0, 400);
}

#[tokio::test]
async fn a_post_over_the_max_payload_gets_413_and_closes_the_session() {
    let config = EngineConfig {
        max_payload: 100,
        ..EchoServer::fast_config()
    };
    let server = EchoServer::start(config).await;
    let sid = server.handshake().await;
    let big = format!("4{}", "x".repeat(200));
    assert_eq!(server.post(&sid, big.as_bytes()).await.0, 413);
    server.wait_closed(CloseReason::TransportError).await;
    assert_eq!(server.get(&sid).await.0, 400);
}

#[tokio::test]
async fn garbage_closes_the_session_with_a_parse_error() {
    let server = EchoServer::start(EchoServer::fast_config()).await;
    for body in [&b"9what"[..], b"b!!notbase64", b"\xff\xfe", b""] {
        let sid = server.handshake().await;
        assert_eq!(server.post(&sid, body).await, (200, "ok".into()));
        assert_eq!(server.get(&sid).await.0, 400, "{body:?}");
    }
    server.wait_closed(CloseReason::ParseError).await;
}

#[tokio::test]
async fn a_client_close_packet_ends_the_session() {
    let server = EchoServer::start(EchoServer::fast_config()).await;
    let sid = server.handshake().await;
    assert_eq!(server.post(&sid, b"1").await.0, 200);
    // The next poll gets a noop, then the session is gone.
    assert_eq!(server.get(&sid).await, (200, "6".into()));
    server.wait_closed(CloseReason::TransportClose).await;
    assert_eq!(server.get(&sid).await.0, 400);
}
