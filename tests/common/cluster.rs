//! A cluster behind a load balancer: from `ENTRY_URL` / `REDIS_URL` (docker compose, with
//! `SIO_CLUSTER_CONTROL`, a command that takes `kill|restart <node-id>`, and
//! `SIO_CLUSTER_NODES`, and optionally `NODE_URLS`), or else brought up on loopback by `scripts/local-cluster.sh` (redis +
//! 3 nodes + haproxy) and torn down when dropped.

use std::path::PathBuf;
use std::process::Command;

/// How the load balancer spreads requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Balancing {
    /// Round robin with a `SIO_NODE` cookie that pins each client to its session's node.
    Sticky,
    /// Round robin, no cookie: every request may land on any node.
    RoundRobin,
}

/// A running cluster and how to reach and control it.
pub struct Cluster {
    /// The load balancer's URL.
    pub entry: String,
    /// The command that kills or restarts a node (append `kill|restart <id>`).
    pub control: Vec<String>,
    /// The node ids, comma-separated.
    pub nodes: String,
    /// Each node's own URL, in the order of `nodes` (under compose: from `NODE_URLS`, if set).
    pub node_urls: Vec<String>,
    /// The nodes' heartbeat interval in milliseconds.
    pub heartbeat_ms: u64,
    launched: Option<String>,
}

fn launcher() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/local-cluster.sh")
}

impl Cluster {
    /// The sticky cluster.
    pub fn start() -> Cluster {
        Self::start_with(Balancing::Sticky)
    }

    /// A cluster with `balancing`.
    pub fn start_with(balancing: Balancing) -> Cluster {
        if let (Ok(entry), Ok(_redis)) = (std::env::var("ENTRY_URL"), std::env::var("REDIS_URL")) {
            let control = std::env::var("SIO_CLUSTER_CONTROL")
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_owned)
                .collect();
            let nodes =
                std::env::var("SIO_CLUSTER_NODES").unwrap_or_else(|_| "node1,node2,node3".into());
            let heartbeat_ms = std::env::var("SIO_HEARTBEAT_MS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(5000);
            let node_urls = std::env::var("NODE_URLS")
                .unwrap_or_default()
                .split(',')
                .filter(|u| !u.is_empty())
                .map(str::to_owned)
                .collect();
            return Cluster {
                entry,
                control,
                nodes,
                node_urls,
                heartbeat_ms,
                launched: None,
            };
        }
        let heartbeat_ms = 1000;
        let lb = match balancing {
            Balancing::Sticky => "sticky",
            Balancing::RoundRobin => "round-robin",
        };
        let out = Command::new(launcher())
            .args(["up", "3"])
            .env("SIO_NODE_BIN", env!("CARGO_BIN_EXE_sio-node"))
            .env("SIO_LB", lb)
            .env("SIO_HEARTBEAT_MS", heartbeat_ms.to_string())
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
            .expect("the launcher prints its state dir")
            .to_owned();
        let env = std::fs::read_to_string(format!("{dir}/env")).expect("the launcher's env file");
        let var = |name: &str| {
            env.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
                .unwrap_or_default()
                .to_owned()
        };
        Cluster {
            entry: var("ENTRY_URL"),
            control: vec![launcher().display().to_string(), "ctl".into(), dir.clone()],
            nodes: "n1,n2,n3".into(),
            node_urls: var("NODE_URLS").split(',').map(str::to_owned).collect(),
            heartbeat_ms,
            launched: Some(dir),
        }
    }

    /// Runs the control command: `op` (`kill` or `restart`) on node `id`.
    pub fn control(&self, op: &str, id: &str) {
        assert!(
            !self.control.is_empty(),
            "SIO_CLUSTER_CONTROL is needed to {op} a node"
        );
        let status = Command::new(&self.control[0])
            .args(&self.control[1..])
            .args([op, id])
            .status()
            .expect("the control command runs");
        assert!(status.success(), "{op} {id} failed");
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
pub fn request(
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
