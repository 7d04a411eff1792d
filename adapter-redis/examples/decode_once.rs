//! Measures what one received broadcast's decoding costs on a receiving node, from the adapter's
//! message to the clients' frame and the broadcast options: by the tree path
//! (`wire::decode_message` or `wire::decode_broadcast` into a `Value` tree, then the packet and
//! options read from it and `encode_json`) and read straight into the frame
//! (`broadcast_frame::decode_sharded_frame`, `broadcast_frame::decode_broadcast_frame`). Both
//! give the same frame and options (asserted before timing). Only the decoding: no sockets, no
//! Redis.
//!
//! The messages are what a sending node writes for two values: the load tool's payload
//! (`sio-load fanout`, `{room, data: [publisher, seq, sent_ns, measured]}`) and a chat message.
//!
//! `cargo run --release -p sio-adapter-redis --example decode_once -- 200000`
//! (decodings per round; five rounds of each path, interleaved, best round reported).

use std::hint::black_box;

use serde_json::{Value, json};
use sio_adapter_redis::broadcast_frame::{decode_broadcast_frame, decode_sharded_frame};
use sio_adapter_redis::{sharded_wire, wire};
use sio_core::adapter::BroadcastOptions;
use sio_core::engine::Frame;
use sio_core::protocol::{JsonEvent, encode_json};

#[path = "support/best_of.rs"]
mod best_of;
use best_of::best_of_five;

/// The clients' frame text and the options, as a receiving node gets them from a message.
type Decoded = (String, BroadcastOptions);

fn text(frame: &Frame) -> String {
    frame
        .as_text()
        .map_or_else(|| format!("{frame:?}"), str::to_owned)
}

fn sharded_tree(bytes: &[u8]) -> Decoded {
    let message = wire::decode_message(bytes).unwrap();
    let data = &message.value["data"];
    let packet = wire::packet_from(&data["packet"], &message.attachments).unwrap();
    let opts = data.get("opts").map(wire::opts_from).unwrap_or_default();
    (text(&encode_json(&packet)), opts)
}

fn sharded_once(bytes: &[u8]) -> Decoded {
    let message = decode_sharded_frame(bytes).unwrap();
    let (_, frame) = message.packet.unwrap();
    (text(&frame), message.opts)
}

fn classic_tree(bytes: &[u8]) -> Decoded {
    let message = wire::decode_broadcast(bytes).unwrap();
    (text(&encode_json(&message.packet)), message.opts)
}

fn classic_once(bytes: &[u8]) -> Decoded {
    let message = decode_broadcast_frame(bytes).unwrap();
    (text(&message.frame), message.opts)
}

type Path<'a> = &'a dyn Fn(&[u8]) -> Decoded;

/// Nanoseconds per decoding by each path, best of five interleaved rounds.
fn measure(bytes: &[u8], paths: [Path<'_>; 2], n: usize) -> (f64, f64) {
    assert_eq!(paths[0](bytes), paths[1](bytes));
    best_of_five(
        n,
        [&|| drop(black_box(paths[0](black_box(bytes)))), &|| {
            drop(black_box(paths[1](black_box(bytes))))
        }],
    )
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200_000);
    let opts = BroadcastOptions {
        rooms: ["room-0".to_owned()].into(),
        ..BroadcastOptions::default()
    };
    let values: [(&str, Value); 2] = [
        (
            "load tool's payload",
            json!({"room": "room-0", "data": [0, 12_345, 1_764_489_600_123_456_789_u64, true]}),
        ),
        (
            "chat message",
            json!({
                "id": 123_456_789, "room": "room-42", "from": "Zoë",
                "text": "Hello, world! \"quoted\" and a newline\n, some é and 😀",
                "at": 1_732_950_000.123, "mentions": ["alice", "bob"],
                "meta": {"likes": 3, "edits": 0},
            }),
        ),
    ];
    println!("| value | adapter | tree path | read into the frame | frame / tree |");
    println!("|---|---|---|---|---|");
    for (name, value) in &values {
        let event = JsonEvent::encode("/", "message", value).unwrap();
        let sharded = sharded_wire::encode_broadcast_event("0f6b1c2e-node", "/", &event, &opts);
        let classic = wire::encode_broadcast_event("0f6b1c2e-node", &event, &opts).unwrap();
        let rows = [
            (
                "sharded",
                measure(&sharded, [&sharded_tree, &sharded_once], n),
            ),
            (
                "classic",
                measure(&classic, [&classic_tree, &classic_once], n),
            ),
        ];
        for (adapter, (t, o)) in rows {
            println!(
                "| {name} | {adapter} | {t:.0} ns | {o:.0} ns | {:.2}× |",
                o / t
            );
        }
    }
}
