//! The `socket.io-msgpack-parser` format: each packet is one msgpack map
//! `{type, data, nsp, id?}` sent as a binary message, with binary blobs inline.

use bytes::Bytes;
use rmpv::Value as Mp;
use serde_json::Value;

use super::packet::{Packet, PacketType, ParseError, placeholder};

/// The deepest nesting accepted in a msgpack packet (the same bound as the JSON parser's).
const MAX_DEPTH: usize = 128;

/// Encodes a packet; attachments go back inline where their placeholders are.
#[must_use]
pub fn encode_msgpack(packet: &Packet) -> Bytes {
    let mut fields = Vec::with_capacity(4);
    fields.push((Mp::from("type"), Mp::from(packet.kind.base() as u8)));
    if let Some(data) = &packet.data {
        fields.push((Mp::from("data"), to_msgpack(data, &packet.attachments)));
    }
    fields.push((Mp::from("nsp"), Mp::from(packet.nsp.as_str())));
    if let Some(id) = packet.id {
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

/// Converts msgpack data to JSON, moving binary blobs to `attachments` behind placeholders.
/// A timestamp (a JavaScript `Date` from `notepack.io`) becomes its ISO 8601 string, as
/// `JSON.stringify` writes a `Date`; other extension values become `null`; non-string map keys
/// are stringified.
pub fn from_msgpack(value: Mp, attachments: &mut Vec<Bytes>) -> Value {
    match value {
        Mp::Ext(super::date::TIMESTAMP_EXT, data) => super::date::timestamp_millis(&data)
            .map_or(Value::Null, |ms| Value::String(super::date::iso_date(ms))),
        Mp::Nil | Mp::Ext(..) => Value::Null,
        Mp::Boolean(b) => Value::Bool(b),
        Mp::Integer(i) => i
            .as_u64()
            .map(Value::from)
            .or_else(|| i.as_i64().map(Value::from))
            .unwrap_or(Value::Null),
        Mp::F32(f) => serde_json::Number::from_f64(f64::from(f)).map_or(Value::Null, Value::Number),
        Mp::F64(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        Mp::String(s) => Value::String(s.into_str().unwrap_or_default()),
        Mp::Binary(b) => {
            let ph = placeholder(attachments.len());
            attachments.push(Bytes::from(b));
            ph
        }
        Mp::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|v| from_msgpack(v, attachments))
                .collect(),
        ),
        Mp::Map(entries) => Value::Object(
            entries
                .into_iter()
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

/// Decodes one msgpack packet.
pub fn decode_msgpack(bytes: &[u8]) -> Result<Packet, ParseError> {
    if bytes.is_empty() {
        return Err(ParseError::Empty);
    }
    let mut reader = bytes;
    let value = rmpv::decode::read_value_with_max_depth(&mut reader, MAX_DEPTH)
        .map_err(|_| ParseError::InvalidData)?;
    if !reader.is_empty() {
        return Err(ParseError::InvalidData);
    }
    let Mp::Map(entries) = value else {
        return Err(ParseError::InvalidData);
    };
    let mut kind = None;
    let mut nsp = None;
    let mut data = None;
    let mut id = None;
    let mut attachments = Vec::new();
    for (key, value) in entries {
        match key.as_str() {
            Some("type") => {
                kind = value
                    .as_u64()
                    .and_then(|n| u8::try_from(n).ok())
                    .and_then(PacketType::from_u8);
                if kind.is_none() {
                    return Err(ParseError::UnknownType);
                }
            }
            Some("nsp") => {
                nsp = Some(
                    value
                        .as_str()
                        .ok_or(ParseError::InvalidNamespace)?
                        .to_owned(),
                );
            }
            Some("data") => data = Some(from_msgpack(value, &mut attachments)),
            Some("id") => match value {
                Mp::Nil => {}
                other => id = Some(other.as_u64().ok_or(ParseError::InvalidHeader)?),
            },
            _ => {}
        }
    }
    let packet = Packet {
        kind: kind.ok_or(ParseError::UnknownType)?.base(),
        nsp: nsp.unwrap_or_else(|| "/".to_owned()),
        data,
        id,
        attachments,
    };
    Ok(packet)
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

    #[test]
    fn malformed_input_is_an_error() {
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
