//! Faults in a cluster: Redis killed and restarted, a node killed with SIGKILL.

mod common;

use std::time::{Duration, Instant};

use common::client::Client;
use common::{Node, Redis, http_get};
use serde_json::json;

fn wait_for_cluster(nodes: &[&Node], size: usize) {
    for node in nodes {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let metrics = http_get(node.addr, "/metrics")
                .map(|m| m.1)
                .unwrap_or_default();
            if metrics.contains(&format!("sio_cluster_nodes {size}\n")) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{} never saw {size} nodes",
                node.node_id
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restart_loses_nothing_and_delivery_resumes() {
    let mut redis = Redis::start();
    let args = ["--redis", &redis.url(), "--heartbeat-ms", "500"];
    let a = Node::spawn("fa", &args);
    let b = Node::spawn("fb", &args);
    wait_for_cluster(&[&a, &b], 2);
    let ca = Client::connect(&a.url()).await;
    let cb = Client::connect(&b.url()).await;
    ca.call("join", vec![json!("room")]).await;
    cb.call("join", vec![json!("room")]).await;

    redis.kill();
    // Local delivery goes on during the outage, and publishes are acknowledged.
    for i in 0..5 {
        let ack = ca
            .call("publish", vec![json!({"room": "room", "data": i})])
            .await;
        assert_eq!(ack, vec![json!(true)]);
        assert_eq!(ca.next().await.args, vec![json!(i)]);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    redis.restart();
    let back = Instant::now();
    // Everything published during the outage reaches the other node, in order.
    for i in 0..5 {
        let ev = cb
            .try_next(Duration::from_secs(3))
            .await
            .expect("buffered message delivered");
        assert_eq!(ev.args, vec![json!(i)]);
    }
    let resumed = back.elapsed();
    assert!(
        resumed < Duration::from_secs(1),
        "cross-node delivery resumed after {resumed:?}"
    );
    // And live traffic flows both ways again.
    cb.call("publish", vec![json!({"room": "room", "data": "after"})])
        .await;
    assert_eq!(ca.next().await.args, vec![json!("after")]);
    assert_eq!(cb.next().await.args, vec![json!("after")]);
    let metrics = http_get(a.addr, "/metrics").unwrap().1;
    assert!(metrics.contains("sio_cluster_nodes 2"), "{metrics}");
    assert!(metrics.contains("sio_redis_connected 1"), "{metrics}");
    assert!(
        !metrics.contains("sio_redis_reconnects_total 0\n"),
        "{metrics}"
    );
    assert!(metrics.contains("sio_redis_dropped_total 0"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_node_is_missing_not_waited_for() {
    let redis = Redis::start();
    let args = ["--redis", &redis.url(), "--heartbeat-ms", "500"];
    let a = Node::spawn("ka", &args);
    let b = Node::spawn("kb", &args);
    let c = Node::spawn("kc", &args);
    wait_for_cluster(&[&a, &b, &c], 3);
    let mut clients = Vec::new();
    for node in [&a, &b, &c] {
        let client = Client::connect(&node.url()).await;
        client.call("join", vec![json!("all")]).await;
        clients.push(client);
    }
    c.signal("KILL");
    let started = Instant::now();
    let asker = Client::connect(&a.url()).await;
    let gather = asker.call(
        "gather",
        vec![json!({"room": "all", "data": 1, "timeout_ms": 5000})],
    );
    let answer = async {
        for client in clients.iter_mut().take(2) {
            let ask = client.next().await;
            client.ack(ask.ack.unwrap(), vec![json!("here")]);
        }
    };
    let (result, ()) = tokio::join!(gather, answer);
    assert_eq!(result[0]["missing_nodes"], json!(["kc"]), "{result:?}");
    assert_eq!(result[0]["replies"], json!(["here", "here"]));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "gather waited {:?} instead of noticing the dead node",
        started.elapsed()
    );
    wait_for_cluster(&[&a, &b], 2);
}
