//! The wire format of Node's `@socket.io/redis-adapter` (8.x) and `@socket.io/redis-emitter`.
//!
//! - Broadcasts: msgpack `[uid, packet, opts]` on `<prefix>#<nsp>#` (or `<prefix>#<nsp>#<room>#`
//!   when there is exactly one room), with `packet = {type, data, nsp}` (binary inline) and
//!   `opts = {rooms, except, flags}`.
//! - Requests on `<prefix>-request#<nsp>#`: JSON objects with a numeric `type` ([`RequestType`]),
//!   except `BROADCAST`, which is msgpack (its packet may hold binary).
//! - Responses on `<prefix>-response#<nsp>#`: JSON, except `BROADCAST_ACK`, which is msgpack.
//!
//! A payload starting with `{` is JSON, anything else msgpack. Decoding never panics.

use bytes::Bytes;
use rmpv::Value as Mp;
use serde_json::{Map, Value};
use sio_core::adapter::{BroadcastFlags, BroadcastOptions, ServerEvent};
use sio_core::protocol::{
    JsonEvent, Packet, PacketType, Payload, from_msgpack, json_to_msgpack, to_msgpack,
};

/// The request types of the Node adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestType {
    /// `0`: socket ids in rooms (legacy).
    Sockets = 0,
    /// `1`: every room.
    AllRooms = 1,
    /// `2`: sockets join rooms.
    RemoteJoin = 2,
    /// `3`: sockets leave rooms.
    RemoteLeave = 3,
    /// `4`: sockets are disconnected.
    RemoteDisconnect = 4,
    /// `5`: describe sockets.
    RemoteFetch = 5,
    /// `6`: an event for the other servers.
    ServerSideEmit = 6,
    /// `7`: a broadcast that expects acks.
    Broadcast = 7,
    /// `8`: how many clients a node sent an ack-expecting broadcast to.
    BroadcastClientCount = 8,
    /// `9`: one client's ack.
    BroadcastAck = 9,
}

impl RequestType {
    /// The type of a numeric code.
    #[must_use]
    pub fn from_code(code: u64) -> Option<Self> {
        Some(match code {
            0 => RequestType::Sockets,
            1 => RequestType::AllRooms,
            2 => RequestType::RemoteJoin,
            3 => RequestType::RemoteLeave,
            4 => RequestType::RemoteDisconnect,
            5 => RequestType::RemoteFetch,
            6 => RequestType::ServerSideEmit,
            7 => RequestType::Broadcast,
            8 => RequestType::BroadcastClientCount,
            9 => RequestType::BroadcastAck,
            _ => return None,
        })
    }
}

/// Why a message from Redis was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Neither valid JSON nor valid msgpack.
    #[error("undecodable message")]
    Undecodable,
    /// Decoded, but not of the expected shape.
    #[error("unexpected message shape: {0}")]
    Shape(&'static str),
}

/// The channel names of one namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channels {
    /// `<prefix>#<nsp>#`: broadcasts (room channels append `<room>#`).
    pub broadcast: String,
    /// `<prefix>-request#<nsp>#`.
    pub request: String,
    /// `<prefix>-response#<nsp>#`.
    pub response: String,
    /// `<prefix>-response#<nsp>#<uid>#`: responses meant for this node only.
    pub specific_response: String,
}

impl Channels {
    /// The channels of namespace `nsp` for node `uid`.
    #[must_use]
    pub fn new(prefix: &str, nsp: &str, uid: &str) -> Self {
        let response = format!("{prefix}-response#{nsp}#");
        Channels {
            broadcast: format!("{prefix}#{nsp}#"),
            request: format!("{prefix}-request#{nsp}#"),
            specific_response: format!("{response}{uid}#"),
            response,
        }
    }

    /// The channel a broadcast to `opts` is published on.
    #[must_use]
    pub fn broadcast_channel(&self, opts: &BroadcastOptions) -> String {
        match (opts.rooms.len(), opts.rooms.iter().next()) {
            (1, Some(room)) => format!("{}{room}#", self.broadcast),
            _ => self.broadcast.clone(),
        }
    }
}

/// Recognises the messages a node published itself, from their first bytes, without decoding
/// them: its broadcasts (msgpack `[uid, …]`), its msgpack requests (`{uid, …}`) and its JSON
/// requests (`{"type":N,"uid":…`, the order [`json_message`] writes when `uid` comes first).
#[derive(Debug, Clone)]
pub struct OwnMarks {
    broadcast: Vec<u8>,
    msgpack_request: Vec<u8>,
    json_uid: Vec<u8>,
}

impl OwnMarks {
    /// The marks of node `uid`.
    #[must_use]
    pub fn new(uid: &str) -> Self {
        let mut broadcast = Vec::new();
        let _ = rmpv::encode::write_value(&mut broadcast, &Mp::Array(vec![Mp::from(uid)]));
        // A one-element array header (0x91) becomes the three of `[uid, packet, opts]`.
        if let Some(first) = broadcast.first_mut() {
            *first = 0x93;
        }
        let mut msgpack_request = Vec::new();
        let _ = rmpv::encode::write_value(
            &mut msgpack_request,
            &Mp::Map(vec![(Mp::from("uid"), Mp::from(uid))]),
        );
        // A one-entry map header (0x81) becomes the five of the `BROADCAST` request.
        if let Some(first) = msgpack_request.first_mut() {
            *first = 0x85;
        }
        let json_uid = format!(",\"uid\":{}", Value::from(uid)).into_bytes();
        OwnMarks {
            broadcast,
            msgpack_request,
            json_uid,
        }
    }

    /// Whether `payload` is one of this node's broadcasts.
    #[must_use]
    pub fn is_own_broadcast(&self, payload: &[u8]) -> bool {
        payload.starts_with(&self.broadcast)
    }

    /// Whether `payload` is one of this node's requests.
    #[must_use]
    pub fn is_own_request(&self, payload: &[u8]) -> bool {
        if payload.starts_with(&self.msgpack_request) {
            return true;
        }
        let Some(rest) = payload.strip_prefix(b"{\"type\":") else {
            return false;
        };
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        rest[digits..].starts_with(&self.json_uid)
    }
}

/// A broadcast received from another node.
#[derive(Debug, Clone, PartialEq)]
pub struct BroadcastMessage {
    /// The sending node (`emitter` for `@socket.io/redis-emitter`).
    pub uid: String,
    /// The packet.
    pub packet: Packet,
    /// Who receives it.
    pub opts: BroadcastOptions,
}

fn packet_to_msgpack(packet: &Packet) -> Mp {
    let mut fields = vec![(Mp::from("type"), Mp::from(packet.kind.base() as u8))];
    if let Some(data) = &packet.data {
        fields.push((Mp::from("data"), to_msgpack(data, &packet.attachments)));
    }
    fields.push((Mp::from("nsp"), Mp::from(packet.nsp.as_str())));
    if let Some(id) = packet.id {
        fields.push((Mp::from("id"), Mp::from(id)));
    }
    Mp::Map(fields)
}

fn opts_to_msgpack(opts: &BroadcastOptions, timeout: Option<std::time::Duration>) -> Mp {
    let list = |set: &std::collections::BTreeSet<String>| {
        Mp::Array(set.iter().map(|r| Mp::from(r.as_str())).collect())
    };
    let mut flags = Vec::new();
    if opts.flags.volatile {
        flags.push((Mp::from("volatile"), Mp::Boolean(true)));
    }
    if opts.flags.local {
        flags.push((Mp::from("local"), Mp::Boolean(true)));
    }
    if let Some(timeout) = timeout {
        let ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        flags.push((Mp::from("timeout"), Mp::from(ms)));
    }
    Mp::Map(vec![
        (Mp::from("rooms"), list(&opts.rooms)),
        (Mp::from("except"), list(&opts.except)),
        (Mp::from("flags"), Mp::Map(flags)),
    ])
}

fn write(value: &Mp) -> Bytes {
    let mut out = Vec::with_capacity(64);
    // Writing into a Vec cannot fail.
    let _ = rmpv::encode::write_value(&mut out, value);
    Bytes::from(out)
}

/// Encodes a broadcast as Node's adapter does: msgpack `[uid, packet, opts]`.
#[must_use]
pub fn encode_broadcast(uid: &str, packet: &Packet, opts: &BroadcastOptions) -> Bytes {
    write(&Mp::Array(vec![
        Mp::from(uid),
        packet_to_msgpack(packet),
        opts_to_msgpack(opts, None),
    ]))
}

/// Encodes the broadcast of an event encoded once, byte for byte as [`encode_broadcast`]
/// encodes its packet: the packet's data is transcoded from the event's JSON text, without a
/// tree. `None` if the transcoder declines (the caller then encodes the packet).
#[must_use]
pub fn encode_broadcast_event(
    uid: &str,
    event: &JsonEvent,
    opts: &BroadcastOptions,
) -> Option<Bytes> {
    let data = event.data_json();
    let mut out = Vec::with_capacity(data.len() + uid.len() + event.nsp().len() + 64);
    out.push(0x93);
    write_str(&mut out, uid);
    out.push(0x83);
    write_str(&mut out, "type");
    out.push(PacketType::Event as u8);
    write_str(&mut out, "data");
    json_to_msgpack(data, &mut out)?;
    write_str(&mut out, "nsp");
    write_str(&mut out, event.nsp());
    // Writing into a Vec cannot fail.
    let _ = rmpv::encode::write_value(&mut out, &opts_to_msgpack(opts, None));
    Some(Bytes::from(out))
}

/// A msgpack string, with the header `rmpv` writes for its length.
fn write_str(out: &mut Vec<u8>, s: &str) {
    // Writing into a Vec cannot fail.
    let _ = rmp::encode::write_str(out, s);
}

/// Decodes a broadcast.
pub fn decode_broadcast(bytes: &[u8]) -> Result<BroadcastMessage, WireError> {
    let decoded = decode_message(bytes)?;
    let Value::Array(items) = decoded.value else {
        return Err(WireError::Shape("broadcast is not an array"));
    };
    let [uid, packet, opts] = <[Value; 3]>::try_from(items)
        .map_err(|_| WireError::Shape("broadcast is not [uid, packet, opts]"))?;
    let uid = uid.as_str().unwrap_or_default().to_owned();
    let packet = packet_from(&packet, &decoded.attachments)?;
    let opts = opts_from(&opts);
    Ok(BroadcastMessage { uid, packet, opts })
}

/// A decoded JSON or msgpack message; binary blobs are attachments behind placeholders.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The message.
    pub value: Value,
    /// Binary blobs the value's placeholders refer to.
    pub attachments: Vec<Bytes>,
}

/// The nesting limit of decoded messages.
const MAX_DEPTH: usize = 128;

/// Decodes a message: JSON when it starts with `{`, msgpack otherwise.
pub fn decode_message(bytes: &[u8]) -> Result<Message, WireError> {
    if bytes.first() == Some(&b'{') {
        let value = serde_json::from_slice(bytes).map_err(|_| WireError::Undecodable)?;
        return Ok(Message {
            value,
            attachments: Vec::new(),
        });
    }
    let mut reader = bytes;
    let value = rmpv::decode::read_value_with_max_depth(&mut reader, MAX_DEPTH)
        .map_err(|_| WireError::Undecodable)?;
    if !reader.is_empty() {
        return Err(WireError::Undecodable);
    }
    let mut attachments = Vec::new();
    let value = from_msgpack(value, &mut attachments);
    Ok(Message { value, attachments })
}

/// A room name from JSON (Node allows numbers).
fn room_name(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A list of room names (`rooms`, `except`), absent or malformed entries skipped.
#[must_use]
pub fn rooms_from(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Array(items)) => items.iter().filter_map(room_name).collect(),
        _ => Vec::new(),
    }
}

/// Broadcast options from `{rooms, except, flags}`.
#[must_use]
pub fn opts_from(value: &Value) -> BroadcastOptions {
    let flags = value.get("flags");
    let flag = |name: &str| flags.and_then(|f| f.get(name)).and_then(Value::as_bool) == Some(true);
    BroadcastOptions {
        rooms: rooms_from(value.get("rooms")).into_iter().collect(),
        except: rooms_from(value.get("except")).into_iter().collect(),
        flags: BroadcastFlags {
            local: flag("local"),
            volatile: flag("volatile"),
        },
    }
}

/// A packet from `{type, data, nsp, id?}` (namespace `/` when absent).
pub fn packet_from(value: &Value, attachments: &[Bytes]) -> Result<Packet, WireError> {
    let kind = value
        .get("type")
        .and_then(Value::as_u64)
        .and_then(|t| u8::try_from(t).ok())
        .and_then(PacketType::from_u8)
        .ok_or(WireError::Shape("packet type"))?;
    let nsp = match value.get("nsp") {
        None | Some(Value::Null) => "/".to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(WireError::Shape("packet nsp")),
    };
    let packet = Packet {
        kind: kind.base(),
        nsp,
        data: value.get("data").cloned(),
        id: value.get("id").and_then(Value::as_u64),
        attachments: attachments.to_vec(),
    };
    packet
        .validate()
        .map_err(|_| WireError::Shape("packet payload"))?;
    Ok(packet)
}

/// A server-side event from `[event, ...args]` (as both of Node's adapters carry it); `None`
/// when `value` is not a non-empty array.
#[must_use]
pub fn server_event(value: Option<&Value>, attachments: &[Bytes]) -> Option<ServerEvent> {
    let Some(Value::Array(items)) = value else {
        return None;
    };
    let (event, args) = items.split_first()?;
    let event = match event {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    Some(ServerEvent {
        event,
        payload: Payload {
            args: args.to_vec(),
            attachments: attachments.to_vec(),
        },
    })
}

/// A JSON request or response: `{"type": N, ...fields}`.
#[must_use]
pub fn json_message(kind: RequestType, fields: Vec<(&str, Value)>) -> Bytes {
    let mut map = Map::new();
    map.insert("type".into(), Value::from(kind as u8));
    for (k, v) in fields {
        map.insert(k.into(), v);
    }
    Bytes::from(serde_json::to_vec(&Value::Object(map)).unwrap_or_default())
}

/// `{rooms, except}` for requests.
#[must_use]
pub fn opts_json(opts: &BroadcastOptions) -> Value {
    serde_json::json!({ "rooms": opts.rooms, "except": opts.except })
}

/// The msgpack `BROADCAST` request: `{uid, requestId, type: 7, packet, opts}`.
#[must_use]
pub fn encode_broadcast_request(
    uid: &str,
    request_id: &str,
    packet: &Packet,
    opts: &BroadcastOptions,
    timeout: std::time::Duration,
) -> Bytes {
    write(&Mp::Map(vec![
        (Mp::from("uid"), Mp::from(uid)),
        (Mp::from("requestId"), Mp::from(request_id)),
        (Mp::from("type"), Mp::from(RequestType::Broadcast as u8)),
        (Mp::from("packet"), packet_to_msgpack(packet)),
        (Mp::from("opts"), opts_to_msgpack(opts, Some(timeout))),
    ]))
}

/// The msgpack `BROADCAST_ACK` response: `{type: 9, requestId, packet: <first ack argument>}`
/// (plus `uid`, which Node ignores).
#[must_use]
pub fn encode_broadcast_ack(
    uid: &str,
    request_id: &str,
    arg: &Value,
    attachments: &[Bytes],
) -> Bytes {
    write(&Mp::Map(vec![
        (Mp::from("type"), Mp::from(RequestType::BroadcastAck as u8)),
        (Mp::from("requestId"), Mp::from(request_id)),
        (Mp::from("packet"), to_msgpack(arg, attachments)),
        (Mp::from("uid"), Mp::from(uid)),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use sio_core::protocol::Payload;

    #[test]
    fn broadcast_matches_the_node_encoding() {
        // notepack.encode(["abc", {type: 2, data: ["a"], nsp: "/"}, {rooms: ["r"], except: [], flags: {}}])
        let packet = Packet::event("/", "a", Payload::new());
        let opts = BroadcastOptions {
            rooms: ["r".to_owned()].into_iter().collect(),
            ..BroadcastOptions::default()
        };
        let bytes = encode_broadcast("abc", &packet, &opts);
        let expected: &[u8] = b"\x93\xa3abc\x83\xa4type\x02\xa4data\x91\xa1a\xa3nsp\xa1/\x83\xa5rooms\x91\xa1r\xa6except\x90\xa5flags\x80";
        assert_eq!(bytes.as_ref(), expected);
        let decoded = decode_broadcast(&bytes).unwrap();
        assert_eq!(decoded.uid, "abc");
        assert_eq!(decoded.packet, packet);
        assert_eq!(decoded.opts, opts);
    }

    #[test]
    fn binary_survives_a_broadcast() {
        let packet = Packet::event("/chat", "file", Payload::new().binary(vec![0u8, 1, 2]));
        let mut opts = BroadcastOptions::default();
        opts.except.insert("x".into());
        opts.flags.volatile = true;
        let decoded = decode_broadcast(&encode_broadcast("n1", &packet, &opts)).unwrap();
        assert_eq!(decoded.packet, packet);
        assert_eq!(decoded.opts, opts);
    }

    #[test]
    fn requests_are_json_or_msgpack() {
        let bytes = json_message(
            RequestType::RemoteFetch,
            vec![
                ("requestId", json!("r1")),
                ("opts", json!({"rooms": ["a", 7], "except": []})),
            ],
        );
        let msg = decode_message(&bytes).unwrap();
        assert_eq!(msg.value["type"], 5);
        assert_eq!(opts_from(&msg.value["opts"]).rooms.len(), 2);
        let packet = Packet::event("/", "ask", Payload::new().binary(vec![9u8]));
        let bytes = encode_broadcast_request(
            "n1",
            "r2",
            &packet,
            &BroadcastOptions::default(),
            std::time::Duration::from_secs(1),
        );
        let msg = decode_message(&bytes).unwrap();
        assert_eq!(msg.value["type"], 7);
        assert_eq!(
            packet_from(&msg.value["packet"], &msg.attachments).unwrap(),
            packet
        );
    }

    #[test]
    fn own_messages_are_recognised_by_their_first_bytes() {
        let marks = OwnMarks::new("n1");
        let packet = Packet::event("/", "a", Payload::new());
        let opts = BroadcastOptions::default();
        assert!(marks.is_own_broadcast(&encode_broadcast("n1", &packet, &opts)));
        assert!(!marks.is_own_broadcast(&encode_broadcast("n2", &packet, &opts)));
        assert!(!OwnMarks::new("n").is_own_broadcast(&encode_broadcast("n1", &packet, &opts)));
        let request = json_message(RequestType::RemoteFetch, vec![("uid", json!("n1"))]);
        assert!(marks.is_own_request(&request));
        let other = json_message(RequestType::RemoteFetch, vec![("uid", json!("n12"))]);
        assert!(!marks.is_own_request(&other));
        let timeout = std::time::Duration::from_secs(1);
        assert!(marks.is_own_request(&encode_broadcast_request(
            "n1", "r", &packet, &opts, timeout
        )));
        assert!(!marks.is_own_request(&encode_broadcast_request(
            "n2", "r", &packet, &opts, timeout
        )));
    }

    #[test]
    fn garbage_is_an_error_never_a_panic() {
        for bad in [
            &b""[..],
            b"{",
            b"\xc1",
            b"\x93\xa1a",
            b"\x92\x01\x02",
            b"\x93\xa1a\x80\x80",
            b"\xdd\xff\xff\xff\xff",
        ] {
            assert!(decode_broadcast(bad).is_err(), "{bad:?}");
        }
        assert!(packet_from(&json!({"type": 99}), &[]).is_err());
        assert!(packet_from(&json!({"type": 2, "data": "x"}), &[]).is_err());
        assert!(packet_from(&json!({"type": 2, "nsp": 5, "data": ["e"]}), &[]).is_err());
    }
}
