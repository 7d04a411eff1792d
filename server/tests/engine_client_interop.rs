//! The npm `engine.io-client` against the engine: polling, websocket, and the upgrade.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::EchoServer;

fn interop_dir() -> PathBuf {
    std::env::var_os("SIO_INTEROP_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/interop"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_io_client_over_every_transport() {
    let server = EchoServer::start(EchoServer::fast_config()).await;
    let dir = interop_dir();
    assert!(
        dir.join("node_modules").is_dir(),
        "{} has no node_modules: run scripts/install-deps.sh first",
        dir.display()
    );
    let url = format!("http://{}", server.addr);
    for mode in ["polling", "websocket", "upgrade"] {
        let output = tokio::process::Command::from({
            let mut c = Command::new("node");
            c.current_dir(&dir)
                .arg("engine_echo.mjs")
                .arg(&url)
                .arg(mode);
            c
        })
        .output()
        .await
        .expect("node runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "engine_echo.mjs {mode} failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(stdout.lines().any(|l| l.starts_with("ok")), "{stdout}");
    }
}
