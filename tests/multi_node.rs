//! Several nodes on one in-memory hub: the multi-node logic, fast and without Redis.

use std::sync::Arc;
use std::time::Duration;

use sio_adapter_redis::{MemoryHub, RedisAdapter, RedisAdapterConfig, RedisCluster};
use sio_server::{Payload, Server, Socket};
use tokio::sync::mpsc;

/// A node with no HTTP listener: sockets are simulated by the test through the library API is
/// not possible, so each node serves on a free port and the test connects raw websocket clients.
struct TestNode {
    io: Server,
    addr: std::net::SocketAddr,
    driver: sio_adapter_redis::MemoryDriver,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn node(hub: &MemoryHub, id: &str) -> TestNode {
    let driver = hub.driver();
    let cluster = RedisCluster::new(
        Arc::new(driver.clone()),
        RedisAdapterConfig {
            node_id: id.into(),
            heartbeat_interval: Duration::from_millis(200),
            ..RedisAdapterConfig::default()
        },
    );
    let io = Server::builder()
        .request_timeout(Duration::from_secs(2))
        .adapter::<RedisAdapter>(cluster)
        .build();
    io.on_connection(|socket: Socket| async move {
        socket.join(["all"]);
        socket.on("ask-back", |_s: Socket, ev: sio_server::Event| async move {
            ev.ack.send_payload(ev.payload);
        });
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = io.clone();
    tokio::spawn(async move {
        let _ = serving
            .serve(listener, async move {
                let _ = stopped.await;
            })
            .await;
    });
    TestNode {
        io,
        addr,
        driver,
        _stop: stop,
    }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn client(addr: std::net::SocketAddr) -> (Ws, String) {
    use futures_util::{SinkExt, StreamExt};
    let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let _open = ws.next().await.unwrap().unwrap();
    ws.send(tokio_tungstenite::tungstenite::Message::text("40"))
        .await
        .unwrap();
    let ok = ws.next().await.unwrap().unwrap().into_text().unwrap();
    let sid: serde_json::Value = serde_json::from_str(&ok[2..]).unwrap();
    (ws, sid["sid"].as_str().unwrap().to_owned())
}

async fn next_text(ws: &mut Ws) -> String {
    use futures_util::{SinkExt, StreamExt};
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a message in time")
            .unwrap()
            .unwrap();
        match msg {
            tokio_tungstenite::tungstenite::Message::Text(t) if t.as_str() == "2" => {
                ws.send(tokio_tungstenite::tungstenite::Message::text("3"))
                    .await
                    .unwrap();
            }
            tokio_tungstenite::tungstenite::Message::Text(t) => return t.to_string(),
            other => return format!("{other:?}"),
        }
    }
}

async fn wait_for_peers(nodes: &[&TestNode], n: usize) {
    for _ in 0..200 {
        let mut all = true;
        for node in nodes {
            all &= node
                .io
                .of("/")
                .adapter_as::<RedisAdapter>()
                .unwrap()
                .cluster()
                .live_peers(Some("/"))
                .len()
                == n;
        }
        if all {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("peers did not discover each other");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_behave_as_one() {
    let hub = MemoryHub::new();
    let a = node(&hub, "a").await;
    let b = node(&hub, "b").await;
    let c = node(&hub, "c").await;
    wait_for_peers(&[&a, &b, &c], 2).await;
    let (mut ca, sa) = client(a.addr).await;
    let (mut cb, sb) = client(b.addr).await;
    let (mut cc, _sc) = client(c.addr).await;

    assert_eq!(a.io.server_count().await.unwrap(), 3);

    // Broadcast from one node reaches clients on every node.
    b.io.to(["all"]).emit("hello", &1).await.unwrap();
    for ws in [&mut ca, &mut cb, &mut cc] {
        assert_eq!(next_text(ws).await, r#"42["hello",1]"#);
    }

    // Join by selector on another node, then a room broadcast.
    c.io.to([sa.clone(), sb.clone()])
        .sockets_join(["pair"])
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    c.io.to(["pair"]).emit("pair", &true).await.unwrap();
    assert_eq!(next_text(&mut ca).await, r#"42["pair",true]"#);
    assert_eq!(next_text(&mut cb).await, r#"42["pair",true]"#);

    // Fetch sockets sees every node's sockets.
    let found = a.io.fetch_sockets().await.unwrap();
    assert_eq!(found.value.len(), 3);
    assert!(found.missing_nodes.is_empty());
    let pair = c.io.to(["pair"]).fetch_sockets().await.unwrap();
    assert_eq!(pair.value.len(), 2);
    let rooms = b.io.all_rooms().await.unwrap();
    assert!(rooms.value.contains("pair") && rooms.value.contains(&sa));

    // Broadcast with acks collects every client's reply, cluster-wide.
    let gather = {
        let io = a.io.clone();
        tokio::spawn(async move {
            io.timeout(Duration::from_secs(3))
                .emit_with_ack("ask-back", Payload::new())
                .await
        })
    };
    for ws in [&mut ca, &mut cb, &mut cc] {
        use futures_util::SinkExt;
        let packet = next_text(ws).await;
        let id: String = packet[2..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        ws.send(tokio_tungstenite::tungstenite::Message::text(format!(
            r#"43{id}["yes"]"#
        )))
        .await
        .unwrap();
    }
    let acks = gather.await.unwrap().unwrap();
    assert_eq!(acks.expected, 3);
    assert_eq!(acks.replies.len(), 3);
    assert!(acks.missing_nodes.is_empty());

    // Disconnect by selector across nodes.
    a.io.to(["pair"]).disconnect_sockets(false).await.unwrap();
    assert_eq!(next_text(&mut cb).await, "41");
    assert_eq!(next_text(&mut ca).await, "41");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_node_is_reported_missing_and_leaves_the_count() {
    let hub = MemoryHub::new();
    let a = node(&hub, "a").await;
    let b = node(&hub, "b").await;
    wait_for_peers(&[&a, &b], 1).await;
    let (_cb, _) = client(b.addr).await;
    // b stops answering (its connection to the hub is gone, like a SIGKILLed process).
    b.driver.detach();
    let started = std::time::Instant::now();
    let found =
        a.io.timeout(Duration::from_secs(10))
            .fetch_sockets()
            .await
            .unwrap();
    assert_eq!(found.missing_nodes, vec!["b".to_owned()]);
    assert!(found.value.is_empty());
    // Noticed through missed heartbeats (2 x 200 ms), not the 10 s timeout.
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(a.io.server_count().await.unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_side_emit_reaches_the_other_nodes_with_acks() {
    let hub = MemoryHub::new();
    let a = node(&hub, "a").await;
    let b = node(&hub, "b").await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    b.io.of("/").on_server_event(move |event, ack| {
        let _ = tx.send(event.event.clone());
        if let Some(ack) = ack {
            let _ = ack.send(Payload::from_value(&"pong").unwrap());
        }
    });
    wait_for_peers(&[&a, &b], 1).await;
    let replies =
        a.io.server_side_emit("ping", Payload::new(), Some(Duration::from_secs(2)))
            .await
            .unwrap();
    assert_eq!(rx.recv().await.unwrap(), "ping");
    assert_eq!(replies.value.len(), 1);
    assert_eq!(replies.value[0].args, vec![serde_json::json!("pong")]);
    assert!(replies.missing_nodes.is_empty());
}

#[tokio::test]
async fn malformed_messages_are_dropped_and_the_node_keeps_serving() {
    use sio_adapter_redis::Driver;
    let hub = MemoryHub::new();
    let a = node(&hub, "a").await;
    let (mut ca, _) = client(a.addr).await;
    let rogue = hub.driver();
    for channel in [
        "socket.io#/#",
        "socket.io-request#/#",
        "socket.io-response#/#",
        "socket.io-nodes#",
    ] {
        for garbage in [
            &b""[..],
            b"{",
            b"\xc1",
            b"\x93\x01\x02\x03",
            b"{\"type\":7,\"packet\":5}",
        ] {
            rogue.publish(channel, bytes::Bytes::copy_from_slice(garbage));
        }
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    a.io.emit("still", &"alive").await.unwrap();
    assert_eq!(next_text(&mut ca).await, r#"42["still","alive"]"#);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_not_yet_known_by_heartbeat_still_completes_requests() {
    // Heartbeats far apart: the nodes know each other only through Redis's subscriber count.
    let slow = |hub: &MemoryHub, id: &str| {
        let cluster = RedisCluster::new(
            Arc::new(hub.driver()),
            RedisAdapterConfig {
                node_id: id.into(),
                heartbeat_interval: Duration::from_secs(3600),
                ..RedisAdapterConfig::default()
            },
        );
        Server::builder().adapter::<RedisAdapter>(cluster).build()
    };
    let peers = |io: &Server| {
        io.of("/")
            .adapter_as::<RedisAdapter>()
            .unwrap()
            .cluster()
            .live_peers(None)
    };
    // b announces itself before a listens: a does not hear of b until b answers a's first
    // heartbeat, a moment later; Redis already counts b's subscription, so a expects one
    // anonymous answer, which b gives. The moment is caught before b's answer lands (a fresh
    // pair of nodes when the answer was faster, as on a loaded machine).
    let (a, _b) = (1..=20)
        .find_map(|_| {
            let hub = MemoryHub::new();
            let b = slow(&hub, "b");
            let a = slow(&hub, "a");
            peers(&a).is_empty().then_some((a, b))
        })
        .expect("a heard of b before its first request, 20 times");
    let started = std::time::Instant::now();
    let rooms = a
        .timeout(Duration::from_secs(5))
        .fetch_sockets()
        .await
        .unwrap();
    assert!(rooms.missing_nodes.is_empty(), "{:?}", rooms.missing_nodes);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}
