//! The npm `socket.io-client` 4.x drives every reference-app event against `sio-node`, over
//! polling, websocket, and polling upgraded to websocket, with each parser (the default JSON one
//! and `socket.io-msgpack-parser`), on one node and on three nodes over Redis.

mod common;

use common::parsers::{one_node_each_parser, run_every_mode, three_nodes_each_parser};
use common::{Node, run_node};

fn run_all_modes(urls: &str, extra: &[&str]) {
    run_every_mode(run_node, "sio_client.mjs", urls, extra);
}

#[test]
fn socket_io_client_every_event_every_transport_each_parser() {
    one_node_each_parser("node-js", |url, parser| {
        run_all_modes(url, &["--parser", parser]);
    });
}

#[test]
fn socket_io_client_every_event_on_three_nodes_each_parser() {
    three_nodes_each_parser("node-js-cluster", |urls, parser| {
        run_all_modes(urls, &["--parser", parser]);
    });
}

#[test]
fn socket_io_client_with_an_auth_token() {
    let node = Node::spawn("node-js-auth", &["--auth-token", "s3cret"]);
    run_all_modes(&node.url(), &["--token", "s3cret"]);
}

#[test]
fn socket_io_client_burst_of_joins() {
    let node = Node::spawn("node-js-burst", &[]);
    run_node("burst_join.mjs", &[node.url().as_str(), "5000"]);
}
