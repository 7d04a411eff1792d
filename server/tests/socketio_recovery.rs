//! Connection state recovery on one node (in-memory adapter), at the packet level: the pid in
//! the CONNECT answer, offsets on broadcasts, the restored id, rooms and data, the replay of
//! missed packets in order, and fresh sessions for unknown, expired, forged or foreign input.

mod common;

use std::time::Duration;

use common::sio::RawClient;
use serde_json::{Value, json};
use sio_server::adapter::RecoveryConfig;
use sio_server::{AckSender, ConnectError, Data, Server, Socket};

fn recovering_server(max: Duration) -> Server {
    let io = Server::builder()
        .connection_state_recovery(RecoveryConfig {
            max_disconnection_duration: max,
            ..RecoveryConfig::default()
        })
        .build();
    for nsp in ["/", "/chat"] {
        let ns = io.of(nsp);
        ns.use_middleware(|socket: Socket| async move {
            if socket.handshake().auth.get("token") == Some(&json!("ok")) {
                Ok(())
            } else {
                Err(ConnectError::new("unauthorized"))
            }
        });
        ns.on_connection(|socket: Socket| async move {
            if !socket.recovered() {
                let _ = socket.set_data(&json!({ "joined": socket.id().to_string() }));
            }
            let _ = socket.emit("recovered", &socket.recovered());
        });
        ns.on(
            "join",
            |s: Socket, Data(room): Data<String>, ack: AckSender| async move {
                s.join([room]);
                let _ = ack.send(&true);
            },
        );
        // Emits `d` to the socket itself, `n` times, after `delay_ms` (the client may be gone).
        ns.on("later", |s: Socket, event: sio_server::Event| async move {
            let args: Value = event.payload.first().unwrap_or_default();
            tokio::time::sleep(Duration::from_millis(
                args["delay_ms"].as_u64().unwrap_or(0),
            ))
            .await;
            for i in 0..args["n"].as_u64().unwrap_or(0) {
                let _ = s.emit("d", &i);
            }
        });
        ns.on("data", |s: Socket, event: sio_server::Event| async move {
            let _ = event.ack.send(&s.data::<Value>().unwrap_or_default());
        });
    }
    io
}

/// The CONNECT answer of `nsp` with `auth`: `(sid, pid)`.
async fn connect(client: &mut RawClient, nsp: &str, auth: Value) -> (String, Option<String>) {
    let prefix = if nsp == "/" {
        String::new()
    } else {
        format!("{nsp},")
    };
    client.send(&format!("40{prefix}{auth}")).await;
    let reply = client.next_text().await;
    let body = reply
        .strip_prefix(&format!("40{prefix}"))
        .unwrap_or_else(|| panic!("CONNECT answer: {reply}"));
    let json: Value = serde_json::from_str(body).unwrap();
    (
        json["sid"].as_str().unwrap().to_owned(),
        json["pid"].as_str().map(str::to_owned),
    )
}

/// The next event as its JSON array (`42[...]` on `/`).
async fn next_event(client: &mut RawClient, prefix: &str) -> Vec<Value> {
    let text = client.next_text().await;
    let body = text
        .strip_prefix(&format!("42{prefix}"))
        .unwrap_or_else(|| panic!("an event: {text}"));
    serde_json::from_str(body).unwrap()
}

/// Connects, checks the `recovered` event, and returns `(client, sid, pid)`.
async fn session(addr: std::net::SocketAddr) -> (RawClient, String, String) {
    let mut client = RawClient::open(addr).await;
    let (sid, pid) = connect(&mut client, "/", json!({"token": "ok"})).await;
    // An event to the socket itself carries an offset too, as in Node.
    let recovered = next_event(&mut client, "").await;
    assert_eq!(&recovered[..2], &[json!("recovered"), json!(false)]);
    assert!(recovered[2].is_string(), "an offset: {recovered:?}");
    (client, sid, pid.expect("a pid"))
}

async fn join(client: &mut RawClient, room: &str) {
    client.send(&format!(r#"421["join","{room}"]"#)).await;
    assert_eq!(client.next_text().await, "431[true]");
}

/// The offset (last argument) of a broadcast event.
fn offset(event: &[Value]) -> String {
    event
        .last()
        .and_then(Value::as_str)
        .expect("an offset")
        .to_owned()
}

#[tokio::test]
async fn broadcasts_carry_offsets_and_a_dropped_client_gets_back_its_id_rooms_data_and_missed_events()
 {
    let io = recovering_server(Duration::from_secs(30));
    let (addr, _guard) = common::serve_io(&io).await;
    let (mut a, sid, pid) = session(addr).await;
    join(&mut a, "news").await;

    io.to(["news"]).emit("m", &1).await.unwrap();
    let first = next_event(&mut a, "").await;
    assert_eq!(&first[..2], &[json!("m"), json!(1)]);
    let last_seen = offset(&first);
    // Volatile broadcasts carry no offset and are not replayed.
    io.to(["news"]).volatile().emit("v", &0).await.unwrap();
    assert_eq!(next_event(&mut a, "").await, vec![json!("v"), json!(0)]);
    drop(a);

    // Missed while away: to the room, to everyone, and to a room the socket is not in.
    let mut b = RawClient::open(addr).await;
    for i in 2..=4 {
        io.to(["news"]).emit("m", &i).await.unwrap();
    }
    io.emit("all", &5).await.unwrap();
    io.to(["elsewhere"]).emit("m", &99).await.unwrap();
    io.to(["news"]).volatile().emit("v", &1).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;

    // The middleware would refuse this auth: a recovered socket skips it.
    let auth = json!({"pid": pid, "offset": last_seen});
    let (sid2, pid2) = connect(&mut b, "/", auth).await;
    assert_eq!(sid2, sid, "the socket id is kept");
    assert_eq!(
        pid2.as_deref(),
        Some(pid.as_str()),
        "the same pid: the client sees recovered"
    );
    let mut got = Vec::new();
    for _ in 0..4 {
        let event = next_event(&mut b, "").await;
        got.push((event[0].clone(), event[1].clone()));
    }
    assert_eq!(
        got,
        vec![
            (json!("m"), json!(2)),
            (json!("m"), json!(3)),
            (json!("m"), json!(4)),
            (json!("all"), json!(5)),
        ],
        "missed events, in order, only those the rooms select"
    );
    let recovered = next_event(&mut b, "").await;
    assert_eq!(&recovered[..2], &[json!("recovered"), json!(true)]);
    // Rooms and data are back, and live broadcasts follow.
    io.to(["news"]).emit("m", &6).await.unwrap();
    let live = next_event(&mut b, "").await;
    assert_eq!(&live[..2], &[json!("m"), json!(6)]);
    b.send(r#"422["data"]"#).await;
    assert_eq!(b.next_text().await, format!(r#"432[{{"joined":"{sid}"}}]"#));
    assert_eq!(io.metrics().socket_recoveries(), 1);
}

#[tokio::test]
async fn a_session_is_restored_at_most_once() {
    let io = recovering_server(Duration::from_secs(30));
    let (addr, _guard) = common::serve_io(&io).await;
    let (mut a, sid, pid) = session(addr).await;
    io.emit("m", &1).await.unwrap();
    let seen = offset(&next_event(&mut a, "").await);
    drop(a);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let auth = json!({"pid": pid, "offset": seen, "token": "ok"});
    let mut b = RawClient::open(addr).await;
    assert_eq!(connect(&mut b, "/", auth.clone()).await.0, sid);
    let mut c = RawClient::open(addr).await;
    let (sid3, pid3) = connect(&mut c, "/", auth).await;
    assert_ne!(sid3, sid, "a second claim gets a fresh session");
    assert_ne!(pid3.as_deref(), Some(pid.as_str()));
}

#[tokio::test]
async fn expired_forged_and_foreign_sessions_get_a_fresh_one() {
    let io = recovering_server(Duration::from_millis(300));
    let (addr, _guard) = common::serve_io(&io).await;

    // Forged offset: never issued.
    let (mut a, sid, pid) = session(addr).await;
    io.emit("m", &1).await.unwrap();
    let _ = next_event(&mut a, "").await;
    drop(a);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut b = RawClient::open(addr).await;
    let auth = json!({"pid": pid, "offset": "123456789", "token": "ok"});
    let (sid2, pid2) = connect(&mut b, "/", auth).await;
    assert_ne!(sid2, sid);
    assert_ne!(pid2.as_deref(), Some(pid.as_str()));
    let recovered = next_event(&mut b, "").await;
    assert_eq!(&recovered[..2], &[json!("recovered"), json!(false)]);

    // Offset and pid of `/`, presented to `/chat`.
    let (mut c, sid, pid) = session(addr).await;
    io.emit("m", &2).await.unwrap();
    let seen = offset(&next_event(&mut c, "").await);
    drop(c);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut d = RawClient::open(addr).await;
    let auth = json!({"pid": pid, "offset": seen, "token": "ok"});
    let (sid4, pid4) = connect(&mut d, "/chat", auth).await;
    assert_ne!(sid4, sid, "another namespace never restores this session");
    assert_ne!(pid4.as_deref(), Some(pid.as_str()));

    // Expired: the right pid and offset, too late.
    let (mut e, sid, pid) = session(addr).await;
    io.emit("m", &3).await.unwrap();
    let seen = offset(&next_event(&mut e, "").await);
    drop(e);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let mut f = RawClient::open(addr).await;
    let auth = json!({"pid": pid, "offset": seen, "token": "ok"});
    let (sid6, pid6) = connect(&mut f, "/", auth).await;
    assert_ne!(sid6, sid, "an expired session is not restored");
    assert_ne!(pid6.as_deref(), Some(pid.as_str()));

    // Unknown pid, and no pid at all with a refused auth: the middleware still runs.
    let mut g = RawClient::open(addr).await;
    g.send(r#"40{"pid":"nope","offset":"1"}"#).await;
    assert!(
        g.next_text().await.starts_with("44"),
        "middlewares run for fresh sessions"
    );
}

#[tokio::test]
async fn without_recovery_there_is_no_pid_and_no_offset() {
    let io = Server::builder().build();
    let (addr, _guard) = common::serve_io(&io).await;
    let mut a = RawClient::open(addr).await;
    let (_, pid) = connect(&mut a, "/", json!({})).await;
    assert_eq!(pid, None);
    io.emit("m", &1).await.unwrap();
    assert_eq!(next_event(&mut a, "").await, vec![json!("m"), json!(1)]);
}

#[tokio::test]
async fn events_to_the_socket_itself_carry_offsets_and_are_replayed_after_a_drop() {
    let io = recovering_server(Duration::from_secs(30));
    let (addr, _guard) = common::serve_io(&io).await;
    let (mut a, sid, pid) = session(addr).await;
    // One direct event seen live, with its offset.
    a.send(r#"42["later",{"n":1,"delay_ms":0}]"#).await;
    let live = next_event(&mut a, "").await;
    assert_eq!(&live[..2], &[json!("d"), json!(0)]);
    let seen = offset(&live);
    // Three more are emitted to the socket after its connection dropped.
    a.send(r#"42["later",{"n":3,"delay_ms":300}]"#).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    drop(a);
    tokio::time::sleep(Duration::from_millis(600)).await;

    let mut b = RawClient::open(addr).await;
    let (sid2, _) = connect(&mut b, "/", json!({"pid": pid, "offset": seen})).await;
    assert_eq!(sid2, sid);
    let mut replayed = Vec::new();
    for _ in 0..3 {
        let event = next_event(&mut b, "").await;
        assert!(event[2].is_string(), "replayed with its offset: {event:?}");
        replayed.push((event[0].clone(), event[1].clone()));
    }
    assert_eq!(
        replayed,
        vec![
            (json!("d"), json!(0)),
            (json!("d"), json!(1)),
            (json!("d"), json!(2))
        ],
        "the direct events missed while away, in order"
    );
    let recovered = next_event(&mut b, "").await;
    assert_eq!(&recovered[..2], &[json!("recovered"), json!(true)]);
}
