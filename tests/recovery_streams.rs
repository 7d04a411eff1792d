//! The Redis Streams adapter on a real redis-server, with the npm client: sessions that must not
//! be restored (forged offset, another namespace's, expired, unknown, reused) get a fresh one,
//! and a node whose stream reader loses its connection catches up from the last id it read.

mod common;

use common::{Node, Redis, http_get, run_node};

#[test]
fn streams_forged_foreign_expired_and_reused_sessions_get_a_fresh_one() {
    let redis = Redis::start();
    let node = Node::spawn(
        "streams-fresh",
        &[
            "--redis",
            &redis.url(),
            "--redis-streams",
            "--recovery-ms",
            "2000",
        ],
    );
    run_node("csr_fresh.mjs", &[&node.url()]);
    // Only the control case was restored; the refusals are not counted as recoveries.
    let metrics = http_get(node.addr, "/metrics").expect("metrics").1;
    assert!(
        metrics.contains("\nsio_socket_recoveries_total 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("\nsio_streams_sessions_restored_total 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("\nsio_streams_xadd_failed_total 0\n"),
        "{metrics}"
    );
}

#[test]
fn a_stream_reader_that_loses_its_connection_misses_nothing() {
    let redis = Redis::start();
    let args = ["--redis", &redis.url(), "--redis-streams"];
    let a = Node::spawn("streams-a", &args);
    let b = Node::spawn("streams-b", &args);
    let port = redis.port.to_string();
    run_node("stream_gap.mjs", &[&a.url(), &b.url(), &port, "streams-a"]);
}
