//! Reads a msgpack packet `{type, data, nsp, id?}` (as Node's Redis adapter carries it) straight
//! into the Socket.IO JSON text frame a client of the default parser receives, without building a
//! `serde_json::Value` tree: the receiving half of "encode once" for cluster broadcasts.
//!
//! The result is exact or absent. [`msgpack_packet_to_json_frame`] writes byte for byte the frame
//! that the tree path writes (`rmpv` + [`super::from_msgpack`], the packet checks, then
//! [`super::encode_json`]) and declines (`None`) whenever it cannot be sure of that: binary (bin,
//! or an extension that is not `undefined` or a timestamp: those become attachments), a string
//! or key that is not UTF-8, a map key that is not a string, a repeated map key, a packet that is not an event or an ack, data the
//! packet checks would refuse, nesting deeper than 100, malformed msgpack. The caller
//! then takes the tree path, which decides.

use super::json::write_header;
use super::msgpack::timestamp;
use super::packet::PacketType;
use crate::engine::{Frame, Text};

/// The deepest nesting of `data` the transcoder follows (below what the tree path accepts for a
/// whole Redis message, so anything deeper is left to it).
const MAX_DEPTH: usize = 100;

/// An event or ack packet read from msgpack, already encoded as its JSON text frame.
#[derive(Debug, Clone)]
pub struct JsonFrame {
    /// The packet's namespace.
    pub nsp: String,
    /// The frame (`4` + `2` or `3` + `nsp,` unless `/` + ack id + JSON data).
    pub frame: Frame,
    /// How many bytes of the input the packet took.
    pub consumed: usize,
}

/// Transcodes the msgpack packet map at the start of `bytes` (more may follow: see
/// [`JsonFrame::consumed`]) into its JSON text frame; `None` whenever the result might differ
/// from the tree path's (see the module doc), and on malformed input.
#[must_use]
pub fn msgpack_packet_to_json_frame(bytes: &[u8]) -> Option<JsonFrame> {
    let mut r = Reader { rest: bytes };
    let fields = r.map_len()?;
    let (mut kind, mut nsp, mut id, mut data) = (None, None, None, None);
    let mut seen = [false; 4];
    for _ in 0..fields {
        let key = r.str()?;
        let slot = match key {
            "type" => 0,
            "data" => 1,
            "nsp" => 2,
            "id" => 3,
            _ => {
                // Another field (socket.io-client sends `options`) is ignored, unless it holds
                // binary, which would become an attachment.
                r.value(&mut Vec::new(), 0)?;
                continue;
            }
        };
        if std::mem::replace(&mut seen[slot], true) {
            return None;
        }
        if r.undefined() {
            // An `undefined` field is an absent one.
            seen[slot] = false;
            continue;
        }
        match slot {
            0 => kind = Some(r.uint()?),
            1 => {
                let mut out = Vec::with_capacity(64);
                r.value(&mut out, 0)?;
                data = Some(out);
            }
            2 => nsp = r.nsp()?,
            _ => id = r.id()?,
        }
    }
    let (nsp, frame) = assemble(kind?, nsp, id, data?)?;
    Some(JsonFrame {
        nsp,
        frame,
        consumed: bytes.len() - r.rest.len(),
    })
}

/// The frame of a packet of type `kind` (the wire's number), namespace `nsp` (`/` when
/// absent), ack id `id` and JSON `data`, with the packet checks of the tree path: an event's
/// data is an array led by a string or a number, an ack's an array, the namespace starts with
/// `/`; `None` for any other packet.
pub(super) fn assemble(
    kind: u64,
    nsp: Option<String>,
    id: Option<u64>,
    data: Vec<u8>,
) -> Option<(String, Frame)> {
    let kind = match kind {
        2 | 5 => PacketType::Event,
        3 | 6 => PacketType::Ack,
        _ => return None,
    };
    if data.first() != Some(&b'[')
        || (kind == PacketType::Event && !matches!(data.get(1), Some(b'"' | b'-' | b'0'..=b'9')))
    {
        return None;
    }
    let nsp = nsp.unwrap_or_else(|| "/".to_owned());
    if !nsp.starts_with('/') {
        return None;
    }
    let mut text = String::with_capacity(data.len() + nsp.len() + 24);
    write_header(&mut text, kind, 0, &nsp, id);
    // The transcoders write only JSON built from UTF-8 strings.
    text.push_str(std::str::from_utf8(&data).ok()?);
    Some((nsp, Frame::Text(Text::from(text))))
}

/// A msgpack reader over a byte slice; every read checks its length against what is left.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.rest.len() {
            return None;
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Some(head)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    fn byte(&mut self) -> Option<u8> {
        Some(self.array::<1>()?[0])
    }

    /// A big-endian length of `width` bytes (1, 2 or 4).
    fn len(&mut self, width: u8) -> Option<usize> {
        let n = match width {
            1 => u32::from(self.byte()?),
            2 => u32::from(u16::from_be_bytes(self.array()?)),
            _ => u32::from_be_bytes(self.array()?),
        };
        usize::try_from(n).ok()
    }

    fn map_len(&mut self) -> Option<usize> {
        match self.byte()? {
            m @ 0x80..=0x8f => Some(usize::from(m & 0x0f)),
            0xde => self.len(2),
            0xdf => self.len(4),
            _ => None,
        }
    }

    /// The length of a string whose marker is `m`, `None` if `m` is not a string's.
    fn str_len(&mut self, m: u8) -> Option<usize> {
        match m {
            0xa0..=0xbf => Some(usize::from(m & 0x1f)),
            0xd9 => self.len(1),
            0xda => self.len(2),
            0xdb => self.len(4),
            _ => None,
        }
    }

    /// A UTF-8 string.
    fn str(&mut self) -> Option<&'a str> {
        let m = self.byte()?;
        let n = self.str_len(m)?;
        std::str::from_utf8(self.take(n)?).ok()
    }

    /// Consumes notepack's `undefined` if it is next: an extension of type 0 holding the one
    /// byte 0 (fixext 1 or ext 8, which the tree path does not tell apart).
    fn undefined(&mut self) -> bool {
        let len = match self.rest {
            [0xd4, 0x00, 0x00, ..] => 3,
            [0xc7, 0x01, 0x00, 0x00, ..] => 4,
            _ => return false,
        };
        self.rest = &self.rest[len..];
        true
    }

    /// An integer as the tree path reads one: `Some(n)` if it is one and not negative.
    fn int(&mut self) -> Option<Result<u64, i64>> {
        let m = self.byte()?;
        Some(match m {
            0x00..=0x7f => Ok(u64::from(m)),
            0xe0..=0xff => Err(i64::from(i8::from_be_bytes([m]))),
            0xcc => Ok(u64::from(self.byte()?)),
            0xcd => Ok(u64::from(u16::from_be_bytes(self.array()?))),
            0xce => Ok(u64::from(u32::from_be_bytes(self.array()?))),
            0xcf => Ok(u64::from_be_bytes(self.array()?)),
            0xd0 => signed(i64::from(i8::from_be_bytes(self.array()?))),
            0xd1 => signed(i64::from(i16::from_be_bytes(self.array()?))),
            0xd2 => signed(i64::from(i32::from_be_bytes(self.array()?))),
            0xd3 => signed(i64::from_be_bytes(self.array()?)),
            _ => return None,
        })
    }

    /// The packet type: a non-negative integer.
    fn uint(&mut self) -> Option<u64> {
        self.int()?.ok()
    }

    /// The namespace field: a string, or nil (`/`).
    fn nsp(&mut self) -> Option<Option<String>> {
        if self.rest.first() == Some(&0xc0) {
            self.rest = &self.rest[1..];
            return Some(None);
        }
        self.str().map(|s| Some(s.to_owned()))
    }

    /// The ack id field: a non-negative integer is the id; nil, a negative integer, a float, a
    /// boolean or a string is no id (the tree path reads only a `u64`); anything else declines.
    fn id(&mut self) -> Option<Option<u64>> {
        let m = *self.rest.first()?;
        match m {
            0xc0 | 0xc2 | 0xc3 => {
                self.rest = &self.rest[1..];
                Some(None)
            }
            0xca => self.take(5).map(|_| None),
            0xcb => self.take(9).map(|_| None),
            0xa0..=0xbf | 0xd9..=0xdb => self.str().map(|_| None),
            _ => Some(self.int()?.ok()),
        }
    }

    /// Writes the JSON of the next value to `out`, as the tree path would serialize it.
    fn value(&mut self, out: &mut Vec<u8>, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        let m = *self.rest.first()?;
        match m {
            0xc0 => {
                self.rest = &self.rest[1..];
                out.extend_from_slice(b"null");
            }
            0xc2 | 0xc3 => {
                self.rest = &self.rest[1..];
                out.extend_from_slice(if m == 0xc3 { b"true" } else { b"false" });
            }
            0xca => {
                self.rest = &self.rest[1..];
                write_float(out, f64::from(f32::from_be_bytes(self.array()?)));
            }
            0xcb => {
                self.rest = &self.rest[1..];
                write_float(out, f64::from_be_bytes(self.array()?));
            }
            0xa0..=0xbf | 0xd9..=0xdb => write_str(out, self.str()?),
            0x90..=0x9f | 0xdc | 0xdd => {
                self.rest = &self.rest[1..];
                let n = match m {
                    0xdc => self.len(2)?,
                    0xdd => self.len(4)?,
                    _ => usize::from(m & 0x0f),
                };
                self.list(out, n, depth)?;
            }
            0x80..=0x8f | 0xde | 0xdf => {
                let n = self.map_len()?;
                self.map(out, n, depth)?;
            }
            0xd4..=0xd8 | 0xc7..=0xc9 => self.ext(out)?,
            // bin (an attachment), and the marker msgpack never uses.
            0xc1 | 0xc4..=0xc6 => return None,
            _ => match self.int()? {
                Ok(n) => out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes()),
                Err(n) => out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes()),
            },
        }
        Some(())
    }

    /// An extension: `undefined` (in an array: `null`) or a timestamp (its ISO string, or `null`
    /// out of a JavaScript date's range); any other is binary and declines.
    fn ext(&mut self, out: &mut Vec<u8>) -> Option<()> {
        if self.undefined() {
            out.extend_from_slice(b"null");
            return Some(());
        }
        let m = self.byte()?;
        let n = match m {
            0xd4..=0xd8 => 1usize << (m - 0xd4),
            0xc7 => self.len(1)?,
            0xc8 => self.len(2)?,
            _ => self.len(4)?,
        };
        let kind = i8::from_be_bytes(self.array()?);
        let date = timestamp(kind, self.take(n)?)?;
        // A date is a string or null: serializing it cannot fail.
        serde_json::to_writer(out, &date).ok()
    }

    fn list(&mut self, out: &mut Vec<u8>, n: usize, depth: usize) -> Option<()> {
        out.push(b'[');
        for i in 0..n {
            if i > 0 {
                out.push(b',');
            }
            self.value(out, depth + 1)?;
        }
        out.push(b']');
        Some(())
    }

    /// A map: string keys, each once; an `undefined` value leaves its key out.
    fn map(&mut self, out: &mut Vec<u8>, n: usize, depth: usize) -> Option<()> {
        // Every entry takes at least two bytes: a claimed length cannot allocate more than that.
        let mut keys: Vec<&str> = Vec::with_capacity(n.min(self.rest.len() / 2));
        out.push(b'{');
        for _ in 0..n {
            let key = self.str()?;
            if key == "_placeholder" {
                // Perhaps a placeholder naming no attachment, which the packet checks refuse.
                return None;
            }
            if self.undefined() {
                continue;
            }
            if !keys.is_empty() {
                out.push(b',');
            }
            keys.push(key);
            write_str(out, key);
            out.push(b':');
            self.value(out, depth + 1)?;
        }
        out.push(b'}');
        // A repeated key would keep its first place and take the last value in the tree.
        keys.sort_unstable();
        if keys.windows(2).any(|w| w[0] == w[1]) {
            return None;
        }
        Some(())
    }
}

/// A signed msgpack integer as the tree path reads it: non-negative ones as unsigned.
fn signed(n: i64) -> Result<u64, i64> {
    u64::try_from(n).map_err(|_| n)
}

/// A float as `serde_json` writes a `Value` number made from it (`null` for NaN and infinities).
pub(super) fn write_float(out: &mut Vec<u8>, f: f64) {
    if f.is_finite() {
        // Writing a finite float into a Vec cannot fail.
        let _ = serde_json::to_writer(out, &f);
    } else {
        out.extend_from_slice(b"null");
    }
}

/// A JSON string, escaped as `serde_json` escapes one.
pub(super) fn write_str(out: &mut Vec<u8>, s: &str) {
    // Writing a string into a Vec cannot fail.
    let _ = serde_json::to_writer(out, s);
}
