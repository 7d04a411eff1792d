//! The WebSocket transport, the upgrade from polling, and heartbeats.

mod common;

use std::time::Duration;

use common::EchoServer;
use futures_util::{SinkExt, StreamExt};
use sio_server::engine::{CloseReason, EngineConfig};
use tokio_tungstenite::tungstenite::Message;

async fn next_text(ws: &mut common::Ws) -> String {
    loop {
        match tokio::time::timeout(Duration::from_secs(3), ws.next())
            .await
            .unwrap()
        {
            Some(Ok(Message::Text(t))) if t.as_str() != "2" => return t.to_string(),
            Some(Ok(Message::Text(_))) => ws.send(Message::text("3")).await.unwrap(),
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test]
async fn text_and_binary_frames_echo() {
    let server = EchoServer::start(EchoServer::fast_config()).await;
    let mut ws = server.ws("EIO=4&transport=websocket").await;
    assert!(next_text(&mut ws).await.starts_with("0{"));
    ws.send(Message::text("4héllo")).await.unwrap();
    assert_eq!(next_text(&mut ws).await, "4héllo");
    ws.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
    let reply = tokio::time::timeout(Duration::from_secs(3), ws.next())
        .await
        .unwrap();
    assert_eq!(reply.unwrap().unwrap(), Message::binary(vec![1u8, 2, 3]));
}

#[tokio::test]
async fn upgrade_from_polling() {
    let server = EchoServer::start(EchoServer::fast_config()).await;
    let sid = server.handshake().await;
    // A pending poll...
    let pending = {
        let addr = server.addr;
        let url = server.url(&format!("EIO=4&transport=polling&sid={sid}"));
        tokio::spawn(async move { common::http(addr, "GET", &url, b"").await })
    };
    tokio::time::sleep(Duration::from_millis(30)).await;
    let mut ws = server
        .ws(&format!("EIO=4&transport=websocket&sid={sid}"))
        .await;
    ws.send(Message::text("2probe")).await.unwrap();
    assert_eq!(next_text(&mut ws).await, "3probe");
    // ...is answered with a noop so the client can pause polling.
    assert_eq!(pending.await.unwrap(), (200, "6".into()));
    ws.send(Message::text("5")).await.unwrap();
    ws.send(Message::text("4after upgrade")).await.unwrap();
    assert_eq!(next_text(&mut ws).await, "4after upgrade");
    // Polling requests for an upgraded session are refused, the session lives on.
    assert_eq!(server.get(&sid).await.0, 400);
    assert_eq!(server.post(&sid, b"4x").await.0, 400);
    ws.send(Message::text("4still here")).await.unwrap();
    assert_eq!(next_text(&mut ws).await, "4still here");
}

#[tokio::test]
async fn an_upgrade_that_never_completes_times_out() {
    let config = EngineConfig {
        upgrade_timeout: Duration::from_millis(200),
        ping_interval: Duration::from_secs(10),
        ping_timeout: Duration::from_secs(10),
        ..EchoServer::fast_config()
    };
    let server = EchoServer::start(config).await;
    let sid = server.handshake().await;
    let mut ws = server
        .ws(&format!("EIO=4&transport=websocket&sid={sid}"))
        .await;
    ws.send(Message::text("2probe")).await.unwrap();
    assert_eq!(next_text(&mut ws).await, "3probe");
    // No "5": the server drops the websocket...
    let end = tokio::time::timeout(Duration::from_secs(2), async {
        loop {
            match ws.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
                _ => {}
            }
        }
    })
    .await;
    assert!(end.is_ok(), "the probe websocket must be closed");
    // ...and the session goes on over polling.
    assert_eq!(server.post(&sid, b"4poll").await.0, 200);
    assert_eq!(server.get(&sid).await, (200, "4poll".into()));
}

#[tokio::test]
async fn pings_are_sent_and_a_silent_client_times_out() {
    let server = EchoServer::start(EchoServer::fast_config()).await;
    let mut ws = server.ws("EIO=4&transport=websocket").await;
    assert!(next_text(&mut ws).await.starts_with("0{"));
    // Answer two pings: the session stays.
    for _ in 0..2 {
        let ping = tokio::time::timeout(Duration::from_secs(2), ws.next())
            .await
            .unwrap();
        assert_eq!(ping.unwrap().unwrap(), Message::text("2"));
        ws.send(Message::text("3")).await.unwrap();
    }
    assert!(server.close_reasons().is_empty());
    // Stop answering: closed after interval + timeout.
    let ping = tokio::time::timeout(Duration::from_secs(2), ws.next())
        .await
        .unwrap();
    assert_eq!(ping.unwrap().unwrap(), Message::text("2"));
    server.wait_closed(CloseReason::PingTimeout).await;
}

#[tokio::test]
async fn polling_sessions_time_out_too() {
    let server = EchoServer::start(EchoServer::fast_config()).await;
    let sid = server.handshake().await;
    assert_eq!(server.get(&sid).await, (200, "2".into()));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(server.get(&sid).await.0, 400);
    server.wait_closed(CloseReason::PingTimeout).await;
}

#[tokio::test]
async fn a_frame_over_the_max_payload_closes_the_session() {
    let config = EngineConfig {
        max_payload: 1000,
        ..EchoServer::fast_config()
    };
    let server = EchoServer::start(config).await;
    let mut ws = server.ws("EIO=4&transport=websocket").await;
    assert!(next_text(&mut ws).await.starts_with("0{"));
    let _ = ws
        .send(Message::text(format!("4{}", "x".repeat(5000))))
        .await;
    server.wait_closed(CloseReason::TransportError).await;
}
