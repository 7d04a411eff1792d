//! Runs a client scenario with each Socket.IO parser (`sio-node --parser`), against one node
//! alone and against three nodes over Redis, with the transports run side by side.

use super::{Node, Redis};

/// The parsers of `sio-node --parser`, named as the client scripts take them (`--parser`).
pub const PARSERS: [&str; 2] = ["json", "msgpack"];

/// Runs `scenario(url, mode)` for every mode at once (each mode is its own client process;
/// they mostly wait, so running them together saves wall time, not correctness).
pub fn each_mode(modes: &[&str], scenario: impl Fn(&str) + Sync) {
    std::thread::scope(|s| {
        let runs: Vec<_> = modes.iter().map(|m| s.spawn(|| scenario(m))).collect();
        for run in runs {
            if let Err(panic) = run.join() {
                std::panic::resume_unwind(panic);
            }
        }
    });
}

/// The transports of the client scripts: polling, websocket, and polling upgraded.
pub const MODES: [&str; 3] = ["polling", "websocket", "upgrade"];

/// Runs a client `script` with `client` (`run_node` or `run_python`) in every mode at once
/// against `urls`, each mode in rooms of its own (`--tag -<mode>`), with `extra` arguments.
pub fn run_every_mode(
    client: fn(&str, &[&str]) -> std::process::Output,
    script: &str,
    urls: &str,
    extra: &[&str],
) {
    each_mode(&MODES, |mode| {
        let tag = format!("-{mode}");
        let mut args = vec![urls, mode, "--tag", tag.as_str()];
        args.extend_from_slice(extra);
        client(script, &args);
    });
}

/// One node alone per parser: runs `scenario(url, parser)`.
pub fn one_node_each_parser(name: &str, scenario: impl Fn(&str, &str)) {
    for parser in PARSERS {
        let node = Node::spawn(&format!("{name}-{parser}"), &["--parser", parser]);
        scenario(&node.url(), parser);
    }
}

/// Three nodes over one Redis per parser (both clusters share the Redis server, each with its
/// own channel prefix): runs `scenario(urls, parser)` with the three URLs comma-separated.
pub fn three_nodes_each_parser(name: &str, scenario: impl Fn(&str, &str)) {
    let redis = Redis::start();
    for parser in PARSERS {
        let prefix = format!("{name}-{parser}");
        let nodes: Vec<Node> = (1..=3)
            .map(|i| {
                Node::spawn(
                    &format!("{prefix}-{i}"),
                    &[
                        "--parser",
                        parser,
                        "--redis",
                        &redis.url(),
                        "--redis-prefix",
                        &prefix,
                        "--heartbeat-ms",
                        "500",
                    ],
                )
            })
            .collect();
        for node in &nodes {
            super::wait_for_metric(node, "sio_cluster_nodes 3\n");
        }
        let urls: Vec<String> = nodes.iter().map(Node::url).collect();
        scenario(&urls.join(","), parser);
    }
}
