//! The Socket.IO packet model shared by both wire formats.

use bytes::Bytes;
use serde_json::Value;

/// The Socket.IO packet types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketType {
    /// `0`: connect to a namespace (client: with auth; server: with `{"sid"}`).
    Connect = 0,
    /// `1`: leave a namespace.
    Disconnect = 1,
    /// `2`: an event.
    Event = 2,
    /// `3`: the answer to an event.
    Ack = 3,
    /// `4`: a refused connect.
    ConnectError = 4,
    /// `5`: an event with binary attachments.
    BinaryEvent = 5,
    /// `6`: an ack with binary attachments.
    BinaryAck = 6,
}

impl PacketType {
    /// The type for a digit.
    #[must_use]
    pub fn from_u8(n: u8) -> Option<Self> {
        Some(match n {
            0 => PacketType::Connect,
            1 => PacketType::Disconnect,
            2 => PacketType::Event,
            3 => PacketType::Ack,
            4 => PacketType::ConnectError,
            5 => PacketType::BinaryEvent,
            6 => PacketType::BinaryAck,
            _ => return None,
        })
    }

    /// The type without its binary flavour (`BinaryEvent` → `Event`).
    #[must_use]
    pub fn base(self) -> Self {
        match self {
            PacketType::BinaryEvent => PacketType::Event,
            PacketType::BinaryAck => PacketType::Ack,
            other => other,
        }
    }
}

/// A Socket.IO packet. Binary blobs are in `attachments`, referenced from `data` by placeholders.
#[derive(Debug, Clone, PartialEq)]
pub struct Packet {
    /// The type; `Event` and `Ack` become their binary flavour on the wire when there are
    /// attachments.
    pub kind: PacketType,
    /// The namespace (`/` by default).
    pub nsp: String,
    /// The data: an array for events and acks, an object for connects.
    pub data: Option<Value>,
    /// The ack id.
    pub id: Option<u64>,
    /// The binary attachments.
    pub attachments: Vec<Bytes>,
}

impl Packet {
    /// A packet without id or attachments.
    #[must_use]
    pub fn new(kind: PacketType, nsp: impl Into<String>, data: Option<Value>) -> Self {
        Packet {
            kind,
            nsp: nsp.into(),
            data,
            id: None,
            attachments: Vec::new(),
        }
    }

    /// An event packet: `[event, ...args]`.
    #[must_use]
    pub fn event(nsp: impl Into<String>, event: &str, payload: Payload) -> Self {
        let mut args = Vec::with_capacity(payload.args.len() + 1);
        args.push(Value::String(event.to_owned()));
        args.extend(payload.args);
        Packet {
            kind: PacketType::Event,
            nsp: nsp.into(),
            data: Some(Value::Array(args)),
            id: None,
            attachments: payload.attachments,
        }
    }

    /// An ack packet answering `id`.
    #[must_use]
    pub fn ack(nsp: impl Into<String>, id: u64, payload: Payload) -> Self {
        Packet {
            kind: PacketType::Ack,
            nsp: nsp.into(),
            data: Some(Value::Array(payload.args)),
            id: Some(id),
            attachments: payload.attachments,
        }
    }

    /// The type as written on the wire (binary flavour when there are attachments).
    #[must_use]
    pub fn wire_type(&self) -> PacketType {
        match (self.kind.base(), self.attachments.is_empty()) {
            (PacketType::Event, false) => PacketType::BinaryEvent,
            (PacketType::Ack, false) => PacketType::BinaryAck,
            (kind, _) => kind,
        }
    }

    /// Checks what the reference server checks: the data's shape for the type, and that every
    /// placeholder names an attachment.
    pub fn validate(&self) -> Result<(), ParseError> {
        let ok = match (self.kind.base(), &self.data) {
            (PacketType::Connect, None | Some(Value::Object(_))) => true,
            (PacketType::Disconnect, None) => true,
            (PacketType::ConnectError, Some(Value::Object(_) | Value::String(_))) => true,
            (PacketType::Event, Some(Value::Array(args))) => {
                matches!(args.first(), Some(Value::String(_) | Value::Number(_)))
            }
            (PacketType::Ack, Some(Value::Array(_))) => true,
            _ => false,
        };
        if !ok {
            return Err(ParseError::InvalidPayload);
        }
        if !self.nsp.starts_with('/') {
            return Err(ParseError::InvalidNamespace);
        }
        if let Some(data) = &self.data {
            check_placeholders(data, self.attachments.len())?;
        }
        Ok(())
    }
}

/// Rejects placeholders that name no attachment.
fn check_placeholders(value: &Value, count: usize) -> Result<(), ParseError> {
    match value {
        Value::Array(items) => items.iter().try_for_each(|v| check_placeholders(v, count)),
        Value::Object(map) => {
            if map.get("_placeholder") == Some(&Value::Bool(true)) {
                let num = map.get("num").and_then(Value::as_u64);
                match num {
                    Some(n) if (n as usize) < count => Ok(()),
                    _ => Err(ParseError::InvalidAttachments),
                }
            } else {
                map.values().try_for_each(|v| check_placeholders(v, count))
            }
        }
        _ => Ok(()),
    }
}

/// The placeholder object for attachment `num`.
#[must_use]
pub fn placeholder(num: usize) -> Value {
    let mut map = serde_json::Map::with_capacity(2);
    map.insert("_placeholder".into(), Value::Bool(true));
    map.insert("num".into(), Value::from(num));
    Value::Object(map)
}

/// Why a Socket.IO packet could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Empty input.
    #[error("empty packet")]
    Empty,
    /// An unknown packet type.
    #[error("unknown packet type")]
    UnknownType,
    /// A malformed attachment count, id or namespace.
    #[error("malformed packet header")]
    InvalidHeader,
    /// The namespace does not start with `/`.
    #[error("invalid namespace")]
    InvalidNamespace,
    /// The data is not valid JSON / msgpack.
    #[error("invalid packet data")]
    InvalidData,
    /// The data does not have the shape the type requires.
    #[error("invalid payload for the packet type")]
    InvalidPayload,
    /// An attachment count over the limit, placeholders that name no attachment, or a binary
    /// message where none was expected.
    #[error("invalid attachments")]
    InvalidAttachments,
    /// Attachments larger in total than the limit.
    #[error("attachments too large")]
    AttachmentsTooLarge,
}

/// The arguments of an event or an ack: JSON values, with binary blobs as attachments referenced
/// by placeholders.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Payload {
    /// The arguments.
    pub args: Vec<Value>,
    /// The binary attachments the arguments' placeholders refer to.
    pub attachments: Vec<Bytes>,
}

impl Payload {
    /// No arguments.
    #[must_use]
    pub fn new() -> Self {
        Payload::default()
    }

    /// One argument.
    pub fn from_value<T: serde::Serialize + ?Sized>(value: &T) -> Result<Self, serde_json::Error> {
        Ok(Payload {
            args: vec![serde_json::to_value(value)?],
            attachments: Vec::new(),
        })
    }

    /// Appends a JSON argument.
    pub fn arg<T: serde::Serialize + ?Sized>(
        mut self,
        value: &T,
    ) -> Result<Self, serde_json::Error> {
        self.args.push(serde_json::to_value(value)?);
        Ok(self)
    }

    /// Appends a binary argument.
    #[must_use]
    pub fn binary(mut self, blob: impl Into<Bytes>) -> Self {
        self.args.push(placeholder(self.attachments.len()));
        self.attachments.push(blob.into());
        self
    }

    /// The first argument deserialized as `T` (`null` when there is none).
    pub fn first<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(self.args.first().unwrap_or(&Value::Null))
    }

    /// The binary blob a placeholder value refers to.
    #[must_use]
    pub fn blob(&self, value: &Value) -> Option<&Bytes> {
        let map = value.as_object()?;
        if map.get("_placeholder") != Some(&Value::Bool(true)) {
            return None;
        }
        self.attachments.get(map.get("num")?.as_u64()? as usize)
    }
}
