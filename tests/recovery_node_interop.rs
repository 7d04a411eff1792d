//! Rust and Node.js nodes on one Redis stream: `sio-node --redis-streams` and Node's
//! `socket.io` with `@socket.io/redis-streams-adapter` 0.3, both with connection state recovery.
//! Broadcasts cross both ways, and a client whose transport dropped is recovered by the other
//! kind of node (same id, rooms, every message exactly once and in order).

mod common;

use common::{Node, Redis, run_node, spawn_node_js};

#[test]
fn rust_and_node_streams_nodes_recover_each_others_clients() {
    let redis = Redis::start();
    let rust = Node::spawn(
        "rust-streams",
        &[
            "--redis",
            &redis.url(),
            "--redis-streams",
            "--recovery-ms",
            "30000",
        ],
    );
    let (_node_js, node_url) = spawn_node_js(
        &redis.url(),
        "node-streams",
        &[("SIO_NODE_ADAPTER", "streams")],
    );
    let rust_url = rust.url();
    run_node("csr_mixed.mjs", &[&rust_url, &node_url]);
    run_node("csr_mixed.mjs", &[&node_url, &rust_url]);
}
