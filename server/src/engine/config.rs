//! Engine.IO settings, each with the reference server's default.

use std::sync::Arc;
use std::time::Duration;

/// Which origins may use the server from a browser, and whether they may send credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsConfig {
    /// The allowed origins (`https://app.example.com`), or `None` for any origin.
    pub allowed_origins: Option<Vec<String>>,
    /// Sends `Access-Control-Allow-Credentials: true` (default: `false`).
    pub credentials: bool,
}

impl CorsConfig {
    /// Any origin, without credentials.
    #[must_use]
    pub fn any() -> Self {
        CorsConfig {
            allowed_origins: None,
            credentials: false,
        }
    }

    /// Only the given origins.
    #[must_use]
    pub fn origins<I, S>(origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        CorsConfig {
            allowed_origins: Some(origins.into_iter().map(Into::into).collect()),
            credentials: false,
        }
    }

    /// Allows credentials (cookies, authorization headers).
    #[must_use]
    pub fn with_credentials(mut self, credentials: bool) -> Self {
        self.credentials = credentials;
        self
    }

    /// Whether `origin` may use the server.
    #[must_use]
    pub fn allows(&self, origin: &str) -> bool {
        match &self.allowed_origins {
            None => true,
            Some(list) => list.iter().any(|o| o == origin),
        }
    }
}

/// A hook that accepts or refuses a handshake (answered with error code 4, "Forbidden").
pub type AllowRequest = Arc<dyn Fn(&http::request::Parts) -> bool + Send + Sync>;

/// Engine.IO settings.
#[derive(Clone)]
pub struct EngineConfig {
    /// The HTTP path of the endpoint. Default: `/socket.io/`.
    pub path: String,
    /// How often the server pings. Default: 25 s.
    pub ping_interval: Duration,
    /// How long the server waits for a pong before closing the session. Default: 20 s.
    pub ping_timeout: Duration,
    /// The largest message or polling request body a client may send, in bytes. Default: 1 000 000.
    pub max_payload: usize,
    /// Whether the HTTP long-polling transport is enabled. Default: `true`.
    pub polling: bool,
    /// Whether the WebSocket transport is enabled. Default: `true`.
    pub websocket: bool,
    /// Whether polling sessions may upgrade to WebSocket. Default: `true`.
    pub allow_upgrades: bool,
    /// How long an upgrade may take between the probe and the upgrade packet. Default: 10 s.
    pub upgrade_timeout: Duration,
    /// Cross-origin settings. Default: `None` (no CORS headers, every origin accepted).
    pub cors: Option<CorsConfig>,
    /// The capacity of each session's outbound queue, in packets. A client that does not read
    /// fast enough to keep it from filling up is disconnected. Default: 1024.
    pub max_buffered_packets: usize,
    /// The most payload bytes each session's outbound queue holds (a frame shared by a
    /// broadcast counts for each queue; a lone frame is always taken). Beyond it, as beyond
    /// `max_buffered_packets`, the client is disconnected as a slow consumer and volatile
    /// packets are dropped. Default: 8 MiB.
    pub max_buffered_bytes: usize,
    /// Refuses a handshake when it returns `false`. Default: none.
    pub allow_request: Option<AllowRequest>,
    /// The size of each WebSocket connection's read buffer, in bytes. Default: 2048.
    pub websocket_read_buffer: usize,
    /// The most sessions this node holds; further handshakes get `503`. Default: `None`
    /// (bounded only by the process's open-files limit).
    pub max_connections: Option<usize>,
    /// Forwarding of requests for other nodes' sessions (cluster without sticky sessions).
    /// Default: `None` (every session is local; ids are untagged).
    pub forwarding: Option<super::ForwardingConfig>,
    /// Compression of long-polling responses (gzip or deflate, as the client accepts), or `None`
    /// for none. Default: on, for bodies of 1024 bytes and more, as the reference server.
    pub http_compression: Option<super::HttpCompression>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            path: "/socket.io/".into(),
            ping_interval: Duration::from_secs(25),
            ping_timeout: Duration::from_secs(20),
            max_payload: 1_000_000,
            polling: true,
            websocket: true,
            allow_upgrades: true,
            upgrade_timeout: Duration::from_secs(10),
            cors: None,
            max_buffered_packets: 1024,
            max_buffered_bytes: 8 * 1024 * 1024,
            allow_request: None,
            websocket_read_buffer: 2048,
            max_connections: None,
            forwarding: None,
            http_compression: Some(super::HttpCompression::default()),
        }
    }
}

impl std::fmt::Debug for EngineConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineConfig")
            .field("path", &self.path)
            .field("ping_interval", &self.ping_interval)
            .field("ping_timeout", &self.ping_timeout)
            .field("max_payload", &self.max_payload)
            .field("polling", &self.polling)
            .field("websocket", &self.websocket)
            .field("allow_upgrades", &self.allow_upgrades)
            .field("upgrade_timeout", &self.upgrade_timeout)
            .field("cors", &self.cors)
            .field("max_buffered_packets", &self.max_buffered_packets)
            .field("max_buffered_bytes", &self.max_buffered_bytes)
            .field("allow_request", &self.allow_request.is_some())
            .field("forwarding", &self.forwarding)
            .field("http_compression", &self.http_compression)
            .finish()
    }
}

impl EngineConfig {
    /// Whether the request path addresses this endpoint (`/socket.io/` or `/socket.io`).
    #[must_use]
    pub fn matches_path(&self, path: &str) -> bool {
        path == self.path || path == self.path.trim_end_matches('/')
    }
}
