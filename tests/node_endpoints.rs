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
