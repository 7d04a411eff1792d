//! What `wire` encodes is what the real Node adapter publishes for the same meaning: the very
//! same bytes where Node's encoding is deterministic and we carry everything it carries, and
//! otherwise a message that decodes to the same values.

mod node_vectors;

use ::bytes::Bytes;
use rmpv::Value as Mp;
use serde_json::json;
use sio_adapter_redis::wire::{self, RequestType};
use sio_core::adapter::BroadcastOptions;

use node_vectors::{all, bytes};

/// Node broadcasts we re-encode to the very same bytes.
const BYTE_EXACT_BROADCASTS: &[&str] = &[
    "A emit hello",
    "A to r1 emit bin",
    "A to r1,r2 except r3 volatile",
    "B socket.broadcast.emit",
    "B socket.to(r1).emit",
];

#[test]
fn adapter_broadcasts_encode_to_nodes_bytes() {
    for label in BYTE_EXACT_BROADCASTS {
        let node = bytes(label);
        let msg = wire::decode_broadcast(&node).unwrap();
        let ours = wire::encode_broadcast(&msg.uid, &msg.packet, &msg.opts);
        assert_eq!(ours.as_ref(), &node[..], "{label}");
    }
}

/// The other broadcasts differ in bytes for known reasons (the emitter orders `opts` as
/// `rooms, flags, except`; we drop the `compress` flag, write room `5` as `"5"` and notepack's
/// bogus uint64 0 as `0`), but what we encode decodes to what Node's decoded to.
#[test]
fn every_broadcast_survives_our_encoding() {
    let mut checked = 0;
    for v in all().iter().filter(|v| v.is_broadcast()) {
        let node = wire::decode_broadcast(&v.bytes()).unwrap();
        let ours = wire::encode_broadcast(&node.uid, &node.packet, &node.opts);
        let again = wire::decode_broadcast(&ours).unwrap();
        assert_eq!(again, node, "{}", v.label);
        let raw = wire::decode_message(&ours).unwrap();
        assert_eq!(raw.value[1]["type"], 2, "{}", v.label);
        assert_eq!(raw.value[2]["flags"].get("local"), None, "{}", v.label);
        checked += 1;
    }
    assert_eq!(checked, 12);
}

#[test]
fn broadcast_requests_encode_to_nodes_bytes() {
    for label in ["A emitWithAck ask", "A emitWithAck binary arg"] {
        let node = bytes(label);
        let msg = wire::decode_message(&node).unwrap();
        let packet = wire::packet_from(&msg.value["packet"], &msg.attachments).unwrap();
        let opts = wire::opts_from(&msg.value["opts"]);
        let timeout = msg.value["opts"]["flags"]["timeout"].as_u64().unwrap();
        let ours = wire::encode_broadcast_request(
            msg.value["uid"].as_str().unwrap(),
            msg.value["requestId"].as_str().unwrap(),
            &packet,
            &opts,
            std::time::Duration::from_millis(timeout),
        );
        assert_eq!(ours.as_ref(), &node[..], "{label}");
    }
}

/// Our `BROADCAST_ACK` is Node's plus a trailing `uid` (which Node ignores).
#[test]
fn broadcast_acks_are_nodes_plus_our_uid() {
    for label in ["A emitWithAck ask #2", "A emitWithAck binary arg #2"] {
        let node = bytes(label);
        let msg = wire::decode_message(&node).unwrap();
        let ours = wire::encode_broadcast_ack(
            "rust-node",
            msg.value["requestId"].as_str().unwrap(),
            &msg.value["packet"],
            &msg.attachments,
        );
        let Mp::Map(mut entries) = rmpv::decode::read_value(&mut ours.as_ref()).unwrap() else {
            panic!("{label}: an ack is a map");
        };
        let (key, uid) = entries.pop().unwrap();
        assert_eq!(
            (key.as_str(), uid.as_str()),
            (Some("uid"), Some("rust-node"))
        );
        let mut without_uid = Vec::new();
        rmpv::encode::write_value(&mut without_uid, &Mp::Map(entries)).unwrap();
        assert_eq!(without_uid, node, "{label}");
    }
    // A binary ack argument goes out inline, as notepack writes a Buffer.
    let ours = wire::encode_broadcast_ack(
        "n",
        "r",
        &sio_core::protocol::placeholder(0),
        &[Bytes::from_static(&[9, 8])],
    );
    let decoded = wire::decode_message(&ours).unwrap();
    assert_eq!(decoded.value["type"], RequestType::BroadcastAck as u8);
    assert_eq!(decoded.attachments, [Bytes::from_static(&[9, 8])]);
}

/// The JSON requests we build (with the fields our adapter gives them) equal Node's as values.
#[test]
fn json_requests_equal_nodes_as_values() {
    let selector = |rooms: &[&str]| {
        wire::opts_json(&BroadcastOptions {
            rooms: rooms.iter().map(|r| (*r).to_owned()).collect(),
            ..BroadcastOptions::default()
        })
    };
    let cases = [
        (
            "A fetchSockets",
            RequestType::RemoteFetch,
            vec![
                ("uid", json!("XbyQtY")),
                ("requestId", json!("Z1Rfvz")),
                ("opts", selector(&[])),
            ],
        ),
        (
            "A allRooms",
            RequestType::AllRooms,
            vec![("uid", json!("XbyQtY")), ("requestId", json!("S4VFZZ"))],
        ),
        (
            "A socketsJoin j1",
            RequestType::RemoteJoin,
            vec![
                ("uid", json!("XbyQtY")),
                ("opts", selector(&[])),
                ("rooms", json!(["j1"])),
            ],
        ),
        (
            "A in r1 socketsLeave j1",
            RequestType::RemoteLeave,
            vec![
                ("uid", json!("XbyQtY")),
                ("opts", selector(&["r1"])),
                ("rooms", json!(["j1"])),
            ],
        ),
        (
            "A disconnectSockets",
            RequestType::RemoteDisconnect,
            vec![
                ("uid", json!("XbyQtY")),
                ("opts", selector(&[])),
                ("close", json!(false)),
            ],
        ),
        (
            "A serverSideEmit sse",
            RequestType::ServerSideEmit,
            vec![("uid", json!("XbyQtY")), ("data", json!(["sse", 1, "two"]))],
        ),
        (
            "A serverSideEmitWithAck",
            RequestType::ServerSideEmit,
            vec![
                ("uid", json!("XbyQtY")),
                ("data", json!(["sse-ack", 3])),
                ("requestId", json!("zI7DRu")),
            ],
        ),
    ];
    for (label, kind, fields) in cases {
        let ours = wire::decode_message(&wire::json_message(kind, fields)).unwrap();
        let node = wire::decode_message(&bytes(label)).unwrap();
        assert_eq!(ours.value, node.value, "{label}");
    }
}
