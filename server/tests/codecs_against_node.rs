//! Our codecs against the real Node ones, live (`tests/interop/codec_peers.mjs`): payloads that
//! `engine.io-parser` encodes decode here and ours decode there; packets that `socket.io-parser`
//! encodes decode here and ours decode there; and the committed notepack vectors of the msgpack
//! unit tests are what `socket.io-msgpack-parser` writes today. Node is required: without it
//! these tests fail.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use serde_json::{Value, json};
use sio_server::engine::Frame;
use sio_server::engine::packet::{Packet as EioPacket, decode_payload, encode_into_payload};
use sio_server::protocol::{BinaryLimits, Decoder, Packet, PacketType, ParserKind, encode_json};

fn interop_dir() -> PathBuf {
    std::env::var_os("SIO_INTEROP_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/interop"))
}

/// Runs a Node script of the interop folder with `input` on stdin; its stdout, or a panic with
/// its output when it failed.
fn node(args: &[&str], input: &str) -> String {
    let dir = interop_dir();
    assert!(
        dir.join("node_modules").is_dir(),
        "{} has no node_modules: run scripts/install-deps.sh first",
        dir.display()
    );
    let mut child = Command::new("node")
        .current_dir(&dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("node reads its input");
    let out = child.wait_with_output().expect("node finishes");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "node {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn base64(bytes: &[u8]) -> Value {
    json!({ "base64": STANDARD.encode(bytes) })
}

/// An Engine.IO packet as `codec_peers.mjs` writes it: `{type, data?}`, binary as `{base64}`.
fn engine_json(packet: &EioPacket<'_>) -> Value {
    let (kind, data) = match packet {
        EioPacket::Open => ("open", ""),
        EioPacket::Close => ("close", ""),
        EioPacket::Ping(d) => ("ping", *d),
        EioPacket::Pong(d) => ("pong", *d),
        EioPacket::Message(d) => ("message", *d),
        EioPacket::Binary(b) => return json!({"type": "message", "data": base64(b)}),
        EioPacket::Upgrade => ("upgrade", ""),
        EioPacket::Noop => ("noop", ""),
    };
    if data.is_empty() {
        json!({ "type": kind })
    } else {
        json!({ "type": kind, "data": data })
    }
}

/// The frame we would write for an Engine.IO packet in `codec_peers.mjs`'s form.
fn engine_frame(packet: &Value) -> Frame {
    if let Some(b64) = packet["data"]["base64"].as_str() {
        return Frame::Binary(Bytes::from(STANDARD.decode(b64).unwrap()));
    }
    let digit = match packet["type"].as_str().unwrap() {
        "open" => '0',
        "close" => '1',
        "ping" => '2',
        "pong" => '3',
        "message" => '4',
        "upgrade" => '5',
        "noop" => '6',
        other => panic!("unknown type {other}"),
    };
    let text = format!("{digit}{}", packet["data"].as_str().unwrap_or(""));
    Frame::Text(text.into())
}

#[test]
fn engine_io_parser_payloads_decode_here_and_ours_decode_there() {
    let cases: Vec<Value> =
        serde_json::from_str(&node(&["codec_peers.mjs", "engine-encode"], "")).expect("cases");
    assert!(cases.len() >= 5);
    let mut ours = Vec::new();
    for case in &cases {
        let payload = case["payload"].as_str().unwrap();
        let decoded: Vec<Value> = decode_payload(payload.as_bytes())
            .unwrap_or_else(|e| panic!("{payload:?}: {e}"))
            .iter()
            .map(engine_json)
            .collect();
        assert_eq!(Value::Array(decoded), case["packets"], "{payload:?}");

        let mut out = Vec::new();
        for packet in case["packets"].as_array().unwrap() {
            encode_into_payload(&engine_frame(packet), &mut out);
        }
        let out = String::from_utf8(out).unwrap();
        assert_eq!(
            out, payload,
            "our payload is written as engine.io-parser writes it"
        );
        ours.push(json!({"packets": case["packets"], "payload": out}));
    }
    let report = node(
        &["codec_peers.mjs", "engine-decode"],
        &Value::Array(ours).to_string(),
    );
    assert_eq!(
        report.lines().filter(|l| l.starts_with("ok")).count(),
        cases.len(),
        "{report}"
    );
}

/// A packet in `codec_peers.mjs`'s model.
fn sio_json(packet: &Packet) -> Value {
    let mut out = serde_json::Map::new();
    out.insert("type".into(), json!(packet.kind.base() as u8));
    out.insert("nsp".into(), json!(packet.nsp));
    if let Some(id) = packet.id {
        out.insert("id".into(), json!(id));
    }
    if let Some(data) = &packet.data {
        out.insert("data".into(), data.clone());
    }
    let blobs = packet
        .attachments
        .iter()
        .map(|b| base64(b)["base64"].clone());
    out.insert("attachments".into(), Value::Array(blobs.collect()));
    Value::Object(out)
}

fn sio_packet(model: &Value) -> Packet {
    let kind = PacketType::from_u8(u8::try_from(model["type"].as_u64().unwrap()).unwrap()).unwrap();
    let mut packet = Packet::new(
        kind,
        model["nsp"].as_str().unwrap(),
        model.get("data").cloned(),
    );
    packet.id = model["id"].as_u64();
    packet.attachments = model["attachments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| Bytes::from(STANDARD.decode(b.as_str().unwrap()).unwrap()))
        .collect();
    packet
}

/// The messages of an encoded packet: the text (without the Engine.IO type), then the
/// attachments in base64.
fn messages(frame: &Frame) -> Vec<Value> {
    match frame {
        Frame::Text(text) => vec![json!(text.as_str().strip_prefix('4').unwrap())],
        Frame::Binary(blob) => vec![base64(blob)["base64"].clone()],
        Frame::Group(frames) => frames.iter().flat_map(messages).collect(),
        Frame::Close => Vec::new(),
    }
}

#[test]
fn socket_io_parser_packets_decode_here_and_ours_decode_there() {
    let cases: Vec<Value> =
        serde_json::from_str(&node(&["codec_peers.mjs", "sio-encode"], "")).expect("cases");
    assert!(cases.len() >= 10);
    let mut ours = Vec::new();
    for case in &cases {
        let encoded = case["encoded"].as_array().unwrap();
        let mut decoder = Decoder::new(ParserKind::Json, BinaryLimits::default());
        let mut packet = decoder.on_text(encoded[0].as_str().unwrap()).unwrap();
        for blob in &encoded[1..] {
            assert!(
                packet.is_none(),
                "complete before its attachments: {encoded:?}"
            );
            let blob = STANDARD.decode(blob.as_str().unwrap()).unwrap();
            packet = decoder.on_binary(Bytes::from(blob)).unwrap();
        }
        let packet = packet.unwrap_or_else(|| panic!("incomplete: {encoded:?}"));
        assert_eq!(sio_json(&packet), case["packet"], "{encoded:?}");

        let written = messages(&encode_json(&sio_packet(&case["packet"])));
        assert_eq!(
            &written, encoded,
            "ours is written as socket.io-parser writes it"
        );
        ours.push(json!({"packet": case["packet"], "encoded": written}));
    }
    let report = node(
        &["codec_peers.mjs", "sio-decode"],
        &Value::Array(ours).to_string(),
    );
    assert_eq!(
        report.lines().filter(|l| l.starts_with("ok")).count(),
        cases.len(),
        "{report}"
    );
}

#[test]
fn committed_notepack_vectors_are_what_the_real_encoder_writes() {
    let live = node(&["msgpack_vectors.mjs"], "");
    let committed = include_str!("../../core/src/protocol/notepack_vectors.tsv");
    assert!(
        live == committed,
        "core/src/protocol/notepack_vectors.tsv is stale: regenerate it with \
         `node tests/interop/msgpack_vectors.mjs > core/src/protocol/notepack_vectors.tsv`"
    );
}
