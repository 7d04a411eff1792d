//! What a handler receives: the event, its typed data, and the ack sender; and why a socket left
//! its namespace (what a disconnect handler receives).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::Serialize;

use crate::engine::Session;
use crate::protocol::{Packet, ParserKind, Payload, encode_json_ack};

/// A boxed, sendable future.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// An event received from a client.
#[derive(Debug)]
pub struct Event {
    /// The event name.
    pub name: String,
    /// The arguments (binary blobs in `payload.attachments`).
    pub payload: Payload,
    /// Answers the event when the client asked for an ack.
    pub ack: AckSender,
}

/// The first argument of an event, deserialized (`null` when there is none).
#[derive(Debug, Clone, PartialEq)]
pub struct Data<T>(pub T);

/// Sends the ack of one event; does nothing when the client asked for none.
#[derive(Debug)]
pub struct AckSender {
    target: Option<AckTarget>,
}

#[derive(Debug)]
struct AckTarget {
    session: Arc<Session>,
    nsp: Arc<str>,
    id: u64,
    parser: ParserKind,
}

impl AckSender {
    pub(crate) fn new(
        session: Arc<Session>,
        nsp: Arc<str>,
        id: Option<u64>,
        parser: ParserKind,
    ) -> Self {
        AckSender {
            target: id.map(|id| AckTarget {
                session,
                nsp,
                id,
                parser,
            }),
        }
    }

    /// Whether the client asked for an ack.
    #[must_use]
    pub fn is_requested(&self) -> bool {
        self.target.is_some()
    }

    /// Answers with one serializable argument.
    ///
    /// Encode once: with the default parser the value is serialized straight into the ack's
    /// frame, with no `Value` tree, where the bytes are surely the tree's
    /// ([`encode_json_ack`]); otherwise it goes on as [`Self::send_payload`].
    pub fn send<T: Serialize + ?Sized>(self, value: &T) -> Result<(), serde_json::Error> {
        if let Some(t) = &self.target
            && t.parser == ParserKind::Json
            && let Some(frame) = encode_json_ack(&t.nsp, t.id, value)
        {
            let _ = t.session.send(frame);
            return Ok(());
        }
        self.send_payload(Payload::from_value(value)?);
        Ok(())
    }

    /// Answers with any arguments, binary included.
    pub fn send_payload(self, payload: Payload) {
        if let Some(t) = self.target {
            let packet = Packet::ack(t.nsp.as_ref(), t.id, payload);
            let _ = t.session.send(t.parser.encode(&packet));
        }
    }
}

/// Why a socket left its namespace, as Socket.IO names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DisconnectReason {
    /// The server disconnected the socket (`socket.disconnect()`, `disconnect_sockets`).
    ServerNamespaceDisconnect,
    /// The client left the namespace.
    ClientNamespaceDisconnect,
    /// The connection ended: closed, failed, timed out, or sent garbage.
    Transport(crate::engine::CloseReason),
}

impl DisconnectReason {
    /// The reason string of the reference implementation.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            DisconnectReason::ServerNamespaceDisconnect => "server namespace disconnect",
            DisconnectReason::ClientNamespaceDisconnect => "client namespace disconnect",
            DisconnectReason::Transport(reason) => reason.as_str(),
        }
    }
}

impl std::fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
