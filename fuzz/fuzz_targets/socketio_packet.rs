//! Socket.IO text packets: decoding and validation never panic; valid packets re-encode.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sio_core::protocol::{decode_json, encode_json};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok((packet, 0)) = decode_json(text) {
        if packet.validate().is_ok() {
            let _ = encode_json(&packet);
        }
    }
});
