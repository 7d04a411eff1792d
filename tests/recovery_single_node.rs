//! Connection state recovery on one `sio-node` (in-memory adapter), with real clients: the npm
//! socket.io-client 4.8 recovers after its transport drops while a publisher emits every 10 ms
//! (every message exactly once, in order, rooms kept); python-socketio, which does not
//! implement recovery, still works with recovery on.

mod common;

use common::{Node, run_node, run_python};

#[test]
fn npm_client_recovers_every_message_after_its_transport_drops() {
    let node = Node::spawn("csr-single", &["--recovery-ms", "30000"]);
    let url = node.url();
    run_node("csr_client.mjs", &[&url, &url, "drop"]);
}

#[test]
fn recovery_is_off_unless_asked() {
    let node = Node::spawn("csr-off", &["--recovery-ms", "0"]);
    let url = node.url();
    let out = std::process::Command::new("node")
        .current_dir(common::interop_dir())
        .args(["csr_client.mjs", &url, &url, "drop"])
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(
        stdout.contains("FAIL recovery is on: the CONNECT answer carries a pid"),
        "{stdout}"
    );
}

#[test]
fn python_client_works_with_recovery_on() {
    let node = Node::spawn("csr-python", &["--recovery-ms", "30000"]);
    run_python("csr_python.py", &[&node.url()]);
}

#[test]
fn forged_foreign_expired_and_reused_sessions_get_a_fresh_one() {
    let node = Node::spawn("csr-fresh", &["--recovery-ms", "2000"]);
    run_node("csr_fresh.mjs", &[&node.url()]);
}
