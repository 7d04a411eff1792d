//! The runtime-free part of Engine.IO v4: packets and their codec ([`packet`]), the encoded
//! [`Frame`] a connection writes, session ids ([`Sid`], [`NodeTag`]) and the [`OwnerDirectory`]
//! that session forwarding asks where a session's owner lives.

mod owner;
pub mod packet;
mod sid;
mod text;

pub use owner::OwnerDirectory;
pub use packet::Frame;
pub use sid::{InvalidSid, NodeTag, Sid};
pub use text::Text;
