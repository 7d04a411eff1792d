//! What the core's tests share.

pub(crate) mod fixture_socket;
