//! Rust and Node.js nodes in one sharded cluster: Node's `socket.io` 4.8 with
//! `createShardedAdapter` (`dynamic`, `@socket.io/redis-adapter` 8.3) and `sio-node
//! --redis-sharded` share a Redis; broadcasts, direct messages, `fetchSockets`,
//! `serverSideEmit` with acks, broadcasts with acks, `socketsJoin` and `disconnectSockets`
//! cross both ways.

mod common;

use std::time::{Duration, Instant};

use common::client::Client;
use common::{Node, Redis, spawn_node_js_variant, wait_for_metric};
use serde_json::{Value, json};

/// Waits until both clients get `message` with `data`.
async fn both_get(clients: [&Client; 2], data: Value) {
    for c in clients {
        let ev = c.next().await;
        assert_eq!((ev.name.as_str(), ev.args), ("message", vec![data.clone()]));
    }
}

/// Waits until `nodes` nodes subscribe to the channel of `room` (Node's join does not wait
/// for its subscription, so a publish right after could precede it).
fn wait_subscribed(redis: &Redis, room: &str, nodes: usize) {
    let channel = format!("socket.io#/#{room}#");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = std::process::Command::new("redis-cli")
            .args([
                "-p",
                &redis.port.to_string(),
                "PUBSUB",
                "SHARDNUMSUB",
                &channel,
            ])
            .output()
            .expect("redis-cli runs");
        let text = String::from_utf8_lossy(&out.stdout);
        if text.lines().nth(1).map(str::trim) == Some(nodes.to_string().as_str()) {
            return;
        }
        assert!(Instant::now() < deadline, "{channel}: {text}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until `asker` counts `n` sockets in `room` (the cluster applied a remote join) and
/// both nodes subscribe to the room's channel.
async fn wait_count(redis: &Redis, asker: &Client, room: &str, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let count = asker.call("count", vec![json!(room)]).await;
        if count == vec![json!(n)] {
            break;
        }
        assert!(Instant::now() < deadline, "{room}: {count:?}, not {n}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    wait_subscribed(redis, room, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_and_node_nodes_share_a_sharded_cluster() {
    let redis = Redis::start();
    let rust = Node::spawn(
        "rust-1",
        &[
            "--redis",
            &redis.url(),
            "--heartbeat-ms",
            "500",
            "--redis-sharded",
        ],
    );
    let (_node_js, node_url) =
        spawn_node_js_variant(&redis.url(), "node-1", "sharded:dynamic", &[]);
    // Both subscribed: SHARDNUMSUB counts two servers.
    wait_for_metric(&rust, "sio_cluster_nodes 2\n");

    let cr = Client::connect(&rust.url()).await;
    let cn = Client::connect(&node_url).await;
    assert_eq!(cn.call("whoami", vec![]).await[0]["node"], json!("node-1"));
    cr.call("join", vec![json!("mix")]).await;
    cn.call("join", vec![json!("mix")]).await;
    wait_subscribed(&redis, "mix", 2);

    // Broadcasts to one room (on the room's channel) cross both ways.
    cr.call("publish", vec![json!({"room": "mix", "data": "from rust"})])
        .await;
    both_get([&cr, &cn], json!("from rust")).await;
    cn.call(
        "publish",
        vec![json!({"room": "mix", "data": {"from": "node"}})],
    )
    .await;
    both_get([&cr, &cn], json!({"from": "node"})).await;

    // Direct messages (a socket id: the namespace channel in `dynamic`) both ways.
    cr.call("direct", vec![json!({"to": cn.sid, "data": "r2n"})])
        .await;
    assert_eq!(cn.next().await.args, vec![json!("r2n")]);
    cn.call("direct", vec![json!({"to": cr.sid, "data": "n2r"})])
        .await;
    assert_eq!(cr.next().await.args, vec![json!("n2r")]);

    // fetchSockets each way.
    assert_eq!(cr.call("count", vec![json!("mix")]).await, vec![json!(2)]);
    assert_eq!(cn.call("count", vec![json!("mix")]).await, vec![json!(2)]);

    // serverSideEmit with acks each way: the other server answers.
    let asked = cr.call("servers", vec![]).await;
    assert_eq!(
        asked[0]["replies"],
        json!([{"node": "node-1"}]),
        "{asked:?}"
    );
    assert_eq!(asked[0]["missing_nodes"], json!([]), "{asked:?}");
    let asked = cn.call("servers", vec![]).await;
    assert_eq!(
        asked[0]["replies"],
        json!([{"node": "rust-1"}]),
        "{asked:?}"
    );
    assert_eq!(asked[0]["missing_nodes"], json!([]), "{asked:?}");

    // Broadcasts with acks each way: every member, the asker included, answers.
    common::client::gather_each_way(&cr, &cn, "mix").await;

    // socketsJoin each way: the members of `mix` join a new room, then hear it.
    cr.call("herd", vec![json!({"room": "mix", "into": "herd-r"})])
        .await;
    wait_count(&redis, &cn, "herd-r", 2).await;
    cn.call(
        "publish",
        vec![json!({"room": "herd-r", "data": "herded by rust"})],
    )
    .await;
    both_get([&cr, &cn], json!("herded by rust")).await;
    cn.call("herd", vec![json!({"room": "mix", "into": "herd-n"})])
        .await;
    wait_count(&redis, &cr, "herd-n", 2).await;
    cr.call(
        "publish",
        vec![json!({"room": "herd-n", "data": "herded by node"})],
    )
    .await;
    both_get([&cr, &cn], json!("herded by node")).await;

    // disconnectSockets each way.
    cr.call("join", vec![json!("kick-r")]).await;
    cn.call("join", vec![json!("kick-n")]).await;
    wait_subscribed(&redis, "kick-n", 1);
    cn.call("kick", vec![json!("kick-r")]).await;
    assert_eq!(cr.next().await.name, "disconnect");
    let cr2 = Client::connect(&rust.url()).await;
    cr2.call("kick", vec![json!("kick-n")]).await;
    assert_eq!(cn.next().await.name, "disconnect");
}
