//! Measures what one broadcast's encoding costs on the sending node, for a user's value, by
//! the tree path (`Payload::from_value` → `Packet::event` → `encode_json` for the clients, plus
//! the adapter's message: the classic adapter's msgpack via `to_msgpack`, or the sharded
//! adapter's JSON via `packet_json`) and by "encode once" (`JsonEvent::encode`, then
//! `wire::encode_broadcast_event` or `sharded_wire::encode_broadcast_event`). Both paths write
//! the same bytes (asserted before timing). Only the encoding: no sockets, no Redis.
//!
//! A third pair starts from a payload that is already a `Value` tree (the reference app forwards
//! what a client sent with `emit_payload`): `Packet::event` vs `JsonEvent::from_payload`.
//!
//! `cargo run --release -p sio-adapter-redis --example encode_once -- 200000`
//! (encodings per round; five rounds of each path, interleaved, best round reported).

use std::collections::BTreeMap;
use std::hint::black_box;

use serde::Serialize;
use serde_json::json;
use sio_adapter_redis::{sharded_wire, wire};
use sio_core::adapter::BroadcastOptions;
use sio_core::engine::Frame;
use sio_core::protocol::{JsonEvent, Packet, Payload, encode_json};

#[path = "support/best_of.rs"]
mod best_of;
use best_of::best_of_five;

/// A chat message, as an application would emit it.
#[derive(Serialize)]
struct Chat {
    id: u64,
    room: String,
    from: String,
    text: String,
    at: f64,
    mentions: Vec<String>,
    meta: BTreeMap<String, u32>,
}

fn chat() -> Chat {
    Chat {
        id: 123_456_789,
        room: "room-42".into(),
        from: "Zoë".into(),
        text: "Hello, world! \"quoted\" and a newline\n, some é and 😀".into(),
        at: 1_732_950_000.123,
        mentions: vec!["alice".into(), "bob".into()],
        meta: [("likes".to_owned(), 3), ("edits".to_owned(), 0)].into(),
    }
}

/// A larger value: 20 chat messages.
fn page() -> Vec<Chat> {
    (0..20).map(|_| chat()).collect()
}

#[derive(Clone, Copy)]
enum Wire {
    Classic,
    Sharded,
}

fn tree<T: Serialize>(value: &T, opts: &BroadcastOptions, wire: Wire) -> (Frame, bytes::Bytes) {
    let packet = Packet::event("/", "message", Payload::from_value(value).unwrap());
    (encode_json(&packet), tree_body(&packet, opts, wire))
}

fn once<T: Serialize>(value: &T, opts: &BroadcastOptions, wire: Wire) -> (Frame, bytes::Bytes) {
    let event = JsonEvent::encode("/", "message", value).unwrap();
    (event.frame(), once_body(&event, opts, wire))
}

/// The adapter's message for `packet` by the tree path.
fn tree_body(packet: &Packet, opts: &BroadcastOptions, wire: Wire) -> bytes::Bytes {
    match wire {
        Wire::Classic => wire::encode_broadcast("node-1", packet, opts),
        Wire::Sharded => {
            let data = json!({
                "packet": sharded_wire::packet_json(packet),
                "opts": sharded_wire::opts_json(opts, None),
            });
            let kind = sharded_wire::MessageType::Broadcast;
            sharded_wire::encode("node-1", "/", kind, data, &packet.attachments)
        }
    }
}

/// The adapter's message for `event` encoded once.
fn once_body(event: &JsonEvent, opts: &BroadcastOptions, wire: Wire) -> bytes::Bytes {
    match wire {
        Wire::Classic => wire::encode_broadcast_event("node-1", event, opts).unwrap(),
        Wire::Sharded => sharded_wire::encode_broadcast_event("node-1", "/", event, opts),
    }
}

fn tree_payload(payload: &Payload, opts: &BroadcastOptions, wire: Wire) -> (Frame, bytes::Bytes) {
    let packet = Packet::event("/", "message", payload.clone());
    (encode_json(&packet), tree_body(&packet, opts, wire))
}

fn once_payload(payload: &Payload, opts: &BroadcastOptions, wire: Wire) -> (Frame, bytes::Bytes) {
    // The tree path consumes its payload: clone it there too, so both pay the same clone.
    let payload = payload.clone();
    let event = JsonEvent::from_payload("/", "message", &payload).unwrap();
    let body = once_body(&event, opts, wire);
    (event.frame(), body)
}

fn text(frame: &Frame) -> &str {
    frame.as_text().unwrap_or("")
}

type Path<'a, V> = &'a dyn Fn(&V, &BroadcastOptions, Wire) -> (Frame, bytes::Bytes);

/// Nanoseconds per encoding by each path, best of five interleaved rounds.
fn measure<V>(value: &V, paths: [Path<'_, V>; 2], wire: Wire, n: usize) -> (f64, f64) {
    let opts = BroadcastOptions {
        rooms: ["room-42".to_owned()].into(),
        ..BroadcastOptions::default()
    };
    let (a, b) = (paths[0](value, &opts, wire), paths[1](value, &opts, wire));
    assert_eq!(text(&a.0), text(&b.0));
    assert_eq!(a.1, b.1);
    best_of_five(
        n,
        [
            &|| drop(black_box(paths[0](black_box(value), &opts, wire))),
            &|| drop(black_box(paths[1](black_box(value), &opts, wire))),
        ],
    )
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200_000);
    println!("| value | adapter | tree path | encode once | once / tree |");
    println!("|---|---|---|---|---|");
    let (chat, page) = (chat(), page());
    let payload = Payload::from_value(&chat).unwrap();
    for (name, wire) in [("classic", Wire::Classic), ("sharded", Wire::Sharded)] {
        let rows = [
            (
                "chat message (`emit`)",
                measure(&chat, [&tree, &once], wire, n),
            ),
            (
                "20 chat messages (`emit`)",
                measure(&page, [&tree, &once], wire, n / 20),
            ),
            (
                "chat message as a `Value` (`emit_payload`)",
                measure(&payload, [&tree_payload, &once_payload], wire, n),
            ),
        ];
        for (value, (t, o)) in rows {
            println!(
                "| {value} | {name} | {t:.0} ns | {o:.0} ns | {:.2}× |",
                o / t
            );
        }
    }
}
