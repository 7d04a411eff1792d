//! Session identifiers: 128 random bits, URL-safe base64 (22 characters), `Copy` and cheap to hash.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Number of characters in the text form of a [`Sid`].
const SID_LEN: usize = 22;
/// The shortest id accepted from elsewhere: Node's socket ids have 20 characters (a session
/// restored from a Node node keeps its id).
const MIN_SID_LEN: usize = 20;

/// An unguessable identifier of an Engine.IO session or a Socket.IO socket.
///
/// Made of 128 bits from the operating system's random source (122 of them random, as a v4
/// UUID), written as 22 URL-safe base64 characters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sid([u8; SID_LEN], u8);

impl Sid {
    /// A new random id.
    #[must_use]
    pub fn random() -> Self {
        let raw = uuid::Uuid::new_v4().into_bytes();
        let mut text = [0u8; SID_LEN];
        // 16 bytes always encode to exactly 22 characters without padding.
        let written = URL_SAFE_NO_PAD
            .encode_slice(raw, &mut text)
            .unwrap_or_default();
        debug_assert_eq!(written, SID_LEN);
        Sid(text, SID_LEN as u8)
    }

    /// The text form.
    #[must_use]
    pub fn as_str(&self) -> &str {
        // Only URL-safe base64 characters are ever stored, so this never fails.
        std::str::from_utf8(&self.0[..usize::from(self.1)]).unwrap_or_default()
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
        if !(MIN_SID_LEN..=SID_LEN).contains(&bytes.len())
            || !bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
        {
            return Err(InvalidSid);
        }
        let mut text = [0u8; SID_LEN];
        text[..bytes.len()].copy_from_slice(bytes);
        Ok(Sid(text, bytes.len() as u8))
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
        assert_eq!(a.as_str().len(), 22);
        assert_eq!(a.as_str().parse::<Sid>(), Ok(a));
    }

    #[test]
    fn rejects_non_ids() {
        assert!("".parse::<Sid>().is_err());
        assert!("abc".parse::<Sid>().is_err());
        assert!("aaaaaaaaaaaaaaaaaaa".parse::<Sid>().is_err());
        assert_eq!(
            "aaaaaaaaaaaaaaaaaaaa"
                .parse::<Sid>()
                .map(|s| s.to_string())
                .as_deref(),
            Ok("aaaaaaaaaaaaaaaaaaaa")
        );
        assert!("aaaaaaaaaaaaaaaaaaaaa/".parse::<Sid>().is_err());
        assert!("ééééééééééé".parse::<Sid>().is_err());
    }
}
