//! Every example of `server/examples/` is run and used as its doc comment says: the chat, the
//! axum app, two cluster nodes on a real Redis, and the emitter reaching their clients.
//! (The `conformance` example is run by `server/tests/conformance_example.rs` and by the official
//! suites; see the README.)

mod common;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::client::Client;
use common::{Redis, free_port, http_get};
use serde_json::json;

/// The example binaries of `sio-server`, built by cargo for the test (a no-op when they are
/// fresh: `cargo test --workspace --all-targets`, the README's test command, built them with the
/// same features), by name.
fn example_path(name: &str) -> PathBuf {
    static BUILT: std::sync::OnceLock<Vec<(String, PathBuf)>> = std::sync::OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let out = Command::new(cargo)
            .args([
                "build",
                "-q",
                "--workspace",
                "--examples",
                "--message-format=json",
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("cargo runs");
        assert!(
            out.status.success(),
            "building the examples: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|m| m["target"]["kind"][0] == "example")
            .filter_map(|m| {
                let name = m["target"]["name"].as_str()?.to_owned();
                Some((name, PathBuf::from(m["executable"].as_str()?)))
            })
            .collect()
    });
    built
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, path)| path.clone())
        .unwrap_or_else(|| panic!("cargo built no example named {name}"))
}

/// A running example, killed when dropped.
struct Example {
    child: Child,
    addr: SocketAddr,
}

impl Example {
    /// Starts the server example `name` on a free port with `env`, and waits until it answers.
    fn serve(name: &str, env: &[(&str, &str)]) -> Example {
        let port = free_port();
        let child = Command::new(example_path(name))
            .env("PORT", port.to_string())
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .spawn()
            .expect("the example starts");
        let example = Example {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        };
        for _ in 0..200 {
            if http_get(example.addr, "/socket.io/?EIO=4&transport=polling")
                .is_some_and(|(status, _)| status == 200)
            {
                return example;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("example {name} did not answer within 10 s");
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A POST with a text body; returns the status and the body.
fn http_post(addr: SocketAddr, path: &str, body: &str) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(addr).expect("connected");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, body.to_owned())
}

#[tokio::test]
async fn the_chat_example_has_rooms_and_acks() {
    let chat = Example::serve("chat", &[]);
    let ann = Client::connect(&chat.url()).await;
    let bob = Client::connect(&chat.url()).await;
    let eve = Client::connect(&chat.url()).await;

    assert_eq!(
        ann.call("nick", vec![json!("ann")]).await,
        vec![json!(true)]
    );
    assert_eq!(
        ann.call("nick", vec![json!("")]).await,
        vec![json!({"error": "a nickname has 1 to 32 characters"})]
    );
    assert_eq!(
        bob.call("nick", vec![json!("bob")]).await,
        vec![json!(true)]
    );
    assert_eq!(ann.call("join", vec![json!("lobby")]).await, vec![json!(1)]);
    assert_eq!(bob.call("join", vec![json!("lobby")]).await, vec![json!(2)]);
    let joined = ann.next().await;
    assert_eq!(
        (joined.name.as_str(), joined.args),
        ("joined", vec![json!({"room": "lobby", "who": "bob"})])
    );

    assert_eq!(
        bob.call("say", vec![json!({"room": "lobby", "text": "hi"})])
            .await,
        vec![json!({"delivered": true})]
    );
    let said = ann.next().await;
    assert_eq!(
        (said.name.as_str(), said.args),
        (
            "said",
            vec![json!({"room": "lobby", "from": "bob", "text": "hi"})]
        )
    );
    assert!(
        bob.try_next(Duration::from_millis(200)).await.is_none(),
        "the sender does not hear itself"
    );
    assert_eq!(
        eve.call("say", vec![json!({"room": "lobby", "text": "spam"})])
            .await,
        vec![json!({"error": "join the room first"})]
    );

    drop(bob);
    let left = ann.next().await;
    assert_eq!(
        (left.name.as_str(), left.args),
        ("left", vec![json!({"room": "lobby", "who": "bob"})])
    );
    assert_eq!(
        ann.call("leave", vec![json!("lobby")]).await,
        vec![json!(true)]
    );
}

#[tokio::test]
async fn the_axum_example_serves_its_routes_beside_socket_io() {
    let app = Example::serve("axum_app", &[]);
    assert_eq!(
        http_get(app.addr, "/hello"),
        Some((200, "hello from axum".into()))
    );
    let client = Client::connect(&app.url()).await;
    let welcome = client.next().await;
    assert_eq!(
        (welcome.name.as_str(), welcome.args),
        ("welcome", vec![json!(format!("you are {}", client.sid))])
    );
    // The polling handshake above left a session too; it counts until it times out.
    let (status, online) = http_get(app.addr, "/online").unwrap();
    assert_eq!(status, 200);
    assert!(online.parse::<usize>().unwrap() >= 1, "{online}");
    assert_eq!(
        http_post(app.addr, "/announce", "doors close at 9"),
        (200, "sent".into())
    );
    let announcement = client.next().await;
    assert_eq!(
        (announcement.name.as_str(), announcement.args),
        ("announcement", vec![json!("doors close at 9")])
    );
    assert_eq!(http_get(app.addr, "/nothing-here").map(|r| r.0), Some(404));
}

#[tokio::test]
async fn the_cluster_examples_share_rooms_across_nodes_and_the_emitter_reaches_them() {
    let redis = Redis::start();
    let url = redis.url();
    let one = Example::serve("cluster_node", &[("REDIS_URL", &url), ("NODE_ID", "one")]);
    let two = Example::serve("cluster_node", &[("REDIS_URL", &url), ("NODE_ID", "two")]);
    let ann = Client::connect(&one.url()).await;
    let bob = Client::connect(&two.url()).await;
    assert_eq!(ann.next().await.args, vec![json!({"node": "one"})]);
    assert_eq!(bob.next().await.args, vec![json!({"node": "two"})]);
    assert_eq!(
        ann.call("join", vec![json!("ops")]).await,
        vec![json!("one")]
    );
    assert_eq!(
        bob.call("join", vec![json!("ops")]).await,
        vec![json!("two")]
    );

    // Nodes learn of each other by heartbeat (1 s in the example).
    let mut census = json!(null);
    for _ in 0..50 {
        census = ann.call("census", vec![]).await[0].clone();
        if census["nodes"] == json!(2) && census["sockets"].as_array().map_or(0, Vec::len) == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(census["nodes"], json!(2), "{census}");
    let mut sockets: Vec<String> = serde_json::from_value(census["sockets"].clone()).unwrap();
    sockets.sort();
    let mut expected = vec![ann.sid.clone(), bob.sid.clone()];
    expected.sort();
    assert_eq!(sockets, expected);

    ann.emit("shout", vec![json!({"room": "ops", "text": "deploying"})]);
    for client in [&ann, &bob] {
        let shout = client.next().await;
        assert_eq!(
            (shout.name.as_str(), shout.args),
            (
                "shout",
                vec![json!({"from_node": "one", "text": "deploying"})]
            )
        );
    }

    let out = Command::new(example_path("emitter"))
        .args(["ops", "all clear"])
        .env("REDIS_URL", &url)
        .output()
        .expect("the emitter runs");
    assert!(out.status.success(), "{out:?}");
    for client in [&ann, &bob] {
        let news = client.next().await;
        assert_eq!(
            (news.name.as_str(), news.args),
            ("news", vec![json!("all clear")])
        );
    }
    // The emitter also made the room's sockets join `readers`, on both nodes.
    bob.emit("shout", vec![json!({"room": "readers", "text": "read me"})]);
    for client in [&ann, &bob] {
        assert_eq!(
            client.next().await.args,
            vec![json!({"from_node": "two", "text": "read me"})]
        );
    }
}
