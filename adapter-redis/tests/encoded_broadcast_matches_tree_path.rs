//! The sending half of "encode once": a broadcast of an event serialized once from the user's
//! value ([`JsonEvent`]) is published byte for byte as the tree path publishes the event's
//! packet (`Payload::from_value`, `Packet::event`): the classic adapter's msgpack
//! `[uid, packet, opts]` (`wire::encode_broadcast`) and the sharded adapter's JSON `BROADCAST`
//! message (`sharded_wire::encode`), for many values, namespaces and options. (Those encoders
//! are pinned against Node's own bytes in `wire_encodes_like_node.rs`, and the live mixed
//! clusters in `tests/node_interop*.rs` read what the fast path sends.)

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};
use sio_adapter_redis::sharded_wire::{self, MessageType};
use sio_adapter_redis::wire;
use sio_core::adapter::{BroadcastFlags, BroadcastOptions};
use sio_core::protocol::{JsonEvent, Packet, Payload};

#[derive(Serialize)]
struct Chat {
    user: String,
    text: String,
    at: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    reply: Option<u32>,
    tags: Vec<&'static str>,
    meta: BTreeMap<u32, bool>,
}

fn values() -> Vec<Value> {
    let chat = Chat {
        user: "Zoë".into(),
        text: "line\n\"quoted\" \\ \u{1} 😀".into(),
        at: 1_732_950_000.123,
        reply: None,
        tags: vec!["a", ""],
        meta: [(1, true), (20, false)].into(),
    };
    vec![
        json!(null),
        json!(0),
        json!(-1),
        json!(u64::MAX),
        json!(i64::MIN),
        json!(0.1),
        json!(1e300),
        json!(-0.0),
        json!(""),
        json!("x".repeat(40_000)),
        json!([]),
        json!({}),
        json!([[[]], {"a": {"b": [1, 2.5, "c"]}}]),
        json!({"_placeholder": true, "num": 0}),
        serde_json::to_value(&chat).unwrap(),
        Value::Array((0..20).map(Value::from).collect()),
        Value::Object((0..20).map(|i| (format!("k{i}"), json!(i))).collect()),
    ]
}

fn options() -> Vec<BroadcastOptions> {
    let mut all = vec![BroadcastOptions::default()];
    all.push(BroadcastOptions {
        rooms: ["room-1".to_owned()].into(),
        ..BroadcastOptions::default()
    });
    all.push(BroadcastOptions {
        rooms: ["a".to_owned(), "é".to_owned()].into(),
        except: ["b".to_owned()].into(),
        flags: BroadcastFlags {
            local: false,
            volatile: true,
        },
    });
    all
}

/// Both adapters' messages for `value`, by the fast path and by the tree path, must be equal.
fn check<T: Serialize + ?Sized>(nsp: &str, event: &str, value: &T) {
    let encoded = JsonEvent::encode(nsp, event, value).expect("the fast path takes it");
    let packet = Packet::event(nsp, event, Payload::from_value(value).unwrap());
    check_encoded(nsp, event, &encoded, &packet);
}

fn check_encoded(nsp: &str, event: &str, encoded: &JsonEvent, packet: &Packet) {
    for opts in options() {
        let fast = wire::encode_broadcast_event("node-1", encoded, &opts).unwrap();
        let tree = wire::encode_broadcast("node-1", packet, &opts);
        assert_eq!(fast, tree, "classic {nsp} {event} {opts:?}");
        let fast = sharded_wire::encode_broadcast_event("node-1", nsp, encoded, &opts);
        let data = json!({
            "packet": sharded_wire::packet_json(packet),
            "opts": sharded_wire::opts_json(&opts, None),
        });
        let tree = sharded_wire::encode("node-1", nsp, MessageType::Broadcast, data, &[]);
        assert_eq!(
            String::from_utf8_lossy(&fast),
            String::from_utf8_lossy(&tree),
            "sharded {nsp} {event} {opts:?}"
        );
    }
}

#[test]
fn classic_and_sharded_messages_are_the_tree_paths() {
    for nsp in ["/", "/chat", "/ü \"q\""] {
        for event in ["message", "", "é\n"] {
            for value in values() {
                check(nsp, event, &value);
            }
        }
    }
    check("/", "f32", &0.1f32);
    check("/", "unit", &());
    check("/", "none", &Option::<String>::None);
    check("/", "tuple", &(1u8, "two", [3.5f64]));
    // Payloads (several arguments, or none) encoded once from their trees.
    for payload in [
        Payload::new(),
        Payload::from_value(&values()[14])
            .and_then(|p| p.arg("two"))
            .and_then(|p| p.arg(&[0.5, -1.0]))
            .unwrap(),
    ] {
        let encoded = JsonEvent::from_payload("/p", "args", &payload).unwrap();
        check_encoded(
            "/p",
            "args",
            &encoded,
            &Packet::event("/p", "args", payload),
        );
    }
}

#[test]
fn what_the_fast_path_publishes_decodes_to_the_same_broadcast() {
    let value = json!({"text": "hi", "n": [1, -2, 3.25]});
    let encoded = JsonEvent::encode("/chat", "message", &value).unwrap();
    let opts = &options()[2];
    let bytes = wire::encode_broadcast_event("node-1", &encoded, opts).unwrap();
    let decoded = wire::decode_broadcast(&bytes).unwrap();
    assert_eq!(decoded.uid, "node-1");
    assert_eq!(&decoded.opts, opts);
    assert_eq!(
        decoded.packet,
        Packet::event("/chat", "message", Payload::from_value(&value).unwrap())
    );
}
