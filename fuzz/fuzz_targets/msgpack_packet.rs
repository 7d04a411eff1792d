//! socket.io-msgpack-parser packets: decoding never panics, and a valid packet re-encodes into
//! bytes that decode to the same packet (decode → encode → decode equals). The run starts from
//! the packets the real encoder (notepack.io) writes, `undefined`, dates and ArrayBuffers
//! included: `scripts/fuzz.sh` seeds the corpus with `server/src/protocol/notepack_vectors.tsv`.
//!
//! One exception: a map in the client's data that looks like a placeholder
//! (`{"_placeholder": true, "num": N}`) is read back as a reference to attachment N, as the JSON
//! parser of the reference implementation does, so a packet holding such a map may come back
//! with its attachments numbered differently. Equality is required of every packet whose
//! placeholders are exactly its attachments, in order (every packet notepack writes).
#![no_main]
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use sio_core::protocol::{decode_msgpack, encode_msgpack};

/// Whether the placeholder-shaped maps of `value` are numbered `next`, `next + 1`, ... in order.
fn placeholders_in_order(value: &Value, next: &mut u64) -> bool {
    match value {
        Value::Array(items) => items.iter().all(|v| placeholders_in_order(v, next)),
        Value::Object(map) if map.get("_placeholder") == Some(&Value::Bool(true)) => {
            let ok = map.len() == 2 && map.get("num").and_then(Value::as_u64) == Some(*next);
            *next += 1;
            ok
        }
        Value::Object(map) => map.values().all(|v| placeholders_in_order(v, next)),
        _ => true,
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(packet) = decode_msgpack(data) {
        if packet.validate().is_ok() {
            let again = decode_msgpack(&encode_msgpack(&packet)).expect("re-encoded packet decodes");
            let mut next = 0;
            let clean = packet
                .data
                .as_ref()
                .is_none_or(|d| placeholders_in_order(d, &mut next));
            if clean && next == packet.attachments.len() as u64 {
                assert_eq!(again, packet, "decode → encode → decode changed the packet");
            }
        }
    }
});
