//! The Socket.IO server's settings, below every file of the socket layer that reads them.

use std::time::Duration;

use crate::adapter::RecoveryConfig;
use crate::engine::EngineConfig;
use crate::protocol::{BinaryLimits, ParserKind};

/// Server settings, each with its default.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Engine.IO settings (path, heartbeat, payload size, transports, CORS).
    pub engine: EngineConfig,
    /// The packet format. Default: JSON.
    pub parser: ParserKind,
    /// Bounds on binary attachments. Default: 64 attachments, 16 MiB in all.
    pub binary_limits: BinaryLimits,
    /// How long a connection may stay without joining a namespace. Default: 45 s.
    pub connect_timeout: Duration,
    /// How long cluster requests and broadcast acks wait by default. Default: 5 s.
    pub request_timeout: Duration,
    /// The most rooms a socket may join (its own id not counted); further joins are refused
    /// (see [`Socket::try_join`](crate::Socket::try_join)), logged and counted. Default: 10 000.
    pub max_rooms_per_socket: usize,
    /// The longest room name a socket may join, in bytes; longer ones are refused (see
    /// [`Socket::try_join`](crate::Socket::try_join)), logged and counted. Default: 256.
    pub max_room_name_len: usize,
    /// The most namespaces this node holds. A client's CONNECT that would create one more child
    /// of a dynamic namespace beyond it gets CONNECT_ERROR "Too many namespaces" (counted in
    /// `sio_namespaces_refused_total`). Default: 1 000.
    pub max_namespaces: usize,
    /// How long a child of a dynamic namespace stays once it has no socket left; then it is
    /// removed and its adapter closes it (a cluster adapter unsubscribes its channels). A
    /// client that connects to it later creates it again. Default: 30 s.
    pub empty_namespace_grace: Duration,
    /// The most event handlers of one socket that run at once. Further events wait, in order,
    /// and start as handlers finish; once a connection has as many events waiting, it stops
    /// reading until they start (backpressure: nothing is dropped, but a handler that waits
    /// for something the same client sends may then wait for its timeout). Default: 64.
    pub max_handlers_per_socket: usize,
    /// Connection state recovery: a client that reconnects within the configured duration gets
    /// its socket id, rooms, data and the broadcasts it missed. Default: `None` (off, as in
    /// Node).
    pub connection_state_recovery: Option<RecoveryConfig>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            engine: EngineConfig::default(),
            parser: ParserKind::Json,
            binary_limits: BinaryLimits::default(),
            connect_timeout: Duration::from_secs(45),
            request_timeout: Duration::from_secs(5),
            max_rooms_per_socket: 10_000,
            max_room_name_len: 256,
            max_handlers_per_socket: 64,
            connection_state_recovery: None,
            max_namespaces: 1_000,
            empty_namespace_grace: Duration::from_secs(30),
        }
    }
}
