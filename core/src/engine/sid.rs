//! Session identifiers: 22 URL-safe base64 characters, `Copy` and cheap to hash; either 128
//! random bits, or a node's 4-character [`NodeTag`] followed by 104 random bits, so that any node
//! of a cluster can tell which node owns a session.

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

    /// A new id owned by the node `tag`: the tag's 4 characters, then 18 random characters
    /// (104 bits from the operating system's random source: the last character of a 128-bit
    /// encoding carries 2 bits).
    #[must_use]
    pub fn tagged(tag: NodeTag) -> Self {
        let mut sid = Sid::random();
        // Characters 8 and 10 hold a v4 UUID's fixed version and variant bits (bits 48..52 and
        // 64..66): draw those two from a second id's fully random first characters.
        let extra = Sid::random();
        sid.0[..TAG_LEN].copy_from_slice(&tag.0);
        sid.0[8] = extra.0[0];
        sid.0[10] = extra.0[1];
        sid
    }

    /// The owner tag of a tagged id: its first 4 characters (any id has them; an untagged id's
    /// "tag" is random and names no node).
    #[must_use]
    pub fn tag(&self) -> NodeTag {
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&self.0[..TAG_LEN]);
        NodeTag(tag)
    }

    /// The text form.
    #[must_use]
    pub fn as_str(&self) -> &str {
        // Only URL-safe base64 characters are ever stored, so this never fails.
        std::str::from_utf8(&self.0[..usize::from(self.1)]).unwrap_or_default()
    }
}

/// Number of characters of a [`NodeTag`].
const TAG_LEN: usize = 4;

/// The short name of a node that prefixes the ids of the sessions it owns: 4 URL-safe base64
/// characters (24 bits), random per process.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeTag([u8; TAG_LEN]);

impl NodeTag {
    /// A new random tag.
    #[must_use]
    pub fn random() -> Self {
        Sid::random().tag()
    }

    /// The text form.
    #[must_use]
    pub fn as_str(&self) -> &str {
        // Only URL-safe base64 characters are ever stored, so this never fails.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl FromStr for NodeTag {
    type Err = InvalidSid;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = s.as_bytes();
        if bytes.len() != TAG_LEN || !bytes.iter().all(|b| is_id_char(*b)) {
            return Err(InvalidSid);
        }
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(bytes);
        Ok(NodeTag(tag))
    }
}

impl fmt::Display for NodeTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for NodeTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeTag({})", self.as_str())
    }
}

fn is_id_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// The error of parsing a [`Sid`] from text that is not one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a session id")]
pub struct InvalidSid;

impl FromStr for Sid {
    type Err = InvalidSid;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = s.as_bytes();
        if !(MIN_SID_LEN..=SID_LEN).contains(&bytes.len()) || !bytes.iter().all(|b| is_id_char(*b))
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
    fn tagged_ids_carry_their_owner_and_stay_random() {
        let tag: NodeTag = "n0_A".parse().expect("a tag");
        let a = Sid::tagged(tag);
        let b = Sid::tagged(tag);
        assert_ne!(a, b);
        assert!(a.as_str().starts_with("n0_A"));
        assert_eq!(a.tag(), tag);
        assert_eq!(a.as_str().parse::<Sid>(), Ok(a));
        // The 18 characters after the tag vary in every position across many ids: none is a
        // fixed UUID version or variant character.
        let ids: Vec<Sid> = (0..200).map(|_| Sid::tagged(tag)).collect();
        for pos in 4..22 {
            let first = ids[0].as_str().as_bytes()[pos];
            assert!(
                ids.iter().any(|s| s.as_str().as_bytes()[pos] != first),
                "position {pos} never varies"
            );
        }
        assert!("n0/A".parse::<NodeTag>().is_err());
        assert!("n0_AB".parse::<NodeTag>().is_err());
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
