//! The wire format of Node's `@socket.io/redis-streams-adapter` 0.3: stream entries, stream
//! names and session records.
//!
//! - Entries: `XADD <stream> MAXLEN ~ <max> * uid <uid> nsp <nsp> type <n> [data <d>]`, where
//!   `type` is the cluster message type in decimal and `data` is JSON text, or base64 of msgpack
//!   when the message holds binary. A broadcast's data is `{packet, opts}` with
//!   `packet = {type, data, nsp}` and `opts = {rooms, except, flags}` (only set flags).
//! - Streams: one named `<name>`, or with `count > 1` streams, `<name>-<i>` where `i` is the
//!   Java-style string hash of the namespace name modulo `count` (as JavaScript computes it).
//! - Sessions: `SET <prefix><pid> <base64 of msgpack {sid, pid, rooms, data}> PX <ms>`; ours add
//!   `nsp`, which Node ignores.
//!
//! Decoding never panics: a bad entry is an error to log and skip.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use serde_json::{Map, Value, json};
use sio_core::adapter::{BroadcastOptions, SessionState};
use sio_core::protocol::{Packet, from_msgpack, to_msgpack};

use crate::wire::{opts_from, packet_from};

/// Cluster message type: a broadcast.
pub const BROADCAST: u8 = 3;
/// Cluster message type: sockets join rooms.
pub const SOCKETS_JOIN: u8 = 4;
/// Cluster message type: sockets leave rooms.
pub const SOCKETS_LEAVE: u8 = 5;
/// Cluster message type: sockets are disconnected.
pub const DISCONNECT_SOCKETS: u8 = 6;

/// Why a stream entry or a session record could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamWireError {
    /// A field is missing or has the wrong shape.
    #[error("bad entry: {0}")]
    Shape(&'static str),
}

/// A decoded stream entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The sending node's uid.
    pub uid: String,
    /// The namespace.
    pub nsp: String,
    /// The cluster message type.
    pub kind: u8,
    /// The message data (binary moved to `attachments` behind placeholders).
    pub data: Value,
    /// The binary blobs of `data`.
    pub attachments: Vec<Bytes>,
}

/// The stream of namespace `nsp`.
#[must_use]
pub fn stream_name(name: &str, count: usize, nsp: &str) -> String {
    if count <= 1 {
        return name.to_owned();
    }
    let mut hash: i32 = 0;
    for unit in nsp.encode_utf16() {
        hash = hash.wrapping_mul(31).wrapping_add(i32::from(unit));
    }
    // JavaScript's `%` keeps the dividend's sign, as Rust's does.
    let count = i32::try_from(count).unwrap_or(i32::MAX);
    format!("{name}-{}", hash % count)
}

/// Whether `offset` is a stream id (`<ms>-<seq>`).
#[must_use]
pub fn is_stream_id(offset: &str) -> bool {
    let Some((ms, seq)) = offset.split_once('-') else {
        return false;
    };
    !ms.is_empty()
        && !seq.is_empty()
        && ms.bytes().all(|b| b.is_ascii_digit())
        && seq.bytes().all(|b| b.is_ascii_digit())
        && ms.parse::<u64>().is_ok()
        && seq.parse::<u64>().is_ok()
}

/// A stream entry id `ms-seq` as the pair Redis orders entries by.
#[must_use]
pub fn parse_id(id: &str) -> Option<(u64, u64)> {
    let (ms, seq) = id.split_once('-')?;
    Some((ms.parse().ok()?, seq.parse().ok()?))
}

/// The smallest id after `offset` (exclusive ranges, portable to Redis < 6.2).
#[must_use]
pub fn next_id(offset: &str) -> Option<String> {
    let (ms, seq) = offset.split_once('-')?;
    let seq: u64 = seq.parse().ok()?;
    Some(format!("{ms}-{}", seq.checked_add(1)?))
}

/// The fields of an entry.
#[must_use]
pub fn encode_entry(
    uid: &str,
    nsp: &str,
    kind: u8,
    data: Option<&Value>,
    attachments: &[Bytes],
) -> Vec<(&'static str, String)> {
    let mut fields = vec![
        ("uid", uid.to_owned()),
        ("nsp", nsp.to_owned()),
        ("type", kind.to_string()),
    ];
    if let Some(data) = data {
        let text = if attachments.is_empty() {
            data.to_string()
        } else {
            let mut buf = Vec::new();
            let _ = rmpv::encode::write_value(&mut buf, &to_msgpack(data, attachments));
            STANDARD.encode(buf)
        };
        fields.push(("data", text));
    }
    fields
}

/// A broadcast's data: `{packet: {type, data, nsp}, opts: {rooms, except, flags}}`.
#[must_use]
pub fn broadcast_data(packet: &Packet, opts: &BroadcastOptions) -> Value {
    let mut flags = Map::new();
    if opts.flags.local {
        flags.insert("local".into(), Value::Bool(true));
    }
    if opts.flags.volatile {
        flags.insert("volatile".into(), Value::Bool(true));
    }
    json!({
        "packet": { "type": packet.kind.base() as u8, "data": packet.data, "nsp": packet.nsp },
        "opts": { "rooms": opts.rooms, "except": opts.except, "flags": flags },
    })
}

/// Decodes an entry's fields.
pub fn decode_entry(fields: &HashMap<String, Vec<u8>>) -> Result<Entry, StreamWireError> {
    let text = |name: &'static str| {
        fields
            .get(name)
            .and_then(|v| std::str::from_utf8(v).ok())
            .ok_or(StreamWireError::Shape(name))
    };
    let uid = text("uid")?.to_owned();
    let nsp = text("nsp")?.to_owned();
    let kind = text("type")?
        .parse::<u8>()
        .map_err(|_| StreamWireError::Shape("type"))?;
    let mut attachments = Vec::new();
    let data = match fields.get("data") {
        None => Value::Null,
        Some(raw) if raw.first() == Some(&b'{') => {
            serde_json::from_slice(raw).map_err(|_| StreamWireError::Shape("data json"))?
        }
        Some(raw) => {
            let bytes = STANDARD
                .decode(raw)
                .map_err(|_| StreamWireError::Shape("data base64"))?;
            let value = rmpv::decode::read_value(&mut bytes.as_slice())
                .map_err(|_| StreamWireError::Shape("data msgpack"))?;
            from_msgpack(value, &mut attachments)
        }
    };
    Ok(Entry {
        uid,
        nsp,
        kind,
        data,
        attachments,
    })
}

/// A broadcast entry's packet and options; `None` for broadcasts that expect acks (those are
/// not in the stream's replay) or malformed ones.
#[must_use]
pub fn broadcast_of(entry: &Entry) -> Option<(Packet, BroadcastOptions)> {
    if entry.kind != BROADCAST || entry.data.get("requestId").is_some() {
        return None;
    }
    let packet = packet_from(entry.data.get("packet")?, &entry.attachments).ok()?;
    let opts = opts_from(entry.data.get("opts")?);
    Some((packet, opts))
}

/// A session record as stored: base64 of msgpack.
#[must_use]
pub fn encode_session(session: &SessionState) -> String {
    STANDARD.encode(rmp_serde::to_vec_named(session).unwrap_or_default())
}

/// A stored session record, `None` when it does not decode.
#[must_use]
pub fn decode_session(raw: &[u8]) -> Option<SessionState> {
    let bytes = STANDARD.decode(raw).ok()?;
    let value = rmpv::decode::read_value(&mut bytes.as_slice()).ok()?;
    let json = from_msgpack(value, &mut Vec::new());
    serde_json::from_value(json).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_names_follow_the_javascript_hash() {
        assert_eq!(stream_name("socket.io", 1, "/chat"), "socket.io");
        // Node's hashCode: "/" is 47 and "/chat" 46 457 863 (node -e, the util.ts loop).
        assert_eq!(stream_name("s", 4, "/"), "s-3");
        assert_eq!(stream_name("s", 7, "/chat"), "s-4");
    }

    #[test]
    fn offsets_are_checked_and_advanced() {
        assert!(is_stream_id("1700000000000-0"));
        assert!(!is_stream_id("12"));
        assert!(!is_stream_id("1-x"));
        assert!(!is_stream_id("-1"));
        assert_eq!(next_id("5-9").as_deref(), Some("5-10"));
    }

    #[test]
    fn sessions_round_trip() {
        let s = SessionState {
            sid: "a".into(),
            pid: "b".into(),
            rooms: vec!["a".into(), "r".into()],
            data: json!({"k": 1}),
            nsp: Some("/".into()),
        };
        assert_eq!(decode_session(encode_session(&s).as_bytes()), Some(s));
        assert_eq!(decode_session(b"!!"), None);
    }
}
