//! The `socket.io-msgpack-parser` format: each packet is one msgpack map
//! `{type, data, nsp, id?}` sent as a binary message, with binary blobs inline.
//!
//! [`decode_msgpack`] reads what notepack.io writes as JavaScript peers would see it.

use bytes::Bytes;
use rmpv::Value as Mp;
use serde_json::Value;

use super::date::{TIMESTAMP_EXT, iso_date, timestamp_millis};
use super::packet::{Packet, PacketType, ParseError, placeholder};

/// The deepest nesting accepted in a msgpack packet (the same bound as the JSON parser's).
const MAX_DEPTH: usize = 128;

/// Encodes a packet; attachments go back inline where their placeholders are.
#[must_use]
pub fn encode_msgpack(packet: &Packet) -> Bytes {
    encode_msgpack_with_id(packet, packet.id)
}

/// Encodes `packet` as if its ack id were `id` (the map's last entry, when there is one).
pub(super) fn encode_msgpack_with_id(packet: &Packet, id: Option<u64>) -> Bytes {
    let mut fields = Vec::with_capacity(4);
    fields.push((Mp::from("type"), Mp::from(packet.kind.base() as u8)));
    if let Some(data) = &packet.data {
        fields.push((Mp::from("data"), to_msgpack(data, &packet.attachments)));
    }
    fields.push((Mp::from("nsp"), Mp::from(packet.nsp.as_str())));
    if let Some(id) = id {
        fields.push((Mp::from("id"), Mp::from(id)));
    }
    let mut out = Vec::with_capacity(64);
    // Writing into a Vec cannot fail.
    let _ = rmpv::encode::write_value(&mut out, &Mp::Map(fields));
    Bytes::from(out)
}

/// Converts JSON data to msgpack, putting each placeholder's attachment inline.
pub fn to_msgpack(value: &Value, attachments: &[Bytes]) -> Mp {
    match value {
        Value::Null => Mp::Nil,
        Value::Bool(b) => Mp::Boolean(*b),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                Mp::from(u)
            } else if let Some(i) = n.as_i64() {
                Mp::from(i)
            } else {
                Mp::from(n.as_f64().unwrap_or(0.0))
            }
        }
        Value::String(s) => Mp::from(s.as_str()),
        Value::Array(items) => {
            Mp::Array(items.iter().map(|v| to_msgpack(v, attachments)).collect())
        }
        Value::Object(map) => {
            if map.get("_placeholder") == Some(&Value::Bool(true))
                && let Some(blob) = map
                    .get("num")
                    .and_then(Value::as_u64)
                    .and_then(|n| attachments.get(n as usize))
            {
                return Mp::Binary(blob.to_vec());
            }
            Mp::Map(
                map.iter()
                    .map(|(k, v)| (Mp::from(k.as_str()), to_msgpack(v, attachments)))
                    .collect(),
            )
        }
    }
}

/// Converts msgpack data (as `rmpv` read it) to JSON, moving binary blobs to `attachments`
/// behind placeholders, with the same reading of extensions as [`decode_msgpack`] as far as
/// `rmpv` can tell them apart: `Ext(0, [0])` is `undefined` (an absent map value, `null` in an
/// array or alone), a timestamp (type -1: a `Date` from notepack.io 3, which Node's Redis
/// adapter uses) is its ISO string, any other type-0 extension is binary, and an extension of
/// another type is `[type, binary]`. `rmpv` does not keep the marker, so a notepack 2 date
/// (fixext 8, type 0) reads as binary here, and a one-byte `ArrayBuffer` holding 0 as
/// `undefined`. Non-string map keys are stringified.
pub fn from_msgpack(value: Mp, attachments: &mut Vec<Bytes>) -> Value {
    match value {
        Mp::Nil => Value::Null,
        Mp::Ext(kind, body) => {
            if let Some(date) = timestamp(kind, &body) {
                date
            } else if is_undefined_ext(kind, &body) {
                Value::Null
            } else if kind == 0 {
                blob(&body, attachments)
            } else {
                ext_pair(kind, &body, attachments)
            }
        }
        Mp::Boolean(b) => Value::Bool(b),
        Mp::Integer(i) => i
            .as_u64()
            .map(Value::from)
            .or_else(|| i.as_i64().map(Value::from))
            .unwrap_or(Value::Null),
        Mp::F32(f) => number(f64::from(f)),
        Mp::F64(f) => number(f),
        Mp::String(s) => Value::String(s.into_str().unwrap_or_default()),
        Mp::Binary(b) => blob(&b, attachments),
        Mp::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|v| from_msgpack(v, attachments))
                .collect(),
        ),
        Mp::Map(entries) => Value::Object(
            entries
                .into_iter()
                .filter(|(_, v)| !matches!(v, Mp::Ext(kind, body) if is_undefined_ext(*kind, body)))
                .map(|(k, v)| {
                    let key = match k {
                        Mp::String(s) => s.into_str().unwrap_or_default(),
                        other => other.to_string(),
                    };
                    (key, from_msgpack(v, attachments))
                })
                .collect(),
        ),
    }
}

/// Whether an `rmpv` extension is notepack's `undefined` (fixext 1, type 0, body `[0]`).
fn is_undefined_ext(kind: i8, body: &[u8]) -> bool {
    kind == 0 && body == [0]
}

/// A float as JSON: NaN and the infinities become `null`, as `JSON.stringify` writes them.
fn number(f: f64) -> Value {
    serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
}

/// Moves a blob to `attachments` and returns its placeholder.
fn blob(body: &[u8], attachments: &mut Vec<Bytes>) -> Value {
    let ph = placeholder(attachments.len());
    attachments.push(Bytes::copy_from_slice(body));
    ph
}

/// An extension notepack has no meaning for: `[type, binary]`, as notepack's decoder returns it.
fn ext_pair(kind: i8, body: &[u8], attachments: &mut Vec<Bytes>) -> Value {
    Value::Array(vec![Value::from(kind), blob(body, attachments)])
}

/// One msgpack value as JavaScript holds it after notepack decoded it: a JSON value, or
/// `undefined`, which JSON has no value for.
enum Decoded {
    Value(Value),
    Undefined,
}

/// Reads msgpack values from a byte slice as notepack means them (the table on
/// [`decode_msgpack`]).
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ParseError> {
        if n > self.rest.len() {
            return Err(ParseError::InvalidData);
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], ParseError> {
        self.take(N)?
            .try_into()
            .map_err(|_| ParseError::InvalidData)
    }

    fn byte(&mut self) -> Result<u8, ParseError> {
        Ok(self.array::<1>()?[0])
    }

    /// A big-endian length of `width` bytes (1, 2 or 4).
    fn len(&mut self, width: usize) -> Result<usize, ParseError> {
        let n = match width {
            1 => u32::from(self.byte()?),
            2 => u32::from(u16::from_be_bytes(self.array()?)),
            _ => u32::from_be_bytes(self.array()?),
        };
        usize::try_from(n).map_err(|_| ParseError::InvalidData)
    }

    fn text(&mut self, n: usize) -> Result<Value, ParseError> {
        Ok(Value::String(
            String::from_utf8_lossy(self.take(n)?).into_owned(),
        ))
    }

    /// An extension's body after its type byte: see the table on [`decode_msgpack`].
    fn ext(
        &mut self,
        n: usize,
        fixed: bool,
        attachments: &mut Vec<Bytes>,
    ) -> Result<Decoded, ParseError> {
        let kind = i8::from_be_bytes(self.array()?);
        let body = self.take(n)?;
        if let Some(date) = timestamp(kind, body) {
            return Ok(Decoded::Value(date));
        }
        Ok(Decoded::Value(match (kind, fixed, n) {
            (0, true, 1) => return Ok(Decoded::Undefined),
            (0, true, 8) => js_date(i64::from_be_bytes(
                body.try_into().map_err(|_| ParseError::InvalidData)?,
            )),
            (0, false, _) => blob(body, attachments),
            _ => ext_pair(kind, body, attachments),
        }))
    }

    fn value(&mut self, attachments: &mut Vec<Bytes>, depth: usize) -> Result<Decoded, ParseError> {
        if depth > MAX_DEPTH {
            return Err(ParseError::InvalidData);
        }
        let marker = self.byte()?;
        let value = match marker {
            0x00..=0x7f => Value::from(marker),
            0x80..=0x8f => self.map(usize::from(marker & 0x0f), attachments, depth)?,
            0x90..=0x9f => self.list(usize::from(marker & 0x0f), attachments, depth)?,
            0xa0..=0xbf => self.text(usize::from(marker & 0x1f))?,
            0xc0 => Value::Null,
            0xc1 => return Err(ParseError::InvalidData),
            0xc2 => Value::Bool(false),
            0xc3 => Value::Bool(true),
            0xc4..=0xc6 => {
                let n = self.len(1 << (marker - 0xc4))?;
                blob(self.take(n)?, attachments)
            }
            0xc7..=0xc9 => {
                let n = self.len(1 << (marker - 0xc7))?;
                return self.ext(n, false, attachments);
            }
            0xca => number(f64::from(f32::from_be_bytes(self.array()?))),
            0xcb => number(f64::from_be_bytes(self.array()?)),
            0xcc => Value::from(self.byte()?),
            0xcd => Value::from(u16::from_be_bytes(self.array()?)),
            0xce => Value::from(u32::from_be_bytes(self.array()?)),
            0xcf => Value::from(u64::from_be_bytes(self.array()?)),
            0xd0 => Value::from(i8::from_be_bytes(self.array()?)),
            0xd1 => Value::from(i16::from_be_bytes(self.array()?)),
            0xd2 => Value::from(i32::from_be_bytes(self.array()?)),
            0xd3 => Value::from(i64::from_be_bytes(self.array()?)),
            0xd4..=0xd8 => return self.ext(1 << (marker - 0xd4), true, attachments),
            0xd9..=0xdb => {
                let n = self.len(1 << (marker - 0xd9))?;
                self.text(n)?
            }
            0xdc | 0xdd => {
                let n = self.len(if marker == 0xdc { 2 } else { 4 })?;
                self.list(n, attachments, depth)?
            }
            0xde | 0xdf => {
                let n = self.len(if marker == 0xde { 2 } else { 4 })?;
                self.map(n, attachments, depth)?
            }
            0xe0..=0xff => Value::from(i8::from_be_bytes([marker])),
        };
        Ok(Decoded::Value(value))
    }

    fn list(
        &mut self,
        n: usize,
        attachments: &mut Vec<Bytes>,
        depth: usize,
    ) -> Result<Value, ParseError> {
        // Every item takes at least one byte: a claimed length cannot allocate more than that.
        let mut items = Vec::with_capacity(n.min(self.rest.len()));
        for _ in 0..n {
            items.push(match self.value(attachments, depth + 1)? {
                Decoded::Value(v) => v,
                Decoded::Undefined => Value::Null,
            });
        }
        Ok(Value::Array(items))
    }

    fn map(
        &mut self,
        n: usize,
        attachments: &mut Vec<Bytes>,
        depth: usize,
    ) -> Result<Value, ParseError> {
        let mut map = serde_json::Map::new();
        for _ in 0..n {
            let key = self.key(depth)?;
            match self.value(attachments, depth + 1)? {
                Decoded::Value(v) => {
                    // A repeated key keeps its first place and takes the last value, as in
                    // JavaScript.
                    map.insert(key, v);
                }
                Decoded::Undefined => {
                    map.shift_remove(&key);
                }
            }
        }
        Ok(Value::Object(map))
    }

    /// A map key: text, or a number, boolean, nil or `undefined` as JavaScript names it.
    fn key(&mut self, depth: usize) -> Result<String, ParseError> {
        let mut blobs = Vec::new();
        let key = match self.value(&mut blobs, depth + 1)? {
            Decoded::Value(Value::String(s)) => s,
            Decoded::Value(Value::Number(n)) => n.to_string(),
            Decoded::Value(Value::Bool(b)) => b.to_string(),
            Decoded::Value(Value::Null) => "null".to_owned(),
            Decoded::Undefined => "undefined".to_owned(),
            Decoded::Value(_) => return Err(ParseError::InvalidData),
        };
        if blobs.is_empty() {
            Ok(key)
        } else {
            Err(ParseError::InvalidData)
        }
    }

    /// The length of the packet's top-level map.
    fn packet_map_len(&mut self) -> Result<usize, ParseError> {
        match self.byte()? {
            marker @ 0x80..=0x8f => Ok(usize::from(marker & 0x0f)),
            0xde => self.len(2),
            0xdf => self.len(4),
            _ => Err(ParseError::InvalidData),
        }
    }
}

/// A JavaScript date (milliseconds since 1970, UTC) as `Date.prototype.toJSON` writes it: its
/// ISO string, or `null` outside the range of a JavaScript date (±8.64e15 ms).
fn js_date(ms: i64) -> Value {
    const LIMIT: i64 = 8_640_000_000_000_000;
    if (-LIMIT..=LIMIT).contains(&ms) {
        Value::String(iso_date(ms))
    } else {
        Value::Null
    }
}

/// A msgpack timestamp (extension type -1, 32, 64 or 96 bits: how notepack.io 3 writes a `Date`)
/// as [`js_date`]; `None` for any other extension.
pub(super) fn timestamp(kind: i8, body: &[u8]) -> Option<Value> {
    (kind == TIMESTAMP_EXT)
        .then(|| timestamp_millis(body))
        .flatten()
        .map(js_date)
}

/// Decodes one msgpack packet, as `socket.io-msgpack-parser` writes it.
///
/// The decoder reads msgpack the way notepack.io (the encoder of `socket.io-msgpack-parser`)
/// means it, and turns what JSON cannot hold into what a JSON-parser peer of a Node server
/// would see (`JSON.stringify`):
///
/// | wire | read as |
/// |---|---|
/// | fixext 1, type 0 (`d4 00 00`): JavaScript `undefined` | as a packet field (`data`, `id`, `nsp`): absent (a CONNECT whose data is `undefined` has no data); in an array: `null`; as a map value: the key is absent |
/// | ext 8/16/32, type 0 | binary (an attachment): notepack writes an `ArrayBuffer` or a typed array so, and a `Buffer` as bin |
/// | fixext 8, type 0 (`d7 00`): a `Date` (milliseconds since 1970, big-endian i64) | its ISO string as `Date.prototype.toJSON` writes it (`2024-02-29T12:34:56.789Z`; `null` outside JavaScript's date range) |
/// | a timestamp: extension type -1 of 4, 8 or 12 bytes (notepack.io 3 writes a `Date` so) | its ISO string, as for fixext 8 |
/// | any other extension (notepack never writes one) | `[type, binary]`, as notepack's decoder returns it |
/// | str with invalid UTF-8 | the text with U+FFFD in place of the bad bytes |
/// | a map key that is a number, boolean or nil | that key as text (`1` becomes `"1"`); a binary, array or map key is an error |
/// | NaN or an infinity | `null`, as `JSON.stringify` writes them |
///
/// Lengths are checked against the bytes left before anything is allocated, and nesting deeper
/// than 128 is an error. Unit tests decode packets captured from the real encoder
/// (`notepack_vectors.tsv`, written by `tests/interop/msgpack_vectors.mjs`).
///
/// Fields other than `type`, `data`, `nsp` and `id` (socket.io-client sends `options`) are read
/// and ignored; an absent `nsp` is `/`.
pub fn decode_msgpack(bytes: &[u8]) -> Result<Packet, ParseError> {
    if bytes.is_empty() {
        return Err(ParseError::Empty);
    }
    let mut reader = Reader { rest: bytes };
    let fields = reader.packet_map_len()?;
    let mut kind = None;
    let mut nsp = None;
    let mut data = None;
    let mut id = None;
    let mut attachments = Vec::new();
    for _ in 0..fields {
        let key = reader.key(0)?;
        let mut blobs = Vec::new();
        let value = reader.value(&mut blobs, 1)?;
        match (key.as_str(), value) {
            ("type", Decoded::Value(v)) => {
                kind = v
                    .as_u64()
                    .and_then(|n| u8::try_from(n).ok())
                    .and_then(PacketType::from_u8);
                if kind.is_none() {
                    return Err(ParseError::UnknownType);
                }
            }
            ("type", Decoded::Undefined) => return Err(ParseError::UnknownType),
            ("nsp", Decoded::Value(Value::String(s))) => nsp = Some(s),
            ("nsp", Decoded::Value(_)) => return Err(ParseError::InvalidNamespace),
            ("nsp", Decoded::Undefined) => nsp = None,
            ("data", Decoded::Value(v)) => {
                data = Some(v);
                attachments = blobs;
            }
            ("data", Decoded::Undefined) => {
                data = None;
                attachments = Vec::new();
            }
            ("id", Decoded::Value(Value::Null) | Decoded::Undefined) => id = None,
            ("id", Decoded::Value(v)) => id = Some(v.as_u64().ok_or(ParseError::InvalidHeader)?),
            _ => {}
        }
    }
    if !reader.rest.is_empty() {
        return Err(ParseError::InvalidData);
    }
    Ok(Packet {
        kind: kind.ok_or(ParseError::UnknownType)?.base(),
        nsp: nsp.unwrap_or_else(|| "/".to_owned()),
        data,
        id,
        attachments,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Payload;
    use serde_json::json;

    #[test]
    fn round_trips_with_inline_binary() {
        let payload = Payload::from_value(&json!({"a": [1, -2, 1.5, "x", null, true]}))
            .unwrap()
            .binary(Bytes::from_static(b"\x00\x01"));
        let mut packet = Packet::event("/chat", "ev", payload);
        packet.id = Some(42);
        let bytes = encode_msgpack(&packet);
        let decoded = decode_msgpack(&bytes).unwrap();
        assert_eq!(decoded, packet);
        decoded.validate().unwrap();
    }

    #[test]
    fn matches_the_reference_encoding() {
        // notepack.encode({type: 2, data: ["a"], nsp: "/"})
        let packet = Packet::event("/", "a", Payload::new());
        assert_eq!(
            encode_msgpack(&packet).as_ref(),
            b"\x83\xa4type\x02\xa4data\x91\xa1a\xa3nsp\xa1/"
        );
    }

    /// Packets written by the real `socket.io-msgpack-parser` encoder (notepack.io), captured by
    /// `tests/interop/msgpack_vectors.mjs`: (name, bytes, the packet as a JSON peer sees it).
    fn vectors() -> Vec<(&'static str, Vec<u8>, Value)> {
        include_str!("notepack_vectors.tsv")
            .lines()
            .map(|line| {
                let mut cols = line.split('\t');
                let name = cols.next().unwrap();
                let hex = cols.next().unwrap();
                let bytes = (0..hex.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                    .collect();
                (
                    name,
                    bytes,
                    serde_json::from_str(cols.next().unwrap()).unwrap(),
                )
            })
            .collect()
    }

    fn notepack(name: &str) -> Packet {
        let (_, bytes, _) = vectors().into_iter().find(|v| v.0 == name).unwrap();
        decode_msgpack(&bytes).unwrap()
    }

    #[test]
    fn connect_with_undefined_data_is_a_connect_without_data() {
        let packet = notepack("connect_undefined_data");
        assert_eq!(packet, Packet::new(PacketType::Connect, "/", None));
        packet.validate().unwrap();
    }

    #[test]
    fn connect_keeps_its_auth_and_namespace() {
        let packet = notepack("connect_auth_custom");
        assert_eq!(
            packet,
            Packet::new(
                PacketType::Connect,
                "/custom",
                Some(json!({"token": "s3cret"}))
            )
        );
        packet.validate().unwrap();
    }

    #[test]
    fn undefined_object_value_is_an_absent_key() {
        let packet = notepack("connect_recovery_undefined_offset");
        assert_eq!(packet.data, Some(json!({"pid": "p1", "token": "t"})));
        let event = notepack("event_undefined_arguments");
        assert_eq!(event.data.unwrap()[3], json!({"a": 1, "c": {}}));
        let refusal = notepack("connect_error_object");
        assert_eq!(refusal.data, Some(json!({"message": "unauthorized"})));
    }

    #[test]
    fn undefined_in_an_array_is_null() {
        let event = notepack("event_undefined_arguments");
        assert_eq!(event.data.as_ref().unwrap()[1], Value::Null);
        assert_eq!(event.data.as_ref().unwrap()[2], json!([1, null, 2]));
        let ack = notepack("ack_undefined_argument");
        assert_eq!(
            ack,
            Packet::ack("/", 7, Payload::from_value(&Value::Null).unwrap())
        );
    }

    #[test]
    fn undefined_id_is_no_id() {
        let packet = notepack("event_undefined_id");
        assert_eq!(packet, Packet::event("/", "ev", Payload::new()));
    }

    #[test]
    fn client_options_field_is_ignored_and_the_ack_id_kept() {
        let packet = notepack("event_with_ack");
        assert_eq!(packet.id, Some(3));
        assert_eq!(
            packet.data,
            Some(
                json!(["echo", "a", 1, 2.5, -7, {"k": [1, null], "t": "ü€"}, null, true, false, ""])
            )
        );
        packet.validate().unwrap();
    }

    #[test]
    fn buffers_become_attachments_in_order() {
        let packet = notepack("event_buffers");
        assert_eq!(
            packet.attachments,
            vec![
                Bytes::from_static(&[0, 1, 2, 255]),
                Bytes::from_static(&[9]),
                Bytes::from(vec![7u8; 300]),
            ]
        );
        assert_eq!(packet.data.as_ref().unwrap()[2]["nested"], placeholder(1));
        packet.validate().unwrap();
    }

    #[test]
    fn array_buffers_and_typed_arrays_are_binary_not_undefined_or_dates() {
        // Uint8Array [1,2,3], ArrayBuffer [0] (the bytes of ext 8 that hold what fixext 1 holds
        // for undefined), ArrayBuffer of 8 bytes (fixext 8 would be a date), Uint16Array [1, 2]
        // (its buffer, little-endian), ArrayBuffer of 300 bytes (ext 16).
        let packet = notepack("event_array_buffers");
        assert_eq!(
            packet.attachments,
            vec![
                Bytes::from_static(&[1, 2, 3]),
                Bytes::from_static(&[0]),
                Bytes::from(vec![5u8; 8]),
                Bytes::from_static(&[1, 0, 2, 0]),
                Bytes::from((0..300).map(|i| (i % 256) as u8).collect::<Vec<_>>()),
            ]
        );
        packet.validate().unwrap();
    }

    #[test]
    fn dates_are_their_iso_strings() {
        let packet = notepack("event_dates");
        assert_eq!(
            packet.data,
            Some(json!([
                "dates",
                "2024-02-29T12:34:56.789Z",
                "1970-01-01T00:00:00.000Z",
                "1969-12-31T23:59:59.999Z",
                "-000001-01-01T00:00:00.000Z",
                "+275760-09-13T00:00:00.000Z",
                "-271821-04-20T00:00:00.000Z"
            ]))
        );
    }

    #[test]
    fn timestamps_of_notepack_3_are_their_iso_strings() {
        // timestamp 64, 32, 96 (before 1970), 32, 96 (beyond 2^34 s).
        let packet = notepack("notepack3_event_dates");
        assert_eq!(
            packet.data,
            Some(json!([
                "dates",
                "2024-02-29T12:34:56.789Z",
                "1970-01-01T00:00:00.000Z",
                "1969-12-31T23:59:59.999Z",
                "2023-11-14T22:13:20.000Z",
                "2514-05-30T01:53:04.005Z"
            ]))
        );
    }

    #[test]
    fn every_notepack_packet_decodes_to_what_a_json_peer_sees() {
        for (name, bytes, seen) in vectors() {
            let packet = decode_msgpack(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
            let mut ours = serde_json::Map::new();
            ours.insert("type".into(), json!(packet.kind as u8));
            if let Some(data) = &packet.data {
                ours.insert("data".into(), data.clone());
            }
            if let Some(id) = packet.id {
                ours.insert("id".into(), json!(id));
            }
            ours.insert("nsp".into(), json!(packet.nsp));
            let mut seen = seen.as_object().unwrap().clone();
            seen.shift_remove("options");
            assert_eq!(Value::Object(ours), Value::Object(seen), "{name}");
        }
    }

    #[test]
    fn every_notepack_packet_survives_decode_encode_decode() {
        for (name, bytes, _) in vectors() {
            let first = decode_msgpack(&bytes).unwrap();
            let again = decode_msgpack(&encode_msgpack(&first)).unwrap();
            assert_eq!(first, again, "{name}");
        }
    }

    #[test]
    fn other_extensions_are_their_type_and_bytes() {
        // notepack never writes these; its decoder returns them as [type, Buffer].
        // {type: 2, data: ["e", fixext4(-2), fixext2(5), fixext16(0), ext8(7, 1 byte)], nsp: "/"}
        let mut bytes = b"\x83\xa4type\x02\xa4data\x95\xa1e".to_vec();
        bytes.extend_from_slice(b"\xd6\xfe\x01\x02\x03\x04\xd5\x05\x0a\x0b\xd8\x00");
        bytes.extend_from_slice(&[0x11; 16]);
        bytes.extend_from_slice(b"\xc7\x01\x07\x2a\xa3nsp\xa1/");
        let packet = decode_msgpack(&bytes).unwrap();
        assert_eq!(
            packet.data,
            Some(json!([
                "e",
                [-2, placeholder(0)],
                [5, placeholder(1)],
                [0, placeholder(2)],
                [7, placeholder(3)]
            ]))
        );
        assert_eq!(packet.attachments[0], Bytes::from_static(&[1, 2, 3, 4]));
        assert_eq!(packet.attachments[3], Bytes::from_static(&[0x2a]));
        assert_eq!(decode_msgpack(&encode_msgpack(&packet)).unwrap(), packet);
    }

    #[test]
    fn date_beyond_javascript_range_is_null() {
        // {type: 2, data: ["d", fixext8(0, 8.64e15 + 1)], nsp: "/"}
        let mut bytes = b"\x83\xa4type\x02\xa4data\x92\xa1d\xd7\x00".to_vec();
        bytes.extend_from_slice(&8_640_000_000_000_001i64.to_be_bytes());
        bytes.extend_from_slice(b"\xa3nsp\xa1/");
        assert_eq!(
            decode_msgpack(&bytes).unwrap().data,
            Some(json!(["d", null]))
        );
    }

    #[test]
    fn undefined_type_is_an_unknown_type() {
        assert_eq!(
            decode_msgpack(b"\x82\xa4type\xd4\x00\x00\xa3nsp\xa1/"),
            Err(ParseError::UnknownType)
        );
    }

    #[test]
    fn malformed_input_is_an_error() {
        assert!(decode_msgpack(b"\x81\xa4type\xd4\x00").is_err());
        assert!(decode_msgpack(b"\x81\xa4data\xc7\x05\x00\x01").is_err());
        assert!(decode_msgpack(b"\x81\xa4data\xc9\xff\xff\xff\xff\x00").is_err());
        assert!(decode_msgpack(b"\x81\xa4data\x81\xc4\x01\x00\x01").is_err());
        assert!(decode_msgpack(b"\x81\xa4data\x81\x90\x01").is_err());
        assert!(decode_msgpack(b"").is_err());
        assert!(decode_msgpack(b"\xc1").is_err());
        assert!(decode_msgpack(b"\x91\x01").is_err());
        assert!(decode_msgpack(b"\x81\xa4type\x09").is_err());
        assert!(decode_msgpack(b"\x81\xa4type\x02\x00").is_err());
        assert!(decode_msgpack(b"\xdd\xff\xff\xff\xff").is_err());
        let mut deep = vec![0x91u8; 10_000];
        deep.push(0xc0);
        assert!(decode_msgpack(&deep).is_err());
    }
}
