//! Our [`Emitter`] publishes what `@socket.io/redis-emitter` 5.1.0 published for the same calls,
//! on the same channels: the same values (key order aside), and for join, leave and disconnect
//! an extra `uid: "emitter"` that Node nodes ignore.

mod node_vectors;

use std::sync::Arc;

use serde_json::json;
use sio_adapter_redis::driver::Received;
use sio_adapter_redis::wire;
use sio_adapter_redis::{Driver, Emitter, MemoryHub};
use sio_core::protocol::Payload;

use node_vectors::vector;

/// Compares what we published with the Node vector `label`; `uid_added`: whether ours carries a
/// `uid` that Node's does not.
fn assert_like_node(ours: &Received, label: &str, uid_added: bool) {
    let node = vector(label);
    assert_eq!(ours.channel, node.channel, "{label}");
    let mut theirs = wire::decode_message(&node.bytes()).unwrap();
    if uid_added {
        let object = theirs.value.as_object_mut().unwrap();
        assert_eq!(object.get("uid"), None, "{label}");
        object.insert("uid".into(), json!("emitter"));
    }
    let ours = wire::decode_message(&ours.payload).unwrap();
    assert_eq!(ours, theirs, "{label}");
}

#[test]
fn the_emitter_publishes_what_nodes_emitter_does() {
    let hub = MemoryHub::new();
    let spy = hub.driver();
    let mut published = spy.take_messages().unwrap();
    spy.subscribe(&["socket.io-request#/#".into()], &["socket.io#*".into()]);
    let emitter = Emitter::new(Arc::new(hub.driver()));

    // The same calls as the capture, in its order (but `compress(true)`, which we lack).
    emitter.emit_payload(
        "e1",
        Payload {
            args: vec![json!(1), json!("a")],
            attachments: Vec::new(),
        },
    );
    emitter
        .to(["r1"])
        .emit_payload("e2", Payload::new().binary(vec![0xde, 0xad]));
    emitter
        .of("/chat")
        .to(["r1", "r2"])
        .except(["x"])
        .volatile()
        .emit("e3", &json!({"k": [1, 2]}))
        .unwrap();
    emitter.sockets_join(["j2"]);
    emitter.to(["r1"]).sockets_leave(["j2", "j3"]);
    emitter.server_side_emit("srv", vec![json!({"x": 1})]);
    emitter.except(["r9"]).disconnect_sockets(true);

    let mut next = || published.try_recv().expect("one more message published");
    assert_like_node(&next(), "emitter emit e1", false);
    let binary = next();
    assert_like_node(&binary, "emitter to r1 binary", false);
    // A blob goes out as a msgpack `bin`, as notepack writes a Buffer.
    assert!(
        binary
            .payload
            .windows(4)
            .any(|w| w == [0xc4, 0x02, 0xde, 0xad])
    );
    assert_like_node(&next(), "emitter of chat to r1,r2 except x volatile", false);
    assert_like_node(&next(), "emitter socketsJoin j2", true);
    assert_like_node(&next(), "emitter in r1 socketsLeave j2 j3", true);
    assert_like_node(&next(), "emitter serverSideEmit srv", false);
    assert_like_node(&next(), "emitter except r9 disconnectSockets true", true);
    assert!(published.try_recv().is_err(), "nothing more");
}
