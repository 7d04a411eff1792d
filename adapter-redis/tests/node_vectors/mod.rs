//! The shared fixture of the wire tests: messages the real Node `@socket.io/redis-adapter` 8.3.0
//! and `@socket.io/redis-emitter` 5.1.0 published on Redis (`captured.json`, whose `about` says
//! how they were captured and checked).

#![allow(dead_code)] // Each test crate uses its own part of the fixture.

use std::sync::OnceLock;

use serde::Deserialize;

/// One captured message.
#[derive(Debug, Deserialize)]
pub(crate) struct Vector {
    /// What the Node side did (`X #n`: the n-th answer to request `X`).
    pub(crate) label: String,
    /// The channel it was published on.
    pub(crate) channel: String,
    /// The payload, when it was JSON text.
    json: Option<String>,
    /// The payload, when it was msgpack, in hex.
    hex: Option<String>,
}

impl Vector {
    /// The payload's bytes, exactly as published.
    pub(crate) fn bytes(&self) -> Vec<u8> {
        match (&self.json, &self.hex) {
            (Some(text), None) => text.as_bytes().to_vec(),
            (None, Some(hex)) => decode_hex(hex),
            _ => panic!("vector {:?} needs exactly one of json and hex", self.label),
        }
    }

    /// Whether the payload is JSON text (otherwise msgpack).
    pub(crate) fn is_json(&self) -> bool {
        self.json.is_some()
    }

    /// Whether it was published on a broadcast channel (`<prefix>#<nsp>#...`).
    pub(crate) fn is_broadcast(&self) -> bool {
        self.channel.starts_with("socket.io#")
    }

    /// Whether it was published on a request channel.
    pub(crate) fn is_request(&self) -> bool {
        self.channel.starts_with("socket.io-request#")
    }

    /// Whether it was published on a response channel.
    pub(crate) fn is_response(&self) -> bool {
        self.channel.starts_with("socket.io-response#")
    }

    /// Whether the Node emitter published it.
    pub(crate) fn is_from_emitter(&self) -> bool {
        self.label.starts_with("emitter ")
    }
}

#[derive(Deserialize)]
struct Captured {
    vectors: Vec<Vector>,
}

fn decode_hex(hex: &str) -> Vec<u8> {
    assert!(hex.len().is_multiple_of(2), "odd hex length");
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex digits"))
        .collect()
}

/// Every captured message, in capture order.
pub(crate) fn all() -> &'static [Vector] {
    static VECTORS: OnceLock<Vec<Vector>> = OnceLock::new();
    VECTORS.get_or_init(|| {
        let captured: Captured =
            serde_json::from_str(include_str!("captured.json")).expect("captured.json is valid");
        captured.vectors
    })
}

/// The captured message labelled `label`.
pub(crate) fn vector(label: &str) -> &'static Vector {
    all()
        .iter()
        .find(|v| v.label == label)
        .unwrap_or_else(|| panic!("no vector {label:?}"))
}

/// The payload of the captured message labelled `label`.
pub(crate) fn bytes(label: &str) -> Vec<u8> {
    vector(label).bytes()
}
