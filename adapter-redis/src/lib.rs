//! `sio-adapter-redis`: a Redis pub/sub [`Adapter`](sio_core::adapter::Adapter) for `sio-server`,
//! wire-compatible with Node's `@socket.io/redis-adapter`, so Rust and Node nodes can share one
//! cluster, and with `@socket.io/redis-emitter`.
//!
//! This crate depends on `sio-core` only (a process that only emits needs no HTTP server); the
//! node hands the cluster to the server:
//! `sio_server::Server::builder().adapter::<RedisAdapter>(cluster).build()`.
//!
//! ```no_run
//! use std::sync::Arc;
//! use sio_adapter_redis::{RedisAdapterConfig, RedisCluster, RedisDriver, RedisDriverConfig};
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let driver = RedisDriver::new("redis://127.0.0.1:6379", RedisDriverConfig::default())?;
//! let cluster = RedisCluster::new(Arc::new(driver), RedisAdapterConfig::default());
//! # let _ = cluster;
//! # Ok(()) }
//! ```
//!
//! Beyond Node's adapter: nodes heartbeat (a dead node leaves `server_count` within two
//! intervals), requests name the nodes that did not answer instead of failing or hanging, and
//! messages published while Redis is down wait in a bounded buffer and go out once every node
//! has resubscribed. Delivery through Redis is at most once: nothing is published twice, and
//! what is given up (buffer overflow, a failed pipeline) is counted in
//! [`DriverStats`](driver::DriverStats).

mod adapter;
pub mod broadcast_frame;
mod cluster;
pub mod driver;
mod emitter;
pub mod streams;
pub mod wire;

pub use adapter::sharded::wire as sharded_wire;
pub use adapter::{RedisAdapter, ShardedRedisAdapter};
pub use cluster::{NodeRoute, RedisAdapterConfig, RedisCluster, SubscriptionMode};
pub use driver::{
    Driver, MemoryDriver, MemoryHub, RedisClusterDriver, RedisDriver, RedisDriverConfig, ResumeGate,
};
pub use emitter::Emitter;
pub use streams::{RedisStreamsAdapter, RedisStreamsCluster, StreamsConfig};
