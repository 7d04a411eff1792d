//! Measures what one broadcast's encoding costs on the sending node, for a user's value, by
//! the tree path (`Payload::from_value` → `Packet::event` → `encode_json` for the clients, plus
//! the adapter's message: the classic adapter's msgpack via `to_msgpack`, or the sharded
//! adapter's JSON via `packet_json`) and by "encode once" (`JsonEvent::encode`, then
//! `wire::encode_broadcast_event` or `sharded_wire::encode_broadcast_event`). Both paths write
//! the same bytes (asserted before timing). Only the encoding: no sockets, no Redis.
//!
//! `cargo run --release -p sio-adapter-redis --example encode_once -- 200000`
//! (encodings per round; five rounds of each path, interleaved, best round reported).

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Instant;

use serde::Serialize;
use serde_json::json;
use sio_adapter_redis::{sharded_wire, wire};
use sio_core::adapter::BroadcastOptions;
use sio_core::engine::Frame;
use sio_core::protocol::{JsonEvent, Packet, Payload, encode_json};

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
    let frame = encode_json(&packet);
    let body = match wire {
        Wire::Classic => wire::encode_broadcast("node-1", &packet, opts),
        Wire::Sharded => {
            let data = json!({
                "packet": sharded_wire::packet_json(&packet),
                "opts": sharded_wire::opts_json(opts, None),
            });
            let kind = sharded_wire::MessageType::Broadcast;
            sharded_wire::encode("node-1", "/", kind, data, &packet.attachments)
        }
    };
    (frame, body)
}

fn once<T: Serialize>(value: &T, opts: &BroadcastOptions, wire: Wire) -> (Frame, bytes::Bytes) {
    let event = JsonEvent::encode("/", "message", value).unwrap();
    let body = match wire {
        Wire::Classic => wire::encode_broadcast_event("node-1", &event, opts).unwrap(),
        Wire::Sharded => sharded_wire::encode_broadcast_event("node-1", "/", &event, opts),
    };
    (event.frame(), body)
}

fn text(frame: &Frame) -> &str {
    match frame {
        Frame::Text(text) => text.as_str(),
        _ => "",
    }
}

/// Nanoseconds per encoding, best of five interleaved rounds of each path.
fn measure<T: Serialize>(value: &T, wire: Wire, n: usize) -> (f64, f64) {
    let opts = BroadcastOptions {
        rooms: ["room-42".to_owned()].into(),
        ..BroadcastOptions::default()
    };
    let (a, b) = (tree(value, &opts, wire), once(value, &opts, wire));
    assert_eq!(text(&a.0), text(&b.0));
    assert_eq!(a.1, b.1);
    let (mut best_tree, mut best_once) = (f64::MAX, f64::MAX);
    for _ in 0..5 {
        let start = Instant::now();
        for _ in 0..n {
            black_box(tree(black_box(value), &opts, wire));
        }
        best_tree = best_tree.min(start.elapsed().as_nanos() as f64 / n as f64);
        let start = Instant::now();
        for _ in 0..n {
            black_box(once(black_box(value), &opts, wire));
        }
        best_once = best_once.min(start.elapsed().as_nanos() as f64 / n as f64);
    }
    (best_tree, best_once)
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200_000);
    println!("| value | adapter | tree path | encode once | once / tree |");
    println!("|---|---|---|---|---|");
    for (name, wire) in [("classic", Wire::Classic), ("sharded", Wire::Sharded)] {
        let (t, o) = measure(&chat(), wire, n);
        println!(
            "| chat message | {name} | {t:.0} ns | {o:.0} ns | {:.2}× |",
            o / t
        );
        let (t, o) = measure(&page(), wire, n / 20);
        println!(
            "| 20 chat messages | {name} | {t:.0} ns | {o:.0} ns | {:.2}× |",
            o / t
        );
    }
}
