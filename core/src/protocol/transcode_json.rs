//! Reads a JSON packet `{type, data, nsp, id?}` (as Node's sharded Redis adapter carries it in
//! its JSON messages) straight into the Socket.IO JSON text frame, without building a
//! `serde_json::Value` tree: the JSON twin of [`super::msgpack_packet_to_json_frame`].
//!
//! [`PacketFrame`] deserializes from the packet's object (inside a larger message, with the
//! same deserializer and so the same nesting limit) and holds byte for byte the frame that the
//! tree path writes (parsing into `Value`, the packet checks, then [`super::encode_json`]), or
//! nothing when the packet is one the frame cannot stand for (not an event or an ack, data the
//! checks refuse). Where the tree would differ in a way a frame cannot follow (a key repeated in
//! a map: the tree keeps its first place and last value; a `_placeholder` key: perhaps a
//! placeholder naming no attachment), deserializing fails, and the caller takes the tree path.
//! `type` and `nsp` are read typed (a non-negative integer; a string or `null`): another type
//! fails too, and the caller's tree path decides. Fields the frame does not use are read as
//! `Value` all the same, so that whatever the tree refuses in them (a string that is not UTF-8,
//! a number out of range) fails here too.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::transcode::{assemble, write_float, write_str};
use crate::engine::Frame;

/// A JSON packet as its frame: `Some((nsp, frame))` for an event or ack the packet checks
/// accept, `None` for another packet.
#[derive(Debug, Clone)]
pub struct PacketFrame(pub Option<(String, Frame)>);

impl<'de> de::Deserialize<'de> for PacketFrame {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(PacketVisitor)
    }
}

struct PacketVisitor;

impl<'de> Visitor<'de> for PacketVisitor {
    type Value = PacketFrame;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a packet object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PacketFrame, A::Error> {
        let (mut kind, mut nsp, mut id, mut data) = (None, None, None, None);
        while let Some(key) = map.next_key_seed(Key)? {
            let repeated = match key.as_ref() {
                // Typed reads: another type fails, and the tree path decides.
                "type" => kind.replace(map.next_value::<u64>()?).is_some(),
                "nsp" => nsp.replace(map.next_value::<Option<String>>()?).is_some(),
                "id" => id.replace(map.next_value::<Value>()?).is_some(),
                "data" => {
                    let mut out = Vec::with_capacity(64);
                    map.next_value_seed(Compact { out: &mut out })?;
                    data.replace(out).is_some()
                }
                _ => {
                    // Read as the tree reads it (UTF-8 and number range checked), then dropped.
                    map.next_value::<Value>()?;
                    false
                }
            };
            if repeated {
                return Err(de::Error::custom("repeated packet field"));
            }
        }
        let (Some(kind), Some(data)) = (kind, data) else {
            return Ok(PacketFrame(None));
        };
        let id = id.as_ref().and_then(Value::as_u64);
        Ok(PacketFrame(assemble(kind, nsp.flatten(), id, data)))
    }
}

/// A map key, borrowed from the input when it has no escapes.
struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string key")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
}

/// Writes the compact JSON of the value it deserializes, as a `Value` of it would serialize.
struct Compact<'o> {
    out: &'o mut Vec<u8>,
}

impl<'de> DeserializeSeed<'de> for Compact<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Compact<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JSON")
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.out
            .extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
        Ok(())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.out
            .extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        write_float(self.out, v);
        Ok(())
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        write_str(self.out, v);
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.out.push(b'[');
        let mut first = true;
        loop {
            if !first {
                self.out.push(b',');
            }
            if seq
                .next_element_seed(Compact {
                    out: &mut *self.out,
                })?
                .is_none()
            {
                if !first {
                    self.out.pop();
                }
                break;
            }
            first = false;
        }
        self.out.push(b']');
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.out.push(b'{');
        let mut keys: Vec<Cow<'de, str>> = Vec::new();
        while let Some(key) = map.next_key_seed(Key)? {
            if key == "_placeholder" {
                return Err(de::Error::custom("placeholder-shaped map"));
            }
            if !keys.is_empty() {
                self.out.push(b',');
            }
            write_str(self.out, &key);
            self.out.push(b':');
            keys.push(key);
            map.next_value_seed(Compact {
                out: &mut *self.out,
            })?;
        }
        self.out.push(b'}');
        keys.sort_unstable();
        if keys.windows(2).any(|w| w[0] == w[1]) {
            return Err(de::Error::custom("repeated key"));
        }
        Ok(())
    }
}
