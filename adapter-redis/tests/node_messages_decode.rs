//! What the real Node adapter and emitter publish decodes, with `wire`, to what they meant:
//! broadcasts (uid, packet, rooms, flags, binary), requests (type, selector, rooms, data) and
//! the answers to requests, each on the channel we would use for it.

mod node_vectors;

use std::collections::BTreeSet;

use bytes::Bytes;
use serde_json::{Value, json};
use sio_adapter_redis::wire::{self, BroadcastMessage, Channels, RequestType};
use sio_core::adapter::{BroadcastFlags, BroadcastOptions, SocketInfo};
use sio_core::protocol::{PacketType, placeholder};

use node_vectors::{all, bytes, vector};

fn broadcast(label: &str) -> BroadcastMessage {
    wire::decode_broadcast(&bytes(label)).unwrap_or_else(|e| panic!("{label}: {e}"))
}

fn message(label: &str) -> wire::Message {
    wire::decode_message(&bytes(label)).unwrap_or_else(|e| panic!("{label}: {e}"))
}

fn kind(value: &Value) -> Option<RequestType> {
    value
        .get("type")
        .and_then(Value::as_u64)
        .and_then(RequestType::from_code)
}

fn set(rooms: &[&str]) -> BTreeSet<String> {
    rooms.iter().map(|r| (*r).to_owned()).collect()
}

fn opts(rooms: &[&str], except: &[&str], volatile: bool) -> BroadcastOptions {
    BroadcastOptions {
        rooms: set(rooms),
        except: set(except),
        flags: BroadcastFlags {
            local: false,
            volatile,
        },
    }
}

#[test]
fn every_captured_message_decodes_and_sits_on_our_channel_for_it() {
    assert_eq!(all().len(), 35);
    for v in all() {
        if v.is_broadcast() {
            let msg =
                wire::decode_broadcast(&v.bytes()).unwrap_or_else(|e| panic!("{}: {e}", v.label));
            let channels = Channels::new("socket.io", &msg.packet.nsp, "any");
            assert_eq!(
                channels.broadcast_channel(&msg.opts),
                v.channel,
                "{}",
                v.label
            );
            continue;
        }
        let msg = wire::decode_message(&v.bytes()).unwrap_or_else(|e| panic!("{}: {e}", v.label));
        assert!(msg.value.is_object(), "{}", v.label);
        if v.is_request() {
            assert!(kind(&msg.value).is_some(), "{}: request type", v.label);
            assert_eq!(
                v.channel,
                Channels::new("socket.io", "/", "any").request,
                "{}",
                v.label
            );
        } else {
            assert!(v.is_response(), "{}: unknown channel", v.label);
            assert!(msg.value["requestId"].is_string(), "{}", v.label);
        }
    }
}

#[test]
fn adapter_broadcasts() {
    let hello = broadcast("A emit hello");
    assert_eq!(hello.uid, "XbyQtY");
    assert_eq!(hello.packet.kind, PacketType::Event);
    assert_eq!(hello.packet.nsp, "/");
    assert_eq!(hello.packet.id, None);
    assert_eq!(
        hello.packet.data,
        Some(json!(["hello", "world", 1, 2.5, {"a": true, "n": null}]))
    );
    assert!(hello.packet.attachments.is_empty());
    assert_eq!(hello.opts, BroadcastOptions::default());

    let bin = broadcast("A to r1 emit bin");
    assert_eq!(
        bin.packet.data,
        Some(json!(["bin", placeholder(0), {"nested": placeholder(1)}]))
    );
    assert_eq!(
        bin.packet.attachments,
        [Bytes::from_static(&[1, 2, 3]), Bytes::from_static(&[4])]
    );
    assert_eq!(bin.opts, opts(&["r1"], &[], false));

    let multi = broadcast("A to r1,r2 except r3 volatile");
    assert_eq!(multi.packet.data, Some(json!(["multi", -1])));
    assert_eq!(multi.opts, opts(&["r1", "r2"], &["r3"], true));

    // A Node server has one uid per namespace; `compress` is not a flag of ours.
    let chat = broadcast("A /chat compress false");
    assert_eq!(chat.uid, "g9yoqg");
    assert_eq!(chat.packet.nsp, "/chat");
    assert_eq!(chat.packet.data, Some(json!(["c", "x"])));
    assert_eq!(chat.opts, BroadcastOptions::default());

    let from_socket = broadcast("B socket.broadcast.emit");
    assert_eq!(from_socket.uid, "9aN-8c");
    assert_eq!(from_socket.packet.data, Some(json!(["from-sock", 1])));
    assert_eq!(
        from_socket.opts,
        opts(&[], &["FJ_FATaVBySFG4-mAAAA"], false)
    );
    let to_room = broadcast("B socket.to(r1).emit");
    assert_eq!(to_room.packet.data, Some(json!(["to-r1", true])));
    assert_eq!(
        to_room.opts,
        opts(&["r1"], &["FJ_FATaVBySFG4-mAAAA"], false)
    );

    // Node allows numeric rooms: `io.to(5)` went out as the msgpack integer 5.
    let numeric = broadcast("A numeric room");
    assert_eq!(numeric.packet.data, Some(json!(["num", 0])));
    assert_eq!(numeric.opts, opts(&["5"], &[], false));

    let big = broadcast("A except r1 emit big");
    assert_eq!(big.uid, "zn4cBX");
    assert_eq!(big.opts, opts(&[], &["r1"], false));
    assert_eq!(big.packet.attachments, [Bytes::from(vec![7u8; 300])]);
    // notepack wrote 1.5e300 as the uint64 0 (Node nodes read 0 as well).
    assert_eq!(
        big.packet.data,
        Some(json!([
            "big",
            "s".repeat(40),
            placeholder(0),
            300,
            70000,
            -200,
            5_000_000_000u64,
            0
        ]))
    );
}

#[test]
fn emitter_broadcasts() {
    let e1 = broadcast("emitter emit e1");
    assert_eq!(e1.uid, "emitter");
    assert_eq!(e1.packet.kind, PacketType::Event);
    assert_eq!(e1.packet.nsp, "/");
    assert_eq!(e1.packet.data, Some(json!(["e1", 1, "a"])));
    assert_eq!(e1.opts, BroadcastOptions::default());

    let e2 = broadcast("emitter to r1 binary");
    assert_eq!(e2.packet.data, Some(json!(["e2", placeholder(0)])));
    assert_eq!(e2.packet.attachments, [Bytes::from_static(&[0xde, 0xad])]);
    assert_eq!(e2.opts, opts(&["r1"], &[], false));

    let e3 = broadcast("emitter of chat to r1,r2 except x volatile");
    assert_eq!(e3.packet.nsp, "/chat");
    assert_eq!(e3.packet.data, Some(json!(["e3", {"k": [1, 2]}])));
    assert_eq!(e3.opts, opts(&["r1", "r2"], &["x"], true));

    let e4 = broadcast("emitter compress true");
    assert_eq!(e4.packet.data, Some(json!(["e4"])));
    assert_eq!(e4.opts, BroadcastOptions::default());
}

#[test]
fn broadcasts_with_acks_and_their_answers() {
    for (label, request_id, args, attachments, timeout_ms) in [
        (
            "A emitWithAck ask",
            "CqPYIF",
            json!(["ask", 42]),
            vec![],
            1000,
        ),
        (
            "A emitWithAck binary arg",
            "kmPySD",
            json!(["ask", placeholder(0)]),
            vec![Bytes::from_static(&[1])],
            500,
        ),
    ] {
        let ask = message(label);
        assert_eq!(kind(&ask.value), Some(RequestType::Broadcast), "{label}");
        assert_eq!(ask.value["requestId"], request_id, "{label}");
        let packet = wire::packet_from(&ask.value["packet"], &ask.attachments).unwrap();
        assert_eq!(packet.kind, PacketType::Event);
        assert_eq!(packet.nsp, "/");
        assert_eq!(packet.id, None);
        assert_eq!(packet.data, Some(args), "{label}");
        assert_eq!(packet.attachments, attachments, "{label}");
        assert_eq!(
            wire::opts_from(&ask.value["opts"]),
            BroadcastOptions::default()
        );
        assert_eq!(
            ask.value["opts"]["flags"]["timeout"].as_u64(),
            Some(timeout_ms)
        );

        // B answers on A's own channel (publishOnSpecificResponseChannel), without a uid.
        let specific =
            Channels::new("socket.io", "/", ask.value["uid"].as_str().unwrap()).specific_response;
        for answer in [format!("{label} #1"), format!("{label} #2")] {
            assert_eq!(vector(&answer).channel, specific, "{answer}");
            let value = message(&answer).value;
            assert_eq!(value["requestId"], request_id, "{answer}");
            assert_eq!(value.get("uid"), None, "{answer}");
        }
        let count = message(&format!("{label} #1")).value;
        assert_eq!(kind(&count), Some(RequestType::BroadcastClientCount));
        assert_eq!(count["clientCount"].as_u64(), Some(1));
        // The client acked with ("pong", <binary>): only the first argument travels, in msgpack.
        assert!(!vector(&format!("{label} #2")).is_json());
        let ack = message(&format!("{label} #2"));
        assert_eq!(kind(&ack.value), Some(RequestType::BroadcastAck));
        assert_eq!(ack.value["packet"], "pong");
        assert!(ack.attachments.is_empty());
    }
}

#[test]
fn fetch_sockets_and_all_rooms() {
    let fetch = message("A fetchSockets").value;
    assert_eq!(kind(&fetch), Some(RequestType::RemoteFetch));
    assert_eq!(fetch["uid"], "XbyQtY");
    assert_eq!(fetch["requestId"], "Z1Rfvz");
    assert_eq!(wire::opts_from(&fetch["opts"]), BroadcastOptions::default());

    let answer = message("A fetchSockets #1").value;
    assert_eq!(answer["requestId"], "Z1Rfvz");
    let sockets: Vec<SocketInfo> = serde_json::from_value(answer["sockets"].clone()).unwrap();
    let [socket] = &sockets[..] else {
        panic!("one socket expected, got {sockets:?}");
    };
    assert_eq!(socket.id, "k1UD1lt3x2MRpnzAAAAA");
    assert_eq!(socket.rooms, ["k1UD1lt3x2MRpnzAAAAA", "r1"]);
    assert_eq!(socket.data, json!({"user": "u1"}));
    assert_eq!(socket.handshake["query"]["q"], "1");
    assert_eq!(socket.handshake["auth"], json!({"token": "t"}));
    assert_eq!(socket.handshake["address"], "127.0.0.1");
    assert_eq!(socket.handshake["issued"].as_u64(), Some(1_795_596_812_374));

    // A (default options) answers B on the shared channel.
    let fetch_b = message("B fetchSockets").value;
    assert_eq!(fetch_b["uid"], "6AQkNs");
    assert_eq!(
        vector("B fetchSockets #1").channel,
        Channels::new("socket.io", "/", "6AQkNs").response
    );
    let empty = message("B fetchSockets #1").value;
    assert_eq!(empty["requestId"], "kNhrgG");
    assert_eq!(empty["sockets"], json!([]));

    let all_rooms = message("A allRooms").value;
    assert_eq!(kind(&all_rooms), Some(RequestType::AllRooms));
    assert_eq!(all_rooms["requestId"], "S4VFZZ");
    let rooms = message("A allRooms #1").value;
    assert_eq!(rooms["requestId"], "S4VFZZ");
    assert_eq!(
        wire::rooms_from(rooms.get("rooms")),
        ["k1UD1lt3x2MRpnzAAAAA", "r1"]
    );
}

#[test]
fn join_leave_and_disconnect_requests() {
    for (label, uid, expected_kind, selector, rooms) in [
        (
            "A socketsJoin j1",
            Some("XbyQtY"),
            RequestType::RemoteJoin,
            opts(&[], &[], false),
            vec!["j1"],
        ),
        (
            "A in r1 socketsLeave j1",
            Some("XbyQtY"),
            RequestType::RemoteLeave,
            opts(&["r1"], &[], false),
            vec!["j1"],
        ),
        // The emitter's join, leave and disconnect requests carry no uid.
        (
            "emitter socketsJoin j2",
            None,
            RequestType::RemoteJoin,
            opts(&[], &[], false),
            vec!["j2"],
        ),
        (
            "emitter in r1 socketsLeave j2 j3",
            None,
            RequestType::RemoteLeave,
            opts(&["r1"], &[], false),
            vec!["j2", "j3"],
        ),
    ] {
        let request = message(label).value;
        assert_eq!(kind(&request), Some(expected_kind), "{label}");
        assert_eq!(request.get("uid").and_then(Value::as_str), uid, "{label}");
        assert_eq!(request.get("requestId"), None, "{label}");
        assert_eq!(wire::opts_from(&request["opts"]), selector, "{label}");
        assert_eq!(wire::rooms_from(request.get("rooms")), rooms, "{label}");
    }
    for (label, uid, selector, close) in [
        (
            "A disconnectSockets",
            Some("XbyQtY"),
            opts(&[], &[], false),
            false,
        ),
        (
            "emitter except r9 disconnectSockets true",
            None,
            opts(&[], &["r9"], false),
            true,
        ),
    ] {
        let request = message(label).value;
        assert_eq!(
            kind(&request),
            Some(RequestType::RemoteDisconnect),
            "{label}"
        );
        assert_eq!(request.get("uid").and_then(Value::as_str), uid, "{label}");
        assert_eq!(wire::opts_from(&request["opts"]), selector, "{label}");
        assert_eq!(request["close"].as_bool(), Some(close), "{label}");
    }
}

#[test]
fn server_side_emits_and_their_acks() {
    for (label, uid, request_id, data) in [
        (
            "A serverSideEmit sse",
            "XbyQtY",
            None,
            json!(["sse", 1, "two"]),
        ),
        // A Buffer in a JSON request is Node's JSON form of it, and stays so for Node nodes too.
        (
            "A serverSideEmit binary",
            "zn4cBX",
            None,
            json!(["sse", {"type": "Buffer", "data": [1, 2]}]),
        ),
        (
            "A serverSideEmitWithAck",
            "XbyQtY",
            Some("zI7DRu"),
            json!(["sse-ack", 3]),
        ),
        (
            "emitter serverSideEmit srv",
            "emitter",
            None,
            json!(["srv", {"x": 1}]),
        ),
    ] {
        let request = message(label).value;
        assert_eq!(kind(&request), Some(RequestType::ServerSideEmit), "{label}");
        assert_eq!(request["uid"], uid, "{label}");
        assert_eq!(
            request.get("requestId").and_then(Value::as_str),
            request_id,
            "{label}"
        );
        assert_eq!(request["data"], data, "{label}");
    }
    // The ack goes to the shared channel even from a node with publishOnSpecificResponseChannel.
    assert_eq!(
        vector("A serverSideEmitWithAck #1").channel,
        Channels::new("socket.io", "/", "XbyQtY").response
    );
    let ack = message("A serverSideEmitWithAck #1").value;
    assert_eq!(kind(&ack), Some(RequestType::ServerSideEmit));
    assert_eq!(ack["requestId"], "zI7DRu");
    assert_eq!(ack["data"], json!({"got": 3}));
}

/// Every truncation of every captured message is an error or a value, never a panic.
#[test]
fn truncated_messages_never_panic() {
    for v in all() {
        let bytes = v.bytes();
        for end in 0..bytes.len() {
            let cut = &bytes[..end];
            let _ = wire::decode_broadcast(cut);
            if let Ok(message) = wire::decode_message(cut) {
                let _ = wire::opts_from(&message.value);
                if let Some(packet) = message.value.get("packet") {
                    let _ = wire::packet_from(packet, &message.attachments);
                }
            }
        }
    }
}
