//! A broadcast read straight into its client frame (`broadcast_frame`) gives byte for byte the
//! frame of the tree path (`wire::decode_broadcast`, then the default parser's encoding), or
//! declines: for every broadcast the real Node adapter and emitter published, for every packet
//! the real notepack encoder wrote, for hand-made edge cases of the msgpack reading rules, and
//! for mutations of all of these.

mod node_vectors;

use sio_adapter_redis::broadcast_frame::{
    FramedBroadcast, decode_broadcast_frame, decode_sharded_frame,
};
use sio_adapter_redis::wire;
use sio_core::engine::Frame;
use sio_core::protocol::ParserKind;

/// The tree path's frame text, with uid, namespace and options.
fn tree_path(bytes: &[u8]) -> Option<(String, String, String, wire::BroadcastMessage)> {
    let msg = wire::decode_broadcast(bytes).ok()?;
    let text = frame_text(&ParserKind::Json.encode(&msg.packet));
    Some((msg.uid.clone(), msg.packet.nsp.clone(), text, msg))
}

/// A frame's text, or its debug form (which no text frame equals).
fn frame_text(frame: &Frame) -> String {
    frame
        .as_text()
        .map_or_else(|| format!("{frame:?}"), str::to_owned)
}

fn text(framed: &FramedBroadcast) -> String {
    let frame = &framed.frame;
    frame
        .as_text()
        .unwrap_or_else(|| panic!("not a text frame: {frame:?}"))
        .to_owned()
}

/// Asserts the fast path equals the tree path or declines; returns whether it was taken.
fn check(name: &str, bytes: &[u8]) -> bool {
    let Some(fast) = decode_broadcast_frame(bytes) else {
        return false;
    };
    let (uid, nsp, frame, msg) =
        tree_path(bytes).unwrap_or_else(|| panic!("{name}: fast path took what the tree refuses"));
    assert_eq!(text(&fast), frame, "{name}: frame");
    assert_eq!(fast.uid, uid, "{name}: uid");
    assert_eq!(fast.nsp, nsp, "{name}: nsp");
    assert_eq!(fast.opts, msg.opts, "{name}: opts");
    true
}

/// `[uid, packet, opts]` around raw packet bytes.
fn wrap(packet: &[u8]) -> Vec<u8> {
    let mut out = b"\x93\xa6XbyQtY".to_vec();
    out.extend_from_slice(packet);
    // {rooms: ["r1"], except: [], flags: {volatile: true}}
    out.extend_from_slice(b"\x83\xa5rooms\x91\xa2r1\xa6except\x90\xa5flags\x81\xa8volatile\xc3");
    out
}

/// `{type: 2, data: <data>, nsp: "/"}`.
fn event(data: &[u8]) -> Vec<u8> {
    let mut out = b"\x83\xa4type\x02\xa4data".to_vec();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\xa3nsp\xa1/");
    wrap(&out)
}

fn notepack_vectors() -> Vec<(String, Vec<u8>)> {
    include_str!("../../core/src/protocol/notepack_vectors.tsv")
        .lines()
        .map(|line| {
            let mut cols = line.split('\t');
            let name = cols.next().unwrap().to_owned();
            let hex = cols.next().unwrap();
            let bytes = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                .collect();
            (name, bytes)
        })
        .collect()
}

/// Hand-made packets for each reading rule; `true` where the fast path must be taken.
fn edge_cases() -> Vec<(&'static str, Vec<u8>, bool)> {
    let mut deep = vec![0x92, 0xa1, b'd'];
    deep.extend(std::iter::repeat_n(0x91, 120));
    deep.push(0xc0);
    let mut date = b"\x92\xa1d\xd7\xff".to_vec();
    date.extend_from_slice(&[0xbc, 0x1c, 0xbd, 0x00, 0x65, 0xe0, 0x79, 0xf0]);
    vec![
        ("floats", event(b"\x94\xa1f\xca\x3d\xcc\xcc\xcd\xcb\x3f\xb9\x99\x99\x99\x99\x99\x9a\xcb\x40\x00\x00\x00\x00\x00\x00\x00"), true),
        ("nan_and_infinity_are_null", event(b"\x93\xa1f\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00\xca\x7f\x80\x00\x00"), true),
        ("nan_first_is_refused", event(b"\x91\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00"), false),
        ("number_first", event(b"\x92\xd0\x05\xff"), true),
        ("negative_first", event(b"\x91\xd3\xff\xff\xff\xff\xff\xff\xff\xfe"), true),
        ("undefined_in_array_and_map", event(b"\x93\xa1u\xd4\x00\x00\x82\xa1a\xc7\x01\x00\x00\xa1b\x01"), true),
        ("timestamp", event(&date), true),
        ("escapes", event(b"\x92\xa1e\xa8\"\\\n\x01\x7f\xc3\xa9/"), true),
        ("invalid_utf8", event(b"\x92\xa1e\xa2\xff\xfe"), false),
        ("integer_key", event(b"\x92\xa1k\x81\x01\x02"), false),
        ("repeated_key", event(b"\x92\xa1k\x82\xa1a\x01\xa1a\x02"), false),
        ("placeholder", event(b"\x92\xa1p\x82\xabplaceholder\xc3\xa3num\x00"), true),
        ("placeholder_key", event(b"\x92\xa1p\x82\xac_placeholder\xc3\xa3num\x00"), false),
        ("bin", event(b"\x92\xa1b\xc4\x01\x00"), false),
        ("ext_type_0", event(b"\x92\xa1b\xd5\x00\x01\x02"), false),
        ("ext_other", event(b"\x92\xa1b\xd4\x05\x01"), false),
        ("deep", event(&deep), false),
        ("object_first", event(b"\x91\x80"), false),
        ("empty_event", event(b"\x90"), false),
        ("not_an_array", event(b"\xa1x"), false),
        ("truncated", event(b"\x93\xa1x"), false),
        ("ack_with_id", wrap(b"\x84\xa4type\x03\xa4data\x91\xc3\xa3nsp\xa5/chat\xa2id\xcd\x01\x00"), true),
        ("binary_ack_type", wrap(b"\x84\xa4type\x06\xa4data\x90\xa3nsp\xa1/\xa2id\x07"), true),
        ("negative_id_is_none", wrap(b"\x84\xa4type\x02\xa4data\x91\xa1x\xa3nsp\xa1/\xa2id\xff"), true),
        ("float_id_is_none", wrap(b"\x84\xa4type\x02\xa4data\x91\xa1x\xa3nsp\xa1/\xa2id\xcb\x40\x00\x00\x00\x00\x00\x00\x00"), true),
        ("nil_nsp", wrap(b"\x83\xa4type\x02\xa4data\x91\xa1x\xa3nsp\xc0"), true),
        ("no_nsp", wrap(b"\x82\xa4type\x02\xa4data\x91\xa1x"), true),
        ("nsp_without_slash", wrap(b"\x83\xa4type\x02\xa4data\x91\xa1x\xa3nsp\xa1a"), false),
        ("connect", wrap(b"\x83\xa4type\x00\xa4data\x80\xa3nsp\xa1/"), false),
        ("repeated_data", wrap(b"\x84\xa4type\x02\xa4data\x91\xa1x\xa4data\x91\xa1y\xa3nsp\xa1/"), false),
        ("undefined_then_data", wrap(b"\x84\xa4type\x02\xa4data\xd4\x00\x00\xa4data\x91\xa1y\xa3nsp\xa1/"), true),
        ("options_field", wrap(b"\x84\xa4type\x02\xa4data\x91\xa1x\xa7options\x81\xa8compress\xc3\xa3nsp\xa1/"), true),
        ("binary_in_options_field", wrap(b"\x84\xa4type\x02\xa4data\x91\xa1x\xa7options\xc4\x01\x00\xa3nsp\xa1/"), false),
        ("trailing_bytes", [event(b"\x91\xa1x"), vec![0xc0]].concat(), false),
        ("huge_claimed_lengths", event(b"\x92\xa1x\xdd\xff\xff\xff\xff"), false),
    ]
}

#[test]
fn node_broadcasts_transcode_exactly_or_decline() {
    let mut taken = Vec::new();
    for vector in node_vectors::all().iter().filter(|v| v.is_broadcast()) {
        if check(&vector.label, &vector.bytes()) {
            taken.push(vector.label.as_str());
        }
    }
    // The plain events the Node adapter and emitter broadcast take the fast path.
    for label in [
        "A emit hello",
        "A to r1,r2 except r3 volatile",
        "A /chat compress false",
        "emitter emit e1",
        "emitter of chat to r1,r2 except x volatile",
        "B socket.broadcast.emit",
        "B socket.to(r1).emit",
        "A numeric room",
        "emitter compress true",
    ] {
        assert!(
            taken.contains(&label),
            "{label} was declined; taken: {taken:?}"
        );
    }
    // Binary takes the tree path.
    for label in [
        "A to r1 emit bin",
        "emitter to r1 binary",
        "A except r1 emit big",
    ] {
        assert!(!taken.contains(&label), "{label} took the fast path");
    }
}

#[test]
fn notepack_packets_transcode_exactly_or_decline() {
    let mut taken = 0;
    for (name, packet) in notepack_vectors() {
        taken += usize::from(check(&name, &wrap(&packet)));
    }
    // Events and acks without binary (dates, undefined, numbers, long strings, ...).
    assert!(
        taken >= 7,
        "only {taken} notepack packets took the fast path"
    );
}

#[test]
fn edge_cases_transcode_exactly_or_decline_as_expected() {
    for (name, bytes, fast) in edge_cases() {
        assert_eq!(check(name, &bytes), fast, "{name}: fast path taken?");
    }
}

#[test]
fn mutated_broadcasts_transcode_exactly_or_decline() {
    let mut inputs: Vec<Vec<u8>> = node_vectors::all()
        .iter()
        .filter(|v| v.is_broadcast() && !v.is_json())
        .map(node_vectors::Vector::bytes)
        .collect();
    inputs.extend(notepack_vectors().into_iter().map(|(_, p)| wrap(&p)));
    inputs.extend(edge_cases().into_iter().map(|(_, b, _)| b));
    // A fixed xorshift sequence: each input with bytes replaced, removed and cut off.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut taken = 0;
    for (i, input) in inputs.iter().enumerate() {
        for round in 0..200 {
            let mut bytes = input.clone();
            let at = (next() % bytes.len() as u64) as usize;
            match round % 3 {
                0 => bytes[at] = next() as u8,
                1 => {
                    bytes.remove(at);
                }
                _ => bytes.truncate(at),
            }
            taken += usize::from(check(&format!("input {i} round {round}"), &bytes));
        }
    }
    assert!(taken > 100, "only {taken} mutations took the fast path");
}

/// The sharded handler's tree path for a broadcast: the packet's frame and the options, or
/// `None` where it does not deliver one.
fn sharded_tree_path(
    bytes: &[u8],
) -> Option<(String, String, sio_core::adapter::BroadcastOptions)> {
    let message = wire::decode_message(bytes).ok()?;
    let data = message.value.get("data")?;
    let packet = wire::packet_from(data.get("packet")?, &message.attachments).ok()?;
    let opts = data.get("opts").map(wire::opts_from).unwrap_or_default();
    let text = frame_text(&ParserKind::Json.encode(&packet));
    Some((packet.nsp, text, opts))
}

/// Asserts the sharded fast path equals the tree path or declines; returns whether it was taken.
fn check_sharded(name: &str, bytes: &[u8]) -> bool {
    let Some(fast) = decode_sharded_frame(bytes) else {
        return false;
    };
    let Some((nsp, frame)) = &fast.packet else {
        return false;
    };
    let tree = wire::decode_message(bytes).expect("the tree path reads what the fast path read");
    assert_eq!(
        fast.uid.as_deref(),
        tree.value.get("uid").and_then(|v| v.as_str()),
        "{name}: uid"
    );
    assert_eq!(
        fast.nsp.as_deref(),
        tree.value.get("nsp").and_then(|v| v.as_str()),
        "{name}: nsp"
    );
    assert_eq!(
        fast.kind,
        tree.value.get("type").and_then(|v| v.as_u64()),
        "{name}: type"
    );
    let (tree_nsp, tree_frame, tree_opts) = sharded_tree_path(bytes)
        .unwrap_or_else(|| panic!("{name}: fast path took what the tree refuses"));
    assert_eq!(
        fast.request_id,
        tree.value["data"].get("requestId").is_some(),
        "{name}: requestId"
    );
    let Frame::Text(text) = frame else {
        panic!("{name}: not a text frame")
    };
    assert_eq!(text.as_str(), tree_frame, "{name}: frame");
    assert_eq!(*nsp, tree_nsp, "{name}: packet nsp");
    assert_eq!(fast.opts, tree_opts, "{name}: opts");
    true
}

/// A sharded broadcast message around the JSON text of a packet.
fn sharded(packet: &str) -> String {
    format!(
        r#"{{"uid":"n1","nsp":"/","type":3,"data":{{"packet":{packet},"opts":{{"rooms":["r1"],"except":[],"flags":{{"volatile":true}}}}}}}}"#
    )
}

#[test]
fn sharded_json_broadcasts_transcode_exactly_or_decline() {
    let mut taken = 0;
    // The packets as Node's JSON.stringify wrote them (the third column of the notepack vectors).
    for line in include_str!("../../core/src/protocol/notepack_vectors.tsv").lines() {
        let mut cols = line.split('\t');
        let name = cols.next().unwrap();
        let json = cols.nth(1).unwrap();
        taken += usize::from(check_sharded(name, sharded(json).as_bytes()));
    }
    assert!(
        taken >= 7,
        "only {taken} notepack packets took the fast path"
    );
    let cases: &[(&str, String, bool)] = &[
        ("plain", sharded(r#"{"type":2,"data":["a",1,{"b":[true,null]}],"nsp":"/"}"#), true),
        ("spaces_and_escapes", sharded(r#"{ "type" : 2, "data" : [ "\u00e9\/" , 1e2, 1.0, -0, 18446744073709551616, "\ud83d\ude00" ] , "nsp":"/" }"#), true),
        ("ack_with_id_and_nsp", sharded(r#"{"type":3,"data":[],"nsp":"/chat","id":7}"#), true),
        ("negative_id", sharded(r#"{"type":2,"data":["a"],"nsp":"/","id":-1}"#), true),
        ("null_nsp", sharded(r#"{"type":2,"data":["a"],"nsp":null}"#), true),
        ("repeated_key", sharded(r#"{"type":2,"data":["a",{"k":1,"k":2}],"nsp":"/"}"#), false),
        ("repeated_packet_field", sharded(r#"{"type":2,"data":["a"],"data":["b"],"nsp":"/"}"#), false),
        ("placeholder", sharded(r#"{"type":2,"data":["a",{"_placeholder":true,"num":0}],"nsp":"/"}"#), false),
        ("object_first", sharded(r#"{"type":2,"data":[{}],"nsp":"/"}"#), false),
        ("connect", sharded(r#"{"type":0,"data":{},"nsp":"/"}"#), false),
        ("bad_nsp", sharded(r#"{"type":2,"data":["a"],"nsp":"x"}"#), false),
        ("number_nsp", sharded(r#"{"type":2,"data":["a"],"nsp":1}"#), false),
        ("with_request_id", r#"{"uid":"n1","nsp":"/","type":3,"data":{"packet":{"type":2,"data":["a"],"nsp":"/"},"requestId":null}}"#.to_owned(), true),
        ("no_opts", r#"{"uid":"n1","nsp":"/","type":3,"data":{"packet":{"type":2,"data":["a"],"nsp":"/"}}}"#.to_owned(), true),
        ("data_is_an_array", r#"{"uid":"n1","nsp":"/","type":3,"data":[{"type":2,"data":["a"],"nsp":"/"}]}"#.to_owned(), false),
        ("trailing_garbage", format!("{} x", sharded(r#"{"type":2,"data":["a"],"nsp":"/"}"#)), false),
        // The tree refuses what is in a field the frame skips (found by the fuzz target).
        ("number_out_of_range_in_an_unknown_field", r#"{"uid":"n1","nsp":"/","type":3,"x":1e400,"data":{"packet":{"type":2,"data":["a"],"nsp":"/","options":1e400}}}"#.to_owned(), false),
        ("truncated", r#"{"uid":"n1","nsp":"/","type":3,"data":{"packet":{"type":2,"data":["a"]"#.to_owned(), false),
    ];
    for (name, json, fast) in cases {
        assert_eq!(
            check_sharded(name, json.as_bytes()),
            *fast,
            "{name}: fast path taken?"
        );
    }
    assert!(
        decode_sharded_frame(cases[12].1.as_bytes())
            .unwrap()
            .request_id
    );
}

/// A sharded broadcast message with the given `uid`, `type` and options (JSON texts).
fn sharded_with(uid: &str, kind: &str, opts: &str) -> String {
    format!(
        r#"{{"uid":{uid},"nsp":"/","type":{kind},"data":{{"packet":{{"type":2,"data":["a"],"nsp":"/"}},"opts":{opts}}}}}"#
    )
}

#[test]
fn sharded_fields_of_other_types_are_declined_to_the_tree_path() {
    let plain = r#"{"rooms":["r1"],"except":[],"flags":{}}"#;
    let cases: &[(&str, String, bool)] = &[
        ("plain", sharded_with(r#""n1""#, "3", plain), true),
        (
            "integer_rooms",
            sharded_with(r#""n1""#, "3", r#"{"rooms":[1,"r",-2],"except":[3]}"#),
            true,
        ),
        (
            "known_and_unknown_flags",
            sharded_with(
                r#""n1""#,
                "3",
                r#"{"rooms":[],"flags":{"local":false,"volatile":true,"compress":true,"timeout":5}}"#,
            ),
            true,
        ),
        (
            "unknown_option",
            sharded_with(
                r#""n1""#,
                "3",
                r#"{"rooms":["r"],"except":[],"flags":{},"extra":[1,{"x":null}]}"#,
            ),
            true,
        ),
        (
            "escaped_uid",
            sharded_with(r#""n\u0031""#, "3", plain),
            true,
        ),
        ("uid_not_a_string", sharded_with("7", "3", plain), false),
        ("uid_null", sharded_with("null", "3", plain), false),
        ("type_a_float", sharded_with(r#""n1""#, "3.0", plain), false),
        ("type_negative", sharded_with(r#""n1""#, "-3", plain), false),
        (
            "type_a_string",
            sharded_with(r#""n1""#, r#""3""#, plain),
            false,
        ),
        ("opts_null", sharded_with(r#""n1""#, "3", "null"), false),
        ("opts_an_array", sharded_with(r#""n1""#, "3", "[]"), false),
        (
            "rooms_not_a_list",
            sharded_with(r#""n1""#, "3", r#"{"rooms":"r1"}"#),
            false,
        ),
        (
            "room_a_float",
            sharded_with(r#""n1""#, "3", r#"{"rooms":[1.5]}"#),
            false,
        ),
        (
            "room_null",
            sharded_with(r#""n1""#, "3", r#"{"rooms":[null,"r"]}"#),
            false,
        ),
        (
            "room_an_object",
            sharded_with(r#""n1""#, "3", r#"{"rooms":[{"r":1}]}"#),
            false,
        ),
        (
            "rooms_repeated",
            sharded_with(r#""n1""#, "3", r#"{"rooms":["a"],"rooms":["b"]}"#),
            false,
        ),
        (
            "flag_not_a_boolean",
            sharded_with(r#""n1""#, "3", r#"{"flags":{"volatile":1}}"#),
            false,
        ),
        (
            "flag_repeated",
            sharded_with(r#""n1""#, "3", r#"{"flags":{"local":true,"local":false}}"#),
            false,
        ),
        (
            "flags_null",
            sharded_with(r#""n1""#, "3", r#"{"flags":null}"#),
            false,
        ),
    ];
    for (name, json, fast) in cases {
        assert_eq!(
            check_sharded(name, json.as_bytes()),
            *fast,
            "{name}: fast path taken?"
        );
        // Declined here, the tree path still reads it (it decides, as before).
        if !fast {
            assert!(
                wire::decode_message(json.as_bytes()).is_ok(),
                "{name}: tree path"
            );
        }
    }
    let integer_rooms = decode_sharded_frame(cases[1].1.as_bytes()).unwrap();
    let names: Vec<_> = integer_rooms
        .opts
        .rooms
        .iter()
        .map(String::as_str)
        .collect();
    assert_eq!(names, ["-2", "1", "r"]);
    assert!(
        decode_sharded_frame(cases[2].1.as_bytes())
            .unwrap()
            .opts
            .flags
            .volatile
    );
}

/// A msgpack broadcast of `["x"]` with the given msgpack options.
fn with_opts(opts: &[u8]) -> Vec<u8> {
    let mut out = b"\x93\xa6XbyQtY\x83\xa4type\x02\xa4data\x91\xa1x\xa3nsp\xa1/".to_vec();
    out.extend_from_slice(opts);
    out
}

#[test]
fn msgpack_options_of_other_shapes_are_declined_to_the_tree_path() {
    let cases: &[(&str, &[u8], bool)] = &[
        ("empty", b"\x80", true),
        ("integer_rooms", b"\x82\xa5rooms\x93\x01\xa1r\xff\xa6except\x91\xcd\x01\x00", true),
        ("known_and_unknown_flags", b"\x81\xa5flags\x84\xa5local\xc2\xa8volatile\xc3\xa8compress\xc3\xa7timeout\xcd\x13\x88", true),
        ("unknown_scalar_fields", b"\x83\xa5rooms\x90\xa1n\xc0\xa1s\xa2ok", true),
        ("not_a_map", b"\x90", false),
        ("nil", b"\xc0", false),
        ("integer_key", b"\x81\x01\x90", false),
        ("repeated_key", b"\x82\xa5rooms\x91\xa1a\xa5rooms\x91\xa1b", false),
        ("rooms_not_an_array", b"\x81\xa5rooms\xa1r", false),
        ("room_a_float", b"\x81\xa5rooms\x91\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00", false),
        ("room_nil", b"\x81\xa5rooms\x92\xc0\xa1r", false),
        ("room_not_utf8", b"\x81\xa5rooms\x91\xa2\xff\xfe", false),
        ("flag_not_a_boolean", b"\x81\xa5flags\x81\xa8volatile\x01", false),
        ("flag_repeated", b"\x81\xa5flags\x82\xa5local\xc3\xa5local\xc2", false),
        ("flag_undefined", b"\x81\xa5flags\x81\xa5local\xd4\x00\x00", false),
        ("binary_in_an_unknown_field", b"\x81\xa1b\xc4\x01\x00", false),
        ("array_in_an_unknown_field", b"\x81\xa1a\x91\x01", false),
    ];
    for (name, opts, fast) in cases {
        let bytes = with_opts(opts);
        assert_eq!(check(name, &bytes), *fast, "{name}: fast path taken?");
        if !fast {
            // Declined here, the tree path still reads it (and decides, as before).
            assert!(tree_path(&bytes).is_some(), "{name}: tree path");
        }
    }
    let rooms = decode_broadcast_frame(&with_opts(cases[1].1)).unwrap().opts;
    let names: Vec<_> = rooms.rooms.iter().map(String::as_str).collect();
    assert_eq!(names, ["-1", "1", "r"]);
    assert_eq!(rooms.except.iter().next().map(String::as_str), Some("256"));
    let flags = decode_broadcast_frame(&with_opts(cases[2].1))
        .unwrap()
        .opts
        .flags;
    assert!(!flags.local && flags.volatile);
}
