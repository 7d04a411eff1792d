//! `sio-server`: an Engine.IO v4 and Socket.IO v5 server with a pluggable cluster adapter.
//!
//! Layers look down only: [`engine`] (transports, sessions, heartbeats) knows nothing of
//! namespaces; [`protocol`] holds the pure packet codecs; [`adapter`] carries every operation
//! that may concern other nodes; [`Server`], [`Namespace`] and [`Socket`] are the API.

pub mod adapter;
mod broadcast;
mod client;
mod connect_timeout;
pub mod engine;
mod error;
mod handler;
mod handler_slots;
mod handshake;
mod metrics;
mod namespace;
mod namespace_cleanup;
pub mod observer;
pub mod protocol;
pub mod serve;
mod server;
mod socket;

pub use adapter::{Adapter, LocalAdapter};
pub use broadcast::{BroadcastOperator, RemoteSocket};
pub use error::{AckError, ConnectError, EmitError, JoinError};
pub use handler::{AckSender, BoxFuture, Data, Event, EventHandler};
pub use handshake::Handshake;
pub use metrics::Metrics;
pub use namespace::Namespace;
pub use observer::{Observer, ObserverAlreadySet};
pub use protocol::Payload;
pub use server::{DynamicNamespace, Server, ServerBuilder, ServerConfig, SocketIoService};
pub use socket::{DisconnectReason, Joined, Socket};

/// The README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
