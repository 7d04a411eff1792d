//! A connection's message sequence (text and binary, split on 0xff): the decoder that
//! reassembles attachments never panics and never exceeds its limits.
#![no_main]
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use sio_core::protocol::{BinaryLimits, Decoder, ParserKind};

fuzz_target!(|data: &[u8]| {
    let limits = BinaryLimits {
        max_attachments: 4,
        max_total_size: 64,
    };
    let mut decoder = Decoder::new(ParserKind::Json, limits);
    for chunk in data.split(|b| *b == 0xff) {
        let result = match chunk.split_first() {
            Some((0, rest)) => decoder.on_binary(Bytes::copy_from_slice(rest)),
            Some((_, rest)) => match std::str::from_utf8(rest) {
                Ok(text) => decoder.on_text(text),
                Err(_) => continue,
            },
            None => continue,
        };
        match result {
            Ok(Some(packet)) => assert!(packet.attachments.len() <= limits.max_attachments),
            Ok(None) => {}
            // A real connection is closed at the first error.
            Err(_) => return,
        }
    }
});
