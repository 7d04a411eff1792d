//! Engine.IO v4: the transport layer under Socket.IO.
//!
//! The engine answers HTTP requests on the configured path: handshakes, long-polling GETs and
//! POSTs, and websocket upgrades. It knows nothing of namespaces: it hands each message to the
//! layer above and tells it why each session ended.
//!
//! What a user of the server needs is public here: the engine's configuration
//! ([`EngineConfig`], [`CorsConfig`], [`AllowRequest`] and the [`RequestInfo`] it is asked
//! about, [`HttpCompression`], [`ForwardingConfig`] with its [`OwnerDirectory`]), the response
//! [`Body`], and what a socket tells about its connection ([`Sid`], [`NodeTag`], [`Transport`],
//! [`CloseReason`]). The engine itself (`Engine`, `EngineHandler`, `Session`, `Message`,
//! `SendError`, `Frame`, `Text`, `packet`, `percent_decode`) is crate-private: it is public
//! only with the `unstable-engine` feature, which is off by default, carries no stability
//! promise, and is there for this crate's own tests and the `conformance` example (the
//! official Engine.IO suite tests the engine alone, below Socket.IO).

// Without `unstable-engine`, the engine's own items below are `pub` in private modules and
// re-exported crate-wide only: not an accident of visibility, so the lints that would say so
// are quiet there (the feature's build, which the tests use, checks them as public API).
mod compression;
mod config;
mod error;
mod forward;
#[cfg_attr(not(feature = "unstable-engine"), allow(unreachable_pub, dead_code))]
mod http_util;
mod outbox;
mod polling;
mod request;
#[cfg_attr(not(feature = "unstable-engine"), allow(unreachable_pub, dead_code))]
mod server;
#[cfg_attr(not(feature = "unstable-engine"), allow(unreachable_pub, dead_code))]
mod session;
mod websocket;

pub use compression::HttpCompression;
pub use config::{AllowRequest, CorsConfig, EngineConfig};
pub use error::EngineError;
pub use forward::{FORWARDED_HEADER, ForwardingConfig};
pub use request::RequestInfo;
pub use server::Body;
pub use session::Transport;
pub use sio_core::engine::{CloseReason, InvalidSid, NodeTag, OwnerDirectory, Sid};

#[cfg(feature = "unstable-engine")]
pub use http_util::percent_decode;
#[cfg(not(feature = "unstable-engine"))]
pub(crate) use http_util::percent_decode;

#[cfg(feature = "unstable-engine")]
pub use server::{Engine, EngineHandler, Message};
#[cfg(not(feature = "unstable-engine"))]
pub(crate) use server::{Engine, EngineHandler, Message};

#[cfg(not(feature = "unstable-engine"))]
pub(crate) use session::Session;
#[cfg(feature = "unstable-engine")]
pub use session::{SendError, Session};

#[cfg(feature = "unstable-engine")]
pub use sio_core::engine::{Frame, Text, packet};
#[cfg(not(feature = "unstable-engine"))]
pub(crate) use sio_core::engine::{Frame, Text, packet};

pub(crate) use server::Entry;
