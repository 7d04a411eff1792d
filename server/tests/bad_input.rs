//! Bad input through real sockets: each gets the protocol's own error or close, and the other
//! clients of the node keep receiving.

mod common;

use std::time::Duration;

use common::sio::RawClient;
use futures_util::SinkExt;
use sio_server::{Server, Socket};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};

async fn server() -> (Server, std::net::SocketAddr, common::StopGuard) {
    let io = Server::builder().build();
    io.on_connection(|socket: Socket| async move {
        socket.join(["all"]);
    });
    let (addr, guard) = common::serve_io(&io).await;
    (io, addr, guard)
}

/// Sends `messages` from a fresh connected client and expects the server to close it; then
/// checks that a bystander still receives broadcasts.
async fn expect_close(
    io: &Server,
    addr: std::net::SocketAddr,
    bystander: &mut RawClient,
    what: &str,
    messages: Vec<Message>,
) {
    let (mut bad, _) = RawClient::connect(addr, "/").await;
    for m in messages {
        // The server may close before everything is sent.
        if bad.ws.send(m).await.is_err() {
            break;
        }
    }
    assert!(bad.closed().await, "{what}: the connection must be closed");
    io.to(["all"]).emit("alive", what).await.unwrap();
    assert_eq!(
        bystander.next_text().await,
        format!("42[\"alive\",{}]", serde_json::to_string(what).unwrap()),
        "{what}: the bystander keeps receiving"
    );
}

fn text(s: impl Into<String>) -> Message {
    Message::text(s.into())
}

#[tokio::test]
async fn malformed_packets_close_only_their_connection() {
    let (io, addr, _guard) = server().await;
    let (mut bystander, _) = RawClient::connect(addr, "/").await;
    let deep = format!("42{}\"e\"{}", "[".repeat(10_000), "]".repeat(10_000));
    let cases: Vec<(&str, Vec<Message>)> = vec![
        ("unknown engine.io packet type", vec![text("9hello")]),
        ("empty engine.io packet", vec![text("")]),
        ("unknown socket.io packet type", vec![text("47[\"x\"]")]),
        ("truncated socket.io packet", vec![text("42[\"ev")]),
        ("invalid JSON", vec![text("42{]")]),
        ("event that is not an array", vec![text("42{\"a\":1}")]),
        ("JSON nested 10 000 deep", vec![text(deep)]),
        (
            "ack id past u64",
            vec![text("4299999999999999999999[\"e\"]")],
        ),
        (
            "binary event without its attachment",
            vec![
                text("451-[\"e\",{\"_placeholder\":true,\"num\":0}]"),
                text("42[\"e\"]"),
            ],
        ),
        (
            "more attachments than the limit",
            vec![text("4565-[\"e\"]")],
        ),
        (
            "placeholder naming no attachment",
            vec![
                text("451-[\"e\",{\"_placeholder\":true,\"num\":3}]"),
                Message::binary(vec![1u8]),
            ],
        ),
        (
            "attachment nobody announced",
            vec![Message::binary(vec![1u8, 2])],
        ),
        (
            "invalid UTF-8 in a text frame",
            vec![Message::Frame(Frame::message(
                vec![b'4', b'2', 0xff, 0xfe],
                OpCode::Data(Data::Text),
                true,
            ))],
        ),
        (
            "event name of 1 MB",
            vec![text(format!("42[\"{}\"]", "x".repeat(1 << 20)))],
        ),
    ];
    for (what, messages) in cases {
        expect_close(&io, addr, &mut bystander, what, messages).await;
    }
    let metrics = io.metrics();
    assert!(metrics.closes(sio_server::engine::CloseReason::ParseError) >= 10);
}

#[tokio::test]
async fn an_unknown_namespace_gets_connect_error_and_the_connection_lives() {
    let (_io, addr, _guard) = server().await;
    let mut client = RawClient::open(addr).await;
    client.send("40/nowhere,").await;
    assert_eq!(
        client.next_text().await,
        r#"44/nowhere,{"message":"Invalid namespace"}"#
    );
    client.join_namespace("/", None).await;
}

#[tokio::test]
async fn a_reader_that_stalls_is_dropped_and_memory_stays_bounded() {
    let io = Server::builder().max_buffered_packets(256).build();
    io.on_connection(|socket: Socket| async move {
        socket.join(["flood"]);
    });
    let (addr, _guard) = common::serve_io(&io).await;
    let (mut healthy, _) = RawClient::connect(addr, "/").await;
    // The stalled client connects, then never reads again.
    let (stalled, _) = RawClient::connect(addr, "/").await;
    let rss_before = rss_kib();
    let payload = "x".repeat(200);
    let total = 30_000;
    let reader = tokio::spawn(async move {
        let mut got = 0;
        while got < total {
            if healthy
                .try_next_text(Duration::from_secs(10))
                .await
                .is_none()
            {
                break;
            }
            got += 1;
        }
        got
    });
    // 10 000 messages per second for 3 s.
    let started = std::time::Instant::now();
    for i in 0..total {
        io.to(["flood"]).emit("m", &payload).await.unwrap();
        if i % 100 == 99 {
            let due = Duration::from_millis((i as u64 + 1) / 10);
            match due.checked_sub(started.elapsed()) {
                Some(wait) => tokio::time::sleep(wait).await,
                // Behind schedule (a loaded machine): still let the server's writers and the
                // healthy reader, on this same thread, take their turn.
                None => tokio::task::yield_now().await,
            }
        }
    }
    assert_eq!(
        reader.await.unwrap(),
        total,
        "the healthy reader got everything"
    );
    common::eventually("the stalled reader is dropped", || {
        io.metrics()
            .closes(sio_server::engine::CloseReason::SlowConsumer)
            == 1
    })
    .await;
    let grown = rss_kib().saturating_sub(rss_before);
    println!("rss grew by {grown} KiB while 30 000 messages of 200 B went to a stalled reader");
    assert!(
        grown < 64 * 1024,
        "memory must stay bounded (grew {grown} KiB)"
    );
    drop(stalled);
}

/// The resident set size of this process, in KiB. Panics when it cannot be read: a memory
/// bound that cannot be measured must fail the test, not pass it.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status")
        .expect("/proc/self/status is readable (the memory bound is measured through it)");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("/proc/self/status has a VmRSS line in KiB")
}

#[tokio::test]
async fn bad_polling_requests_spare_other_clients() {
    let (io, addr, _guard) = server().await;
    let (mut bystander, _) = RawClient::connect(addr, "/").await;
    let handshake = || async {
        let (status, body) =
            common::http(addr, "GET", "/socket.io/?EIO=4&transport=polling", b"").await;
        assert_eq!(status, 200);
        let open: serde_json::Value = serde_json::from_str(&body[1..]).unwrap();
        open["sid"].as_str().unwrap().to_owned()
    };
    let url = |sid: &str| format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    let oversized = format!("4{}", "x".repeat(1_000_001));
    let cases: [(&str, &[u8], u16); 4] = [
        ("bad base64", b"b!!!", 200),
        ("unknown packet type", b"9x", 200),
        ("invalid UTF-8", b"4\xff\xfe", 200),
        ("body over the max payload", oversized.as_bytes(), 413),
    ];
    for (what, body, status) in cases {
        let sid = handshake().await;
        assert_eq!(
            common::http(addr, "POST", &url(&sid), body).await.0,
            status,
            "{what}"
        );
        // The session is gone: its id is now unknown.
        let (status, body) = common::http(addr, "GET", &url(&sid), b"").await;
        assert_eq!(
            (status, body.as_str()),
            (400, r#"{"code":1,"message":"Session ID unknown"}"#),
            "{what}"
        );
    }
    // Unknown ids, and a websocket session's id used over polling.
    assert_eq!(common::http(addr, "GET", &url("nope"), b"").await.0, 400);
    let ws_sid = {
        let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
        let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let open = futures_util::StreamExt::next(&mut ws)
            .await
            .unwrap()
            .unwrap()
            .into_text()
            .unwrap();
        let open: serde_json::Value = serde_json::from_str(&open[1..]).unwrap();
        (open["sid"].as_str().unwrap().to_owned(), ws)
    };
    let (status, body) = common::http(addr, "GET", &url(&ws_sid.0), b"").await;
    assert_eq!(
        (status, body.as_str()),
        (400, r#"{"code":3,"message":"Bad request"}"#)
    );
    io.to(["all"])
        .emit("alive", "after polling garbage")
        .await
        .unwrap();
    assert_eq!(
        bystander.next_text().await,
        r#"42["alive","after polling garbage"]"#
    );
}
