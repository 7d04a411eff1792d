//! Two nodes on a Redis Cluster (three masters, three replicas) while a room gets a message
//! every 20 ms from the other node: the master owning the room's channel is SIGKILLed (its
//! replica is promoted), or the channel's slot is resharded to another master. Every message
//! published once the new owner serves (plus the nodes' slot-map refresh) arrives; what the
//! window lost is counted in `/metrics`.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::client::Client;
use common::redis_cluster::RedisCluster;
use common::{Node, http_get, wait_for_metric};
use serde_json::json;

/// How long after the new owner appears in the slot map a node may take to follow it.
const FOLLOW: Duration = Duration::from_millis(1_500);

/// What is done to the master owning the room's channel.
enum Fault {
    KillOwner,
    Reshard,
}

async fn publishing_through(fault: Fault) {
    let mut cluster = RedisCluster::start();
    let seeds = cluster.urls();
    let args = [
        "--redis",
        &seeds,
        "--redis-cluster",
        "--heartbeat-ms",
        "500",
    ];
    let a = Node::spawn("a", &args);
    let b = Node::spawn("b", &args);
    for node in [&a, &b] {
        wait_for_metric(node, "sio_cluster_nodes 2\n");
    }
    let member = Client::connect(&a.url()).await;
    let publisher = Arc::new(Client::connect(&b.url()).await);
    member.call("join", vec![json!("steady")]).await;

    // Publish 0, 1, 2… every 20 ms, remembering when each went out.
    let sent = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let times = Arc::new(std::sync::Mutex::new(Vec::<Duration>::new()));
    let task = {
        let (publisher, sent, stop, times) =
            (publisher.clone(), sent.clone(), stop.clone(), times.clone());
        tokio::spawn(async move {
            let mut seq = 0u64;
            while !stop.load(Ordering::Relaxed) {
                times.lock().unwrap().push(started.elapsed());
                publisher
                    .call("publish", vec![json!({"room": "steady", "data": seq})])
                    .await;
                seq += 1;
                sent.store(seq, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;

    let channel = "socket.io#/#steady#";
    let before = cluster.owner(channel);
    let blocking = tokio::task::spawn_blocking(move || {
        match fault {
            Fault::KillOwner => cluster.kill(before),
            Fault::Reshard => {
                cluster.reshard(channel);
            }
        }
        // The new owner serves once the cluster is whole again and names another master.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            std::thread::sleep(Duration::from_millis(50));
            let ok =
                common::cli(cluster.any_port(), &["CLUSTER", "INFO"]).contains("cluster_state:ok");
            if ok && cluster.owner(channel) != before {
                break;
            }
            assert!(Instant::now() < deadline, "the slot found no new owner");
        }
        cluster
    });
    let cluster = blocking.await.unwrap();
    let served = started.elapsed();
    tokio::time::sleep(FOLLOW + Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    task.await.unwrap();
    let total = sent.load(Ordering::Relaxed);

    let mut got = std::collections::BTreeSet::new();
    while let Some(ev) = member.try_next(Duration::from_millis(500)).await {
        if let Some(n) = ev.args.first().and_then(serde_json::Value::as_u64) {
            got.insert(n);
        }
    }
    let times = times.lock().unwrap().clone();
    let after: Vec<u64> = (0..total)
        .filter(|n| times[*n as usize] > served + FOLLOW)
        .collect();
    assert!(
        after.len() > 10,
        "too few messages after the fault: {after:?}"
    );
    let missing: Vec<&u64> = after.iter().filter(|n| !got.contains(n)).collect();
    assert!(
        missing.is_empty(),
        "published after the new owner served, not delivered: {missing:?}"
    );
    let lost = total - got.len() as u64;
    // What the window lost is accounted for: messages the publishing node handed to the old
    // owner are counted as lost; those the new owner took before the member's node moved its
    // subscription there are lost inside Redis, and the move is counted.
    let counter = |node: &Node, names: &[&str]| -> u64 {
        let metrics = http_get(node.addr, "/metrics").unwrap().1;
        metrics
            .lines()
            .filter(|l| names.iter().any(|n| l.starts_with(&format!("{n} "))))
            .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            .sum()
    };
    let counted = counter(
        &b,
        &["sio_redis_dropped_total", "sio_redis_unconfirmed_total"],
    );
    let moved = counter(&a, &["sio_redis_subscriptions_moved_total"]);
    eprintln!(
        "{total} published, {lost} lost in the window, {counted} counted lost, {moved} moves"
    );
    assert!(moved > 0, "the member's node did not move its subscription");
    drop(cluster);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failover_moves_the_subscription_to_the_promoted_replica() {
    publishing_through(Fault::KillOwner).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reshard_moves_the_subscription_to_the_new_owner() {
    publishing_through(Fault::Reshard).await;
}
