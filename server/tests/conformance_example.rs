//! The `conformance` example, driven by the npm `socket.io-client` with each parser (the default
//! JSON one and `socket.io-msgpack-parser`): connects with and without auth on `/` and
//! `/custom`, binary inline and nested, acks from client to server and from server to client.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn interop_dir() -> PathBuf {
    std::env::var_os("SIO_INTEROP_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/interop"))
}

/// Builds the example (a no-op when it is fresh: `cargo test --workspace --all-targets` built it
/// with the same features) and returns its executable.
fn conformance_binary() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["build", "-q", "--workspace", "--example", "conformance"])
        .arg("--message-format=json")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|m| m["target"]["name"] == "conformance" && m["executable"].is_string())
        .and_then(|m| m["executable"].as_str().map(PathBuf::from))
        .expect("cargo names the example's executable")
}

/// The example serving on a free port, killed when dropped.
struct Conformance(Child, SocketAddr);

impl Conformance {
    fn start(binary: &PathBuf, parser: &str) -> Conformance {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(binary)
            .args(["--port", &port.to_string(), "--parser", parser])
            .stdin(Stdio::null())
            .spawn()
            .expect("the example starts");
        let server = Conformance(child, SocketAddr::from(([127, 0, 0, 1], port)));
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(server.1).is_err() {
            assert!(Instant::now() < deadline, "the example did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }
}

impl Drop for Conformance {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn socket_io_client_with_each_parser_against_the_conformance_example() {
    let dir = interop_dir();
    assert!(
        dir.join("node_modules").is_dir(),
        "{} has no node_modules: run scripts/install-deps.sh first",
        dir.display()
    );
    let binary = conformance_binary();
    for parser in ["json", "msgpack"] {
        let server = Conformance::start(&binary, parser);
        let out = Command::new("node")
            .current_dir(&dir)
            .args(["conformance_client.mjs", &format!("http://{}", server.1)])
            .args(["--parser", parser])
            .output()
            .expect("node runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.lines().any(|l| l.starts_with("ok")),
            "{parser}:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
