//! Rooms and broadcast operators, cluster operations on one node, and index cleanup.

mod common;

use std::time::Duration;

use common::sio::RawClient;
use sio_server::{AckSender, Data, Server, Socket};

fn join_app(io: &Server) {
    io.on_connection(|socket: Socket| async move {
        socket.on(
            "join",
            |s: Socket, Data(room): Data<String>, ack: AckSender| async move {
                s.join([room]);
                let _ = ack.send(&true);
            },
        );
    });
}

/// Sends a marker to everyone and checks that it is the next thing each client sees: whatever
/// a client was not supposed to get would arrive before it.
async fn expect_only(io: &Server, clients: &mut [&mut RawClient], expected: &[Option<&str>]) {
    io.emit("end", &0).await.unwrap();
    for (client, want) in clients.iter_mut().zip(expected) {
        if let Some(want) = want {
            assert_eq!(client.next_text().await, *want);
        }
        assert_eq!(client.next_text().await, r#"42["end",0]"#);
    }
}

#[tokio::test]
async fn broadcast_operators_select_the_right_sockets() {
    let io = Server::builder().build();
    join_app(&io);
    let (addr, _guard) = common::serve_io(&io).await;
    let (mut a, sa) = RawClient::connect(addr, "/").await;
    let (mut b, sb) = RawClient::connect(addr, "/").await;
    let (mut c, sc) = RawClient::connect(addr, "/").await;
    io.to([sa.clone()]).sockets_join(["r1"]).await.unwrap();
    io.to([sb.clone()])
        .sockets_join(["r1", "r2"])
        .await
        .unwrap();
    io.to([sc.clone()]).sockets_join(["r2"]).await.unwrap();
    let msg = r#"42["m",1]"#;

    io.to(["r1"]).emit("m", &1).await.unwrap();
    expect_only(
        &io,
        &mut [&mut a, &mut b, &mut c],
        &[Some(msg), Some(msg), None],
    )
    .await;

    // Several rooms: each socket once.
    io.to(["r1", "r2"]).emit("m", &1).await.unwrap();
    expect_only(
        &io,
        &mut [&mut a, &mut b, &mut c],
        &[Some(msg), Some(msg), Some(msg)],
    )
    .await;

    io.to(["r1"]).except(["r2"]).emit("m", &1).await.unwrap();
    expect_only(&io, &mut [&mut a, &mut b, &mut c], &[Some(msg), None, None]).await;

    io.except([sb.clone()]).emit("m", &1).await.unwrap();
    expect_only(
        &io,
        &mut [&mut a, &mut b, &mut c],
        &[Some(msg), None, Some(msg)],
    )
    .await;

    io.local().volatile().emit("m", &1).await.unwrap();
    expect_only(
        &io,
        &mut [&mut a, &mut b, &mut c],
        &[Some(msg), Some(msg), Some(msg)],
    )
    .await;

    // A socket's broadcast excludes the sender.
    a.send(r#"42["relay"]"#).await;
    let found = io.to(["r1"]).fetch_sockets().await.unwrap();
    let mut ids: Vec<String> = found.value.iter().map(|s| s.info.id.clone()).collect();
    ids.sort();
    let mut want = vec![sa.clone(), sb.clone()];
    want.sort();
    assert_eq!(ids, want);
    assert!(found.missing_nodes.is_empty());
    let b_info = found.value.iter().find(|s| s.info.id == sb).unwrap();
    assert!(b_info.info.rooms.contains(&"r2".to_owned()));
    assert_eq!(b_info.info.rooms[0], sb);

    let rooms = io.all_rooms().await.unwrap().value;
    for room in ["r1", "r2", sa.as_str(), sb.as_str(), sc.as_str()] {
        assert!(rooms.contains(room), "{room} in {rooms:?}");
    }

    // Join and leave by selector, then disconnect by selector.
    io.to(["r2"]).sockets_join(["r3"]).await.unwrap();
    io.to([sc.clone()]).sockets_leave(["r3"]).await.unwrap();
    io.to(["r3"]).emit("m", &1).await.unwrap();
    expect_only(&io, &mut [&mut a, &mut b, &mut c], &[None, Some(msg), None]).await;

    io.to(["r1"]).disconnect_sockets(true).await.unwrap();
    assert_eq!(a.next_text().await, "41");
    assert_eq!(b.next_text().await, "41");
    assert!(a.closed().await && b.closed().await);
    io.emit("m", &1).await.unwrap();
    assert_eq!(c.next_text().await, msg);
    common::eventually("r1 is gone", || {
        io.of("/").adapter().local().room_count() == 1
    })
    .await;
}

#[tokio::test]
async fn a_socket_broadcast_excludes_the_sender() {
    let io = Server::builder().build();
    io.on_connection(|socket: Socket| async move {
        socket.join(["room"]);
        socket.on("say", |s: Socket, Data(text): Data<String>| async move {
            let _ = s.to(["room"]).emit("said", &text).await;
        });
    });
    let (addr, _guard) = common::serve_io(&io).await;
    let (mut a, _) = RawClient::connect(addr, "/").await;
    let (mut b, _) = RawClient::connect(addr, "/").await;
    a.send(r#"42["say","hi"]"#).await;
    assert_eq!(b.next_text().await, r#"42["said","hi"]"#);
    assert_eq!(a.try_next_text(Duration::from_millis(200)).await, None);
}

#[tokio::test]
async fn thousands_of_connect_disconnect_cycles_leave_nothing_behind() {
    let io = Server::builder().build();
    join_app(&io);
    let (addr, _guard) = common::serve_io(&io).await;
    let cycles = 10_000;
    let concurrency = 100;
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..concurrency {
        tasks.spawn(async move {
            for i in 0..cycles / concurrency {
                let (mut client, _) = RawClient::connect(addr, "/").await;
                client
                    .send(&format!(r#"421["join","room-{}"]"#, (worker + i) % 37))
                    .await;
                assert_eq!(client.next_text().await, "431[true]");
                if i % 2 == 0 {
                    // Leave politely half of the time, drop the connection the other half.
                    client.send("41").await;
                }
                drop(client);
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    let local = io.of("/").adapter().local().clone();
    common::eventually("sessions, sockets and rooms are gone", || {
        io.session_count() == 0 && local.is_empty() && local.room_count() == 0
    })
    .await;
}

#[tokio::test]
async fn a_socket_joins_at_most_the_room_limit() {
    let io = Server::builder().max_rooms_per_socket(3).build();
    join_app(&io);
    let (addr, _guard) = common::serve_io(&io).await;
    let (mut client, sid) = RawClient::connect(addr, "/").await;
    for (i, room) in ["a", "b", "c", "d", "e"].iter().enumerate() {
        client.send(&format!(r#"42{i}["join","{room}"]"#)).await;
        assert_eq!(client.next_text().await, format!("43{i}[true]"));
    }
    let found = io.to([sid]).fetch_sockets().await.unwrap();
    let rooms = found.value[0].info.rooms.clone();
    // Its own id, and the first three rooms; "d" and "e" were refused.
    assert_eq!(rooms.len(), 4, "{rooms:?}");
    assert!(!rooms.contains(&"d".to_owned()) && !rooms.contains(&"e".to_owned()));
    assert_eq!(io.of("/").adapter().local().room_count(), 3);
}
