//! Broadcasts read straight into the client frame (`broadcast_frame`): never a panic, and
//! whenever the fast path answers, its frame, uid, namespace and options are byte for byte what
//! the tree path (`wire::decode_broadcast` or `wire::decode_message` + `wire::packet_from`, then
//! the default parser's encoding) gives. Seeds: captured Node broadcasts and sharded messages.
#![no_main]
use libfuzzer_sys::fuzz_target;
use sio_adapter_redis::broadcast_frame::{decode_broadcast_frame, decode_sharded_frame};
use sio_adapter_redis::wire;
use sio_core::engine::Frame;
use sio_core::protocol::ParserKind;

fn text(frame: &Frame) -> String {
    frame
        .as_text()
        .map_or_else(|| format!("{frame:?}"), str::to_owned)
}

fuzz_target!(|data: &[u8]| {
    if let Some(fast) = decode_broadcast_frame(data) {
        let tree = wire::decode_broadcast(data).expect("the tree path reads a fast-path broadcast");
        assert_eq!(text(&fast.frame), text(&ParserKind::Json.encode(&tree.packet)));
        assert_eq!(fast.uid, tree.uid);
        assert_eq!(fast.nsp, tree.packet.nsp);
        assert_eq!(fast.opts, tree.opts);
    }
    if let Some(fast) = decode_sharded_frame(data) {
        let tree = wire::decode_message(data).expect("the tree path reads a fast-path message");
        assert_eq!(fast.uid.as_deref(), tree.value.get("uid").and_then(|v| v.as_str()));
        assert_eq!(fast.nsp.as_deref(), tree.value.get("nsp").and_then(|v| v.as_str()));
        assert_eq!(fast.kind, tree.value.get("type").and_then(|v| v.as_u64()));
        if let Some((nsp, frame)) = &fast.packet {
            let body = &tree.value["data"];
            let packet = wire::packet_from(&body["packet"], &tree.attachments)
                .expect("the tree path accepts a fast-path packet");
            assert_eq!(*nsp, packet.nsp);
            assert_eq!(text(frame), text(&ParserKind::Json.encode(&packet)));
            let opts = body.get("opts").map(wire::opts_from).unwrap_or_default();
            assert_eq!(fast.opts, opts);
            assert_eq!(fast.request_id, body.get("requestId").is_some());
        }
    }
});
