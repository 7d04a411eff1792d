//! With the Redis adapter, a child namespace removed once empty leaves Redis too: its channels
//! are unsubscribed (`PUBSUB CHANNELS` / `NUMPAT` on a real `redis-server`) and this node's
//! heartbeats stop naming it; a later connect subscribes them again.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::Redis;
use futures_util::{SinkExt, StreamExt};
use sio_adapter_redis::{Driver, RedisAdapter, RedisAdapterConfig, RedisCluster, RedisDriver};
use sio_server::{Server, Socket};
use tokio_tungstenite::tungstenite::Message;

/// `redis-cli` output of one command, one reply element per line.
fn redis_cli(redis: &Redis, args: &[&str]) -> Vec<String> {
    let out = std::process::Command::new("redis-cli")
        .args(["-p", &redis.port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli runs");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The channels and the number of patterns Redis has subscribers for, about namespace `nsp`.
fn subscriptions_of(redis: &Redis, nsp: &str) -> (Vec<String>, usize) {
    let mut channels = redis_cli(redis, &["PUBSUB", "CHANNELS", &format!("*#{nsp}#*")]);
    channels.sort();
    let patterns = redis_cli(redis, &["PUBSUB", "NUMPAT"])[0].parse().unwrap();
    (channels, patterns)
}

async fn wait_for(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn next_text(ws: &mut Ws) -> String {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a message in time")
            .expect("open")
            .expect("no error");
        if let Message::Text(text) = msg {
            if text.as_str() == "2" {
                ws.send(Message::text("3")).await.unwrap();
                continue;
            }
            return text.to_string();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_child_namespace_unsubscribes_its_channels_and_leaves_the_heartbeats() {
    let redis = Redis::start();
    let driver = RedisDriver::new(&redis.url(), Default::default()).unwrap();
    let cluster = RedisCluster::new(
        Arc::new(driver),
        RedisAdapterConfig {
            node_id: "cleanup-node".into(),
            heartbeat_interval: Duration::from_millis(200),
            ..RedisAdapterConfig::default()
        },
    );
    // A second connection listens to the heartbeats.
    let listener = RedisDriver::new(&redis.url(), Default::default()).unwrap();
    let mut heard = listener.take_messages().unwrap();
    listener.subscribe(&["socket.io-nodes#".into()], &[]);

    let io = Server::builder()
        .empty_namespace_grace(Duration::from_millis(300))
        .adapter::<RedisAdapter>(cluster)
        .build();
    io.of_dynamic(|name| name.starts_with("/room-"))
        .on_connection(|_socket: Socket| async {});
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = tcp.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = io.clone();
    let server = tokio::spawn(async move {
        served
            .serve(tcp, async move {
                let _ = stopped.await;
            })
            .await
    });
    wait_for("the main namespace is subscribed", || {
        !subscriptions_of(&redis, "/").0.is_empty()
    })
    .await;
    let (_, patterns_before) = subscriptions_of(&redis, "/");

    let (mut ws, _) = tokio_tungstenite::connect_async(format!(
        "ws://{addr}/socket.io/?EIO=4&transport=websocket"
    ))
    .await
    .unwrap();
    assert!(next_text(&mut ws).await.starts_with("0{"));
    ws.send(Message::text("40/room-1,")).await.unwrap();
    assert!(next_text(&mut ws).await.starts_with("40/room-1,{"));
    wait_for("the child namespace is subscribed", || {
        subscriptions_of(&redis, "/room-1")
            == (
                vec![
                    "socket.io-request#/room-1#".to_owned(),
                    "socket.io-response#/room-1#".to_owned(),
                    "socket.io-response#/room-1#cleanup-node#".to_owned(),
                ],
                patterns_before + 1,
            )
    })
    .await;

    // The client leaves; after the grace the namespace goes, and so do its subscriptions.
    ws.send(Message::text("41/room-1,")).await.unwrap();
    wait_for("the namespace is removed", || {
        io.namespace("/room-1").is_none()
    })
    .await;
    wait_for("its channels are unsubscribed", || {
        subscriptions_of(&redis, "/room-1") == (Vec::new(), patterns_before)
    })
    .await;
    // The next heartbeats name "/" but not "/room-1".
    let mut checked = 0;
    while checked < 2 {
        let message = tokio::time::timeout(Duration::from_secs(5), heard.recv())
            .await
            .expect("a heartbeat in time")
            .unwrap();
        let value: serde_json::Value = serde_json::from_slice(&message.payload).unwrap();
        let nsps: Vec<String> = serde_json::from_value(value["nsps"].clone()).unwrap();
        if nsps.contains(&"/room-1".to_owned()) {
            // Sent before the removal.
            continue;
        }
        assert!(nsps.contains(&"/".to_owned()), "{value}");
        checked += 1;
    }

    // A new connect creates the namespace again, subscribed again.
    ws.send(Message::text("40/room-1,")).await.unwrap();
    assert!(next_text(&mut ws).await.starts_with("40/room-1,{"));
    wait_for("the namespace is subscribed again", || {
        subscriptions_of(&redis, "/room-1").0.len() == 3
    })
    .await;
    let _ = stop.send(());
    let _ = server.await;
}
