//! Serializes a user's value straight to the compact JSON text that the tree path writes
//! (`serde_json::to_value`, then serializing the `Value`), without building the tree: the
//! sending half of "encode once".
//!
//! The result is exact or absent. [`write_value_json`] writes byte for byte what the tree path
//! writes, and declines (`None`, with a partial output the caller discards) wherever it cannot be
//! sure of that, so that the caller takes the tree path, which decides (and returns its errors):
//!
//! - a key repeated in a map or a struct (the tree keeps its first place and its last value);
//! - a map key that is not a string, an integer, a unit variant, a `char` or a `bool` (floats
//!   and the rest: the tree formats or refuses them);
//! - an integer beyond `u64`/`i64` (the tree refuses it);
//! - serde_json's private structs (`RawValue`, arbitrary-precision numbers);
//! - any error of the value's own `Serialize`.
//!
//! Everything else follows the tree: `f32` widened to `f64` before it is written, NaN and the
//! infinities as `null`, bytes as an array of numbers, unit, `None` and unit structs as `null`,
//! enums externally tagged, key order as written (the workspace's `serde_json` keeps it).

use std::collections::HashSet;
use std::fmt;
use std::hash::{DefaultHasher, Hash, Hasher};

use serde::Serialize;
use serde::ser::{self, Impossible};

use super::transcode::{write_float, write_str};

/// Writes the JSON the tree path writes for `value` to `out`; `None` where the result might
/// differ (see the module documentation): `out` then holds a partial write.
pub(super) fn write_value_json<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Option<()> {
    value.serialize(Writer { out }).ok()
}

/// Not written: the tree path must decide.
#[derive(Debug)]
struct Decline;

impl fmt::Display for Decline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("left to the tree path")
    }
}

impl std::error::Error for Decline {}

impl ser::Error for Decline {
    fn custom<M: fmt::Display>(_msg: M) -> Self {
        Decline
    }
}

type Done = Result<(), Decline>;

struct Writer<'o> {
    out: &'o mut Vec<u8>,
}

/// An integer as `serde_json` writes one.
fn write_int<N: Serialize>(out: &mut Vec<u8>, n: N) {
    // Writing an integer into a Vec cannot fail.
    let _ = serde_json::to_writer(out, &n);
}

impl<'o> ser::Serializer for Writer<'o> {
    type Ok = ();
    type Error = Decline;
    type SerializeSeq = Seq<'o>;
    type SerializeTuple = Seq<'o>;
    type SerializeTupleStruct = Seq<'o>;
    type SerializeTupleVariant = Seq<'o>;
    type SerializeMap = Map<'o>;
    type SerializeStruct = Map<'o>;
    type SerializeStructVariant = Map<'o>;

    fn serialize_bool(self, v: bool) -> Done {
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Done {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i16(self, v: i16) -> Done {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i32(self, v: i32) -> Done {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i64(self, v: i64) -> Done {
        write_int(self.out, v);
        Ok(())
    }
    fn serialize_i128(self, v: i128) -> Done {
        if let Ok(v) = u64::try_from(v) {
            self.serialize_u64(v)
        } else if let Ok(v) = i64::try_from(v) {
            self.serialize_i64(v)
        } else {
            Err(Decline)
        }
    }
    fn serialize_u8(self, v: u8) -> Done {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u16(self, v: u16) -> Done {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u32(self, v: u32) -> Done {
        self.serialize_u64(u64::from(v))
    }
    fn serialize_u64(self, v: u64) -> Done {
        write_int(self.out, v);
        Ok(())
    }
    fn serialize_u128(self, v: u128) -> Done {
        u64::try_from(v)
            .map_err(|_| Decline)
            .and_then(|v| self.serialize_u64(v))
    }
    fn serialize_f32(self, v: f32) -> Done {
        // The tree keeps an `f32` as the `f64` it widens to.
        self.serialize_f64(f64::from(v))
    }
    fn serialize_f64(self, v: f64) -> Done {
        write_float(self.out, v);
        Ok(())
    }
    fn serialize_char(self, v: char) -> Done {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, v: &str) -> Done {
        write_str(self.out, v);
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Done {
        self.out.push(b'[');
        for (i, b) in v.iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            write_int(self.out, u64::from(*b));
        }
        self.out.push(b']');
        Ok(())
    }
    fn serialize_none(self) -> Done {
        self.serialize_unit()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Done {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Done {
        self.out.extend_from_slice(b"null");
        Ok(())
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Done {
        self.serialize_unit()
    }
    fn serialize_unit_variant(self, _name: &'static str, _i: u32, variant: &'static str) -> Done {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Done {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _i: u32,
        variant: &'static str,
        value: &T,
    ) -> Done {
        self.out.push(b'{');
        write_str(self.out, variant);
        self.out.push(b':');
        value.serialize(Writer {
            out: &mut *self.out,
        })?;
        self.out.push(b'}');
        Ok(())
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Seq<'o>, Decline> {
        Ok(Seq::open(self.out, false))
    }
    fn serialize_tuple(self, len: usize) -> Result<Seq<'o>, Decline> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<Seq<'o>, Decline> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _i: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Seq<'o>, Decline> {
        open_variant(self.out, variant);
        Ok(Seq::open(self.out, true))
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Map<'o>, Decline> {
        Ok(Map::open(self.out, false))
    }
    fn serialize_struct(self, name: &'static str, _len: usize) -> Result<Map<'o>, Decline> {
        if name.starts_with("$serde_json::private::") {
            // `RawValue` or an arbitrary-precision number: the tree reads them its own way.
            return Err(Decline);
        }
        Ok(Map::open(self.out, false))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _i: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Map<'o>, Decline> {
        open_variant(self.out, variant);
        Ok(Map::open(self.out, true))
    }
}

/// `{"variant":` of an externally tagged variant with content.
fn open_variant(out: &mut Vec<u8>, variant: &str) {
    out.push(b'{');
    write_str(out, variant);
    out.push(b':');
}

/// An array being written (in a variant's object when `variant`).
struct Seq<'o> {
    out: &'o mut Vec<u8>,
    first: bool,
    variant: bool,
}

impl<'o> Seq<'o> {
    fn open(out: &'o mut Vec<u8>, variant: bool) -> Self {
        out.push(b'[');
        Seq {
            out,
            first: true,
            variant,
        }
    }

    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Done {
        if !std::mem::take(&mut self.first) {
            self.out.push(b',');
        }
        value.serialize(Writer {
            out: &mut *self.out,
        })
    }

    fn close(self) -> Done {
        self.out.push(b']');
        if self.variant {
            self.out.push(b'}');
        }
        Ok(())
    }
}

impl ser::SerializeSeq for Seq<'_> {
    type Ok = ();
    type Error = Decline;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Done {
        self.element(value)
    }
    fn end(self) -> Done {
        self.close()
    }
}

impl ser::SerializeTuple for Seq<'_> {
    type Ok = ();
    type Error = Decline;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Done {
        self.element(value)
    }
    fn end(self) -> Done {
        self.close()
    }
}

impl ser::SerializeTupleStruct for Seq<'_> {
    type Ok = ();
    type Error = Decline;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Done {
        self.element(value)
    }
    fn end(self) -> Done {
        self.close()
    }
}

impl ser::SerializeTupleVariant for Seq<'_> {
    type Ok = ();
    type Error = Decline;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Done {
        self.element(value)
    }
    fn end(self) -> Done {
        self.close()
    }
}

/// How many keys of one object are compared one by one before a set of hashes takes over.
const LINEAR_KEYS: usize = 16;

/// An object being written (in a variant's object when `variant`), with its keys so far: the
/// first [`LINEAR_KEYS`] as their places in `out`, compared byte for byte; beyond, their hashes.
/// A key seen before declines (a repeated key, or, very rarely, a hash collision: the tree path
/// then writes the object all the same).
struct Map<'o> {
    out: &'o mut Vec<u8>,
    /// Where each of the first keys (escaped, quotes included) is in `out`.
    places: [(usize, usize); LINEAR_KEYS],
    count: usize,
    hashes: Option<HashSet<u64>>,
    variant: bool,
}

fn hash(key: &[u8]) -> u64 {
    let mut hasher = DefaultHasher::new();
    key.hash(&mut hasher);
    hasher.finish()
}

impl<'o> Map<'o> {
    fn open(out: &'o mut Vec<u8>, variant: bool) -> Self {
        out.push(b'{');
        Map {
            out,
            places: [(0, 0); LINEAR_KEYS],
            count: 0,
            hashes: None,
            variant,
        }
    }

    /// Writes `:` after the key written (escaped) from `start` on, unless it was seen.
    fn seen(&mut self, start: usize) -> Done {
        let key = &self.out[start..];
        let repeated = if self.count < LINEAR_KEYS {
            let repeated = self.places[..self.count]
                .iter()
                .any(|&(s, e)| &self.out[s..e] == key);
            self.places[self.count] = (start, self.out.len());
            repeated
        } else {
            let hashes = self.hashes.get_or_insert_with(|| {
                let out = &*self.out;
                self.places.iter().map(|&(s, e)| hash(&out[s..e])).collect()
            });
            !hashes.insert(hash(&self.out[start..]))
        };
        self.count += 1;
        if repeated {
            return Err(Decline);
        }
        self.out.push(b':');
        Ok(())
    }

    fn comma(&mut self) {
        if self.count > 0 {
            self.out.push(b',');
        }
    }

    fn close(self) -> Done {
        self.out.push(b'}');
        if self.variant {
            self.out.push(b'}');
        }
        Ok(())
    }
}

impl ser::SerializeMap for Map<'_> {
    type Ok = ();
    type Error = Decline;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Done {
        self.comma();
        let start = self.out.len();
        key.serialize(Key {
            out: &mut *self.out,
        })?;
        self.seen(start)
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Done {
        value.serialize(Writer {
            out: &mut *self.out,
        })
    }
    fn end(self) -> Done {
        self.close()
    }
}

impl ser::SerializeStruct for Map<'_> {
    type Ok = ();
    type Error = Decline;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Done {
        self.comma();
        let start = self.out.len();
        write_str(self.out, key);
        self.seen(start)?;
        value.serialize(Writer {
            out: &mut *self.out,
        })
    }
    fn end(self) -> Done {
        self.close()
    }
}

impl ser::SerializeStructVariant for Map<'_> {
    type Ok = ();
    type Error = Decline;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, value: &T) -> Done {
        ser::SerializeStruct::serialize_field(self, key, value)
    }
    fn end(self) -> Done {
        self.close()
    }
}

/// Writes a map key as the tree's key serializer makes it a string; declines for the keys it
/// does not make exactly the same way.
struct Key<'o> {
    out: &'o mut Vec<u8>,
}

impl Key<'_> {
    fn quoted<N: Serialize>(self, digits: N) -> Done {
        self.out.push(b'"');
        write_int(self.out, digits);
        self.out.push(b'"');
        Ok(())
    }
}

impl ser::Serializer for Key<'_> {
    type Ok = ();
    type Error = Decline;
    type SerializeSeq = Impossible<(), Decline>;
    type SerializeTuple = Impossible<(), Decline>;
    type SerializeTupleStruct = Impossible<(), Decline>;
    type SerializeTupleVariant = Impossible<(), Decline>;
    type SerializeMap = Impossible<(), Decline>;
    type SerializeStruct = Impossible<(), Decline>;
    type SerializeStructVariant = Impossible<(), Decline>;

    fn serialize_str(self, v: &str) -> Done {
        write_str(self.out, v);
        Ok(())
    }
    fn serialize_char(self, v: char) -> Done {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_bool(self, v: bool) -> Done {
        self.serialize_str(if v { "true" } else { "false" })
    }
    fn serialize_i8(self, v: i8) -> Done {
        self.quoted(i64::from(v))
    }
    fn serialize_i16(self, v: i16) -> Done {
        self.quoted(i64::from(v))
    }
    fn serialize_i32(self, v: i32) -> Done {
        self.quoted(i64::from(v))
    }
    fn serialize_i64(self, v: i64) -> Done {
        self.quoted(v)
    }
    fn serialize_u8(self, v: u8) -> Done {
        self.quoted(u64::from(v))
    }
    fn serialize_u16(self, v: u16) -> Done {
        self.quoted(u64::from(v))
    }
    fn serialize_u32(self, v: u32) -> Done {
        self.quoted(u64::from(v))
    }
    fn serialize_u64(self, v: u64) -> Done {
        self.quoted(v)
    }
    fn serialize_unit_variant(self, _name: &'static str, _i: u32, variant: &'static str) -> Done {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Done {
        value.serialize(self)
    }

    // Everything below: the tree formats it its own way, or refuses it.
    fn serialize_i128(self, _v: i128) -> Done {
        Err(Decline)
    }
    fn serialize_u128(self, _v: u128) -> Done {
        Err(Decline)
    }
    fn serialize_f32(self, _v: f32) -> Done {
        Err(Decline)
    }
    fn serialize_f64(self, _v: f64) -> Done {
        Err(Decline)
    }
    fn serialize_bytes(self, _v: &[u8]) -> Done {
        Err(Decline)
    }
    fn serialize_none(self) -> Done {
        Err(Decline)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _value: &T) -> Done {
        Err(Decline)
    }
    fn serialize_unit(self) -> Done {
        Err(Decline)
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Done {
        Err(Decline)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _i: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Done {
        Err(Decline)
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, Decline> {
        Err(Decline)
    }
    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, Decline> {
        Err(Decline)
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, Decline> {
        Err(Decline)
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _i: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, Decline> {
        Err(Decline)
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, Decline> {
        Err(Decline)
    }
    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, Decline> {
        Err(Decline)
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _i: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, Decline> {
        Err(Decline)
    }
}
