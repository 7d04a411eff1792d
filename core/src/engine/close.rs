//! Why an Engine.IO session ended: the vocabulary the engine, the socket layer's disconnect
//! reasons and the metrics share.

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CloseReason {
    /// The client closed the connection, or sent a close packet.
    TransportClose,
    /// The connection failed (IO error, overlapping requests, payload too large).
    TransportError,
    /// No pong arrived within the ping timeout.
    PingTimeout,
    /// The client sent something that could not be decoded.
    ParseError,
    /// The server closed the session.
    ServerClose,
    /// The server is shutting down.
    ServerShutdown,
    /// The client did not read fast enough and its outbound queue filled up.
    SlowConsumer,
}

impl CloseReason {
    /// Every reason, in declaration order.
    pub const ALL: [CloseReason; 7] = [
        CloseReason::TransportClose,
        CloseReason::TransportError,
        CloseReason::PingTimeout,
        CloseReason::ParseError,
        CloseReason::ServerClose,
        CloseReason::ServerShutdown,
        CloseReason::SlowConsumer,
    ];

    /// The reason as Socket.IO reports it (`transport close`, `ping timeout`, ...).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::TransportClose => "transport close",
            CloseReason::TransportError | CloseReason::SlowConsumer => "transport error",
            CloseReason::PingTimeout => "ping timeout",
            CloseReason::ParseError => "parse error",
            CloseReason::ServerClose => "forced close",
            CloseReason::ServerShutdown => "server shutting down",
        }
    }
}
