//! The admin UI's protocol (`@socket.io/admin-ui` 0.5) on a three-node `sio-node` cluster on a
//! real redis-server, with the npm `socket.io-client` as the admin client
//! (`tests/interop/admin_protocol.mjs`), and the `--admin-*` flags' rules.

mod common;

use std::process::Command;

use common::admin::{PASSWORD, USER, admin_node_args};
use common::{Node, Redis, http_get, run_node};

fn admin_cluster(redis: &Redis, ids: &[&str], extra: &[&str]) -> Vec<Node> {
    let args = admin_node_args(&redis.url(), extra);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ids.iter().map(|id| Node::spawn(id, &args)).collect()
}

fn run_scenario(nodes: &[Node], mode: &str, app_token: &str) -> String {
    let urls: Vec<String> = nodes.iter().map(Node::url).collect();
    let ids: Vec<&str> = nodes.iter().map(|n| n.node_id.as_str()).collect();
    let output = run_node(
        "admin_protocol.mjs",
        &[
            &urls.join(","),
            &ids.join(","),
            USER,
            PASSWORD,
            mode,
            app_token,
        ],
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn the_admin_namespace_speaks_the_ui_protocol_across_a_three_node_cluster() {
    let redis = Redis::start();
    let nodes = admin_cluster(&redis, &["admin-a", "admin-b", "admin-c"], &[]);
    let stdout = run_scenario(&nodes, "full", "");
    common::assert_checks(
        &stdout,
        &[
            "a wrong password is refused with 'invalid credentials'",
            "the right credentials are accepted",
            "the session id lets a client in without the password",
            "the config offers every action, aggregated and all events",
            "all_sockets lists the app client of node 3",
            "server_stats arrive from node admin-c",
            "aggregated events count raw connections per second",
            "socket_connected arrives from another node",
            "the upgrade to websocket reaches the admin UI (socket_updated, or socket_connected after it)",
            "room_joined arrives from another node",
            "room_left arrives from another node",
            "event_received names the event and its arguments",
            "socket_disconnected arrives with the reason",
            "event_sent reports a broadcast delivered to the socket",
            "_disconnect disconnects the socket on another node",
            "emit reaches the selected socket on another node with its arguments",
            "emit of a reserved event name is not applied",
            "join makes a socket on another node join the room",
            "leave makes the socket leave the room",
        ],
    );
    for node in &nodes {
        let (_, metrics) = http_get(node.addr, "/metrics").expect("metrics");
        assert!(
            metrics.contains("sio_admin_events_dropped_total 0"),
            "{metrics}"
        );
    }
}

#[test]
fn a_read_only_admin_ui_offers_and_applies_no_action_and_ignores_the_apps_handlers() {
    let redis = Redis::start();
    // With the reference app's token check on: it must not guard the admin namespace.
    let nodes = admin_cluster(
        &redis,
        &["ro-a", "ro-b"],
        &["--admin-readonly", "--auth-token", "app-token"],
    );
    let stdout = run_scenario(&nodes, "readonly", "app-token");
    common::assert_checks(
        &stdout,
        &[
            "read-only: the config offers no action",
            "the app's token middleware does not guard the admin namespace",
            "the app's events are not handled on the admin namespace",
            "read-only: an emit is not applied",
            "read-only: a disconnect is not applied",
            "all_sockets lists the app client of node 2",
        ],
    );
}

/// Runs `sio-node` with `args` expecting it to refuse to start; returns its stderr.
fn refused(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_sio-node"))
        .args(["--bind", "127.0.0.1:0"])
        .args(args)
        .env_remove("SIO_ADMIN_UI")
        .output()
        .expect("sio-node runs");
    assert!(!output.status.success(), "started with {args:?}");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn the_admin_ui_does_not_start_without_credentials_or_an_explicit_no_auth() {
    let err = refused(&["--admin-ui"]);
    assert!(err.contains("--admin-no-auth"), "{err}");
    let err = refused(&["--admin-ui", "--admin-user", "admin"]);
    assert!(err.contains("--admin-password-hash"), "{err}");
    let err = refused(&[
        "--admin-ui",
        "--admin-user",
        "a",
        "--admin-password-hash",
        "plain",
    ]);
    assert!(err.contains("bcrypt"), "{err}");
    let err = refused(&["--admin-readonly"]);
    assert!(err.contains("need --admin-ui"), "{err}");
}
