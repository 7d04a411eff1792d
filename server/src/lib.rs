//! `sio-server`: an Engine.IO v4 and Socket.IO v5 server with a pluggable cluster adapter.

pub mod engine;
pub mod protocol;
pub mod serve;
