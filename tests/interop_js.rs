//! The npm `socket.io-client` 4.x drives every reference-app event against `sio-node`, over
//! polling, websocket, and polling upgraded to websocket.

mod common;

use common::{Node, run_node};

fn run_all_modes(node: &Node, extra: &[&str]) {
    let url = node.url();
    for mode in ["polling", "websocket", "upgrade"] {
        let mut args = vec![url.as_str(), mode];
        args.extend_from_slice(extra);
        run_node("sio_client.mjs", &args);
    }
}

#[test]
fn socket_io_client_every_event_every_transport() {
    let node = Node::spawn("node-js", &[]);
    run_all_modes(&node, &[]);
}

#[test]
fn socket_io_client_with_an_auth_token() {
    let node = Node::spawn("node-js-auth", &["--auth-token", "s3cret"]);
    run_all_modes(&node, &["--token", "s3cret"]);
}

#[test]
fn socket_io_client_burst_of_joins() {
    let node = Node::spawn("node-js-burst", &[]);
    run_node("burst_join.mjs", &[node.url().as_str(), "5000"]);
}
