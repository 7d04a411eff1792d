//! Rust and Node.js nodes in one cluster: Node's `socket.io` with `@socket.io/redis-adapter`
//! and `sio-node` share a Redis; broadcasts, fetches, room lists and acks cross both ways, and
//! `@socket.io/redis-emitter` reaches clients on the Rust node.

mod common;

use std::time::Duration;

use common::client::Client;
use common::{Node, Redis, run_node, wait_for_metric};
use serde_json::json;

fn spawn_node_js(redis: &str, id: &str) -> (common::NodeJs, String) {
    common::spawn_node_js(redis, id, &[])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_and_node_nodes_share_a_cluster() {
    let redis = Redis::start();
    let rust = Node::spawn(
        "rust-1",
        &["--redis", &redis.url(), "--heartbeat-ms", "500"],
    );
    let (_node_js, node_url) = spawn_node_js(&redis.url(), "node-1");
    // Both subscribed: Redis counts two servers.
    wait_for_metric(&rust, "sio_cluster_nodes 2\n");

    let cr = Client::connect(&rust.url()).await;
    let cn = Client::connect(&node_url).await;
    assert_eq!(cn.call("whoami", vec![]).await[0]["node"], json!("node-1"));
    cr.call("join", vec![json!("mix")]).await;
    cn.call("join", vec![json!("mix")]).await;

    // Broadcasts cross both ways.
    cr.call("publish", vec![json!({"room": "mix", "data": "from rust"})])
        .await;
    for c in [&cr, &cn] {
        assert_eq!(c.next().await.args, vec![json!("from rust")]);
    }
    cn.call(
        "publish",
        vec![json!({"room": "mix", "data": {"from": "node"}})],
    )
    .await;
    for c in [&cr, &cn] {
        assert_eq!(c.next().await.args, vec![json!({"from": "node"})]);
    }

    // fetchSockets each way.
    assert_eq!(cr.call("count", vec![json!("mix")]).await, vec![json!(2)]);
    assert_eq!(cn.call("count", vec![json!("mix")]).await, vec![json!(2)]);

    // allRooms each way.
    let rooms = cr.call("rooms", vec![]).await;
    assert!(
        rooms[0].as_array().unwrap().contains(&json!(cn.sid)),
        "{rooms:?}"
    );
    let rooms = cn.call("rooms", vec![]).await;
    assert!(
        rooms[0].as_array().unwrap().contains(&json!(cr.sid)),
        "{rooms:?}"
    );

    // Broadcasts with acks each way: every member, the asker included, answers.
    common::client::gather_each_way(&cr, &cn, "mix").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_emitter_reaches_rust_clients() {
    let redis = Redis::start();
    let rust = Node::spawn("rust-e", &["--redis", &redis.url()]);
    let client = Client::connect(&rust.url()).await;
    client.call("join", vec![json!("news")]).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let url = redis.url();
    tokio::task::spawn_blocking(move || {
        run_node("emit.mjs", &[&url, "news", "headline", "\"hello\""])
    })
    .await
    .unwrap();
    let ev = client.next().await;
    assert_eq!(
        (ev.name.as_str(), ev.args),
        ("headline", vec![json!("hello")])
    );
    let ev = client.next().await;
    assert_eq!(ev.name, "headline-binary");
    assert_eq!(ev.args[0]["_placeholder"], json!(true));
}

/// Two `sio-node --parser msgpack` and a Node.js node with `socket.io-msgpack-parser` on one
/// classic Redis cluster: the npm client with the msgpack parser runs the whole reference-app
/// scenario with its clients spread over the three (the third client, and its second namespace,
/// on the Node.js node), over every transport.
#[test]
fn rust_and_node_msgpack_nodes_share_a_cluster() {
    let redis = Redis::start();
    let rust: Vec<Node> = ["rust-m1", "rust-m2"]
        .iter()
        .map(|id| {
            let args = ["--parser", "msgpack", "--redis", &redis.url()];
            Node::spawn(id, &[&args[..], &["--heartbeat-ms", "500"]].concat())
        })
        .collect();
    let (_node_js, node_url) =
        common::spawn_node_js(&redis.url(), "node-m", &[("SIO_NODE_PARSER", "msgpack")]);
    for node in &rust {
        wait_for_metric(node, "sio_cluster_nodes 3\n");
    }
    let urls = format!("{},{},{node_url}", rust[0].url(), rust[1].url());
    common::parsers::run_every_mode(run_node, "sio_client.mjs", &urls, &["--parser", "msgpack"]);
}
