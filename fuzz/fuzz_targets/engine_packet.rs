//! Engine.IO text packets (websocket text frames): decoding never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = sio_core::engine::packet::decode_text(text);
    }
});
