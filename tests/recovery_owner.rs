//! A session restored on another node belongs to that node: the node that held it before, and
//! has not noticed yet that its client left (here: paused while the client reconnected
//! elsewhere), cannot write its stale state back over the restored record. Without that, a crash
//! of the new node would later restore the client with the old rooms.

mod common;

use std::time::Duration;

use common::{Node, Redis, cli, http_get, wait_for_metric};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A raw Socket.IO client on one websocket: what it sends and the text frames it reads.
struct Raw {
    ws: Ws,
}

impl Raw {
    async fn open(node: &Node) -> Raw {
        let url = format!("ws://{}/socket.io/?EIO=4&transport=websocket", node.addr);
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("websocket");
        let mut raw = Raw { ws };
        let open = raw.next().await;
        assert!(open.starts_with('0'), "{open}");
        raw
    }

    async fn send(&mut self, text: String) {
        self.ws.send(Message::text(text)).await.expect("send");
    }

    /// The next text frame that is not a ping (pings are answered).
    async fn next(&mut self) -> String {
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(10), self.ws.next())
                .await
                .expect("a frame in time")
                .expect("open")
                .expect("frame");
            if let Message::Text(text) = frame {
                if text.as_str() == "2" {
                    self.send("3".into()).await;
                    continue;
                }
                return text.to_string();
            }
        }
    }

    /// Sends CONNECT with `auth` and returns the answer's JSON.
    async fn connect(&mut self, auth: Value) -> Value {
        self.send(format!("40{auth}")).await;
        let reply = self.next().await;
        let body = reply
            .strip_prefix("40")
            .unwrap_or_else(|| panic!("{reply}"));
        serde_json::from_str(body).expect("CONNECT answer")
    }

    /// Emits `event` with ack id `id` and returns the ack's arguments, collecting the events
    /// that arrive meanwhile.
    async fn call(&mut self, id: u32, event: &str, arg: Value, seen: &mut Vec<Value>) -> Value {
        self.send(format!("42{id}{}", json!([event, arg]))).await;
        let ack = format!("43{id}");
        loop {
            let frame = self.next().await;
            if let Some(args) = frame.strip_prefix(&ack) {
                return serde_json::from_str(args).expect("ack");
            }
            if let Some(args) = frame.strip_prefix("42") {
                seen.push(serde_json::from_str(args).expect("event"));
            }
        }
    }
}

/// Waits until Redis holds `pid`'s session record (base64 msgpack `{sid, pid, rooms, ...}`)
/// with `room` among its rooms. Session changes are written by a queue, after the change
/// itself: a node stopped right after a join may have left the record from before it.
async fn wait_for_record_naming(redis: &Redis, pid: &str, room: &str) {
    use base64::Engine as _;
    let key = format!("sio:session:{pid}");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let text = cli(redis.port, &["GET", &key]);
        let record: Option<Value> = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .ok()
            .and_then(|bytes| rmp_serde::from_slice(&bytes).ok());
        if record
            .as_ref()
            .and_then(|r| r["rooms"].as_array())
            .is_some_and(|rooms| rooms.contains(&json!(room)))
        {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{key} never named {room}: {record:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_missed_the_reconnect_cannot_overwrite_the_restored_session() {
    let redis = Redis::start();
    let args = [
        "--redis",
        &redis.url(),
        "--redis-streams",
        "--recovery-ms",
        "60000",
    ];
    let a = Node::spawn("owner-a", &args);
    let b = Node::spawn("owner-b", &args);

    // On A: a session in room "old", and an offset from a broadcast to it.
    let mut on_a = Raw::open(&a).await;
    let hello = on_a.connect(json!({})).await;
    let (sid, pid) = (hello["sid"].clone(), hello["pid"].clone());
    assert!(pid.is_string(), "recovery is on: {hello}");
    let mut seen = Vec::new();
    assert_eq!(
        on_a.call(1, "join", json!("old"), &mut seen).await,
        json!([true])
    );
    let publish = json!({"room": "old", "data": 1});
    assert_eq!(
        on_a.call(2, "publish", publish, &mut seen).await,
        json!([true])
    );
    while seen.is_empty() {
        let frame = on_a.next().await;
        if let Some(args) = frame.strip_prefix("42") {
            seen.push(serde_json::from_str(args).expect("event"));
        }
    }
    let offset = seen[0]
        .as_array()
        .and_then(|a| a.last())
        .cloned()
        .expect("offset");

    // A stops before it can notice anything (once its record names "old": a join is
    // acknowledged before the record is written); the client reconnects to B and is restored
    // there, then joins "new" on B.
    let pid = pid.as_str().expect("pid");
    wait_for_record_naming(&redis, pid, "old").await;
    a.signal("STOP");
    let mut on_b = Raw::open(&b).await;
    let restored = on_b.connect(json!({"pid": pid, "offset": offset})).await;
    assert_eq!(restored["sid"], sid, "restored on B: {restored}");
    let mut ignored = Vec::new();
    assert_eq!(
        on_b.call(1, "join", json!("new"), &mut ignored).await,
        json!([true])
    );

    // A comes back and sees its connection closed: its late write must be refused.
    drop(on_a);
    a.signal("CONT");
    wait_for_metric(&a, "sio_namespace_sockets{namespace=\"/\"} 0");
    let superseded = |metrics: &str| {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix("sio_streams_session_writes_superseded_total "))
            .and_then(|n| n.parse::<u64>().ok())
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let metrics = http_get(a.addr, "/metrics").expect("metrics").1;
        if superseded(&metrics).is_some_and(|n| n >= 1) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "A's late write was not refused: {metrics}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // B dies; the client is restored on A from the record B wrote, rooms "old" and "new".
    wait_for_record_naming(&redis, pid, "new").await;
    b.signal("KILL");
    drop(on_b);
    let mut again = Raw::open(&a).await;
    let restored = again.connect(json!({"pid": pid, "offset": offset})).await;
    assert_eq!(restored["sid"], sid, "restored on A: {restored}");
    let mut ignored = Vec::new();
    for (id, room) in [(1, "old"), (2, "new")] {
        let count = again.call(id, "count", json!(room), &mut ignored).await;
        assert_eq!(count, json!([1]), "the restored socket is in {room}");
    }
    let metrics = http_get(a.addr, "/metrics").expect("metrics").1;
    assert!(
        metrics.contains("\nsio_streams_sessions_restored_total 1\n"),
        "{metrics}"
    );
}
