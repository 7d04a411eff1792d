//! A registered socket for tests and measurements of the core alone: it hands each frame it is
//! given to a closure (to count or record it) and answers nothing else (no acks, no connection
//! to close). A socket's own queue and connection are the server's.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use sio_core::adapter::{LocalSocket, Room, SocketInfo};
use sio_core::engine::{Frame, Sid};
use sio_core::protocol::{AckEvent, Payload};

/// A socket that passes what it is delivered to `on_frame` (frame, volatile).
pub(crate) struct FixtureSocket<F> {
    pub(crate) id: Sid,
    pub(crate) on_frame: F,
}

impl<F: Fn(Sid, &Frame, bool) + Send + Sync + 'static> LocalSocket for FixtureSocket<F> {
    fn id(&self) -> Sid {
        self.id
    }
    fn deliver(&self, frame: &Frame, volatile: bool) {
        (self.on_frame)(self.id, frame, volatile);
    }
    fn deliver_with_ack(
        &self,
        _event: &AckEvent<'_>,
        _timeout: Duration,
    ) -> Pin<Box<dyn Future<Output = Option<Payload>> + Send>> {
        Box::pin(async { None })
    }
    fn disconnect(&self, _close: bool) {}
    fn info(&self, rooms: Vec<Room>) -> SocketInfo {
        SocketInfo {
            id: self.id.to_string(),
            handshake: serde_json::Value::Null,
            rooms,
            data: serde_json::Value::Null,
        }
    }
}
