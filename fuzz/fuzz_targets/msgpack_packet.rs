//! socket.io-msgpack-parser packets: decoding never panics; valid packets re-encode identically.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sio_server::protocol::{decode_msgpack, encode_msgpack};

fuzz_target!(|data: &[u8]| {
    if let Ok(packet) = decode_msgpack(data) {
        if packet.validate().is_ok() {
            let again = decode_msgpack(&encode_msgpack(&packet)).expect("re-encoded packet decodes");
            assert_eq!(again.attachments, packet.attachments);
        }
    }
});
