//! Children of dynamic namespaces are bounded in number (`max_namespaces`) and removed once
//! empty for the grace period; a later connect creates them again.

mod common;

use std::time::Duration;

use common::sio::RawClient;
use sio_server::{Server, Socket};

fn room_namespaces() -> regex::Regex {
    regex::Regex::new(r"^/room-\d+$").unwrap()
}

#[tokio::test]
async fn a_connect_beyond_max_namespaces_gets_connect_error() {
    // "/" and two children.
    let io = Server::builder().max_namespaces(3).build();
    io.of_regex(room_namespaces())
        .on_connection(|_socket: Socket| async {});
    let (addr, _guard) = common::serve_io(&io).await;
    let mut client = RawClient::open(addr).await;
    client.join_namespace("/room-1", None).await;
    client.join_namespace("/room-2", None).await;
    client.send("40/room-3,").await;
    assert_eq!(
        client.next_text().await,
        r#"44/room-3,{"message":"Too many namespaces"}"#
    );
    assert_eq!(io.namespaces().len(), 3);
    assert_eq!(io.metrics().namespaces_refused(), 1);
    // An existing namespace still takes connects, and the connection lives on.
    let mut other = RawClient::open(addr).await;
    other.join_namespace("/room-2", None).await;
}

#[tokio::test]
async fn an_emptied_child_namespace_is_removed_after_the_grace_and_comes_back() {
    let grace = Duration::from_secs(1);
    let io = Server::builder().empty_namespace_grace(grace).build();
    io.of_regex(room_namespaces())
        .on_connection(|socket: Socket| async move {
            socket.join(["inside"]);
        });
    let (addr, _guard) = common::serve_io(&io).await;
    let mut client = RawClient::open(addr).await;
    client.join_namespace("/room-7", None).await;
    assert!(io.namespace("/room-7").is_some());
    client.send("41/room-7,").await;
    let left = std::time::Instant::now();
    common::eventually("the socket left", || {
        io.namespace("/room-7")
            .is_some_and(|ns| ns.local_socket_count() == 0)
    })
    .await;
    // Not before the grace...
    assert!(
        io.namespace("/room-7").is_some(),
        "an empty namespace stays for its grace period"
    );
    // ...but after it.
    common::eventually("the empty namespace is removed", || {
        io.namespace("/room-7").is_none()
    })
    .await;
    assert!(left.elapsed() >= grace);
    assert_eq!(io.metrics().namespaces_removed(), 1);
    assert!(!io.namespaces().contains(&"/room-7".to_owned()));
    // A new connect creates it again, with the dynamic namespace's handlers.
    client.join_namespace("/room-7", None).await;
    let ns = io.namespace("/room-7").expect("created again");
    common::eventually("the socket is in the room of the connect handler", || {
        ns.adapter().local().rooms_local().contains("inside")
    })
    .await;
    // Static namespaces and "/" are never removed.
    assert!(io.namespace("/").is_some());
}
