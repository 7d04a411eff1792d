//! Black-box tests of a cluster behind a load balancer with sticky sessions (see
//! `common::cluster`: docker compose through `ENTRY_URL`, or a local launch).

mod common;

use common::cluster::{Cluster, request};
use common::{run_node, run_python};

#[test]
fn polling_clients_stay_on_their_node() {
    let cluster = Cluster::start();
    let mut seen_nodes = std::collections::BTreeSet::new();
    for _ in 0..6 {
        let mut cookie = None;
        let (status, open) = request(&cluster.entry, "GET", "", "", &mut cookie);
        assert_eq!(status, 200, "{open}");
        assert!(cookie.is_some(), "the load balancer sets its sticky cookie");
        let json: serde_json::Value = serde_json::from_str(&open[1..]).unwrap();
        let sid = format!("&sid={}", json["sid"].as_str().unwrap());
        assert_eq!(
            request(&cluster.entry, "POST", &sid, "40", &mut cookie).0,
            200
        );
        assert!(
            request(&cluster.entry, "GET", &sid, "", &mut cookie)
                .1
                .starts_with("40")
        );
        let mut node = None;
        for i in 0..10 {
            let (status, _) = request(
                &cluster.entry,
                "POST",
                &sid,
                &format!("42{i}[\"whoami\"]"),
                &mut cookie,
            );
            assert_eq!(status, 200, "every request reaches the session's node");
            let (status, body) = request(&cluster.entry, "GET", &sid, "", &mut cookie);
            assert_eq!(status, 200, "{body}");
            let ack: serde_json::Value =
                serde_json::from_str(&body[format!("43{i}").len()..]).unwrap();
            let this = ack[0]["node"].as_str().unwrap().to_owned();
            assert_eq!(node.get_or_insert(this.clone()), &this, "the session moved");
        }
        seen_nodes.insert(node.unwrap());
    }
    assert!(
        seen_nodes.len() >= 2,
        "the load balancer spreads sessions: {seen_nodes:?}"
    );
}

#[test]
fn real_clients_through_the_load_balancer() {
    let cluster = Cluster::start();
    for mode in ["polling", "websocket", "upgrade"] {
        run_node("sio_client.mjs", &[&cluster.entry, mode]);
        run_python("sio_client.py", &[&cluster.entry, mode]);
    }
}

#[test]
fn clients_of_a_killed_node_carry_on_elsewhere() {
    let cluster = Cluster::start();
    assert!(
        !cluster.control.is_empty(),
        "SIO_CLUSTER_CONTROL is needed to kill a node"
    );
    let mut args = vec![cluster.entry.as_str()];
    args.extend(cluster.control.iter().map(String::as_str));
    run_node("lb_failover.mjs", &args);
}

#[test]
fn a_rolling_restart_loses_no_acknowledged_publish() {
    let cluster = Cluster::start();
    assert!(
        !cluster.control.is_empty(),
        "SIO_CLUSTER_CONTROL is needed to restart nodes"
    );
    let mut args = vec![cluster.entry.as_str(), cluster.nodes.as_str()];
    args.extend(cluster.control.iter().map(String::as_str));
    run_node("lb_rolling.mjs", &args);
}
