//! Session forwarding between two nodes, reached directly: the owner is named by the sid, a
//! request marked as forwarded is never forwarded again, and `--no-forwarding` turns it off.

mod common;

use std::time::{Duration, Instant};

use common::cluster::request;
use common::{Node, Redis};

/// Opens a session on `owner` and returns its `&sid=...` query part.
fn open_session(owner: &Node) -> (String, String) {
    let (status, open) = request(&owner.url(), "GET", "", "", &mut None);
    assert_eq!(status, 200, "{open}");
    let json: serde_json::Value = serde_json::from_str(&open[1..]).expect("an open packet");
    let sid = json["sid"].as_str().expect("a sid").to_owned();
    (format!("&sid={sid}"), sid)
}

/// Sends the Socket.IO CONNECT through `via` until the nodes know each other (bounded).
fn connect_through(via: &Node, sid: &str) -> (u16, String) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answer = request(&via.url(), "POST", sid, "40", &mut None);
        if answer.0 == 200 || Instant::now() > deadline {
            return answer;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_session_is_served_through_any_node_and_its_id_names_the_owner() {
    let redis = Redis::start();
    let args = ["--redis", &redis.url(), "--heartbeat-ms", "500"];
    let a = Node::spawn("fwd-a", &args);
    let b = Node::spawn("fwd-b", &args);
    let (sid_a1, raw_a1) = open_session(&a);
    let (_, raw_a2) = open_session(&a);
    let (_, raw_b) = open_session(&b);
    assert_eq!(raw_a1[..4], raw_a2[..4], "one node's sids share its tag");
    assert_ne!(raw_a1[..4], raw_b[..4], "two nodes have different tags");
    assert_eq!(connect_through(&b, &sid_a1).0, 200);
    let (status, body) = request(&b.url(), "GET", &sid_a1, "", &mut None);
    assert_eq!(status, 200);
    assert!(
        body.starts_with("40"),
        "the CONNECT answer, relayed: {body}"
    );
    let (_, body) = request(&b.url(), "POST", &sid_a1, "42[\"whoami\"]", &mut None);
    assert_eq!(body, "ok");
}

#[test]
fn a_forwarded_request_is_never_forwarded_again() {
    let redis = Redis::start();
    let args = ["--redis", &redis.url(), "--heartbeat-ms", "500"];
    let a = Node::spawn("fwd-once-a", &args);
    let b = Node::spawn("fwd-once-b", &args);
    let (sid, _) = open_session(&a);
    assert_eq!(connect_through(&b, &sid).0, 200);
    // The same request, marked as already forwarded, is served where it lands: B does not hold
    // the session, so it is unknown there.
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(b.addr).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        stream,
        "GET /socket.io/?EIO=4&transport=polling{sid} HTTP/1.1\r\nHost: x\r\nX-Sio-Forwarded: 1\r\nConnection: close\r\n\r\n"
    )
    .expect("writes");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).expect("reads");
    assert!(raw.starts_with("HTTP/1.1 400"), "{raw}");
    assert!(raw.contains("Session ID unknown"), "{raw}");
}

#[test]
fn pings_and_pongs_of_a_session_pass_through_another_node() {
    let redis = Redis::start();
    let args = [
        "--redis",
        &redis.url(),
        "--heartbeat-ms",
        "500",
        "--ping-interval-ms",
        "300",
        "--ping-timeout-ms",
        "2000",
    ];
    let a = Node::spawn("fwd-ping-a", &args);
    let b = Node::spawn("fwd-ping-b", &args);
    let (sid, _) = open_session(&a);
    assert_eq!(connect_through(&b, &sid).0, 200);
    // Several ping intervals, every poll and pong through B: the session stays alive.
    let (mut connected, mut pings) = (false, 0);
    for _ in 0..12 {
        let (status, body) = request(&b.url(), "GET", &sid, "", &mut None);
        assert_eq!(status, 200, "{body}");
        for packet in body.split('\x1e') {
            connected |= packet.starts_with("40");
            if packet == "2" {
                pings += 1;
                let (status, body) = request(&b.url(), "POST", &sid, "3", &mut None);
                assert_eq!((status, body.as_str()), (200, "ok"), "pong {pings}");
            }
        }
        if connected && pings >= 4 {
            break;
        }
    }
    assert!(
        connected && pings >= 4,
        "connected {connected}, {pings} pings"
    );
    let (_, body) = request(&a.url(), "POST", &sid, "42[\"whoami\"]", &mut None);
    assert_eq!(body, "ok", "the session is alive on its owner");
}

#[test]
fn an_owner_that_stops_answering_is_dead_within_one_heartbeat() {
    let redis = Redis::start();
    let heartbeat = Duration::from_millis(2000);
    let args = ["--redis", &redis.url(), "--heartbeat-ms", "2000"];
    let a = Node::spawn("fwd-hung-a", &args);
    let b = Node::spawn("fwd-hung-b", &args);
    let (sid, _) = open_session(&a);
    assert_eq!(connect_through(&b, &sid).0, 200);
    // The owner hangs (SIGSTOP): its socket accepts, nothing answers.
    a.signal("STOP");
    let started = Instant::now();
    let (status, body) = request(&b.url(), "POST", &sid, "42[\"whoami\"]", &mut None);
    let took = started.elapsed();
    a.signal("CONT");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("Session ID unknown"), "{body}");
    assert!(took <= heartbeat, "answered after {took:?}");
}

#[test]
fn no_forwarding_makes_other_nodes_sessions_unknown() {
    let redis = Redis::start();
    let args = [
        "--redis",
        &redis.url(),
        "--heartbeat-ms",
        "500",
        "--no-forwarding",
    ];
    let a = Node::spawn("nofwd-a", &args);
    let b = Node::spawn("nofwd-b", &args);
    let (sid, _) = open_session(&a);
    // Give the nodes time to see each other's heartbeats: forwarding would work by then.
    std::thread::sleep(Duration::from_millis(1500));
    let (status, body) = request(&b.url(), "POST", &sid, "40", &mut None);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("Session ID unknown"), "{body}");
    assert_eq!(request(&a.url(), "POST", &sid, "40", &mut None).0, 200);
}
