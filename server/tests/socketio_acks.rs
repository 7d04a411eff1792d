//! Acks in both directions, with timeouts; binary payloads; the msgpack parser.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::sio::RawClient;
use futures_util::SinkExt;
use sio_server::protocol::ParserKind;
use sio_server::{AckError, Event, Payload, Server, Socket};
use tokio_tungstenite::tungstenite::Message;

/// The replies' first arguments, as strings, sorted (replies arrive in any order).
fn first_args_sorted(replies: &[Payload]) -> Vec<String> {
    let mut firsts: Vec<String> = replies.iter().map(|r| r.first().unwrap()).collect();
    firsts.sort();
    firsts
}

/// The next packet of a client of the msgpack parser (its text messages, pings, are skipped).
async fn next_msgpack(client: &mut RawClient) -> sio_server::protocol::Packet {
    loop {
        let msg = futures_util::StreamExt::next(&mut client.ws)
            .await
            .unwrap()
            .unwrap();
        if let Message::Binary(b) = msg {
            return sio_server::protocol::decode_msgpack(&b).unwrap();
        }
    }
}

/// Parses `42<id>[...]` into the ack id.
fn ack_id(packet: &str, event: &str) -> u64 {
    let start = 2;
    let end = packet.find('[').unwrap();
    assert!(
        packet[end..].starts_with(&format!("[\"{event}\"")),
        "{packet}"
    );
    packet[start..end].parse().unwrap()
}

#[tokio::test]
async fn server_acks_arrive_or_time_out() {
    let io = Server::builder().build();
    let mut rx = common::connected_sockets(&io);
    let (addr, _guard) = common::serve_io(&io).await;
    let (mut client, _) = RawClient::connect(addr, "/").await;
    let socket = rx.recv().await.unwrap();

    let asked = tokio::spawn({
        let socket = socket.clone();
        async move {
            socket
                .emit_with_ack(
                    "q",
                    Payload::from_value(&1).unwrap(),
                    Duration::from_secs(5),
                )
                .await
        }
    });
    let packet = client.next_text().await;
    let id = ack_id(&packet, "q");
    client.send(&format!(r#"43{id}["answer",2]"#)).await;
    let reply = asked.await.unwrap().unwrap();
    assert_eq!(
        reply.args,
        vec![serde_json::json!("answer"), serde_json::json!(2)]
    );

    let silent = socket
        .emit_with_ack("q", Payload::new(), Duration::from_millis(100))
        .await;
    assert_eq!(silent, Err(AckError::Timeout));
}

#[tokio::test]
async fn broadcast_with_acks_collects_what_arrives() {
    let io = Server::builder().build();
    let (addr, _guard) = common::serve_io(&io).await;
    let (mut a, _) = RawClient::connect(addr, "/").await;
    let (mut b, _) = RawClient::connect(addr, "/").await;
    let gather = tokio::spawn({
        let io = io.clone();
        async move {
            io.timeout(Duration::from_millis(300))
                .emit_with_ack("ask", Payload::new())
                .await
        }
    });
    let id = ack_id(&a.next_text().await, "ask");
    a.send(&format!(r#"43{id}["from a"]"#)).await;
    let _ = b.next_text().await; // b never answers
    let acks = gather.await.unwrap().unwrap();
    assert_eq!(acks.expected, 2);
    assert_eq!(acks.replies.len(), 1);
    assert_eq!(acks.replies[0].args, vec![serde_json::json!("from a")]);
    assert!(acks.missing_nodes.is_empty());
}

#[tokio::test]
async fn binary_attachments_round_trip() {
    let io = Server::builder().build();
    io.on_connection(|socket: Socket| async move {
        socket.on("echo", |_s: Socket, ev: Event| async move {
            ev.ack.send_payload(ev.payload);
        });
    });
    let (addr, _guard) = common::serve_io(&io).await;
    let (mut client, _) = RawClient::connect(addr, "/").await;
    client
        .send(r#"452-7["echo",{"_placeholder":true,"num":0},"x",{"_placeholder":true,"num":1}]"#)
        .await;
    client.ws.send(Message::binary(vec![1u8, 2])).await.unwrap();
    client.ws.send(Message::binary(vec![3u8])).await.unwrap();
    assert_eq!(
        client.next_text().await,
        r#"462-7[{"_placeholder":true,"num":0},"x",{"_placeholder":true,"num":1}]"#
    );
    assert_eq!(client.next_text().await, "<binary 2>");
    assert_eq!(client.next_text().await, "<binary 1>");
}

#[tokio::test]
async fn the_msgpack_parser_carries_binary_inline() {
    let io = Server::builder().parser(ParserKind::MsgPack).build();
    io.on_connection(|socket: Socket| async move {
        socket.on("echo", |_s: Socket, ev: Event| async move {
            ev.ack.send_payload(ev.payload);
        });
    });
    let (addr, _guard) = common::serve_io(&io).await;
    let mut client = RawClient::open(addr).await;
    let connect = sio_server::protocol::encode_msgpack(&sio_server::protocol::Packet::new(
        sio_server::protocol::PacketType::Connect,
        "/",
        None,
    ));
    client.ws.send(Message::binary(connect)).await.unwrap();
    let reply = futures_util::StreamExt::next(&mut client.ws)
        .await
        .unwrap()
        .unwrap();
    let connected = sio_server::protocol::decode_msgpack(&reply.into_data()).unwrap();
    assert_eq!(connected.kind, sio_server::protocol::PacketType::Connect);
    let mut event = sio_server::protocol::Packet::event(
        "/",
        "echo",
        Payload::new()
            .binary(Bytes::from_static(b"\x00\xff"))
            .arg(&"t")
            .unwrap(),
    );
    event.id = Some(3);
    client
        .ws
        .send(Message::binary(sio_server::protocol::encode_msgpack(
            &event,
        )))
        .await
        .unwrap();
    let reply = next_msgpack(&mut client).await;
    assert_eq!(reply.kind, sio_server::protocol::PacketType::Ack);
    assert_eq!(reply.id, Some(3));
    assert_eq!(reply.attachments, vec![Bytes::from_static(b"\x00\xff")]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_from_one_client_are_handled_in_order() {
    let io = Server::builder().build();
    io.on_connection(|socket: Socket| async move {
        socket.join(["room"]);
        socket.on("relay", |s: Socket, ev: Event| async move {
            let _ = s
                .namespace()
                .to(["room"])
                .emit_payload("relayed", ev.payload)
                .await;
        });
    });
    let (addr, _guard) = common::serve_io(&io).await;
    let (mut sender, _) = RawClient::connect(addr, "/").await;
    let (mut receiver, _) = RawClient::connect(addr, "/").await;
    // The CONNECT is answered before the connect handler runs: wait until both joined.
    let in_room = sio_server::adapter::BroadcastOptions {
        rooms: ["room".to_owned()].into(),
        ..Default::default()
    };
    common::eventually("both sockets joined the room", || {
        io.of("/").adapter().local().matching_ids(&in_room).len() == 2
    })
    .await;
    let n = 2000;
    for i in 0..n {
        sender.send(&format!(r#"42["relay",{i}]"#)).await;
    }
    for i in 0..n {
        assert_eq!(receiver.next_text().await, format!(r#"42["relayed",{i}]"#));
    }
}

/// A broadcast with acks encodes its packet once; each socket's frame is that encoding with the
/// socket's own next ack id written in (text format: after `<n>-<nsp>,`; binary attachments
/// follow it), and each answer reaches the broadcast.
#[tokio::test]
async fn a_broadcast_with_acks_writes_each_socket_its_own_id() {
    let io = Server::builder().build();
    let chat = io.of("/chat");
    let (addr, _guard) = common::serve_io(&io).await;
    let mut clients = Vec::new();
    let mut sids = Vec::new();
    for _ in 0..3 {
        let (client, sid) = RawClient::connect(addr, "/chat").await;
        clients.push(client);
        sids.push(sid);
    }
    // The first socket has used ack id 0 already: its next is 1, the others' 0.
    let warm = tokio::spawn({
        let to_first = chat.clone().to([sids[0].clone()]);
        async move {
            to_first
                .timeout(Duration::from_secs(5))
                .emit_with_ack("warm", Payload::new())
                .await
        }
    });
    assert_eq!(clients[0].next_text().await, r#"42/chat,0["warm"]"#);
    clients[0].send("43/chat,0[]").await;
    assert_eq!(warm.await.unwrap().unwrap().replies.len(), 1);
    let gather = tokio::spawn({
        async move {
            let payload = Payload::new()
                .binary(vec![1u8, 2, 3])
                .arg(&serde_json::json!({"n": 1}))
                .unwrap();
            chat.timeout(Duration::from_secs(5))
                .emit_with_ack("ask", payload)
                .await
        }
    });
    for (i, client) in clients.iter_mut().enumerate() {
        let text = client.next_text().await;
        let rest = text.strip_prefix("451-/chat,").expect(&text);
        let at = rest.find('[').unwrap();
        let id: u64 = rest[..at].parse().unwrap();
        assert_eq!(id, u64::from(i == 0), "socket {i}'s own next ack id");
        assert_eq!(
            &rest[at..],
            r#"["ask",{"_placeholder":true,"num":0},{"n":1}]"#
        );
        assert_eq!(client.next_text().await, "<binary 3>");
        client.send(&format!(r#"43/chat,{id}["r{i}"]"#)).await;
    }
    let acks = gather.await.unwrap().unwrap();
    assert_eq!(acks.expected, 3);
    assert_eq!(first_args_sorted(&acks.replies), ["r0", "r1", "r2"]);
}

/// The same with the msgpack parser: the id is the packet map's last entry.
#[tokio::test]
async fn a_broadcast_with_acks_in_msgpack_gives_each_socket_its_own_id() {
    use sio_server::protocol::{Packet, PacketType, encode_msgpack};
    let io = Server::builder().parser(ParserKind::MsgPack).build();
    let (addr, _guard) = common::serve_io(&io).await;
    let mut clients = Vec::new();
    for _ in 0..2 {
        let mut client = RawClient::open(addr).await;
        let connect = encode_msgpack(&Packet::new(PacketType::Connect, "/", None));
        client.ws.send(Message::binary(connect)).await.unwrap();
        let _connected = futures_util::StreamExt::next(&mut client.ws).await;
        clients.push(client);
    }
    let gather = tokio::spawn({
        let io = io.clone();
        async move {
            let payload = Payload::new().binary(vec![9u8]).arg(&"x").unwrap();
            io.timeout(Duration::from_secs(5))
                .emit_with_ack("ask", payload)
                .await
        }
    });
    for (i, client) in clients.iter_mut().enumerate() {
        let packet = next_msgpack(client).await;
        assert_eq!(packet.kind, PacketType::Event);
        assert_eq!(packet.attachments, vec![Bytes::from_static(&[9])]);
        let id = packet.id.expect("an ack id");
        let answer = Packet::ack("/", id, Payload::new().arg(&format!("m{i}")).unwrap());
        client
            .ws
            .send(Message::binary(encode_msgpack(&answer)))
            .await
            .unwrap();
    }
    let acks = gather.await.unwrap().unwrap();
    assert_eq!(acks.expected, 2);
    assert_eq!(first_args_sorted(&acks.replies), ["m0", "m1"]);
}
