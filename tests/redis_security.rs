//! Redis with a password and over TLS (`rediss://`): the cluster works, and the secret never
//! shows up in the node's logs.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::client::Client;
use common::{Node, free_port, http_get};
use serde_json::json;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let status = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl runs");
    assert!(status.success(), "openssl {args:?}");
}

/// A CA and a certificate for 127.0.0.1 signed by it, in `dir`.
fn certificates(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=test-ca",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            "redis.key",
            "-out",
            "redis.csr",
        ],
    );
    std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "redis.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            "san.ext",
            "-out",
            "redis.pem",
        ],
    );
}

fn redis(args: &[&str], port: u16) -> Server {
    let child = Command::new("redis-server")
        .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .args(args)
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server runs");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "redis-server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    Server(child)
}

async fn cross_node_publish(a: &Node, b: &Node) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !http_get(a.addr, "/metrics")
        .unwrap()
        .1
        .contains("sio_cluster_nodes 2\n")
    {
        assert!(Instant::now() < deadline, "the nodes do not see each other");
        std::thread::sleep(Duration::from_millis(50));
    }
    let ca = Client::connect(&a.url()).await;
    let cb = Client::connect(&b.url()).await;
    cb.call("join", vec![json!("secure")]).await;
    ca.call(
        "publish",
        vec![json!({"room": "secure", "data": "over redis"})],
    )
    .await;
    assert_eq!(cb.next().await.args, vec![json!("over redis")]);
}

fn logs_free_of(log: &Path, secret: &str) {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    assert!(
        !text.contains(secret),
        "the secret appears in the logs:\n{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_protected_redis() {
    let port = free_port();
    let _redis = redis(
        &["--port", &port.to_string(), "--requirepass", "pa55-word"],
        port,
    );
    let dir = tempdir("password");
    let url = format!("redis://:pa55-word@127.0.0.1:{port}");
    let a = Node::spawn_logged(
        "pw-a",
        &["--redis", &url, "--heartbeat-ms", "500"],
        &dir.join("a.log"),
        &[],
    );
    let b = Node::spawn_logged(
        "pw-b",
        &["--redis", &url, "--heartbeat-ms", "500"],
        &dir.join("b.log"),
        &[],
    );
    cross_node_publish(&a, &b).await;
    // A wrong password: the node serves its own clients but is not ready.
    let wrong = format!("redis://:nope-nope@127.0.0.1:{port}");
    let c = Node::spawn_logged("pw-c", &["--redis", &wrong], &dir.join("c.log"), &[]);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(http_get(c.addr, "/readyz").unwrap().0, 503);
    drop((a, b, c));
    for log in ["a.log", "b.log", "c.log"] {
        logs_free_of(&dir.join(log), "pa55-word");
        logs_free_of(&dir.join(log), "nope-nope");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_over_tls() {
    let dir = tempdir("tls");
    certificates(&dir);
    let port = free_port();
    let cert = |f: &str| dir.join(f).display().to_string();
    let _redis = redis(
        &[
            "--port",
            "0",
            "--tls-port",
            &port.to_string(),
            "--tls-cert-file",
            &cert("redis.pem"),
            "--tls-key-file",
            &cert("redis.key"),
            "--tls-ca-cert-file",
            &cert("ca.pem"),
            "--tls-auth-clients",
            "no",
            "--requirepass",
            "tls-s3cret",
        ],
        port,
    );
    let url = format!("rediss://:tls-s3cret@127.0.0.1:{port}");
    let env = [("SSL_CERT_FILE", cert("ca.pem"))];
    let a = Node::spawn_logged(
        "tls-a",
        &["--redis", &url, "--heartbeat-ms", "500"],
        &dir.join("a.log"),
        &env,
    );
    let b = Node::spawn_logged(
        "tls-b",
        &["--redis", &url, "--heartbeat-ms", "500"],
        &dir.join("b.log"),
        &env,
    );
    cross_node_publish(&a, &b).await;
    drop((a, b));
    logs_free_of(&dir.join("a.log"), "tls-s3cret");
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("sio-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
