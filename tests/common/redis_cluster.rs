//! A Redis Cluster for tests: three masters and three replicas (`redis-server
//! --cluster-enabled yes` on free ports, joined by `redis-cli --cluster create
//! --cluster-replicas 1`), killed when dropped.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{cli, free_port};

pub struct RedisCluster {
    pub ports: Vec<u16>,
    children: Vec<Option<Child>>,
    dir: PathBuf,
}

impl RedisCluster {
    pub fn start() -> RedisCluster {
        // Each node also listens on its port + 10 000 (the cluster bus), still below the
        // ephemeral range for a port from `free_port`.
        let ports: Vec<u16> = (0..6)
            .map(|_| {
                loop {
                    let port = free_port();
                    if std::net::TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
                        break port;
                    }
                }
            })
            .collect();
        let dir = std::env::temp_dir().join(format!(
            "sio-redis-cluster-{}-{}",
            std::process::id(),
            ports[0]
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let children = ports
            .iter()
            .map(|port| {
                let conf = dir.join(format!("nodes-{port}.conf"));
                Some(
                    Command::new("redis-server")
                        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                        .args(["--cluster-enabled", "yes", "--cluster-node-timeout", "1000"])
                        .arg("--cluster-config-file")
                        .arg(&conf)
                        .arg("--dir")
                        .arg(&dir)
                        .args(["--save", "", "--appendonly", "no"])
                        .stdout(Stdio::null())
                        .spawn()
                        .expect("redis-server runs"),
                )
            })
            .collect();
        let mut cluster = RedisCluster {
            ports,
            children,
            dir,
        };
        for (i, port) in cluster.ports.iter().enumerate() {
            let deadline = Instant::now() + Duration::from_secs(10);
            while cli(*port, &["PING"]).trim() != "PONG" {
                let exited = cluster.children[i]
                    .as_mut()
                    .and_then(|c| c.try_wait().ok()?);
                assert!(exited.is_none(), "redis-server :{port} exited: {exited:?}");
                assert!(
                    Instant::now() < deadline,
                    "redis-server :{port} did not start"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let addrs: Vec<String> = cluster
            .ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        let created = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&addrs)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdout(Stdio::null())
            .status()
            .expect("redis-cli runs");
        assert!(created.success(), "redis-cli --cluster create failed");
        cluster.wait_ok();
        // A replica can take over only once it has synchronised with its master.
        let deadline = Instant::now() + Duration::from_secs(30);
        for port in &cluster.ports {
            loop {
                let replication = cli(*port, &["INFO", "replication"]);
                if replication.contains("role:master")
                    || replication.contains("master_link_status:up")
                {
                    break;
                }
                assert!(Instant::now() < deadline, ":{port} never synchronised");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        cluster
    }

    /// Waits until every running node reports `cluster_state:ok`.
    pub fn wait_ok(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        for (i, port) in self.ports.iter().enumerate() {
            if self.children[i].is_none() {
                continue;
            }
            while !cli(*port, &["CLUSTER", "INFO"]).contains("cluster_state:ok") {
                assert!(Instant::now() < deadline, "cluster not ok on :{port}");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// Seed URLs, comma-separated.
    pub fn urls(&self) -> String {
        self.ports
            .iter()
            .map(|p| format!("redis://127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// A running node's port, to ask things.
    pub fn any_port(&self) -> u16 {
        self.ports
            .iter()
            .zip(&self.children)
            .find(|(_, c)| c.is_some())
            .map(|(p, _)| *p)
            .expect("a running node")
    }

    /// The port of the master owning `channel`'s slot.
    pub fn owner(&self, channel: &str) -> u16 {
        let port = self.any_port();
        let slot: u16 = cli(port, &["CLUSTER", "KEYSLOT", channel])
            .trim()
            .parse()
            .expect("a slot");
        let shards = cli(port, &["CLUSTER", "SLOTS"]);
        // Lines: first, last, master ip, master port, master id, replicas...
        let lines: Vec<&str> = shards.lines().map(str::trim).collect();
        let mut i = 0;
        while i + 3 < lines.len() {
            if let (Ok(first), Ok(last)) = (lines[i].parse::<u16>(), lines[i + 1].parse::<u16>())
                && lines[i + 2] == "127.0.0.1"
                && let Ok(owner) = lines[i + 3].parse::<u16>()
                && (first..=last).contains(&slot)
                && self.ports.contains(&owner)
            {
                return owner;
            }
            i += 1;
        }
        panic!("no owner of slot {slot} in {shards}");
    }

    /// SIGKILLs the node on `port`.
    pub fn kill(&mut self, port: u16) {
        let i = self.ports.iter().position(|p| *p == port).expect("a node");
        if let Some(mut child) = self.children[i].take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Moves `channel`'s slot from its master to another master (no keys to migrate).
    pub fn reshard(&self, channel: &str) -> (u16, u16) {
        let from = self.owner(channel);
        let slot = cli(from, &["CLUSTER", "KEYSLOT", channel])
            .trim()
            .to_owned();
        let masters: Vec<u16> = self
            .ports
            .iter()
            .zip(&self.children)
            .filter(|(_, c)| c.is_some())
            .map(|(p, _)| *p)
            .filter(|p| cli(*p, &["ROLE"]).starts_with("master") && *p != from)
            .collect();
        let to = masters[0];
        let to_id = cli(to, &["CLUSTER", "MYID"]).trim().to_owned();
        let from_id = cli(from, &["CLUSTER", "MYID"]).trim().to_owned();
        cli(to, &["CLUSTER", "SETSLOT", &slot, "IMPORTING", &from_id]);
        cli(from, &["CLUSTER", "SETSLOT", &slot, "MIGRATING", &to_id]);
        for port in [to, from] {
            cli(port, &["CLUSTER", "SETSLOT", &slot, "NODE", &to_id]);
        }
        for port in masters.iter().filter(|p| **p != to) {
            cli(*port, &["CLUSTER", "SETSLOT", &slot, "NODE", &to_id]);
        }
        (from, to)
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for child in self.children.iter_mut().flatten() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
