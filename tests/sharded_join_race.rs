//! A join acknowledged by one node and a publish from another node right after: the message
//! arrives, in every subscription mode of `--redis-sharded` (the join's ack waits for the
//! room's `SSUBSCRIBE` to be confirmed), 1 000 times each, with the room left in between so
//! every round subscribes anew. In `dynamic-private`, a socket's CONNECT likewise waits for its
//! own channel: a direct message sent right after connecting arrives.

mod common;

use std::time::Duration;

use common::client::Client;
use common::{Node, Redis, wait_for_metric};
use serde_json::json;

const ROUNDS: usize = 1_000;

fn sharded_pair(redis: &Redis, mode: &str) -> [Node; 2] {
    let args = [
        "--redis",
        &redis.url(),
        "--heartbeat-ms",
        "500",
        "--redis-sharded",
        "--redis-subscription-mode",
        mode,
    ];
    let nodes = [Node::spawn("a", &args), Node::spawn("b", &args)];
    for node in &nodes {
        wait_for_metric(node, "sio_cluster_nodes 2\n");
    }
    nodes
}

async fn join_then_publish(mode: &str) {
    let redis = Redis::start();
    let [a, b] = sharded_pair(&redis, mode);
    let member = Client::connect(&a.url()).await;
    let publisher = Client::connect(&b.url()).await;
    for round in 0..ROUNDS {
        // Two rooms alternate: each round's room was left (and unsubscribed) the round before.
        let room = format!("race-{}", round % 2);
        assert_eq!(
            member.call("join", vec![json!(room)]).await,
            vec![json!(true)]
        );
        publisher
            .call("publish", vec![json!({"room": room, "data": round})])
            .await;
        let ev = member
            .try_next(Duration::from_secs(5))
            .await
            .unwrap_or_else(|| panic!("{mode}: round {round} lost"));
        assert_eq!(ev.args, vec![json!(round)], "{mode}: round {round}");
        assert_eq!(
            member.call("leave", vec![json!(room)]).await,
            vec![json!(true)]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_then_publish_from_another_node_static() {
    join_then_publish("static").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_then_publish_from_another_node_dynamic() {
    join_then_publish("dynamic").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_then_publish_from_another_node_dynamic_private() {
    join_then_publish("dynamic-private").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_then_direct_from_another_node_dynamic_private() {
    let redis = Redis::start();
    let [a, b] = sharded_pair(&redis, "dynamic-private");
    let sender = Client::connect(&b.url()).await;
    for round in 0..100 {
        let target = Client::connect(&a.url()).await;
        sender
            .call("direct", vec![json!({"to": target.sid, "data": round})])
            .await;
        let ev = target
            .try_next(Duration::from_secs(5))
            .await
            .unwrap_or_else(|| panic!("round {round} lost"));
        assert_eq!(ev.args, vec![json!(round)]);
    }
}
