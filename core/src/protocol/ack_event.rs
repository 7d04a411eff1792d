//! [`AckEvent`]: a packet sent to many sockets, each asked for an ack under its own id, encoded
//! once. The frames differ only by the id, so the packet is serialized once per wire format,
//! without an id, and each socket's frame is that encoding with its id written in: after the
//! header in the text format (`4`, the type digit, [`<n>-`] [`<nsp>,`] *id* `[...]`), as the
//! map's last entry in the msgpack format. Byte for byte what [`ParserKind::encode`] writes for
//! the packet carrying that id.

use std::sync::OnceLock;

use bytes::Bytes;

use super::ParserKind;
use super::json::{with_attachments, write_text};
use super::msgpack::encode_msgpack_with_id;
use super::packet::Packet;
use crate::engine::{Frame, Text};

/// A packet to send to many sockets with an ack id each; the encoding of each wire format is
/// made on first use and shared.
#[derive(Debug)]
pub struct AckEvent<'a> {
    packet: &'a Packet,
    json: OnceLock<(String, usize)>,
    msgpack: OnceLock<Bytes>,
}

/// The msgpack `"id"` key: a fixstr of two bytes.
const ID_KEY: [u8; 3] = [0xa2, b'i', b'd'];

impl<'a> AckEvent<'a> {
    /// `packet` to be sent with ids of its recipients' own (its own id, if any, is ignored).
    #[must_use]
    pub fn new(packet: &'a Packet) -> Self {
        AckEvent {
            packet,
            json: OnceLock::new(),
            msgpack: OnceLock::new(),
        }
    }

    /// The packet.
    #[must_use]
    pub fn packet(&self) -> &Packet {
        self.packet
    }

    /// The frame of the packet with ack id `id` for a client of `parser`.
    #[must_use]
    pub fn frame(&self, parser: ParserKind, id: u64) -> Frame {
        match parser {
            ParserKind::Json => self.json_frame(id),
            ParserKind::MsgPack => self.msgpack_frame(id),
        }
    }

    fn json_frame(&self, id: u64) -> Frame {
        let (text, id_at) = self.json.get_or_init(|| {
            let mut text = String::with_capacity(64);
            let id_at = write_text(self.packet, None, &mut text);
            (text, id_at)
        });
        let mut out = String::with_capacity(text.len() + 20);
        out.push_str(&text[..*id_at]);
        out.push_str(itoa::Buffer::new().format(id));
        out.push_str(&text[*id_at..]);
        with_attachments(Text::from(out), self.packet)
    }

    fn msgpack_frame(&self, id: u64) -> Frame {
        let without = self
            .msgpack
            .get_or_init(|| encode_msgpack_with_id(self.packet, None));
        // A map of at most three entries (type, data, nsp) starts with its fixmap byte; the id
        // makes it one entry longer and goes last.
        match without.split_first() {
            Some((&map, rest)) if map & 0xf0 == 0x80 && map & 0x0f < 0x0f => {
                let mut out = Vec::with_capacity(without.len() + 12);
                out.push(map + 1);
                out.extend_from_slice(rest);
                out.extend_from_slice(&ID_KEY);
                // Writing into a Vec cannot fail.
                let _ = rmpv::encode::write_value(&mut out, &rmpv::Value::from(id));
                Frame::Binary(Bytes::from(out))
            }
            _ => Frame::Binary(encode_msgpack_with_id(self.packet, Some(id))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Payload;
    use serde_json::json;

    /// A frame's messages, as bytes, in order.
    fn messages(frame: &Frame) -> Vec<Vec<u8>> {
        match frame {
            Frame::Text(text) => vec![text.as_str().as_bytes().to_vec()],
            Frame::Binary(bin) => vec![bin.to_vec()],
            Frame::Group(frames) => frames.iter().flat_map(messages).collect(),
            Frame::Close => vec![],
        }
    }

    fn packets() -> Vec<Packet> {
        let payload = Payload::from_value(&json!({"a": [1, 2.5, "é"]})).unwrap();
        let mut out = Vec::new();
        for nsp in ["/", "/chat"] {
            out.push(Packet::event(nsp, "ask", payload.clone()));
            out.push(Packet::event(nsp, "ask", Payload::new()));
            out.push(Packet::event(
                nsp,
                "file",
                payload.clone().binary(vec![1u8, 2]).binary(vec![3u8]),
            ));
        }
        out
    }

    #[test]
    fn every_id_gets_the_frame_the_packet_with_that_id_encodes_to() {
        for packet in packets() {
            let event = AckEvent::new(&packet);
            for id in [
                0,
                1,
                127,
                128,
                65_535,
                65_536,
                u64::from(u32::MAX) + 1,
                u64::MAX,
            ] {
                let mut with_id = packet.clone();
                with_id.id = Some(id);
                for parser in [ParserKind::Json, ParserKind::MsgPack] {
                    assert_eq!(
                        messages(&event.frame(parser, id)),
                        messages(&parser.encode(&with_id)),
                        "{parser:?} {id} {packet:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_packets_own_id_is_not_the_one_sent() {
        let mut packet = Packet::event("/", "ask", Payload::new());
        packet.id = Some(9);
        let event = AckEvent::new(&packet);
        let Frame::Text(text) = event.frame(ParserKind::Json, 4) else {
            panic!("a text frame expected");
        };
        assert_eq!(text.as_str(), r#"424["ask"]"#);
        packet.id = Some(4);
        assert_eq!(
            messages(&AckEvent::new(&packet).frame(ParserKind::MsgPack, 4)),
            messages(&ParserKind::MsgPack.encode(&packet))
        );
    }
}
