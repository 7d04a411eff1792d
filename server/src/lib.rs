//! `sio-server`: an Engine.IO v4 and Socket.IO v5 server with a pluggable cluster adapter.
//!
//! Layers look down only: [`engine`] (transports, sessions, heartbeats) knows nothing of
//! namespaces; [`protocol`] holds the pure packet codecs; [`adapter`] carries every operation
//! that may concern other nodes; [`Server`], [`Namespace`] and [`Socket`] are the API.
//!
//! # A first server
//!
//! Handlers are registered per connection, events are typed through serde, acks are answered
//! with an [`AckSender`]; [`Server::serve`] runs it on a listener, [`Server::service`] mounts it
//! in axum or hyper (see `server/examples/`). This one runs in-process: a client's long-polling
//! requests go straight to [`Server::handle`].
//!
//! ```
//! use bytes::Bytes;
//! use http_body_util::{BodyExt, Full};
//! use sio_server::{AckSender, Data, Server, Socket};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let io = Server::builder().build();
//! io.on_connection(|socket: Socket| async move {
//!     socket.on("double", |_s: Socket, Data(n): Data<i64>, ack: AckSender| async move {
//!         let _ = ack.send(&(n * 2));
//!     });
//! });
//!
//! // What a polling client sends: a handshake, a CONNECT to `/`, an event asking ack 1.
//! let request = |method: &str, query: &str, body: &'static str| {
//!     http::Request::builder()
//!         .method(method)
//!         .uri(format!("/socket.io/?EIO=4&transport=polling{query}"))
//!         .body(Full::new(Bytes::from(body)))
//!         .unwrap()
//! };
//! let text = |response: http::Response<Full<Bytes>>| async move {
//!     let body = response.into_body().collect().await.unwrap().to_bytes();
//!     String::from_utf8(body.to_vec()).unwrap()
//! };
//! let open = text(io.handle(request("GET", "", ""), None).await).await;
//! let sid: String = open.split('"').nth(3).unwrap().to_owned(); // 0{"sid":"…",…}
//! let session = format!("&sid={sid}");
//! io.handle(request("POST", &session, "40"), None).await;
//! assert!(text(io.handle(request("GET", &session, ""), None).await).await.starts_with("40{\"sid\""));
//! io.handle(request("POST", &session, "421[\"double\",21]"), None).await;
//! assert_eq!(text(io.handle(request("GET", &session, ""), None).await).await, "431[42]");
//! # }
//! ```

pub use sio_core::adapter;
mod broadcast;
mod client;
mod config;
mod connect_timeout;
pub mod engine;
mod error;
mod event;
mod handler;
mod handler_slots;
mod handshake;
mod hooks;
mod metrics;
mod namespace;
mod namespace_cleanup;
mod namespace_state;
pub mod observer;
mod replay;
pub use sio_core::protocol;
pub mod serve;
mod server;
mod server_inner;
mod socket;

pub use adapter::{Adapter, DynAdapter, LocalAdapter};
pub use broadcast::{BroadcastOperator, RemoteSocket};
pub use error::{AckError, ConnectError, EmitError, JoinError};
pub use event::{AckSender, BoxFuture, Data, DisconnectReason, Event};
pub use handler::EventHandler;

/// The marker types that tell apart the shapes of [`EventHandler`] closures (raw event, typed
/// data, typed data with an ack). Inference picks them; they are named here for signatures
/// that spell out an `EventHandler` bound.
pub mod markers {
    pub use crate::handler::{DataAckMarker, DataMarker, RawMarker};
}
pub use config::ServerConfig;
pub use handshake::Handshake;
pub use metrics::Metrics;
pub use namespace::Namespace;
pub use observer::{Observer, ObserverAlreadySet};
pub use protocol::Payload;
pub use serve::Listener;
pub use server::{DynamicNamespace, Server, ServerBuilder, SocketIoService};
pub use socket::{Joined, Socket};

/// The README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
