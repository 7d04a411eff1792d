//! The chat page served by `sio-node` at `/`, in headless Chromium: two pages on two nodes of
//! one cluster join a room and each sees the other's message. The page uses its own small
//! client, built into the binary (`/chat-client.js`), so it needs no flag and no internet.

mod common;

use common::{Node, Redis, http_get, interop_dir, run_node};

/// Two pages on two nodes with the page's built-in client (no `--client-bundle`): each sees the
/// other's message, on the transport that `query` selects (`expect`: the one in use at the end).
fn chat(query: &str, expect: &str) {
    let redis = Redis::start();
    let args = ["--redis", &redis.url(), "--heartbeat-ms", "500"];
    let a = Node::spawn("browser-a", &args);
    let b = Node::spawn("browser-b", &args);
    let urls = [
        format!("{}/{query}", a.url()),
        format!("{}/{query}", b.url()),
    ];
    let output = run_node("browser_chat.mjs", &[&urls[0], &urls[1], expect]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("ok B sees A's message"), "{stdout}");
    assert!(stdout.contains("ok A sees B's message"), "{stdout}");
    assert!(
        stdout.contains(&format!("ok both pages are on {expect}")),
        "{stdout}"
    );
}

#[test]
fn two_browsers_on_two_nodes_chat_after_upgrading_to_websocket() {
    chat("", "websocket");
}

#[test]
fn two_browsers_on_two_nodes_chat_over_long_polling() {
    chat("?transports=polling", "polling");
}

#[test]
fn the_official_client_bundle_is_served_when_configured() {
    let bundle = interop_dir().join("node_modules/socket.io-client/dist/socket.io.min.js");
    assert!(bundle.is_file(), "run scripts/install-deps.sh first");
    let node = Node::spawn(
        "bundle",
        &["--client-bundle", &bundle.display().to_string()],
    );
    let (status, body) = http_get(node.addr, "/socket.io/socket.io.min.js").unwrap();
    assert_eq!(status, 200);
    assert_eq!(
        body.len(),
        std::fs::metadata(&bundle).unwrap().len() as usize
    );
}
