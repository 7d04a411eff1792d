//! `sio-node`'s logs: plain text without colour codes when stdout is not a terminal (compose,
//! journald, files), and one JSON object per line with `--log-format json`.

mod common;

use std::time::Duration;

use common::{Node, http_get};

/// Starts a node logging to a file, makes it log a few lines (startup, a handshake at debug
/// level, shutdown), and returns what it wrote.
fn logs_of(node_id: &str, args: &[&str]) -> String {
    let dir = std::env::temp_dir().join(format!("sio-logs-{}-{node_id}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("node.log");
    let mut node = Node::spawn_logged(node_id, args, &path, &[]);
    assert_eq!(
        http_get(node.addr, "/socket.io/?EIO=4&transport=polling")
            .unwrap()
            .0,
        200
    );
    node.signal("TERM");
    assert!(node.wait_exit(Duration::from_secs(10)).is_some());
    let text = std::fs::read_to_string(&path).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    text
}

#[test]
fn logs_to_a_file_carry_no_colour_codes() {
    let text = logs_of("n-logs-text", &[]);
    assert!(text.contains("sio-node listening"), "{text}");
    assert!(!text.contains('\u{1b}'), "ANSI escape in logs:\n{text:?}");
}

#[test]
fn log_format_json_writes_one_object_per_line() {
    let text = logs_of("n-logs-json", &["--log-format", "json"]);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(lines.len() >= 2, "{text}");
    for line in &lines {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: not JSON: {line}"));
        assert!(value["level"].is_string(), "{line}");
        assert!(value["fields"].is_object(), "{line}");
    }
    assert!(
        lines.iter().any(|l| l.contains("sio-node listening")),
        "{text}"
    );
}
