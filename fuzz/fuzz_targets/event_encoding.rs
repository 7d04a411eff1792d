//! Events encoded once (`JsonEvent`): never a panic, and for every JSON value the input parses
//! to, the client frame and the classic and sharded Redis messages are byte for byte the tree
//! path's (`Payload::from_value`, `Packet::event`, `encode_json`, `wire::encode_broadcast`,
//! `sharded_wire::encode`). The JSON-to-msgpack transcoder also reads the raw input without
//! panicking.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sio_adapter_redis::{sharded_wire, wire};
use sio_core::adapter::BroadcastOptions;
use sio_core::engine::Frame;
use sio_core::protocol::{JsonEvent, Packet, Payload, encode_json, json_to_msgpack};

fn text(frame: &Frame) -> String {
    frame
        .as_text()
        .map_or_else(|| format!("{frame:?}"), str::to_owned)
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = json_to_msgpack(text, &mut Vec::new());
    }
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let event = JsonEvent::encode("/n", "e", &value).expect("a Value is always encoded");
    let packet = Packet::event("/n", "e", Payload::from_value(&value).expect("a Value"));
    assert_eq!(text(&event.frame()), text(&encode_json(&packet)));
    let opts = BroadcastOptions::default();
    assert_eq!(
        wire::encode_broadcast_event("u", &event, &opts).expect("transcoded"),
        wire::encode_broadcast("u", &packet, &opts)
    );
    let data = serde_json::json!({
        "packet": sharded_wire::packet_json(&packet),
        "opts": sharded_wire::opts_json(&opts, None),
    });
    assert_eq!(
        sharded_wire::encode_broadcast_event("u", "/n", &event, &opts),
        sharded_wire::encode("u", "/n", sharded_wire::MessageType::Broadcast, data, &[])
    );
});
