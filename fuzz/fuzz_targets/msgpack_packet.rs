//! socket.io-msgpack-parser packets: decoding never panics, and a valid packet re-encodes into
//! bytes that decode again. (Attachments may be numbered differently the second time: a map
//! that looks like a placeholder `{"_placeholder": true, "num": N}` in the client's data is read
//! as a reference to attachment N, as the JSON parser of the reference implementation does.)
#![no_main]
use libfuzzer_sys::fuzz_target;
use sio_core::protocol::{decode_msgpack, encode_msgpack};

fuzz_target!(|data: &[u8]| {
    if let Ok(packet) = decode_msgpack(data) {
        if packet.validate().is_ok() {
            let _ = decode_msgpack(&encode_msgpack(&packet)).expect("re-encoded packet decodes");
        }
    }
});
