//! Connecting to namespaces: middlewares, unknown and dynamic namespaces, handshake data.

mod common;

use common::sio::RawClient;
use serde_json::json;
use sio_server::{ConnectError, Server, Socket};

#[tokio::test]
async fn unknown_namespace_is_refused() {
    let io = Server::builder().build();
    let (addr, _guard) = common::serve_io(&io).await;
    let mut client = RawClient::open(addr).await;
    client.send("40/nope,").await;
    assert_eq!(
        client.next_text().await,
        r#"44/nope,{"message":"Invalid namespace"}"#
    );
}

#[tokio::test]
async fn middleware_refusal_carries_message_and_data() {
    let io = Server::builder().build();
    io.use_middleware(|socket: Socket| async move {
        if socket.handshake().auth == json!({"token": "good"}) {
            Ok(())
        } else {
            Err(ConnectError::new("unauthorized").with_data(json!({"hint": "token"})))
        }
    });
    io.on_connection(|socket: Socket| async move {
        let _ = socket.emit("welcome", &socket.handshake().auth);
    });
    let (addr, _guard) = common::serve_io(&io).await;
    let mut client = RawClient::open(addr).await;
    client.send(r#"40{"token":"bad"}"#).await;
    assert_eq!(
        client.next_text().await,
        r#"44{"message":"unauthorized","data":{"hint":"token"}}"#
    );
    client
        .join_namespace("/", Some(r#"{"token":"good"}"#))
        .await;
    assert_eq!(
        client.next_text().await,
        r#"42["welcome",{"token":"good"}]"#
    );
}

#[tokio::test]
async fn dynamic_namespaces_match_a_regex() {
    let io = Server::builder().build();
    io.of_regex(regex::Regex::new(r"^/room-\d+$").unwrap())
        .on_connection(|socket: Socket| async move {
            let _ = socket.emit("nsp", socket.namespace().name());
        });
    let (addr, _guard) = common::serve_io(&io).await;
    let mut client = RawClient::open(addr).await;
    client.join_namespace("/room-42", None).await;
    assert_eq!(client.next_text().await, r#"42/room-42,["nsp","/room-42"]"#);
    client.send("40/room-x,").await;
    assert_eq!(
        client.next_text().await,
        r#"44/room-x,{"message":"Invalid namespace"}"#
    );
    assert!(io.namespaces().contains(&"/room-42".to_owned()));
}

#[tokio::test]
async fn handshake_exposes_query_headers_and_address() {
    let io = Server::builder().build();
    io.on_connection(|socket: Socket| async move {
        let h = socket.handshake();
        let _ = socket.emit(
            "hs",
            &json!({
                "q": h.query_param("room"),
                "ip": h.address().map(|a| a.ip().to_string()),
                "host": h.header("host").is_some() && h.headers().contains_key("host"),
            }),
        );
    });
    let (addr, _guard) = common::serve_io(&io).await;
    let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket&room=a%20b");
    let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let mut client = RawClient { ws };
    assert!(client.next_text().await.starts_with("0{"));
    client.join_namespace("/", None).await;
    assert_eq!(
        client.next_text().await,
        r#"42["hs",{"q":"a b","ip":"127.0.0.1","host":true}]"#
    );
}

#[tokio::test]
async fn events_sent_right_after_connect_are_handled() {
    // The connect handler registers its handlers after an await: events the client sends the
    // moment it is connected must still reach them.
    let io = Server::builder().build();
    io.on_connection(|socket: Socket| async move {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        socket.on("ping", |_s: Socket, ev: sio_server::Event| async move {
            let _ = ev.ack.send("pong");
        });
    });
    let (addr, _guard) = common::serve_io(&io).await;
    let mut client = RawClient::open(addr).await;
    client.send("40").await;
    client.send(r#"421["ping"]"#).await;
    assert!(client.next_text().await.starts_with("40{"));
    assert_eq!(client.next_text().await, r#"431["pong"]"#);
}

#[tokio::test]
async fn malformed_packets_close_the_connection_and_spare_others() {
    let io = Server::builder().build();
    io.on_connection(|socket: Socket| async move {
        socket.join(["all"]);
    });
    let (addr, _guard) = common::serve_io(&io).await;
    let (mut bystander, _) = RawClient::connect(addr, "/").await;
    let garbage_list = [
        "9",
        "49",
        "42[",
        r#"42{"a":1}"#,
        "421234567890123456789012345[\"x\"]",
        "451-[\"x\"]",
        "4",
    ];
    for garbage in garbage_list {
        let (mut bad, _) = RawClient::connect(addr, "/").await;
        bad.send(garbage).await;
        if garbage.starts_with("451-") {
            // A text packet where an attachment was expected.
            bad.send("42[\"y\"]").await;
        }
        assert!(bad.closed().await, "{garbage} must close the connection");
    }
    io.to(["all"]).emit("still", &1).await.unwrap();
    assert_eq!(bystander.next_text().await, r#"42["still",1]"#);
}

#[tokio::test]
async fn connections_that_join_no_namespace_in_time_are_closed() {
    let io = Server::builder()
        .connect_timeout(std::time::Duration::from_millis(300))
        .build();
    io.of("/")
        .on("ping", |_s: Socket, ev: sio_server::Event| async move {
            let _ = ev.ack.send("pong");
        });
    let (addr, _guard) = common::serve_io(&io).await;
    let mut idle = Vec::new();
    for _ in 0..3 {
        idle.push(RawClient::open(addr).await);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (mut joined, _) = RawClient::connect(addr, "/").await;
    let started = std::time::Instant::now();
    for client in &mut idle {
        assert!(client.closed().await, "an idle connection stays open");
    }
    // The last idle one opened ~200 ms after the first: every one got its own deadline.
    assert!(started.elapsed() >= std::time::Duration::from_millis(150));
    // A connection that joined in time stays, past its own deadline.
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    joined.send(r#"427["ping"]"#).await;
    assert_eq!(joined.next_text().await, r#"437["pong"]"#);
}

#[tokio::test]
async fn namespace_handlers_serve_every_socket_and_a_socket_handler_takes_precedence() {
    let io = Server::builder().build();
    io.of("/")
        .on("who", |_s: Socket, ev: sio_server::Event| async move {
            let _ = ev.ack.send("namespace");
        });
    io.on_connection(|socket: Socket| async move {
        if socket.handshake().query_param("own").is_some() {
            socket.on("who", |_s: Socket, ev: sio_server::Event| async move {
                let _ = ev.ack.send("socket");
            });
        }
    });
    let (addr, _guard) = common::serve_io(&io).await;
    let (mut plain, _) = RawClient::connect(addr, "/").await;
    plain.send(r#"421["who"]"#).await;
    assert_eq!(plain.next_text().await, r#"431["namespace"]"#);
    let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket&own=1");
    let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let mut own = RawClient { ws };
    assert!(own.next_text().await.starts_with("0{"));
    own.join_namespace("/", None).await;
    own.send(r#"422["who"]"#).await;
    assert_eq!(own.next_text().await, r#"432["socket"]"#);
}

/// Records the transport changes an observer is told of.
#[derive(Default)]
struct TransportChanges(std::sync::Mutex<Vec<(String, sio_server::engine::Transport)>>);

impl sio_server::Observer for TransportChanges {
    fn transport_changed(&self, socket: &Socket) {
        let change = (socket.id().to_string(), socket.transport());
        self.0.lock().unwrap().push(change);
    }
}

/// A client that upgrades to WebSocket while its socket's connect handler still runs: the
/// upgrade finds the socket still connecting, and the observer hears of the new transport once
/// the socket is connected (the admin UI showed such a socket on polling for good).
#[tokio::test]
async fn an_upgrade_during_the_connect_handler_reaches_the_observer() {
    use futures_util::{SinkExt, StreamExt};
    use sio_server::engine::Transport;
    use tokio_tungstenite::tungstenite::Message;

    let io = Server::builder().build();
    let changes = std::sync::Arc::new(TransportChanges::default());
    io.observe(changes.clone()).unwrap();
    let release = std::sync::Arc::new(tokio::sync::Notify::new());
    let (entered, mut in_handler) = tokio::sync::mpsc::unbounded_channel();
    io.on_connection({
        let release = release.clone();
        move |socket: Socket| {
            let (release, entered) = (release.clone(), entered.clone());
            async move {
                let _ = entered.send(socket);
                release.notified().await;
            }
        }
    });
    let (addr, _guard) = common::serve_io(&io).await;
    let polling = "/socket.io/?EIO=4&transport=polling";
    let (status, open) = common::http(addr, "GET", polling, b"").await;
    assert_eq!(status, 200, "{open}");
    let open: serde_json::Value = serde_json::from_str(&open[1..]).unwrap();
    let sid = open["sid"].as_str().unwrap().to_owned();
    let session = format!("{polling}&sid={sid}");
    assert_eq!(common::http(addr, "POST", &session, b"40").await.0, 200);
    let socket = in_handler.recv().await.unwrap();
    let (_, connected) = common::http(addr, "GET", &session, b"").await;
    assert!(connected.starts_with("40{"), "{connected}");

    let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket&sid={sid}");
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    ws.send(Message::text("2probe")).await.unwrap();
    let probe = tokio::time::timeout(std::time::Duration::from_secs(5), ws.next()).await;
    assert_eq!(probe.unwrap().unwrap().unwrap(), Message::text("3probe"));
    ws.send(Message::text("5")).await.unwrap();
    common::eventually("the upgrade", || socket.transport() == Transport::Websocket).await;
    assert!(
        changes.0.lock().unwrap().is_empty(),
        "the upgrade found the socket still connecting"
    );

    release.notify_one();
    common::eventually("the observer told of the upgrade", || {
        changes.0.lock().unwrap().as_slice() == [(socket.id().to_string(), Transport::Websocket)]
    })
    .await;
}
