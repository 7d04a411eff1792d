//! The admin UI's protocol on a mixed cluster: two `sio-node`s with `--admin-ui` and a Node.js
//! `socket.io` node instrumented with `@socket.io/admin-ui`'s own `instrument()`, on one real
//! redis-server. The admin client on a Rust node sees the Node node's sockets, stats and live
//! events, and its actions reach the Node node's sockets (`tests/interop/admin_protocol.mjs`).

mod common;

use common::admin::{HASH, PASSWORD, USER, admin_node_args};
use common::{Node, Redis, assert_checks, run_node, spawn_node_js};

#[test]
fn an_admin_client_on_a_rust_node_sees_and_acts_on_a_node_js_node_instrumented_by_admin_ui() {
    let redis = Redis::start();
    let url = redis.url();
    let args = admin_node_args(&url, &[]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let a = Node::spawn("mixed-a", &args);
    let b = Node::spawn("mixed-b", &args);
    let admin = format!("{USER}:{HASH}");
    let (_js, js_url) = spawn_node_js(&url, "mixed-js", &[("SIO_NODE_ADMIN", &admin)]);
    let urls = [a.url(), b.url(), js_url].join(",");
    let output = run_node(
        "admin_protocol.mjs",
        &[
            &urls,
            "mixed-a,mixed-b,mixed-js",
            USER,
            PASSWORD,
            "full",
            "",
        ],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_checks(
        &stdout,
        &[
            "all_sockets lists the app client of node 3",
            "all_sockets describes node 3's socket as the UI expects",
            "server_stats arrive from node mixed-js",
            "socket_connected arrives from another node",
            "the upgrade to websocket reaches the admin UI (socket_updated, or socket_connected after it)",
            "room_joined arrives from another node",
            "event_received names the event and its arguments",
            "event_sent reports a broadcast delivered to the socket",
            "room_left arrives from another node",
            "socket_disconnected arrives with the reason",
            "join makes a socket on another node join the room",
            "_disconnect disconnects the socket on another node",
        ],
    );
}
