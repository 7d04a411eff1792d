//! Engine.IO long-polling payloads: decoding never panics, and what decodes re-encodes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sio_core::engine::packet::{Frame, Packet, decode_payload, encode_into_payload};

fuzz_target!(|data: &[u8]| {
    let Ok(packets) = decode_payload(data) else { return };
    let mut out = Vec::new();
    for p in packets {
        let frame = match p {
            Packet::Message(t) => Frame::message(t),
            Packet::Binary(b) => Frame::Binary(b),
            _ => continue,
        };
        encode_into_payload(&frame, &mut out);
    }
    if !out.is_empty() {
        let _ = decode_payload(&out).expect("what we encode decodes");
    }
});
