//! Per-connection packet decoding: a binary packet is complete only once its attachments have
//! arrived, within limits on their number and total size.

use bytes::Bytes;

use super::packet::{Packet, ParseError};
use super::{ParserKind, decode_json, decode_msgpack};

/// Bounds on the attachments of one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BinaryLimits {
    /// The most attachments one packet may announce. Default: 64.
    pub max_attachments: usize,
    /// The most bytes one packet's attachments may hold together. Default: 16 MiB.
    pub max_total_size: usize,
}

impl Default for BinaryLimits {
    fn default() -> Self {
        BinaryLimits {
            max_attachments: 64,
            max_total_size: 16 * 1024 * 1024,
        }
    }
}

/// Turns a connection's Engine.IO messages into complete Socket.IO packets.
#[derive(Debug)]
pub struct Decoder {
    parser: ParserKind,
    limits: BinaryLimits,
    pending: Option<Pending>,
}

#[derive(Debug)]
struct Pending {
    packet: Packet,
    expected: usize,
    size: usize,
}

impl Decoder {
    /// A decoder for `parser` with `limits`.
    #[must_use]
    pub fn new(parser: ParserKind, limits: BinaryLimits) -> Self {
        Decoder {
            parser,
            limits,
            pending: None,
        }
    }

    /// Takes a text message; returns a packet once one is complete.
    pub fn on_text(&mut self, text: &str) -> Result<Option<Packet>, ParseError> {
        if self.parser == ParserKind::MsgPack || self.pending.is_some() {
            return Err(ParseError::InvalidData);
        }
        let (packet, expected) = decode_json(text)?;
        if expected == 0 {
            packet.validate()?;
            return Ok(Some(packet));
        }
        if expected > self.limits.max_attachments {
            return Err(ParseError::InvalidAttachments);
        }
        self.pending = Some(Pending {
            packet,
            expected,
            size: 0,
        });
        Ok(None)
    }

    /// Takes a binary message; returns a packet once one is complete.
    pub fn on_binary(&mut self, blob: Bytes) -> Result<Option<Packet>, ParseError> {
        if self.parser == ParserKind::MsgPack {
            let packet = decode_msgpack(&blob)?;
            packet.validate()?;
            return Ok(Some(packet));
        }
        let pending = self
            .pending
            .as_mut()
            .ok_or(ParseError::InvalidAttachments)?;
        pending.size += blob.len();
        if pending.size > self.limits.max_total_size {
            return Err(ParseError::AttachmentsTooLarge);
        }
        pending.packet.attachments.push(blob);
        if pending.packet.attachments.len() < pending.expected {
            return Ok(None);
        }
        let Some(done) = self.pending.take() else {
            return Err(ParseError::InvalidAttachments);
        };
        done.packet.validate()?;
        Ok(Some(done.packet))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::PacketType;

    #[test]
    fn reassembles_attachments() {
        let mut d = Decoder::new(ParserKind::Json, BinaryLimits::default());
        let header =
            "52-[\"e\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]";
        assert_eq!(d.on_text(header), Ok(None));
        assert_eq!(d.on_binary(Bytes::from_static(b"a")), Ok(None));
        let packet = d.on_binary(Bytes::from_static(b"b")).unwrap().unwrap();
        assert_eq!(packet.kind, PacketType::Event);
        assert_eq!(
            packet.attachments,
            vec![Bytes::from_static(b"a"), Bytes::from_static(b"b")]
        );
        // The decoder is ready for the next packet.
        assert!(d.on_text("2[\"x\"]").unwrap().is_some());
    }

    #[test]
    fn enforces_the_limits() {
        let limits = BinaryLimits {
            max_attachments: 2,
            max_total_size: 3,
        };
        let mut d = Decoder::new(ParserKind::Json, limits);
        assert_eq!(d.on_text("53-[\"e\"]"), Err(ParseError::InvalidAttachments));
        let mut d = Decoder::new(ParserKind::Json, limits);
        d.on_text("52-[\"e\"]").unwrap();
        d.on_binary(Bytes::from_static(b"ab")).unwrap();
        assert_eq!(
            d.on_binary(Bytes::from_static(b"cd")),
            Err(ParseError::AttachmentsTooLarge)
        );
    }

    #[test]
    fn rejects_out_of_place_messages() {
        let mut d = Decoder::new(ParserKind::Json, BinaryLimits::default());
        assert_eq!(
            d.on_binary(Bytes::from_static(b"x")),
            Err(ParseError::InvalidAttachments)
        );
        d.on_text("51-[\"e\",{\"_placeholder\":true,\"num\":0}]")
            .unwrap();
        assert_eq!(d.on_text("2[\"e\"]"), Err(ParseError::InvalidData));
        let mut d = Decoder::new(ParserKind::Json, BinaryLimits::default());
        d.on_text("51-[\"e\",{\"_placeholder\":true,\"num\":5}]")
            .unwrap();
        assert_eq!(
            d.on_binary(Bytes::from_static(b"x")),
            Err(ParseError::InvalidAttachments)
        );
    }
}
