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

/// Posts `mib` MiB to `url` with Python's `urllib.request`; prints the status it read, or the
/// exception it got instead.
fn python_post(url: &str, mib: usize) -> String {
    let script = r#"
import sys, urllib.request, urllib.error
body = b"4" + b"x" * (int(sys.argv[2]) * 1024 * 1024)
try:
    with urllib.request.urlopen(urllib.request.Request(sys.argv[1], data=body, method="POST"), timeout=30) as r:
        print(r.status)
except urllib.error.HTTPError as e:
    print(e.code)
except Exception as e:
    print(type(e).__name__, e)
"#;
    let out = std::process::Command::new("python3")
        .args(["-c", script, url, &mib.to_string()])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_client_posting_far_over_the_max_payload_reads_413() {
    let server = EchoServer::start(EngineConfig {
        path: "/engine.io/".into(),
        ..EngineConfig::default()
    })
    .await;
    let sid = server.handshake().await;
    let url = format!(
        "http://{}{}",
        server.addr,
        server.url(&format!("EIO=4&transport=polling&sid={sid}"))
    );
    // 16 MiB against a max payload of 1 000 000 bytes: the server answers before it read the
    // body, and must keep reading (and discarding) long enough for the client to see the answer.
    let got = tokio::task::spawn_blocking(move || python_post(&url, 16))
        .await
        .unwrap();
    assert_eq!(got, "413", "python urllib read: {got}");
    server.wait_closed(CloseReason::TransportError).await;
    let text = {
        let mut out = String::new();
        server.engine.metrics().write_prometheus(&mut out);
        out
    };
    assert!(
        text.contains("\nsio_payloads_too_large_total 1\n"),
        "{text}"
    );
}
