//! The runtime-free part of Engine.IO v4: packets and their codec ([`packet`]), the encoded
//! [`Frame`] a connection writes, session ids ([`Sid`], [`NodeTag`]), why a session ended
//! ([`CloseReason`]) and the [`OwnerDirectory`] that session forwarding asks where a session's
//! owner lives.

mod close;
mod owner;
pub mod packet;
mod sid;
mod text;

pub use close::CloseReason;
pub use owner::OwnerDirectory;
pub use packet::Frame;
pub use sid::{InvalidSid, NodeTag, Sid};
pub use text::Text;
