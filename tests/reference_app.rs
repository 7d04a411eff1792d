//! Every reference-app event, run the same way against one node and against three nodes on
//! one Redis: a cluster behaves as one server.

mod common;

use std::time::Duration;

use common::client::Client;
use common::{Node, Redis};
use serde_json::{Value, json};

/// Runs the scenario with one client on each of `urls` (the same URL three times for a single
/// node).
async fn scenario(urls: [&str; 3], nodes: [&str; 3]) {
    let mut c1 = Client::connect(urls[0]).await;
    let mut c2 = Client::connect(urls[1]).await;
    let c3 = Client::connect(urls[2]).await;

    for (client, node) in [(&c1, nodes[0]), (&c2, nodes[1]), (&c3, nodes[2])] {
        let who = client.call("whoami", vec![]).await;
        assert_eq!(who, vec![json!({"sid": client.sid, "node": node})]);
    }

    assert_eq!(c1.call("join", vec![json!("r")]).await, vec![json!(true)]);
    assert_eq!(c2.call("join", vec![json!("r")]).await, vec![json!(true)]);
    assert_eq!(c3.call("count", vec![json!("r")]).await, vec![json!(2)]);

    let rooms = c3.call("rooms", vec![]).await;
    let rooms = rooms[0].as_array().unwrap();
    for room in [json!("r"), json!(c1.sid), json!(c2.sid), json!(c3.sid)] {
        assert!(rooms.contains(&room), "{room} in {rooms:?}");
    }

    // publish from outside the room: members get it, the sender does not.
    assert_eq!(
        c3.call("publish", vec![json!({"room": "r", "data": {"n": 1}})])
            .await,
        vec![json!(true)]
    );
    for c in [&mut c1, &mut c2] {
        let ev = c.next().await;
        assert_eq!(
            (ev.name.as_str(), ev.args.clone()),
            ("message", vec![json!({"n": 1})])
        );
    }
    // publish from inside: the sender gets it too.
    c1.call("publish", vec![json!({"room": "r", "data": "x"})])
        .await;
    for c in [&mut c1, &mut c2] {
        assert_eq!(c.next().await.args, vec![json!("x")]);
    }
    assert!(c3.try_next(Duration::from_millis(200)).await.is_none());

    let args = vec![
        json!("a"),
        json!(1),
        json!({"k": [1, null]}),
        Value::Null,
        json!(false),
    ];
    assert_eq!(c2.call("echo", args.clone()).await, args);

    c1.call("direct", vec![json!({"to": c3.sid, "data": "psst"})])
        .await;
    let ev = c3.next().await;
    assert_eq!(
        (ev.name.as_str(), ev.args),
        ("message", vec![json!("psst")])
    );

    // gather: the room's members are asked, with acks, wherever they are.
    let gather = {
        let args = vec![json!({"room": "r", "data": "q?", "timeout_ms": 3000})];
        let c3 = &c3;
        async move { c3.call("gather", args).await }
    };
    let answer = async {
        for (c, reply) in [(&mut c1, "from 1"), (&mut c2, "from 2")] {
            let ask = c.next().await;
            assert_eq!(
                (ask.name.as_str(), ask.args.clone()),
                ("ask", vec![json!("q?")])
            );
            c.ack(ask.ack.expect("ask wants an ack"), vec![json!(reply)]);
        }
    };
    let (result, ()) = tokio::join!(gather, answer);
    let mut replies: Vec<Value> = result[0]["replies"].as_array().unwrap().clone();
    replies.sort_by_key(|v| v.to_string());
    assert_eq!(replies, vec![json!("from 1"), json!("from 2")]);
    assert_eq!(result[0]["missing_nodes"], json!([]));

    assert_eq!(c2.call("leave", vec![json!("r")]).await, vec![json!(true)]);
    assert_eq!(c1.call("count", vec![json!("r")]).await, vec![json!(1)]);

    // kick: the room's members are disconnected by the server, wherever they are.
    assert_eq!(c2.call("kick", vec![json!("r")]).await, vec![json!(true)]);
    assert_eq!(c1.next().await.name, "disconnect");
    assert_eq!(c1.next().await.name, "closed");
    assert_eq!(c3.call("count", vec![json!("r")]).await, vec![json!(0)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_single_node() {
    let node = Node::spawn("solo", &[]);
    let url = node.url();
    scenario([&url, &url, &url], ["solo"; 3]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_three_nodes_over_redis() {
    let redis = Redis::start();
    on_three_nodes(&["--redis", &redis.url(), "--heartbeat-ms", "500"]).await;
}

async fn on_three_sharded_nodes(mode: &str) {
    let redis = Redis::start();
    on_three_nodes(&[
        "--redis",
        &redis.url(),
        "--heartbeat-ms",
        "500",
        "--redis-sharded",
        "--redis-subscription-mode",
        mode,
    ])
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_three_nodes_over_sharded_pubsub_static() {
    on_three_sharded_nodes("static").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_three_nodes_over_sharded_pubsub_dynamic() {
    on_three_sharded_nodes("dynamic").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_three_nodes_over_sharded_pubsub_dynamic_private() {
    on_three_sharded_nodes("dynamic-private").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_three_nodes_over_a_redis_cluster_in_each_mode() {
    let cluster = common::redis_cluster::RedisCluster::start();
    let seeds = cluster.urls();
    for mode in ["static", "dynamic", "dynamic-private"] {
        on_three_nodes(&[
            "--redis",
            &seeds,
            "--redis-cluster",
            "--heartbeat-ms",
            "500",
            "--redis-subscription-mode",
            mode,
        ])
        .await;
    }
}

async fn on_three_nodes(args: &[&str]) {
    let nodes = [
        Node::spawn("n1", args),
        Node::spawn("n2", args),
        Node::spawn("n3", args),
    ];
    // Let the nodes find each other.
    for node in &nodes {
        let mut ok = false;
        for _ in 0..100 {
            let metrics = common::http_get(node.addr, "/metrics").unwrap().1;
            if metrics.contains("sio_cluster_nodes 3") {
                ok = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(ok, "node {} does not see the cluster", node.node_id);
    }
    let urls: Vec<String> = nodes.iter().map(Node::url).collect();
    scenario([&urls[0], &urls[1], &urls[2]], ["n1", "n2", "n3"]).await;
}
