//! The chat page served by `sio-node` at `/`, in headless Chromium: two pages on two nodes of
//! one cluster join a room and each sees the other's message.

mod common;

use common::{Node, Redis, interop_dir, run_node};

#[test]
fn two_browsers_on_two_nodes_chat() {
    let bundle = interop_dir().join("node_modules/socket.io-client/dist/socket.io.min.js");
    assert!(bundle.is_file(), "run scripts/install-deps.sh first");
    let bundle = bundle.display().to_string();
    let redis = Redis::start();
    let args = [
        "--redis",
        &redis.url(),
        "--client-bundle",
        &bundle,
        "--heartbeat-ms",
        "500",
    ];
    let a = Node::spawn("browser-a", &args);
    let b = Node::spawn("browser-b", &args);
    let output = run_node("browser_chat.mjs", &[&a.url(), &b.url()]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("ok B sees A's message"), "{stdout}");
    assert!(stdout.contains("ok A sees B's message"), "{stdout}");
}
