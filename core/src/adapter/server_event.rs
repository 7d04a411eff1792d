//! Events between servers (`server_side_emit`): the handler type, and the handle through which
//! a handler answers an event that asks for an ack.

use std::fmt;
use std::sync::Arc;

use super::ServerEvent;
use crate::protocol::Payload;

/// Handles events sent by other servers; the reply handle, when given, carries the ack.
pub type ServerEventHandler = Arc<dyn Fn(ServerEvent, Option<ServerEventReply>) + Send + Sync>;

/// The one answer a handler may give to a server event that asks for an ack. Dropping it
/// unanswered counts as no answer (the asking node reports this one as missing).
pub struct ServerEventReply(Box<dyn FnOnce(Payload) -> bool + Send>);

/// The asking side no longer waits for the answer (it timed out, or the node left).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the server event's sender no longer waits for a reply")]
pub struct ReplyClosed;

impl ServerEventReply {
    /// A reply handle that hands the answer to `deliver`, which says whether anyone still
    /// waited for it. Adapters build it around their own channel.
    #[must_use]
    pub fn new(deliver: impl FnOnce(Payload) -> bool + Send + 'static) -> Self {
        ServerEventReply(Box::new(deliver))
    }

    /// Sends the answer.
    ///
    /// # Errors
    /// [`ReplyClosed`] when the asking side no longer waits.
    pub fn send(self, payload: Payload) -> Result<(), ReplyClosed> {
        if (self.0)(payload) {
            Ok(())
        } else {
            Err(ReplyClosed)
        }
    }
}

impl fmt::Debug for ServerEventReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServerEventReply")
    }
}
