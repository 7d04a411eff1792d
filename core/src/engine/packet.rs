//! Engine.IO v4 packets: a pure codec over bytes, with no IO.
//!
//! Text packets are a type digit followed by data (`4hello`); binary packets travel as raw
//! websocket binary frames, or as `b` + base64 inside a long-polling payload, where packets are
//! joined by the record separator `\x1e`.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;

use super::text::Text;

/// The record separator that joins packets in a long-polling payload.
pub const SEPARATOR: u8 = 0x1e;

/// A packet received from a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet<'a> {
    /// `0`: only servers send it; a client sending it is a protocol error the caller rejects.
    Open,
    /// `1`: the client closes the session.
    Close,
    /// `2`, with optional data (`2probe` during an upgrade).
    Ping(&'a str),
    /// `3`, with optional data.
    Pong(&'a str),
    /// `4` + text.
    Message(&'a str),
    /// A binary message.
    Binary(Bytes),
    /// `5`: completes an upgrade.
    Upgrade,
    /// `6`: does nothing.
    Noop,
}

/// Why a packet or payload could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The packet had no type character.
    #[error("empty packet")]
    Empty,
    /// The type character is not one of `0`..`6`.
    #[error("unknown packet type {0:?}")]
    UnknownType(char),
    /// A `b` packet whose data is not valid base64.
    #[error("invalid base64 in binary packet")]
    InvalidBase64,
    /// The payload is not valid UTF-8.
    #[error("payload is not valid UTF-8")]
    InvalidUtf8,
}

/// Decodes one text packet (a websocket text frame, or one record of a polling payload that does
/// not start with `b`).
pub fn decode_text(text: &str) -> Result<Packet<'_>, DecodeError> {
    let mut chars = text.chars();
    let kind = chars.next().ok_or(DecodeError::Empty)?;
    let data = chars.as_str();
    Ok(match kind {
        '0' => Packet::Open,
        '1' => Packet::Close,
        '2' => Packet::Ping(data),
        '3' => Packet::Pong(data),
        '4' => Packet::Message(data),
        '5' => Packet::Upgrade,
        '6' => Packet::Noop,
        other => return Err(DecodeError::UnknownType(other)),
    })
}

/// Decodes a long-polling request body into its packets.
pub fn decode_payload(body: &[u8]) -> Result<Vec<Packet<'_>>, DecodeError> {
    let text = std::str::from_utf8(body).map_err(|_| DecodeError::InvalidUtf8)?;
    text.split(SEPARATOR as char)
        .map(|record| match record.strip_prefix('b') {
            Some(b64) => STANDARD
                .decode(b64)
                .map(|raw| Packet::Binary(Bytes::from(raw)))
                .map_err(|_| DecodeError::InvalidBase64),
            None => decode_text(record),
        })
        .collect()
}

/// A packet on its way to a client, already encoded: cheap to clone, so one broadcast encodes once
/// and shares the frame among every recipient.
#[derive(Debug, Clone)]
pub enum Frame {
    /// A complete text packet, type digit included (`4...`, `2`, `3probe`, `6`).
    Text(Text),
    /// A binary message's payload.
    Binary(Bytes),
    /// Several frames that must be sent together and in order (a Socket.IO packet with
    /// binary attachments).
    Group(Arc<[Frame]>),
    /// Asks the transport to deliver what precedes it, then close the session.
    Close,
}

impl Frame {
    /// The payload bytes of the frame (a group's in all; a frame shared by a broadcast counts
    /// for each queue that holds it).
    #[must_use]
    pub fn payload_len(&self) -> usize {
        match self {
            Frame::Text(text) => text.len(),
            Frame::Binary(bin) => bin.len(),
            Frame::Group(frames) => frames.iter().map(Frame::payload_len).sum(),
            Frame::Close => 0,
        }
    }

    /// The text of a text frame; `None` for any other frame.
    #[must_use]
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Frame::Text(text) => Some(text.as_str()),
            _ => None,
        }
    }

    /// A message packet (`4` + text).
    #[must_use]
    pub fn message(text: &str) -> Frame {
        let mut s = String::with_capacity(text.len() + 1);
        s.push('4');
        s.push_str(text);
        Frame::Text(Text::from(s))
    }

    /// A ping packet (`2`).
    #[must_use]
    pub fn ping() -> Frame {
        Frame::Text(Text::from_static("2"))
    }

    /// A noop packet (`6`).
    #[must_use]
    pub fn noop() -> Frame {
        Frame::Text(Text::from_static("6"))
    }

    /// The close packet (`1`) as text.
    #[must_use]
    pub fn close_packet() -> Text {
        Text::from_static("1")
    }
}

/// Appends `frame` to a long-polling payload being built in `out`, with a separator before it
/// when `out` already holds a packet. `Close` markers are skipped: the caller handles them.
pub fn encode_into_payload(frame: &Frame, out: &mut Vec<u8>) {
    match frame {
        Frame::Text(text) => {
            if !out.is_empty() {
                out.push(SEPARATOR);
            }
            out.extend_from_slice(text.as_bytes());
        }
        Frame::Binary(bin) => {
            if !out.is_empty() {
                out.push(SEPARATOR);
            }
            out.push(b'b');
            let start = out.len();
            out.resize(start + base64::encoded_len(bin.len(), true).unwrap_or(0), 0);
            let written = STANDARD.encode_slice(bin, &mut out[start..]).unwrap_or(0);
            out.truncate(start + written);
        }
        Frame::Group(frames) => {
            for f in frames.iter() {
                encode_into_payload(f, out);
            }
        }
        Frame::Close => {}
    }
}

/// Encodes the open packet (`0{...}`) that starts a session.
#[must_use]
pub fn open_packet(
    sid: &str,
    upgrades: &[&str],
    ping_interval_ms: u128,
    ping_timeout_ms: u128,
    max_payload: usize,
) -> String {
    let upgrades = serde_json::to_string(upgrades).unwrap_or_else(|_| "[]".into());
    format!(
        "0{{\"sid\":\"{sid}\",\"upgrades\":{upgrades},\"pingInterval\":{ping_interval_ms},\"pingTimeout\":{ping_timeout_ms},\"maxPayload\":{max_payload}}}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(frames: &[Frame]) -> Vec<u8> {
        let mut out = Vec::new();
        for f in frames {
            encode_into_payload(f, &mut out);
        }
        out
    }

    #[test]
    fn text_packets_decode() {
        assert_eq!(decode_text("4hello"), Ok(Packet::Message("hello")));
        assert_eq!(decode_text("4"), Ok(Packet::Message("")));
        assert_eq!(decode_text("2probe"), Ok(Packet::Ping("probe")));
        assert_eq!(decode_text("3"), Ok(Packet::Pong("")));
        assert_eq!(decode_text("5"), Ok(Packet::Upgrade));
        assert_eq!(decode_text("6"), Ok(Packet::Noop));
        assert_eq!(decode_text("1"), Ok(Packet::Close));
        assert_eq!(decode_text("4é€"), Ok(Packet::Message("é€")));
    }

    #[test]
    fn malformed_text_is_an_error() {
        assert_eq!(decode_text(""), Err(DecodeError::Empty));
        assert_eq!(decode_text("7"), Err(DecodeError::UnknownType('7')));
        assert_eq!(decode_text("é"), Err(DecodeError::UnknownType('é')));
    }

    #[test]
    fn payload_round_trip() {
        let frames = [
            Frame::message("hello"),
            Frame::Binary(Bytes::from_static(&[1, 2, 3, 4])),
            Frame::message("€"),
        ];
        let body = payload(&frames);
        assert_eq!(body, "4hello\x1ebAQIDBA==\x1e4€".as_bytes());
        let packets = decode_payload(&body).unwrap();
        assert_eq!(
            packets,
            vec![
                Packet::Message("hello"),
                Packet::Binary(Bytes::from_static(&[1, 2, 3, 4])),
                Packet::Message("€"),
            ]
        );
    }

    #[test]
    fn groups_flatten_and_close_markers_are_skipped() {
        let group = Frame::Group(Arc::from(vec![
            Frame::message("51-[\"a\",{\"_placeholder\":true,\"num\":0}]"),
            Frame::Binary(Bytes::from_static(b"x")),
        ]));
        let body = payload(&[group, Frame::Close]);
        assert_eq!(
            body,
            "451-[\"a\",{\"_placeholder\":true,\"num\":0}]\x1ebeA==".as_bytes()
        );
    }

    #[test]
    fn malformed_payloads_are_errors() {
        assert_eq!(decode_payload(b""), Err(DecodeError::Empty));
        assert_eq!(decode_payload(b"4a\x1e"), Err(DecodeError::Empty));
        assert_eq!(decode_payload(b"b!!!"), Err(DecodeError::InvalidBase64));
        assert_eq!(decode_payload(&[0x34, 0xff]), Err(DecodeError::InvalidUtf8));
        assert_eq!(decode_payload(b"9x"), Err(DecodeError::UnknownType('9')));
    }

    #[test]
    fn open_packet_has_the_reference_shape() {
        assert_eq!(
            open_packet("abc", &["websocket"], 25000, 20000, 1_000_000),
            "0{\"sid\":\"abc\",\"upgrades\":[\"websocket\"],\"pingInterval\":25000,\"pingTimeout\":20000,\"maxPayload\":1000000}"
        );
    }
}
