//! python-socketio's `AsyncClient` drives every reference-app event against `sio-node`, over
//! polling, websocket, and polling upgraded to websocket, with each serializer (the default JSON
//! one and `serializer="msgpack"`), on one node and on three nodes over Redis.

mod common;

use common::parsers::{one_node_each_parser, run_every_mode, three_nodes_each_parser};
use common::{Node, run_python};

fn run_all_modes(urls: &str, extra: &[&str]) {
    run_every_mode(run_python, "sio_client.py", urls, extra);
}

#[test]
fn python_socketio_every_event_every_transport_each_parser() {
    one_node_each_parser("node-py", |url, parser| {
        run_all_modes(url, &["--parser", parser]);
    });
}

#[test]
fn python_socketio_every_event_on_three_nodes_each_parser() {
    three_nodes_each_parser("node-py-cluster", |urls, parser| {
        run_all_modes(urls, &["--parser", parser]);
    });
}

#[test]
fn python_socketio_with_an_auth_token() {
    let node = Node::spawn("node-py-auth", &["--auth-token", "s3cret"]);
    run_all_modes(&node.url(), &["--token", "s3cret"]);
}
