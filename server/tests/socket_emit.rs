//! `Socket::emit` to one socket, and an ack answering with a value: the value serialized once,
//! straight into the frame, gives the client the bytes the tree path (`Payload::from_value` →
//! `Packet::event` or `Packet::ack` → the parser) gives, for values the fast path takes and for
//! those it declines; the tree's errors stay the errors; an observer still hears of every
//! event, and with connection state recovery on an event still gets its offset.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use common::sio::RawClient;
use serde::Serialize;
use serde_json::json;
use sio_server::protocol::{Packet, Payload, encode_json};
use sio_server::{Event, Server, Socket};

/// A map that writes its key twice (the fast path declines it; the tree keeps the last value).
struct RepeatedKey;

impl Serialize for RepeatedKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("k", &0)?;
        map.serialize_entry("k", "again")?;
        map.end()
    }
}

#[derive(Serialize)]
struct Chat {
    id: u64,
    text: &'static str,
    at: f64,
    tags: Vec<&'static str>,
    score: f32,
}

fn chat() -> Chat {
    Chat {
        id: 7,
        text: "é \"quoted\"\n😀",
        at: 1.5e-7,
        tags: vec!["a", "b"],
        score: 0.1,
    }
}

/// The frame text the tree path writes for `emit(event, value)` on `/`.
fn tree_frame<T: Serialize + ?Sized>(event: &str, value: &T) -> String {
    let packet = Packet::event("/", event, Payload::from_value(value).unwrap());
    text_of(&packet)
}

/// The frame text the tree path writes for `packet`.
fn text_of(packet: &Packet) -> String {
    let frame = encode_json(packet);
    frame.as_text().expect("a text frame").to_owned()
}

/// Emits `values` (and the error of a value the tree refuses) to each socket as it connects.
fn emit_all(socket: &Socket) {
    socket.emit("chat", &chat()).unwrap();
    socket
        .emit("json", &json!({"z": [1, -2, 3.25, null, true], "a": {}}))
        .unwrap();
    socket.emit("big", &u64::MAX).unwrap();
    socket.emit("dup", &RepeatedKey).unwrap();
    let refused = BTreeMap::from([((1u8, 2u8), 3u8)]);
    let err = socket.emit("bad", &refused).unwrap_err();
    socket.emit("error", &err.to_string()).unwrap();
}

fn expected() -> Vec<String> {
    vec![
        tree_frame("chat", &chat()),
        tree_frame("json", &json!({"z": [1, -2, 3.25, null, true], "a": {}})),
        tree_frame("big", &u64::MAX),
        r#"42["dup",{"k":"again"}]"#.to_owned(),
        r#"42["error","serialize: key must be a string"]"#.to_owned(),
    ]
}

#[tokio::test]
async fn an_emit_to_one_socket_gives_the_tree_paths_bytes() {
    let io = Server::builder().build();
    io.on_connection(|socket: Socket| async move { emit_all(&socket) });
    let (addr, _guard) = common::serve_io(&io).await;
    let (mut client, _) = RawClient::connect(addr, "/").await;
    for want in expected() {
        assert_eq!(client.next_text().await, want);
    }
}

/// Records the events the server reports sent.
#[derive(Default)]
struct SentEvents(Mutex<Vec<String>>);

impl sio_server::Observer for SentEvents {
    fn event_sent(&self, _nsp: &str, _sid: sio_server::engine::Sid, event: &str, _: &Payload) {
        self.0.lock().unwrap().push(event.to_owned());
    }
}

#[tokio::test]
async fn an_observer_hears_of_every_emit_to_one_socket() {
    let io = Server::builder().build();
    let observer = Arc::new(SentEvents::default());
    io.observe(observer.clone()).unwrap();
    io.on_connection(|socket: Socket| async move { emit_all(&socket) });
    let (addr, _guard) = common::serve_io(&io).await;
    let (mut client, _) = RawClient::connect(addr, "/").await;
    for want in expected() {
        assert_eq!(client.next_text().await, want);
    }
    assert_eq!(
        *observer.0.lock().unwrap(),
        ["chat", "json", "big", "dup", "error"]
    );
}

#[tokio::test]
async fn with_recovery_on_an_emit_to_one_socket_gets_its_offset() {
    let io = Server::builder()
        .connection_state_recovery(Default::default())
        .build();
    io.on_connection(|socket: Socket| async move {
        socket.emit("logged", &json!({"n": 1})).unwrap();
    });
    let (addr, _guard) = common::serve_io(&io).await;
    let (mut client, _) = RawClient::connect(addr, "/").await;
    let text = client.next_text().await;
    assert!(text.starts_with(r#"42["logged",{"n":1},""#), "{text}");
}

#[tokio::test]
async fn an_ack_with_a_value_gives_the_tree_paths_bytes() {
    let io = Server::builder().build();
    io.on_connection(|socket: Socket| async move {
        socket.on("ask", |_s: Socket, event: Event| async move {
            if event.payload.args.first().and_then(|v| v.as_str()) == Some("chat") {
                event.ack.send(&chat()).unwrap();
            } else {
                event.ack.send(&RepeatedKey).unwrap();
            }
        });
    });
    let (addr, _guard) = common::serve_io(&io).await;
    let (mut client, _) = RawClient::connect(addr, "/").await;
    client.send(r#"427["ask","chat"]"#).await;
    let tree = Packet::ack("/", 7, Payload::from_value(&chat()).unwrap());
    assert_eq!(client.next_text().await, text_of(&tree));
    // Declined by the fast path: the tree's bytes.
    client.send(r#"428["ask","dup"]"#).await;
    assert_eq!(client.next_text().await, r#"438[{"k":"again"}]"#);
}
