//! The errors of the Socket.IO layer.

use serde_json::Value;

/// Why an emit failed.
#[derive(Debug, thiserror::Error)]
pub enum EmitError {
    /// The data could not be serialized.
    #[error("serialize: {0}")]
    Serialize(#[from] serde_json::Error),
    /// The socket is disconnected (or its queue is full and it is being dropped).
    #[error("socket disconnected")]
    Disconnected,
}

pub use sio_core::adapter::JoinError;

/// Why an ack did not arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AckError {
    /// No reply within the timeout.
    #[error("ack timed out")]
    Timeout,
    /// The socket disconnected first.
    #[error("socket disconnected")]
    Disconnected,
}

/// A refusal from a connect middleware, sent to the client as CONNECT_ERROR
/// `{"message": ..., "data": ...}`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ConnectError {
    /// The message the client sees.
    pub message: String,
    /// Optional details.
    pub data: Option<Value>,
}

impl ConnectError {
    /// A refusal with a message.
    #[must_use]
    pub fn new(message: impl Into<String>) -> Self {
        ConnectError {
            message: message.into(),
            data: None,
        }
    }

    /// Adds details.
    #[must_use]
    pub fn with_data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }

    pub(crate) fn to_json(&self) -> Value {
        let mut map = serde_json::Map::new();
        map.insert("message".into(), Value::String(self.message.clone()));
        if let Some(data) = &self.data {
            map.insert("data".into(), data.clone());
        }
        Value::Object(map)
    }
}
