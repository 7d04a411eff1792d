//! The owner directory of session forwarding, fed by heartbeats (on an in-memory hub): a node's
//! announced tag and address are found by the others, a newcomer learns the existing nodes at
//! once, and a node that stops heartbeating drops out within two intervals.

use std::sync::Arc;
use std::time::Duration;

use sio_adapter_redis::{MemoryHub, NodeRoute, RedisAdapterConfig, RedisCluster};
use sio_core::engine::{NodeTag, OwnerDirectory};
use tokio::time::Instant;

const HEARTBEAT: Duration = Duration::from_millis(1000);

fn cluster(hub: &MemoryHub, id: &str, route: Option<NodeRoute>) -> RedisCluster {
    RedisCluster::new(
        Arc::new(hub.driver()),
        RedisAdapterConfig {
            node_id: id.into(),
            heartbeat_interval: HEARTBEAT,
            route,
            ..RedisAdapterConfig::default()
        },
    )
}

/// How long until `directory` resolves `tag` as `expected` (None: not within `limit`).
async fn until(
    directory: &RedisCluster,
    tag: NodeTag,
    expected: Option<&str>,
    limit: Duration,
) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() <= limit {
        if directory.locate(tag).as_deref() == expected {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newcomer_finds_an_existing_node_before_its_next_heartbeat() {
    let hub = MemoryHub::new();
    let tag: NodeTag = "AbC1".parse().unwrap();
    let old = cluster(
        &hub,
        "old",
        Some(NodeRoute {
            tag,
            addr: "127.0.0.1:4001".into(),
        }),
    );
    // Let the old node's own first heartbeat go by, so only an answer can inform the newcomer.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let newcomer = cluster(&hub, "new", None);
    let took = until(&newcomer, tag, Some("127.0.0.1:4001"), HEARTBEAT / 2).await;
    assert!(
        took.is_some(),
        "the newcomer did not learn the old node's route at once"
    );
    assert_eq!(
        newcomer.locate(NodeTag::random()),
        None,
        "unknown tags resolve to nothing"
    );
    drop(old);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_node_leaves_the_directory_within_two_heartbeats() {
    let hub = MemoryHub::new();
    let tag: NodeTag = "Zz_9".parse().unwrap();
    let watcher = cluster(&hub, "watcher", None);
    let owner = cluster(
        &hub,
        "owner",
        Some(NodeRoute {
            tag,
            addr: "127.0.0.1:4002".into(),
        }),
    );
    assert!(
        until(&watcher, tag, Some("127.0.0.1:4002"), HEARTBEAT)
            .await
            .is_some()
    );
    // Dropping the cluster stops its heartbeat task: the node falls silent.
    drop(owner);
    let gone = until(&watcher, tag, None, HEARTBEAT * 3).await;
    let gone = gone.expect("the silent node never left the directory");
    assert!(gone <= HEARTBEAT * 2 + HEARTBEAT / 5, "left after {gone:?}");
}
