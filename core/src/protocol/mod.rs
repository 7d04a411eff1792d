//! Socket.IO v5 packets and their two wire formats: the default JSON text format and the
//! `socket.io-msgpack-parser` format. Codecs are pure functions over bytes.
//!
//! Binary data travels as attachments: in a packet's JSON data each blob is a placeholder
//! `{"_placeholder":true,"num":N}` and the blob is `attachments[N]`. The msgpack format carries
//! blobs inline; its decoder turns them into placeholders so the layers above see one model.

mod ack_event;
mod binary;
mod date;
mod json;
mod json_event;
mod json_msgpack;
mod msgpack;
mod packet;
mod transcode;
mod transcode_json;
mod value_json;

pub use ack_event::AckEvent;
pub use binary::{BinaryLimits, Decoder};
pub use date::iso_date;
pub use json::{decode_json, encode_json};
pub use json_event::{JsonEvent, encode_json_ack};
pub use json_msgpack::json_to_msgpack;
pub use msgpack::{decode_msgpack, encode_msgpack, from_msgpack, to_msgpack};
pub use packet::{Packet, PacketType, ParseError, Payload, placeholder};
pub use transcode::{JsonFrame, msgpack_packet_to_json_frame};
pub use transcode_json::PacketFrame;

use crate::engine::Frame;

/// The wire format of Socket.IO packets, chosen in the server configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ParserKind {
    /// The default text format (`2/chat,1["event",...]` + binary attachments).
    #[default]
    Json,
    /// `socket.io-msgpack-parser`: every packet is one binary msgpack message.
    MsgPack,
}

impl ParserKind {
    /// Encodes a packet into the frames that carry it to a client.
    #[must_use]
    pub fn encode(self, packet: &Packet) -> Frame {
        match self {
            ParserKind::Json => encode_json(packet),
            ParserKind::MsgPack => Frame::Binary(encode_msgpack(packet)),
        }
    }
}
