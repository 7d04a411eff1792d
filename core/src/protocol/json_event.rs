//! [`JsonEvent`]: an event with one argument, serialized once, straight from the user's value,
//! into the JSON text frame a client of the default parser receives, with no
//! `serde_json::Value` tree. Adapters send the same text on to the cluster (the packet's `data`
//! is a slice of the frame), or transcode it to msgpack ([`JsonEvent::data_msgpack`]).
//!
//! [`JsonEvent::encode`] declines where the tree path could write other bytes (see
//! [`super::value_json`]); the caller then builds the [`Packet`] as before.

use serde::Serialize;

use super::json::{decode_json, write_header};
use super::json_msgpack::json_to_msgpack;
use super::transcode::write_str;
use super::value_json::write_value_json;
use super::{Packet, PacketType, ParseError, Payload};
use crate::engine::{Frame, Text};

/// Encodes the ack `id` of namespace `nsp` answering with the one argument `arg` into the JSON
/// text frame a client of the default parser receives: byte for byte what
/// [`super::encode_json`] writes for `Packet::ack(nsp, id, Payload::from_value(arg)?)`, or
/// `None` where that cannot be sure (as for [`JsonEvent::encode`]; the caller then takes that
/// path, which decides and returns its own errors).
#[must_use]
pub fn encode_json_ack<T: Serialize + ?Sized>(nsp: &str, id: u64, arg: &T) -> Option<Frame> {
    let mut head = String::with_capacity(64 + nsp.len());
    write_header(&mut head, PacketType::Ack, 0, nsp, Some(id));
    let mut out = head.into_bytes();
    out.push(b'[');
    write_value_json(arg, &mut out)?;
    out.push(b']');
    // Written only from UTF-8 strings and ASCII.
    let text = String::from_utf8(out).ok()?;
    Some(Frame::Text(Text::from(text)))
}

/// An event packet `[event, arg]` without ack id or binary, encoded as its JSON text frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonEvent {
    nsp: String,
    /// `42` + `nsp,` unless `/` + the data.
    text: Text,
    /// Where the data (`["event",arg]`) starts in `text`.
    data_start: usize,
}

impl JsonEvent {
    /// Encodes event `event` of namespace `nsp` with the one argument `arg`: byte for byte what
    /// [`super::encode_json`] writes for `Packet::event(nsp, event, Payload::from_value(arg)?)`,
    /// or `None` where that cannot be sure (the caller then takes that path, which decides and
    /// returns its own errors).
    #[must_use]
    pub fn encode<T: Serialize + ?Sized>(nsp: &str, event: &str, arg: &T) -> Option<Self> {
        Self::build(nsp, event, |out| {
            out.push(b',');
            write_value_json(arg, out)
        })
    }

    /// Encodes event `event` of namespace `nsp` with the arguments of `payload`, which has no
    /// binary attachments (`None` if it has): what [`super::encode_json`] writes for
    /// `Packet::event(nsp, event, payload)`, from the payload's tree.
    #[must_use]
    pub fn from_payload(nsp: &str, event: &str, payload: &Payload) -> Option<Self> {
        if !payload.attachments.is_empty() {
            return None;
        }
        Self::build(nsp, event, |out| {
            payload.args.iter().try_for_each(|arg| {
                out.push(b',');
                write_value_json(arg, out)
            })
        })
    }

    /// The frame `42` + `nsp,` + `["event"` + what `args` writes + `]`.
    fn build(
        nsp: &str,
        event: &str,
        args: impl FnOnce(&mut Vec<u8>) -> Option<()>,
    ) -> Option<Self> {
        let mut head = String::with_capacity(64 + nsp.len() + event.len());
        write_header(&mut head, PacketType::Event, 0, nsp, None);
        let mut out = head.into_bytes();
        let data_start = out.len();
        out.push(b'[');
        write_str(&mut out, event);
        args(&mut out)?;
        out.push(b']');
        // Written only from UTF-8 strings and ASCII.
        let text = String::from_utf8(out).ok()?;
        Some(JsonEvent {
            nsp: nsp.to_owned(),
            text: Text::from(text),
            data_start,
        })
    }

    /// The namespace.
    #[must_use]
    pub fn nsp(&self) -> &str {
        &self.nsp
    }

    /// The frame for the clients (a handle on the one encoded text).
    #[must_use]
    pub fn frame(&self) -> Frame {
        Frame::Text(self.text.clone())
    }

    /// The packet's data as JSON text: `["event",arg]`, what Node's adapters carry as the
    /// packet's `data` in their JSON messages.
    #[must_use]
    pub fn data_json(&self) -> &str {
        self.text
            .as_str()
            .get(self.data_start..)
            .unwrap_or_default()
    }

    /// The packet's data as the msgpack [`super::to_msgpack`] writes for it (Node's classic
    /// adapter's format), transcoded from the text; `None` if the transcoder declines.
    #[must_use]
    pub fn data_msgpack(&self) -> Option<Vec<u8>> {
        let json = self.data_json();
        let mut out = Vec::with_capacity(json.len());
        json_to_msgpack(json, &mut out)?;
        Some(out)
    }

    /// The packet, read back from the text: for an adapter that takes packets only. Numbers read
    /// back as `serde_json` parses them (a float may differ from the original in its last bit).
    pub fn to_packet(&self) -> Result<Packet, ParseError> {
        let text = self.text.as_str().get(1..).unwrap_or_default();
        decode_json(text).map(|(packet, _)| packet)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::encode_json;
    use serde_json::json;

    #[test]
    fn frame_and_data_are_the_tree_paths() {
        for nsp in ["/", "/chat", "/é"] {
            let event = JsonEvent::encode(nsp, "ev\"t", &json!({"a": [1, 2.5]})).unwrap();
            let packet = Packet::event(
                nsp,
                "ev\"t",
                Payload::from_value(&json!({"a": [1, 2.5]})).unwrap(),
            );
            let (Frame::Text(fast), Frame::Text(tree)) = (event.frame(), encode_json(&packet))
            else {
                panic!("text frames expected");
            };
            assert_eq!(fast, tree);
            assert_eq!(event.data_json(), r#"["ev\"t",{"a":[1,2.5]}]"#);
            assert_eq!(event.nsp(), nsp);
            assert_eq!(event.to_packet().unwrap(), packet);
        }
    }

    #[test]
    fn a_payload_without_binary_is_the_tree_paths() {
        let payload = Payload::from_value(&json!({"k": [1.5, "é"]}))
            .and_then(|p| p.arg(&-3))
            .unwrap();
        let event = JsonEvent::from_payload("/", "e", &payload).unwrap();
        let Frame::Text(tree) = encode_json(&Packet::event("/", "e", payload.clone())) else {
            panic!("a text frame expected");
        };
        let Frame::Text(fast) = event.frame() else {
            panic!("a text frame expected");
        };
        assert_eq!(fast, tree);
        assert_eq!(event.data_json(), r#"["e",{"k":[1.5,"é"]},-3]"#);
        let no_args = JsonEvent::from_payload("/n", "e", &Payload::new()).unwrap();
        assert_eq!(no_args.data_json(), r#"["e"]"#);
        assert!(JsonEvent::from_payload("/", "e", &payload.binary(vec![1u8])).is_none());
    }
}
