//! The default Socket.IO wire format: `<type>[<attachments>-][<nsp>,][<id>][<json data>]`.

use std::sync::Arc;

use crate::engine::Text;
use serde_json::Value;

use super::packet::{Packet, PacketType, ParseError};
use crate::engine::Frame;

/// Encodes a packet into its Engine.IO frame(s): the text header, then one binary frame per
/// attachment. The JSON is compact and keeps the key order of the data.
#[must_use]
pub fn encode_json(packet: &Packet) -> Frame {
    let mut out = String::with_capacity(32);
    write_text(packet, packet.id, &mut out);
    with_attachments(Text::from(out), packet)
}

/// Writes a packet's text (header and JSON data) as if its ack id were `id`; returns where in
/// `out` that id starts (where an id goes, when `id` is `None`).
pub(super) fn write_text(packet: &Packet, id: Option<u64>, out: &mut String) -> usize {
    write_header(
        out,
        packet.wire_type(),
        packet.attachments.len(),
        &packet.nsp,
        None,
    );
    let id_at = out.len();
    if let Some(id) = id {
        out.push_str(itoa::Buffer::new().format(id));
    }
    if let Some(data) = &packet.data {
        write_json(data, out);
    }
    id_at
}

/// The frame of a packet's `text`: alone, or followed by one binary frame per attachment.
pub(super) fn with_attachments(text: Text, packet: &Packet) -> Frame {
    let text = Frame::Text(text);
    if packet.attachments.is_empty() {
        return text;
    }
    let mut frames = Vec::with_capacity(1 + packet.attachments.len());
    frames.push(text);
    frames.extend(packet.attachments.iter().cloned().map(Frame::Binary));
    Frame::Group(Arc::from(frames))
}

/// Writes a packet's text header, everything before its JSON data: `4` (the Engine.IO message
/// type), the packet type digit, `<attachments>-` when there are any, `<nsp>,` unless the
/// namespace is `/`, and the ack id. Every encoder of the text format writes it here.
pub(super) fn write_header(
    out: &mut String,
    kind: PacketType,
    attachments: usize,
    nsp: &str,
    id: Option<u64>,
) {
    out.push('4');
    out.push(char::from(b'0' + kind as u8));
    if attachments > 0 {
        out.push_str(itoa::Buffer::new().format(attachments));
        out.push('-');
    }
    if nsp != "/" {
        out.push_str(nsp);
        out.push(',');
    }
    if let Some(id) = id {
        out.push_str(itoa::Buffer::new().format(id));
    }
}

fn write_json(value: &Value, out: &mut String) {
    // Serializing a `Value` cannot fail.
    let json = serde_json::to_string(value).unwrap_or_default();
    out.push_str(&json);
}

/// Decodes a text packet. Returns the packet and the number of binary attachments that must
/// follow it before it is complete.
pub fn decode_json(text: &str) -> Result<(Packet, usize), ParseError> {
    let bytes = text.as_bytes();
    let first = *bytes.first().ok_or(ParseError::Empty)?;
    let kind = first
        .checked_sub(b'0')
        .and_then(PacketType::from_u8)
        .ok_or(ParseError::UnknownType)?;
    let mut pos = 1;
    let mut attachments = 0usize;
    if matches!(kind, PacketType::BinaryEvent | PacketType::BinaryAck) {
        let dash = text[pos..].find('-').ok_or(ParseError::InvalidHeader)? + pos;
        attachments = parse_digits(&text[pos..dash]).ok_or(ParseError::InvalidHeader)? as usize;
        pos = dash + 1;
    }
    let mut nsp = "/";
    if bytes.get(pos) == Some(&b'/') {
        let end = text[pos..].find(',').map_or(text.len(), |i| i + pos);
        nsp = &text[pos..end];
        pos = (end + 1).min(text.len());
    }
    let id_end = text[pos..]
        .find(|c: char| !c.is_ascii_digit())
        .map_or(text.len(), |i| i + pos);
    let id = if id_end > pos {
        Some(parse_digits(&text[pos..id_end]).ok_or(ParseError::InvalidHeader)?)
    } else {
        None
    };
    pos = id_end;
    let data = if pos < text.len() {
        Some(serde_json::from_str::<Value>(&text[pos..]).map_err(|_| ParseError::InvalidData)?)
    } else {
        None
    };
    let packet = Packet {
        kind: kind.base(),
        nsp: nsp.to_owned(),
        data,
        id,
        attachments: Vec::new(),
    };
    Ok((packet, attachments))
}

/// Parses a non-empty run of ASCII digits into a u64 (`None` on overflow).
fn parse_digits(digits: &str) -> Option<u64> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Payload;
    use bytes::Bytes;
    use serde_json::json;

    fn text(frame: &Frame) -> String {
        match frame {
            Frame::Text(t) => t.to_string(),
            Frame::Group(g) => match &g[0] {
                Frame::Text(t) => t.to_string(),
                _ => panic!("group must start with text"),
            },
            _ => panic!("unexpected frame"),
        }
    }

    #[test]
    fn encodes_like_the_reference_parser() {
        let p = Packet::new(PacketType::Connect, "/", Some(json!({"sid": "abc"})));
        assert_eq!(text(&encode_json(&p)), "40{\"sid\":\"abc\"}");
        let p = Packet::event(
            "/chat",
            "hello",
            Payload::from_value(&json!({"z": 1, "a": 2})).unwrap(),
        );
        assert_eq!(
            text(&encode_json(&p)),
            "42/chat,[\"hello\",{\"z\":1,\"a\":2}]"
        );
        let p = Packet::ack("/", 12, Payload::new().binary(Bytes::from_static(b"\x01")));
        let frame = encode_json(&p);
        assert_eq!(text(&frame), "461-12[{\"_placeholder\":true,\"num\":0}]");
        let Frame::Group(g) = frame else { panic!() };
        assert!(matches!(&g[1], Frame::Binary(b) if b.as_ref() == b"\x01"));
        let p = Packet::new(PacketType::Disconnect, "/admin", None);
        assert_eq!(text(&encode_json(&p)), "41/admin,");
    }

    #[test]
    fn round_trips() {
        let cases = [
            Packet::new(PacketType::Connect, "/", None),
            Packet::new(PacketType::Connect, "/x", Some(json!({"token": "t"}))),
            Packet::event(
                "/",
                "e",
                Payload::from_value(&json!([1, "2", null])).unwrap(),
            ),
            Packet {
                id: Some(u64::MAX),
                ..Packet::event("/n", "e", Payload::new())
            },
            Packet::ack("/", 3, Payload::new().binary(Bytes::from_static(b"ab"))),
            Packet::new(PacketType::Disconnect, "/", None),
            Packet::new(
                PacketType::ConnectError,
                "/",
                Some(json!({"message": "no"})),
            ),
        ];
        for packet in cases {
            let frame = encode_json(&packet);
            let encoded = text(&frame);
            let (mut decoded, n) = decode_json(&encoded[1..]).unwrap();
            assert_eq!(n, packet.attachments.len(), "{encoded}");
            decoded.attachments = packet.attachments.clone();
            assert_eq!(decoded, packet, "{encoded}");
            decoded.validate().unwrap();
        }
    }

    #[test]
    fn decodes_client_forms() {
        let (p, n) = decode_json("2[\"a\"]").unwrap();
        assert_eq!(
            (p.kind, p.nsp.as_str(), p.id, n),
            (PacketType::Event, "/", None, 0)
        );
        let (p, _) = decode_json("0/custom,").unwrap();
        assert_eq!((p.nsp.as_str(), p.data), ("/custom", None));
        let (p, _) = decode_json("0/custom").unwrap();
        assert_eq!(p.nsp, "/custom");
        let (p, n) = decode_json("52-/a,7[\"b\",{\"_placeholder\":true,\"num\":1}]").unwrap();
        assert_eq!((p.kind, p.id, n), (PacketType::Event, Some(7), 2));
    }

    #[test]
    fn malformed_input_is_an_error() {
        assert_eq!(decode_json(""), Err(ParseError::Empty));
        assert_eq!(decode_json("7"), Err(ParseError::UnknownType));
        assert_eq!(decode_json("é"), Err(ParseError::UnknownType));
        assert_eq!(decode_json("5[]"), Err(ParseError::InvalidHeader));
        assert_eq!(decode_json("5x-[]"), Err(ParseError::InvalidHeader));
        assert_eq!(decode_json("2[\"a\""), Err(ParseError::InvalidData));
        assert_eq!(
            decode_json("2123456789012345678901234567890[\"a\"]"),
            Err(ParseError::InvalidHeader)
        );
        let deep = format!("2{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert_eq!(decode_json(&deep), Err(ParseError::InvalidData));
        for bad in ["2{}", "2[]", "2[1,2", "3{}", "1{}", "0[]", "4"] {
            let result = decode_json(bad).and_then(|(p, _)| p.validate());
            assert!(result.is_err(), "{bad} must be rejected");
        }
    }
}
