//! A broadcast from another node read straight into the client frame its local recipients get:
//! the packet of Node's msgpack `[uid, packet, opts]` is transcoded to its JSON text frame
//! ([`sio_core::protocol::msgpack_packet_to_json_frame`]) without a `serde_json::Value` tree.
//!
//! [`decode_broadcast_frame`] gives what [`crate::wire::decode_broadcast`] followed by the default
//! parser's encoding gives, byte for byte, or `None`; a receiver then takes that path, which
//! decides (binary, malformed input and everything else the transcoder declines).
//!
//! The sharded adapter's messages (`{uid, nsp, type, data: {packet, opts, requestId?}}`) are JSON
//! unless they hold binary: [`decode_sharded_frame`] reads a JSON one with its packet straight
//! into the frame ([`sio_core::protocol::PacketFrame`]).

use std::collections::BTreeSet;
use std::fmt;

use rmpv::Value as Mp;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use sio_core::adapter::{BroadcastFlags, BroadcastOptions, Room};
use sio_core::engine::Frame;
use sio_core::protocol::{PacketFrame, msgpack_packet_to_json_frame};

/// The nesting limit of the options (the same as the tree path's for a whole message).
const MAX_DEPTH: usize = 128;

/// A broadcast whose packet is already encoded for clients of the default parser.
#[derive(Debug, Clone)]
pub struct FramedBroadcast {
    /// The sending node.
    pub uid: String,
    /// The packet's namespace.
    pub nsp: String,
    /// The packet's JSON text frame.
    pub frame: Frame,
    /// Who receives it.
    pub opts: BroadcastOptions,
}

/// Reads a msgpack `[uid, packet, opts]` broadcast whose packet transcodes exactly (an event or
/// ack without binary); `None` otherwise.
#[must_use]
pub fn decode_broadcast_frame(bytes: &[u8]) -> Option<FramedBroadcast> {
    let [0x93, rest @ ..] = bytes else {
        return None;
    };
    let (uid, rest) = msgpack_str(rest)?;
    let packet = msgpack_packet_to_json_frame(rest)?;
    let mut rest = rest.get(packet.consumed..)?;
    let opts = rmpv::decode::read_value_with_max_depth(&mut rest, MAX_DEPTH).ok()?;
    if !rest.is_empty() {
        return None;
    }
    Some(FramedBroadcast {
        uid: uid.to_owned(),
        nsp: packet.nsp,
        frame: packet.frame,
        opts: msgpack_opts(&opts)?,
    })
}

/// The options of a msgpack broadcast as [`opts_from`](crate::wire::opts_from) reads them
/// from their tree (`from_msgpack`), read without the tree; `None` where that is not sure (the
/// tree path then decides): a key that is not a UTF-8 string or is repeated, a room that is
/// not a string or an integer, a flag that is not a boolean, another field that is not a
/// scalar (binary would become attachments of the packet; an extension may be `undefined`,
/// which the tree drops).
fn msgpack_opts(value: &Mp) -> Option<BroadcastOptions> {
    let mut opts = BroadcastOptions::default();
    msgpack_fields(value, |key, value| match key {
        "rooms" => msgpack_rooms(value).map(|rooms| opts.rooms = rooms),
        "except" => msgpack_rooms(value).map(|rooms| opts.except = rooms),
        "flags" => msgpack_fields(value, |key, value| match key {
            "local" => value.as_bool().map(|b| opts.flags.local = b),
            "volatile" => value.as_bool().map(|b| opts.flags.volatile = b),
            _ => msgpack_scalar(value),
        }),
        _ => msgpack_scalar(value),
    })?;
    Some(opts)
}

/// Calls `field` for each entry of a map with UTF-8 string keys, none repeated; `None` if
/// `value` is not one, or as soon as `field` says `None`.
fn msgpack_fields(value: &Mp, mut field: impl FnMut(&str, &Mp) -> Option<()>) -> Option<()> {
    let Mp::Map(entries) = value else {
        return None;
    };
    let mut keys = Vec::with_capacity(entries.len());
    for (key, value) in entries {
        let key = key.as_str()?;
        if keys.contains(&key) {
            return None;
        }
        keys.push(key);
        field(key, value)?;
    }
    Some(())
}

/// A list of room names: strings, or integers as their decimal text.
fn msgpack_rooms(value: &Mp) -> Option<BTreeSet<Room>> {
    value
        .as_array()?
        .iter()
        .map(|room| match room {
            Mp::Integer(i) => i
                .as_u64()
                .map(|n| n.to_string())
                .or_else(|| i.as_i64().map(|n| n.to_string())),
            other => other.as_str().map(str::to_owned),
        })
        .collect()
}

/// `Some` for a value that is neither a container, binary nor an extension.
fn msgpack_scalar(value: &Mp) -> Option<()> {
    match value {
        Mp::Nil | Mp::Boolean(_) | Mp::Integer(_) | Mp::F32(_) | Mp::F64(_) => Some(()),
        Mp::String(s) => s.as_str().map(|_| ()),
        Mp::Binary(_) | Mp::Array(_) | Mp::Map(_) | Mp::Ext(..) => None,
    }
}

/// A msgpack UTF-8 string at the start of `bytes`, and what follows it.
fn msgpack_str(bytes: &[u8]) -> Option<(&str, &[u8])> {
    let (&marker, rest) = bytes.split_first()?;
    let (len, rest) = match marker {
        0xa0..=0xbf => (usize::from(marker & 0x1f), rest),
        0xd9 => (usize::from(*rest.first()?), rest.get(1..)?),
        0xda => {
            let (head, rest) = rest.split_at_checked(2)?;
            (usize::from(u16::from_be_bytes(head.try_into().ok()?)), rest)
        }
        0xdb => {
            let (head, rest) = rest.split_at_checked(4)?;
            let len = u32::from_be_bytes(head.try_into().ok()?);
            (usize::try_from(len).ok()?, rest)
        }
        _ => return None,
    };
    let (text, rest) = rest.split_at_checked(len)?;
    Some((std::str::from_utf8(text).ok()?, rest))
}

/// A sharded adapter's JSON message, its packet (when it has one) already a frame. The fields
/// are as the tree path reads them from the message's `Value`; a message whose fields have
/// other types (a `uid` that is not a string, a `type` that is not a non-negative integer, odd
/// options) is not read here.
#[derive(Debug, Clone, Default)]
pub struct ShardedFrame {
    /// `uid`, when a string.
    pub uid: Option<String>,
    /// `nsp`, when a string.
    pub nsp: Option<String>,
    /// `type`, when a non-negative integer.
    pub kind: Option<u64>,
    /// `data.packet` as its namespace and frame, when it is an event or ack the frame stands for.
    pub packet: Option<(String, sio_core::engine::Frame)>,
    /// `data.opts` (default when absent).
    pub opts: BroadcastOptions,
    /// Whether `data` has a `requestId` (a broadcast that wants acks).
    pub request_id: bool,
}

/// Reads a sharded adapter's JSON message, its packet straight into the frame; `None` for a
/// msgpack message, malformed JSON, and whatever the frame cannot follow exactly (a repeated
/// field or key). The tree path decides those.
#[must_use]
pub fn decode_sharded_frame(bytes: &[u8]) -> Option<ShardedFrame> {
    if bytes.first() != Some(&b'{') {
        return None;
    }
    // UTF-8 checked once for the whole message rather than string by string: what either
    // refuses is the same (outside strings, a byte that is not ASCII is a syntax error).
    let text = std::str::from_utf8(bytes).ok()?;
    let mut de = serde_json::Deserializer::from_str(text);
    let message = de.deserialize_map(MessageVisitor).ok()?;
    de.end().ok()?;
    Some(message)
}

/// Reads a map's fields with `field`, which consumes each value it knows and says whether it
/// was repeated; other values are skipped. A repeated known field is an error.
fn fields<'de, A: MapAccess<'de>>(
    mut map: A,
    mut field: impl FnMut(&str, &mut A) -> Result<Option<bool>, A::Error>,
) -> Result<(), A::Error> {
    while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
        match field(&key, &mut map)? {
            Some(true) => return Err(de::Error::custom("repeated field")),
            Some(false) => {}
            None => {
                // Read as the tree reads it (UTF-8 and number range checked), then dropped.
                map.next_value::<Value>()?;
            }
        }
    }
    Ok(())
}

struct MessageVisitor;

impl<'de> Visitor<'de> for MessageVisitor {
    type Value = ShardedFrame;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a message object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ShardedFrame, A::Error> {
        let (mut uid, mut nsp, mut kind) = (None, None, None);
        let mut message = ShardedFrame::default();
        let mut data = false;
        // Typed reads: a field of another type fails here, and the tree path decides.
        fields(map, |key, map| {
            Ok(Some(match key {
                "uid" => uid.replace(map.next_value::<String>()?).is_some(),
                "nsp" => nsp.replace(map.next_value::<String>()?).is_some(),
                "type" => kind.replace(map.next_value::<u64>()?).is_some(),
                "data" => {
                    map.next_value_seed(DataSeed(&mut message))?;
                    std::mem::replace(&mut data, true)
                }
                _ => return Ok(None),
            }))
        })?;
        message.uid = uid;
        message.nsp = nsp;
        message.kind = kind;
        Ok(message)
    }
}

/// Reads `data` (`{packet, opts, requestId?}`) into the message.
struct DataSeed<'m>(&'m mut ShardedFrame);

impl<'de> DeserializeSeed<'de> for DataSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for DataSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a data object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        let (mut packet, mut opts) = (None, None);
        let message = self.0;
        fields(map, |key, map| {
            Ok(Some(match key {
                "packet" => packet.replace(map.next_value::<PacketFrame>()?).is_some(),
                "opts" => opts.replace(map.next_value::<Opts>()?.0).is_some(),
                "requestId" => {
                    // Read as the tree reads it (UTF-8 and number range checked), then dropped.
                    map.next_value::<Value>()?;
                    std::mem::replace(&mut message.request_id, true)
                }
                _ => return Ok(None),
            }))
        })?;
        message.packet = packet.and_then(|p| p.0);
        message.opts = opts.unwrap_or_default();
        Ok(())
    }
}

/// `data.opts` read as [`opts_from`](crate::wire::opts_from) reads its `Value` (`rooms` and
/// `except` as lists of room names, strings or integers; the `local` and `volatile` flags), or
/// an error where the tree path would read something else: another shape, a repeated field, a
/// room that is not a string or an integer, a flag that is not a boolean.
struct Opts(BroadcastOptions);

impl<'de> de::Deserialize<'de> for Opts {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(OptsVisitor)
    }
}

struct OptsVisitor;

impl<'de> Visitor<'de> for OptsVisitor {
    type Value = Opts;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("broadcast options")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Opts, A::Error> {
        let mut opts = BroadcastOptions::default();
        let (mut rooms, mut except, mut flags) = (false, false, false);
        fields(map, |key, map| {
            Ok(Some(match key {
                "rooms" => {
                    opts.rooms = map.next_value::<Rooms>()?.0;
                    std::mem::replace(&mut rooms, true)
                }
                "except" => {
                    opts.except = map.next_value::<Rooms>()?.0;
                    std::mem::replace(&mut except, true)
                }
                "flags" => {
                    opts.flags = map.next_value::<Flags>()?.0;
                    std::mem::replace(&mut flags, true)
                }
                _ => return Ok(None),
            }))
        })?;
        Ok(Opts(opts))
    }
}

/// A list of room names.
struct Rooms(BTreeSet<Room>);

impl<'de> de::Deserialize<'de> for Rooms {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_seq(RoomsVisitor)
    }
}

struct RoomsVisitor;

impl<'de> Visitor<'de> for RoomsVisitor {
    type Value = Rooms;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of rooms")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Rooms, A::Error> {
        let mut rooms = BTreeSet::new();
        while let Some(RoomName(room)) = seq.next_element()? {
            rooms.insert(room);
        }
        Ok(Rooms(rooms))
    }
}

/// A room name: a string, or an integer as its decimal text.
struct RoomName(Room);

impl<'de> de::Deserialize<'de> for RoomName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RoomNameVisitor)
    }
}

struct RoomNameVisitor;

impl Visitor<'_> for RoomNameVisitor {
    type Value = RoomName;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a room name")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<RoomName, E> {
        Ok(RoomName(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<RoomName, E> {
        Ok(RoomName(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<RoomName, E> {
        Ok(RoomName(v.to_string()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<RoomName, E> {
        Ok(RoomName(v.to_string()))
    }
}

/// The flags the options carry (others are read as the tree reads them, then dropped).
struct Flags(BroadcastFlags);

impl<'de> de::Deserialize<'de> for Flags {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(FlagsVisitor)
    }
}

struct FlagsVisitor;

impl<'de> Visitor<'de> for FlagsVisitor {
    type Value = Flags;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("broadcast flags")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Flags, A::Error> {
        let (mut local, mut volatile) = (None, None);
        fields(map, |key, map| {
            Ok(Some(match key {
                "local" => local.replace(map.next_value::<bool>()?).is_some(),
                "volatile" => volatile.replace(map.next_value::<bool>()?).is_some(),
                _ => return Ok(None),
            }))
        })?;
        Ok(Flags(BroadcastFlags {
            local: local == Some(true),
            volatile: volatile == Some(true),
        }))
    }
}
