//! Black-box tests of a cluster behind a load balancer. They take the entry URL and the Redis
//! URL from `ENTRY_URL` / `REDIS_URL` (with `SIO_CLUSTER_CONTROL`, a command that takes
//! `kill|restart <node-id>`, and `SIO_CLUSTER_NODES`), so they run against docker compose; without
//! them they bring up the same topology with `scripts/local-cluster.sh` (redis + 3 nodes +
//! haproxy on loopback) and tear it down afterwards.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{run_node, run_python};

struct Cluster {
    entry: String,
    control: Vec<String>,
    nodes: String,
    launched: Option<String>,
}

fn launcher() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/local-cluster.sh")
}

impl Cluster {
    fn start() -> Cluster {
        if let (Ok(entry), Ok(_redis)) = (std::env::var("ENTRY_URL"), std::env::var("REDIS_URL")) {
            let control = std::env::var("SIO_CLUSTER_CONTROL")
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_owned)
                .collect();
            let nodes =
                std::env::var("SIO_CLUSTER_NODES").unwrap_or_else(|_| "node1,node2,node3".into());
            return Cluster {
                entry,
                control,
                nodes,
                launched: None,
            };
        }
        let out = Command::new(launcher())
            .args(["up", "3"])
            .env("SIO_NODE_BIN", env!("CARGO_BIN_EXE_sio-node"))
            .output()
            .expect("the launcher runs");
        assert!(
            out.status.success(),
            "launcher failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let dir = String::from_utf8_lossy(&out.stdout)
            .trim()
            .lines()
            .last()
            .unwrap()
            .to_owned();
        let env = std::fs::read_to_string(format!("{dir}/env")).unwrap();
        let entry = env
            .lines()
            .find_map(|l| l.strip_prefix("ENTRY_URL="))
            .unwrap()
            .to_owned();
        Cluster {
            entry,
            control: vec![launcher().display().to_string(), "ctl".into(), dir.clone()],
            nodes: "n1,n2,n3".into(),
            launched: Some(dir),
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(dir) = &self.launched {
            let _ = Command::new(launcher()).args(["down", dir]).status();
        }
    }
}

/// One HTTP request through the load balancer, sending and keeping its cookie.
fn request(
    entry: &str,
    method: &str,
    query: &str,
    body: &str,
    cookie: &mut Option<String>,
) -> (u16, String) {
    use std::io::{Read, Write};
    let addr = entry.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let cookie_header = cookie
        .as_ref()
        .map(|c| format!("Cookie: {c}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "{method} /socket.io/?EIO=4&transport=polling{query} HTTP/1.1\r\nHost: {addr}\r\n{cookie_header}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    for line in head.lines() {
        if let Some(value) = line
            .strip_prefix("set-cookie: ")
            .or_else(|| line.strip_prefix("Set-Cookie: "))
        {
            *cookie = Some(value.split(';').next().unwrap().to_owned());
        }
    }
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, body.to_owned())
}

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
