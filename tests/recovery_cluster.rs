//! Connection state recovery across nodes on the Redis Streams adapter, with the npm
//! socket.io-client behind HAProxy (round robin, websocket): after its transport drops, and
//! after its node is SIGKILLed, the client is recovered by another node with every message
//! exactly once and in order, and its rooms, while a publisher on another node emits every
//! 10 ms. The topology comes from `scripts/local-cluster.sh` (redis + 3 nodes + haproxy).

mod common;

use std::path::PathBuf;
use std::process::Command;

fn launcher() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/local-cluster.sh")
}

/// A local cluster of streams nodes with recovery on, torn down when dropped.
struct Cluster {
    dir: String,
    env: Vec<(String, String)>,
}

impl Cluster {
    fn start() -> Cluster {
        let out = Command::new(launcher())
            .args(["up", "3"])
            .env("SIO_NODE_BIN", env!("CARGO_BIN_EXE_sio-node"))
            .env("SIO_RECOVERY_MS", "30000")
            .env("SIO_REDIS_STREAMS", "true")
            .output()
            .expect("the launcher runs");
        assert!(
            out.status.success(),
            "launcher failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        let dir = stdout.trim().lines().last().expect("state dir").to_owned();
        let env = std::fs::read_to_string(format!("{dir}/env"))
            .expect("env file")
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        Cluster { dir, env }
    }

    fn var(&self, name: &str) -> &str {
        self.env
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("{name} in the cluster env"))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(launcher()).args(["down", &self.dir]).status();
    }
}

fn run_scenario(mode: &str) {
    let cluster = Cluster::start();
    // The script picks its publisher among NODE_URLS (another node than the subscriber's).
    let urls = cluster.var("NODE_URLS").to_owned();
    let entry = cluster.var("ENTRY_URL").to_owned();
    let launcher = launcher().display().to_string();
    let mut args = vec![entry.as_str(), "auto", mode];
    let ctl = [launcher.as_str(), "ctl", cluster.dir.as_str()];
    if mode == "kill" {
        args.extend(ctl);
    }
    common::run_node_env("csr_client.mjs", &args, &[("NODE_URLS", urls.as_str())]);
}

#[test]
fn npm_client_is_recovered_by_the_cluster_after_its_transport_drops() {
    run_scenario("drop");
}

#[test]
fn npm_client_is_recovered_by_another_node_after_its_node_is_killed() {
    run_scenario("kill");
}
