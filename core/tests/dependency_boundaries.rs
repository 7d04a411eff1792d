//! The crate boundaries the architecture promises, read from `cargo tree`: the protocol core
//! pulls in no async runtime, HTTP server or websocket library, and the Redis adapter and its
//! emitter build on the core alone, without the server.

use std::process::Command;

/// The package names in `package`'s dependency tree (normal and dev edges), one per line.
fn dependency_tree(package: &str) -> String {
    let out = Command::new(env!("CARGO"))
        .args([
            "tree",
            "--offline",
            "-p",
            package,
            "-e",
            "normal,dev",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo tree -p {package} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("cargo tree prints UTF-8")
}

/// Whether the tree lists the package `name` (as `name vX.Y.Z`).
fn lists(tree: &str, name: &str) -> bool {
    tree.lines()
        .any(|line| line.split_whitespace().next() == Some(name))
}

#[test]
fn the_core_has_no_runtime_http_or_websocket_dependency() {
    let tree = dependency_tree("sio-core");
    assert!(
        lists(&tree, "sio-core"),
        "the tree names the crate itself:\n{tree}"
    );
    for banned in [
        "tokio",
        "hyper",
        "tungstenite",
        "tokio-tungstenite",
        "sio-server",
    ] {
        assert!(
            !lists(&tree, banned),
            "sio-core depends on {banned}:\n{tree}"
        );
    }
}

#[test]
fn the_redis_adapter_and_emitter_build_without_the_server() {
    let tree = dependency_tree("sio-adapter-redis");
    assert!(
        lists(&tree, "sio-core"),
        "the adapter builds on the core:\n{tree}"
    );
    for banned in ["sio-server", "hyper", "tungstenite", "tokio-tungstenite"] {
        assert!(
            !lists(&tree, banned),
            "sio-adapter-redis depends on {banned}:\n{tree}"
        );
    }
}
