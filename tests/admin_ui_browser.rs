//! The real Socket.IO Admin UI (the static build of `@socket.io/admin-ui`, served from another
//! origin) in headless Chromium against a three-node `sio-node` cluster on a real
//! redis-server (`tests/interop/admin_browser.mjs`): it logs in through its connection modal,
//! shows the three servers, lists the sockets of every node, and disconnects a socket of
//! another node.

mod common;

use common::admin::{PASSWORD, USER, admin_node_args};
use common::{Node, Redis, free_port, run_node_env};

#[test]
fn the_admin_ui_in_a_browser_sees_and_acts_on_every_node_of_the_cluster() {
    let redis = Redis::start();
    let url = redis.url();
    let ui_port = free_port();
    // The UI is served from its own origin: the nodes allow it (CORS with credentials, as the
    // UI connects `withCredentials`).
    let origin = format!("http://127.0.0.1:{ui_port}");
    let args = admin_node_args(&url, &["--cors-origin", &origin]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let nodes: Vec<Node> = ["ui-a", "ui-b", "ui-c"]
        .iter()
        .map(|id| Node::spawn(id, &args))
        .collect();
    let urls: Vec<String> = nodes.iter().map(Node::url).collect();
    let ids: Vec<&str> = nodes.iter().map(|n| n.node_id.as_str()).collect();
    let output = run_node_env(
        "admin_browser.mjs",
        &[
            &urls.join(","),
            &ids.join(","),
            USER,
            PASSWORD,
            &ui_port.to_string(),
        ],
        &[],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    common::assert_checks(
        &stdout,
        &[
            "the UI says so for a wrong password",
            "the UI connects with the right credentials",
            "the servers page shows the three nodes",
            "the sockets page lists the sockets of every node",
            "a socket of another node is disconnected from the UI",
        ],
    );
}
