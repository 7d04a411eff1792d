//! The wire format of Node's sharded adapter (`createShardedAdapter`, `@socket.io/redis-adapter`
//! 8.3), which is the `ClusterAdapter` message of `socket.io-adapter` 2.5:
//!
//! - every message is `{uid, nsp, type, data}`: JSON, or msgpack when `data` holds binary (the
//!   first byte tells: `{` is JSON);
//! - messages go on `<prefix>#<nsp>#`, a broadcast without ack to exactly one room on the
//!   room's channel `<prefix>#<nsp>#<room>#` (in the dynamic modes), and responses on the
//!   requester's channel `<prefix>#<nsp>#<uid>#`.
//!
//! Our messages put `uid` first, so a node recognises its own by a prefix compare, without
//! decoding them.

use bytes::Bytes;
use rmpv::Value as Mp;
use serde_json::{Value, json};
use sio_core::adapter::BroadcastOptions;
use sio_core::protocol::{JsonEvent, Packet, PacketType, to_msgpack};

/// The message types of the cluster adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageType {
    /// `1`: a node started (Node's heartbeat variant only).
    InitialHeartbeat = 1,
    /// `2`: a node is alive.
    Heartbeat = 2,
    /// `3`: a broadcast (with `requestId`: one that expects acks).
    Broadcast = 3,
    /// `4`: sockets join rooms.
    SocketsJoin = 4,
    /// `5`: sockets leave rooms.
    SocketsLeave = 5,
    /// `6`: sockets are disconnected.
    DisconnectSockets = 6,
    /// `7`: describe sockets.
    FetchSockets = 7,
    /// `8`: the sockets a node describes.
    FetchSocketsResponse = 8,
    /// `9`: an event for the other servers.
    ServerSideEmit = 9,
    /// `10`: a server's ack of such an event.
    ServerSideEmitResponse = 10,
    /// `11`: how many clients a node sent an ack-expecting broadcast to.
    BroadcastClientCount = 11,
    /// `12`: one client's ack.
    BroadcastAck = 12,
    /// `13`: a node is leaving.
    AdapterClose = 13,
    /// `100` (ours; Node nodes ignore it): every room of a node, asked for.
    AllRooms = 100,
    /// `101` (ours): the rooms of a node.
    AllRoomsResponse = 101,
}

impl MessageType {
    /// The type of a numeric code.
    #[must_use]
    pub fn from_code(code: u64) -> Option<Self> {
        use MessageType as M;
        Some(match code {
            1 => M::InitialHeartbeat,
            2 => M::Heartbeat,
            3 => M::Broadcast,
            4 => M::SocketsJoin,
            5 => M::SocketsLeave,
            6 => M::DisconnectSockets,
            7 => M::FetchSockets,
            8 => M::FetchSocketsResponse,
            9 => M::ServerSideEmit,
            10 => M::ServerSideEmitResponse,
            11 => M::BroadcastClientCount,
            12 => M::BroadcastAck,
            13 => M::AdapterClose,
            100 => M::AllRooms,
            101 => M::AllRoomsResponse,
            _ => return None,
        })
    }

    /// Whether it answers a request (goes on the requester's response channel).
    #[must_use]
    pub fn is_response(self) -> bool {
        matches!(
            self,
            MessageType::FetchSocketsResponse
                | MessageType::ServerSideEmitResponse
                | MessageType::BroadcastClientCount
                | MessageType::BroadcastAck
                | MessageType::AllRoomsResponse
        )
    }
}

/// The JSON prefix of every message `uid` sends: `{"uid":"<uid>",`.
#[must_use]
pub fn json_prefix(uid: &str) -> Vec<u8> {
    let mut out = b"{\"uid\":".to_vec();
    out.extend_from_slice(Value::from(uid).to_string().as_bytes());
    out.push(b',');
    out
}

/// The msgpack prefix of every message `uid` sends: a 4-entry map whose first key is `uid`.
#[must_use]
pub fn msgpack_prefix(uid: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = rmpv::encode::write_value(&mut out, &Mp::Map(vec![(Mp::from("uid"), Mp::from(uid))]));
    // A fixmap of one entry (0x81) becomes one of four (0x84).
    if let Some(first) = out.first_mut() {
        *first = 0x84;
    }
    out
}

/// Encodes a message: JSON when there is no binary, msgpack (binary inline) otherwise.
#[must_use]
pub fn encode(
    uid: &str,
    nsp: &str,
    kind: MessageType,
    data: Value,
    attachments: &[Bytes],
) -> Bytes {
    if attachments.is_empty() {
        let message = json!({"uid": uid, "nsp": nsp, "type": kind as u8, "data": data});
        return Bytes::from(serde_json::to_vec(&message).unwrap_or_default());
    }
    let message = Mp::Map(vec![
        (Mp::from("uid"), Mp::from(uid)),
        (Mp::from("nsp"), Mp::from(nsp)),
        (Mp::from("type"), Mp::from(kind as u8)),
        (Mp::from("data"), to_msgpack(&data, attachments)),
    ]);
    let mut out = Vec::with_capacity(128);
    let _ = rmpv::encode::write_value(&mut out, &message);
    Bytes::from(out)
}

/// The `BROADCAST` message of an event encoded once, byte for byte as [`encode`] writes it for
/// the event's packet (JSON: the packet's `data` is the event's JSON text, as it is).
#[must_use]
pub fn encode_broadcast_event(
    uid: &str,
    nsp: &str,
    event: &JsonEvent,
    opts: &BroadcastOptions,
) -> Bytes {
    let data = event.data_json();
    let mut out = Vec::with_capacity(data.len() + uid.len() + 2 * nsp.len() + 96);
    out.extend_from_slice(b"{\"uid\":");
    write_json_str(&mut out, uid);
    out.extend_from_slice(b",\"nsp\":");
    write_json_str(&mut out, nsp);
    out.extend_from_slice(b",\"type\":");
    out.extend_from_slice((MessageType::Broadcast as u8).to_string().as_bytes());
    out.extend_from_slice(b",\"data\":{\"packet\":{\"type\":");
    out.extend_from_slice((PacketType::Event as u8).to_string().as_bytes());
    out.extend_from_slice(b",\"data\":");
    out.extend_from_slice(data.as_bytes());
    out.extend_from_slice(b",\"nsp\":");
    write_json_str(&mut out, event.nsp());
    out.extend_from_slice(b"},\"opts\":");
    // Writing a `Value` into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut out, &opts_json(opts, None));
    out.extend_from_slice(b"}}");
    Bytes::from(out)
}

fn write_json_str(out: &mut Vec<u8>, s: &str) {
    // Writing a string into a Vec cannot fail.
    let _ = serde_json::to_writer(out, s);
}

/// A packet as Node's adapter carries it: `{type, data, nsp, id?}` (binary as placeholders).
#[must_use]
pub fn packet_json(packet: &Packet) -> Value {
    let mut map = serde_json::Map::new();
    map.insert("type".into(), Value::from(packet.kind.base() as u8));
    if let Some(data) = &packet.data {
        map.insert("data".into(), data.clone());
    }
    map.insert("nsp".into(), Value::from(packet.nsp.as_str()));
    if let Some(id) = packet.id {
        map.insert("id".into(), Value::from(id));
    }
    Value::Object(map)
}

/// Options as Node's adapter carries them: `{rooms, except, flags}` (`flags.timeout` in ms).
#[must_use]
pub fn opts_json(opts: &BroadcastOptions, timeout: Option<std::time::Duration>) -> Value {
    let mut flags = serde_json::Map::new();
    if opts.flags.volatile {
        flags.insert("volatile".into(), Value::Bool(true));
    }
    if opts.flags.local {
        flags.insert("local".into(), Value::Bool(true));
    }
    if let Some(timeout) = timeout {
        let ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        flags.insert("timeout".into(), Value::from(ms));
    }
    json!({"rooms": opts.rooms, "except": opts.except, "flags": flags})
}

/// Whether Node's sharded adapter takes `room` for a socket id when choosing a channel (20
/// UTF-16 units).
#[must_use]
pub fn looks_like_a_socket_id(room: &str) -> bool {
    room.encode_utf16().count() == 20
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::decode_message;
    use sio_core::protocol::Payload;

    #[test]
    fn our_messages_start_with_our_uid() {
        let json = encode("n1", "/", MessageType::Heartbeat, Value::Null, &[]);
        assert!(json.starts_with(&json_prefix("n1")));
        let packet = Packet::event("/", "f", Payload::new().binary(vec![1u8, 2]));
        let bin = encode(
            "n1",
            "/",
            MessageType::Broadcast,
            json!({"packet": packet_json(&packet)}),
            &packet.attachments,
        );
        assert!(bin.starts_with(&msgpack_prefix("n1")), "{bin:?}");
        let decoded = decode_message(&bin).unwrap();
        assert_eq!(decoded.value["uid"], "n1");
        assert_eq!(decoded.value["type"], 3);
        assert_eq!(decoded.attachments, packet.attachments);
    }
}
