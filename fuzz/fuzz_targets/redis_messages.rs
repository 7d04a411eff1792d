//! Messages arriving on the Redis channels (broadcasts, requests, responses): decoding never
//! panics.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sio_adapter_redis::wire;

fuzz_target!(|data: &[u8]| {
    let _ = wire::decode_broadcast(data);
    if let Ok(message) = wire::decode_message(data) {
        let _ = wire::opts_from(&message.value);
        if let Some(packet) = message.value.get("packet") {
            let _ = wire::packet_from(packet, &message.attachments);
        }
    }
});
