//! `sio-node`'s HTTP endpoints and its graceful shutdown.

mod common;

use std::time::Duration;

use common::{Node, http_get};

#[test]
fn health_readiness_metrics_and_page() {
    let node = Node::spawn("n-endpoints", &[]);
    assert_eq!(
        http_get(node.addr, "/healthz").unwrap(),
        (200, "ok\n".into())
    );
    assert_eq!(http_get(node.addr, "/readyz").unwrap().0, 200);
    let (status, metrics) = http_get(node.addr, "/metrics").unwrap();
    assert_eq!(status, 200);
    assert!(
        metrics.contains("sio_connections{transport=\"websocket\"} 0"),
        "{metrics}"
    );
    assert!(
        metrics.contains("sio_namespace_sockets{namespace=\"/custom\"} 0"),
        "{metrics}"
    );
    assert!(
        metrics.contains("sio_namespace_rooms{namespace=\"/\"} 0"),
        "{metrics}"
    );
    let (status, page) = http_get(node.addr, "/").unwrap();
    assert_eq!(status, 200);
    assert!(page.contains("n-endpoints"));
    assert_eq!(http_get(node.addr, "/nope").unwrap().0, 404);
    let (status, body) = http_get(node.addr, "/socket.io/?EIO=4&transport=polling").unwrap();
    assert_eq!(status, 200);
    assert!(body.starts_with("0{\"sid\""), "{body}");
}

#[test]
fn a_full_node_refuses_handshakes_with_503() {
    let node = Node::spawn("n-full", &["--max-connections", "2"]);
    let hs = "/socket.io/?EIO=4&transport=polling";
    assert_eq!(http_get(node.addr, hs).unwrap().0, 200);
    assert_eq!(http_get(node.addr, hs).unwrap().0, 200);
    let (status, body) = http_get(node.addr, hs).unwrap();
    assert_eq!(
        (status, body.as_str()),
        (503, r#"{"message":"Server full"}"#)
    );
    let metrics = http_get(node.addr, "/metrics").unwrap().1;
    assert!(metrics.contains("sio_handshakes_total 2"), "{metrics}");
    assert!(
        metrics.contains("sio_handshakes_refused_total 1"),
        "{metrics}"
    );
}

#[test]
fn sigterm_stops_the_node_gracefully() {
    let mut node = Node::spawn("n-term", &[]);
    // An open long-poll must not keep the node alive.
    let addr = node.addr;
    let sid_body = http_get(addr, "/socket.io/?EIO=4&transport=polling")
        .unwrap()
        .1;
    let sid: serde_json::Value = serde_json::from_str(&sid_body[1..]).unwrap();
    let sid = sid["sid"].as_str().unwrap().to_owned();
    let poll = std::thread::spawn(move || {
        http_get(
            addr,
            &format!("/socket.io/?EIO=4&transport=polling&sid={sid}"),
        )
    });
    std::thread::sleep(Duration::from_millis(100));
    node.signal("TERM");
    let status = node
        .wait_exit(Duration::from_secs(10))
        .expect("the node exits");
    assert!(status.success(), "{status}");
    let answered = poll.join().unwrap();
    assert_eq!(answered, Some((200, "1".into())));
}

/// One GET on a kept-alive connection; returns the status and the body.
fn get_kept_alive(stream: &mut std::net::TcpStream, path: &str) -> (u16, String) {
    use std::io::{BufRead, BufReader, Read, Write};
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: node\r\nConnection: keep-alive\r\n\r\n"
    )
    .unwrap();
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader.read_line(&mut status_line).unwrap();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    (status, String::from_utf8(body).unwrap())
}

#[test]
fn after_sigterm_new_handshakes_are_refused_while_clients_drain() {
    let mut node = Node::spawn("n-drain", &[]);
    let addr = node.addr;
    // A polling client on a kept-alive connection, its session open and no poll pending: the
    // shutdown queues its close packet, and the node waits (up to its 5 s drain) for the
    // client to collect it.
    let mut client = std::net::TcpStream::connect(addr).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let (status, sid_body) = get_kept_alive(&mut client, "/socket.io/?EIO=4&transport=polling");
    assert_eq!(status, 200);
    let sid: serde_json::Value = serde_json::from_str(&sid_body[1..]).unwrap();
    let sid = sid["sid"].as_str().unwrap().to_owned();
    node.signal("TERM");
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        node.child.try_wait().unwrap().is_none(),
        "the node is still draining its client"
    );
    let refused = http_get(addr, "/socket.io/?EIO=4&transport=polling");
    assert!(
        matches!(refused, None | Some((503, _))),
        "a handshake after SIGTERM is refused (connection refused or 503), got {refused:?}"
    );
    // The draining client still gets its close packet, then the node exits.
    let answered = get_kept_alive(
        &mut client,
        &format!("/socket.io/?EIO=4&transport=polling&sid={sid}"),
    );
    assert_eq!(answered, (200, "1".into()), "the close packet");
    let status = node
        .wait_exit(Duration::from_secs(10))
        .expect("the node exits");
    assert!(status.success(), "{status}");
}
