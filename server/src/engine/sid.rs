//! Session identifiers: 120 random bits, URL-safe base64 (20 characters, the length of Node's
//! ids, which Node's sharded Redis adapter relies on to tell socket ids from room names),
//! `Copy` and cheap to hash.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Number of characters in the text form of a [`Sid`].
const SID_LEN: usize = 20;

/// An unguessable identifier of an Engine.IO session or a Socket.IO socket.
///
/// Made of 120 random bits from the operating system's random source (the random bytes of
/// two v4 UUIDs), written as 20 URL-safe base64 characters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sid([u8; SID_LEN]);

impl Sid {
    /// A new random id.
    #[must_use]
    pub fn random() -> Self {
        let (a, b) = (
            uuid::Uuid::new_v4().into_bytes(),
            uuid::Uuid::new_v4().into_bytes(),
        );
        // A v4 UUID's bytes 6 and 8 hold fixed version and variant bits: skip them.
        let mut raw = [0u8; 15];
        raw[..6].copy_from_slice(&a[..6]);
        raw[6..13].copy_from_slice(&a[9..]);
        raw[13..].copy_from_slice(&b[..2]);
        let mut text = [0u8; SID_LEN];
        // 15 bytes always encode to exactly 20 characters without padding.
        let written = URL_SAFE_NO_PAD
            .encode_slice(raw, &mut text)
            .unwrap_or_default();
        debug_assert_eq!(written, SID_LEN);
        Sid(text)
    }

    /// The text form.
    #[must_use]
    pub fn as_str(&self) -> &str {
        // Only URL-safe base64 characters are ever stored, so this never fails.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// The error of parsing a [`Sid`] from text that is not one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a session id")]
pub struct InvalidSid;

impl FromStr for Sid {
    type Err = InvalidSid;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = s.as_bytes();
        if bytes.len() != SID_LEN
            || !bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
        {
            return Err(InvalidSid);
        }
        let mut text = [0u8; SID_LEN];
        text.copy_from_slice(bytes);
        Ok(Sid(text))
    }
}

impl fmt::Display for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sid({})", self.as_str())
    }
}

impl serde::Serialize for Sid {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_ids_round_trip_and_differ() {
        let a = Sid::random();
        let b = Sid::random();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 20);
        assert_eq!(a.as_str().parse::<Sid>(), Ok(a));
    }

    #[test]
    fn rejects_non_ids() {
        assert!("".parse::<Sid>().is_err());
        assert!("abc".parse::<Sid>().is_err());
        assert!("aaaaaaaaaaaaaaaaaaaaa/".parse::<Sid>().is_err());
        assert!("ééééééééééé".parse::<Sid>().is_err());
    }
}
