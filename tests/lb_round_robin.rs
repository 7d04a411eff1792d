//! A cluster behind a round-robin load balancer with no cookie (see `common::cluster`: docker
//! compose's cookie-free profile through `ENTRY_URL`, or a local launch): the node a request
//! lands on forwards it to the session's owner, so every client works without stickiness.

mod common;

use std::time::{Duration, Instant};

use common::cluster::{Balancing, Cluster, request};
use common::{run_node, run_python};

fn round_robin() -> Cluster {
    Cluster::start_with(Balancing::RoundRobin)
}

/// The sum of a counter over the nodes' `/metrics`.
fn counter(cluster: &Cluster, name: &str) -> u64 {
    cluster
        .node_urls
        .iter()
        .map(|url| {
            let addr = url
                .trim_start_matches("http://")
                .parse()
                .expect("a node address");
            let (_, body) = common::http_get(addr, "/metrics").expect("metrics answer");
            body.lines()
                .find_map(|l| l.strip_prefix(name)?.trim().parse::<u64>().ok())
                .unwrap_or(0)
        })
        .sum()
}

#[test]
fn every_request_of_a_polling_session_reaches_its_owner_without_a_cookie() {
    let cluster = round_robin();
    let forwarded_before = counter(&cluster, "sio_forwarded_requests_total");
    let mut no_cookie = None;
    let (status, open) = request(&cluster.entry, "GET", "", "", &mut no_cookie);
    assert_eq!(status, 200, "{open}");
    assert!(no_cookie.is_none(), "the balancer sets no cookie");
    let json: serde_json::Value = serde_json::from_str(&open[1..]).expect("an open packet");
    let sid = format!("&sid={}", json["sid"].as_str().expect("a sid"));
    assert_eq!(
        request(&cluster.entry, "POST", &sid, "40", &mut None).0,
        200
    );
    let (_, connect) = request(&cluster.entry, "GET", &sid, "", &mut None);
    assert!(connect.starts_with("40"), "{connect}");
    let mut node = None;
    // Round robin over three nodes: nine request pairs land on every node several times.
    for i in 0..9 {
        let event = format!("42{i}[\"whoami\"]");
        let (status, body) = request(&cluster.entry, "POST", &sid, &event, &mut None);
        assert_eq!(status, 200, "POST {i}: {body}");
        let (status, body) = request(&cluster.entry, "GET", &sid, "", &mut None);
        assert_eq!(status, 200, "GET {i}: {body}");
        let ack: serde_json::Value =
            serde_json::from_str(&body[format!("43{i}").len()..]).expect("an ack");
        let this = ack[0]["node"].as_str().expect("a node id").to_owned();
        assert_eq!(node.get_or_insert(this.clone()), &this, "the session moved");
    }
    if !cluster.node_urls.is_empty() {
        let forwarded = counter(&cluster, "sio_forwarded_requests_total") - forwarded_before;
        assert!(
            forwarded >= 6,
            "two thirds of 20 requests land on other nodes and are forwarded: {forwarded}"
        );
        assert_eq!(counter(&cluster, "sio_forward_failures_total"), 0);
    }
}

#[test]
fn real_clients_through_a_round_robin_balancer_without_cookies() {
    let cluster = round_robin();
    for mode in ["polling", "websocket", "upgrade"] {
        run_node("sio_client.mjs", &[&cluster.entry, mode]);
    }
    for mode in ["polling", "websocket"] {
        run_python("sio_client.py", &[&cluster.entry, mode]);
    }
    if !cluster.node_urls.is_empty() {
        assert!(counter(&cluster, "sio_relayed_websockets_total") >= 1);
        assert_eq!(counter(&cluster, "sio_forward_failures_total"), 0);
    }
}

#[test]
fn browser_chat_through_a_round_robin_balancer_without_cookies() {
    let cluster = round_robin();
    for (query, expect) in [("?transports=polling", "polling"), ("", "websocket")] {
        let url = format!("{}/{query}", cluster.entry);
        let output = run_node("browser_chat.mjs", &[&url, &url, expect]);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(stdout.contains("ok B sees A's message"), "{stdout}");
        assert!(stdout.contains("ok A sees B's message"), "{stdout}");
        assert!(
            stdout.contains(&format!("ok both pages are on {expect}")),
            "{stdout}"
        );
    }
}

#[test]
fn polling_clients_of_a_killed_node_reconnect_within_two_heartbeats() {
    let cluster = round_robin();
    let heartbeat = cluster.heartbeat_ms.to_string();
    let mut args = vec![cluster.entry.as_str(), "--polling", &heartbeat];
    args.extend(cluster.control.iter().map(String::as_str));
    let output = run_node("lb_failover.mjs", &args);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("ok they reconnected within two heartbeats"),
        "{stdout}"
    );
    // Bring the node back for whatever runs next on a shared (compose) cluster.
    let victim = stdout.lines().find_map(|l| l.strip_prefix("killed "));
    cluster.control(
        "restart",
        victim.expect("the script names the node it killed"),
    );
}

#[test]
fn a_request_for_a_dead_owners_session_is_answered_unknown_within_a_heartbeat() {
    let cluster = round_robin();
    assert!(
        !cluster.node_urls.is_empty(),
        "this test reaches the nodes directly: it needs their URLs (NODE_URLS)"
    );
    let owner_id = cluster
        .nodes
        .split(',')
        .next()
        .expect("a node id")
        .to_owned();
    let owner = cluster.node_urls[0].clone();
    let other = cluster.node_urls[1].clone();
    let (status, open) = request(&owner, "GET", "", "", &mut None);
    assert_eq!(status, 200, "{open}");
    let json: serde_json::Value = serde_json::from_str(&open[1..]).expect("an open packet");
    let sid = format!("&sid={}", json["sid"].as_str().expect("a sid"));
    assert_eq!(request(&other, "POST", &sid, "40", &mut None).0, 200);
    assert!(
        request(&other, "GET", &sid, "", &mut None)
            .1
            .starts_with("40")
    );
    // A long-poll forwarded through `other` is pending on the owner when the owner dies.
    let pending = {
        let (other, sid) = (other.clone(), sid.clone());
        std::thread::spawn(move || request(&other, "GET", &sid, "", &mut None))
    };
    std::thread::sleep(Duration::from_millis(300));
    cluster.control("kill", &owner_id);
    let killed = Instant::now();
    let (status, body) = pending.join().expect("the pending poll returns");
    let bound = Duration::from_millis(cluster.heartbeat_ms);
    assert!(
        killed.elapsed() <= bound,
        "the pending poll took {:?}",
        killed.elapsed()
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("Session ID unknown"), "{body}");
    for method in ["GET", "POST"] {
        let started = Instant::now();
        let (status, body) = request(&other, method, &sid, "40", &mut None);
        assert!(
            started.elapsed() <= bound,
            "{method} took {:?}",
            started.elapsed()
        );
        assert_eq!(status, 400, "{method}: {body}");
        assert!(body.contains("\"code\":1"), "{method}: {body}");
    }
    cluster.control("restart", &owner_id);
}
