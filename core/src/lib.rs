//! `sio-core`: what every part of the Socket.IO cluster shares, and nothing that ties it to a
//! runtime or a transport: no tokio, no hyper, no websocket library.
//!
//! - [`engine`]: Engine.IO packets and their codec, the encoded [`engine::Frame`] a connection
//!   writes, session ids ([`engine::Sid`], [`engine::NodeTag`]) and the [`engine::OwnerDirectory`]
//!   that session forwarding asks.
//! - [`protocol`]: Socket.IO packets and their pure codecs (JSON, msgpack, binary reassembly).
//! - [`adapter`]: the [`adapter::Adapter`] trait that carries every operation that may concern
//!   other nodes, and [`adapter::LocalAdapter`], one node's rooms index and local delivery, which
//!   reaches sockets only through the [`adapter::LocalSocket`] trait that the server implements.
//!
//! `sio-server` builds the server on it; adapter crates (Redis) and emitters depend on it alone.

pub mod adapter;
pub mod engine;
pub mod protocol;
