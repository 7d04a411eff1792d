//! Transcodes compact JSON text (as `serde_json` writes it) to the msgpack that
//! [`super::to_msgpack`] writes for the `Value` it parses to, without building the tree: the
//! wire half of "encode once" for the msgpack formats of Node's Redis adapter.
//!
//! The result is exact or absent: integers as the tree's (`u64` when not negative, `i64`
//! otherwise, the smallest msgpack form), every number with a fraction or an exponent as a
//! float64 (read with correct rounding, so a float `serde_json` wrote comes back as the same
//! `f64`), strings unescaped, arrays and maps with the smallest header for their length. It
//! declines (`None`) on anything it does not expect: whitespace, malformed text, an integer
//! beyond `u64`/`i64`, a lone surrogate escape, a repeated key. A placeholder-shaped object
//! stays an object, as in the tree path without attachments.

/// Appends the msgpack of the JSON `text` to `out`; `None` (with a partial write) where it
/// cannot be sure to write what the tree path writes.
pub fn json_to_msgpack(text: &str, out: &mut Vec<u8>) -> Option<()> {
    let mut reader = Reader { rest: text };
    reader.value(out)?;
    reader.rest.is_empty().then_some(())
}

/// Reads from a `&str`: every slice is cut at an ASCII delimiter, so no UTF-8 check is needed.
struct Reader<'a> {
    rest: &'a str,
}

impl<'a> Reader<'a> {
    fn peek(&self) -> Option<u8> {
        self.rest.as_bytes().first().copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        if self.peek() == Some(byte) {
            self.rest = &self.rest[1..];
            true
        } else {
            false
        }
    }

    fn literal(&mut self, word: &str) -> Option<()> {
        self.rest = self.rest.strip_prefix(word)?;
        Some(())
    }

    fn value(&mut self, out: &mut Vec<u8>) -> Option<()> {
        match self.peek()? {
            b'n' => {
                self.literal("null")?;
                out.push(0xc0);
            }
            b't' => {
                self.literal("true")?;
                out.push(0xc3);
            }
            b'f' => {
                self.literal("false")?;
                out.push(0xc2);
            }
            b'"' => {
                let s = self.string()?;
                write_str(out, &s);
            }
            b'[' => self.array(out)?,
            b'{' => self.object(out)?,
            b'-' | b'0'..=b'9' => self.number(out)?,
            _ => return None,
        }
        Some(())
    }

    fn number(&mut self, out: &mut Vec<u8>) -> Option<()> {
        let bytes = self.rest.as_bytes();
        let len = bytes
            .iter()
            .position(|b| !matches!(b, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'))
            .unwrap_or(bytes.len());
        let float = bytes[..len].iter().any(|b| matches!(b, b'.' | b'e' | b'E'));
        let (digits, rest) = self.rest.split_at(len);
        self.rest = rest;
        if float {
            let f: f64 = digits.parse().ok()?;
            // Writing into a Vec cannot fail.
            rmp::encode::write_f64(out, f).ok()?;
        } else if let Ok(u) = digits.parse::<u64>() {
            rmp::encode::write_uint(out, u).ok()?;
        } else {
            let i: i64 = digits.parse().ok()?;
            rmp::encode::write_sint(out, i).ok()?;
        }
        Some(())
    }

    /// A JSON string, unescaped; borrowed when it has no escapes.
    fn string(&mut self) -> Option<std::borrow::Cow<'a, str>> {
        self.rest = self.rest.strip_prefix('"')?;
        let end = self.rest.find(['"', '\\'])?;
        if self.rest.as_bytes()[end] == b'"' {
            let s = &self.rest[..end];
            self.rest = &self.rest[end + 1..];
            return Some(std::borrow::Cow::Borrowed(s));
        }
        let mut s = String::from(&self.rest[..end]);
        self.rest = &self.rest[end..];
        loop {
            let end = self.rest.find(['"', '\\'])?;
            s.push_str(&self.rest[..end]);
            let at = self.rest.as_bytes()[end];
            self.rest = &self.rest[end + 1..];
            if at == b'"' {
                return Some(std::borrow::Cow::Owned(s));
            }
            let escape = self.peek().filter(u8::is_ascii)?;
            self.rest = &self.rest[1..];
            s.push(match escape {
                b'"' => '"',
                b'\\' => '\\',
                b'/' => '/',
                b'b' => '\u{8}',
                b'f' => '\u{c}',
                b'n' => '\n',
                b'r' => '\r',
                b't' => '\t',
                b'u' => self.unicode()?,
                _ => return None,
            });
        }
    }

    /// The character of a `\u` escape (a surrogate pair takes two); `None` for a lone surrogate.
    fn unicode(&mut self) -> Option<char> {
        let high = self.hex4()?;
        if !(0xd800..0xdc00).contains(&high) {
            return char::from_u32(high);
        }
        self.literal("\\u")?;
        let low = self.hex4()?;
        if !(0xdc00..0xe000).contains(&low) {
            return None;
        }
        char::from_u32(0x10000 + ((high - 0xd800) << 10) + (low - 0xdc00))
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.rest.get(..4)?;
        let n = u32::from_str_radix(digits, 16).ok()?;
        self.rest = &self.rest[4..];
        Some(n)
    }

    fn array(&mut self, out: &mut Vec<u8>) -> Option<()> {
        self.rest = &self.rest[1..];
        let header = out.len();
        out.push(0x90);
        let mut n = 0usize;
        if !self.eat(b']') {
            loop {
                self.value(out)?;
                n += 1;
                if self.eat(b']') {
                    break;
                }
                self.literal(",")?;
            }
        }
        set_len(out, header, n, [0x90, 0xdc, 0xdd])
    }

    fn object(&mut self, out: &mut Vec<u8>) -> Option<()> {
        self.rest = &self.rest[1..];
        let header = out.len();
        out.push(0x80);
        let mut keys = Keys::default();
        if !self.eat(b'}') {
            loop {
                let key = self.string()?;
                let start = out.len();
                write_str(out, &key);
                keys.insert(out, start)?;
                self.literal(":")?;
                self.value(out)?;
                if self.eat(b'}') {
                    break;
                }
                self.literal(",")?;
            }
        }
        set_len(out, header, keys.count, [0x80, 0xde, 0xdf])
    }
}

/// Puts the header of a container of `n` entries at `header`, where one byte was reserved:
/// the fix form (`markers[0] | n`) below 16, else the 16- or 32-bit form, as `rmp` writes them.
fn set_len(out: &mut Vec<u8>, header: usize, n: usize, markers: [u8; 3]) -> Option<()> {
    if n < 16 {
        out[header] = markers[0] | u8::try_from(n).ok()?;
    } else if let Ok(n) = u16::try_from(n) {
        let [hi, lo] = n.to_be_bytes();
        out.splice(header..=header, [markers[1], hi, lo]);
    } else {
        let [a, b, c, d] = u32::try_from(n).ok()?.to_be_bytes();
        out.splice(header..=header, [markers[2], a, b, c, d]);
    }
    Some(())
}

/// How many keys of one object are compared one by one before a set of hashes takes over.
const LINEAR_KEYS: usize = 16;

/// The keys of one object so far, as places of their msgpack in the output: a repeated key
/// declines (it would keep its first place and take the last value in the tree), and so does,
/// very rarely, a collision of hashes beyond the first [`LINEAR_KEYS`].
#[derive(Default)]
struct Keys {
    places: [(usize, usize); LINEAR_KEYS],
    count: usize,
    hashes: Option<std::collections::HashSet<u64>>,
}

impl Keys {
    /// Takes the key written from `start` to the end of `out`; `None` if it was seen.
    fn insert(&mut self, out: &[u8], start: usize) -> Option<()> {
        let key = &out[start..];
        let fresh = if self.count < LINEAR_KEYS {
            let fresh = !self.places[..self.count]
                .iter()
                .any(|&(s, e)| &out[s..e] == key);
            self.places[self.count] = (start, out.len());
            fresh
        } else {
            let places = &self.places;
            let hashes = self
                .hashes
                .get_or_insert_with(|| places.iter().map(|&(s, e)| hash(&out[s..e])).collect());
            hashes.insert(hash(key))
        };
        self.count += 1;
        fresh.then_some(())
    }
}

fn hash(key: &[u8]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    key.hash(&mut hasher);
    hasher.finish()
}

/// A msgpack string, with the smallest header for its length (as `rmpv` writes one).
fn write_str(out: &mut Vec<u8>, s: &str) {
    // Writing into a Vec cannot fail.
    let _ = rmp::encode::write_str(out, s);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::to_msgpack;
    use serde_json::{Value, json};

    fn tree(value: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        rmpv::encode::write_value(&mut out, &to_msgpack(value, &[])).unwrap();
        out
    }

    #[test]
    fn writes_what_the_tree_path_writes() {
        let long: Vec<Value> = (0..70_000).map(Value::from).collect();
        let wide: serde_json::Map<String, Value> =
            (0..300).map(|i| (format!("k{i}"), json!(i))).collect();
        let cases = [
            json!(null),
            json!(true),
            json!([false, 0, -1, -32, -33, 127, 128, 255, 256, 65_535, 65_536]),
            json!([
                u64::MAX,
                i64::MIN,
                i64::MAX,
                -129,
                -32_769,
                4_294_967_296_u64
            ]),
            json!([
                0.5,
                -0.0,
                1.0,
                1e300,
                5e-324,
                0.1,
                1.7976931348623157e308,
                123456.789
            ]),
            json!([
                "",
                "a",
                "é€😀",
                "quote\" back\\ slash/ nl\n tab\t \u{1} \u{7f} \u{1f}"
            ]),
            json!("x".repeat(31)),
            json!("x".repeat(32)),
            json!("x".repeat(256)),
            json!("x".repeat(70_000)),
            json!({"z": 1, "a": [{}, []], "é": {"n": null}}),
            json!({"_placeholder": true, "num": 0}),
            Value::Array(long),
            Value::Object(wide),
            Value::Object((0..70_000).map(|i| (format!("{i}"), json!(i))).collect()),
        ];
        for case in cases {
            let text = serde_json::to_string(&case).unwrap();
            let mut out = Vec::new();
            json_to_msgpack(&text, &mut out).unwrap();
            assert_eq!(out, tree(&case), "{text}");
        }
    }

    #[test]
    fn escapes_other_than_serde_jsons_are_read_too() {
        let mut out = Vec::new();
        json_to_msgpack(r#"["\u00e9\ud83d\ude00\/\b\f\r"]"#, &mut out).unwrap();
        assert_eq!(out, tree(&json!(["é😀/\u{8}\u{c}\r"])));
    }

    #[test]
    fn a_key_repeated_among_many_declines() {
        for n in [1, 15, 16, 17, 40] {
            let keys: Vec<String> = (0..n).map(|i| format!("\"k{i}\":{i}")).collect();
            let text = format!("{{{},\"k0\":0}}", keys.join(","));
            assert!(json_to_msgpack(&text, &mut Vec::new()).is_none(), "{n}");
            let text = format!("{{{}}}", keys.join(","));
            assert!(json_to_msgpack(&text, &mut Vec::new()).is_some(), "{n}");
        }
    }

    #[test]
    fn declines_what_it_cannot_write_exactly() {
        for bad in [
            "",
            " 1",
            "[1 ]",
            "[1,]",
            "{\"a\":1,\"a\":2}",
            "18446744073709551616",
            "-9223372036854775809",
            "\"\\ud800\"",
            "\"\\x\"",
            "\"\\é\"",
            "[1]x",
            "nul",
            "\"abc",
            "é",
        ] {
            assert!(json_to_msgpack(bad, &mut Vec::new()).is_none(), "{bad}");
        }
    }
}
