//! A Rust node answers the requests Node nodes published in the answers' Node shapes (plus our
//! `uid`), on the channel a Node node with `publishOnSpecificResponseChannel` uses; and its own
//! requests are Node's, field for field.

#[path = "../adapter-redis/tests/node_vectors/mod.rs"]
mod node_vectors;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};
use sio_adapter_redis::driver::Received;
use sio_adapter_redis::wire::{self, Channels};
use sio_adapter_redis::{
    Driver, MemoryDriver, MemoryHub, RedisAdapter, RedisAdapterConfig, RedisCluster,
};
use sio_server::adapter::{BroadcastOptions, ServerEvent};
use sio_server::{Payload, Server};
use tokio::sync::mpsc;

use node_vectors::{bytes, vector};

/// A Rust node `rust` on `hub`, answering on requesters' own channels; its server-side event
/// handler acks `{"got": <first argument>}`.
fn rust_node(hub: &MemoryHub) -> Server {
    let cluster = RedisCluster::new(
        Arc::new(hub.driver()),
        RedisAdapterConfig {
            node_id: "rust".into(),
            publish_on_specific_response_channel: true,
            ..RedisAdapterConfig::default()
        },
    );
    let io = Server::builder().adapter::<RedisAdapter>(cluster).build();
    io.of("/").on_server_event(|event: ServerEvent, ack| {
        if let Some(ack) = ack {
            let first = event.payload.args.first().cloned().unwrap_or(Value::Null);
            let _ = ack.send(Payload::from_value(&json!({ "got": first })).unwrap());
        }
    });
    io
}

/// A spy on `hub` subscribed to `channels`, and what it receives.
fn spy(hub: &MemoryHub, channels: &[String]) -> (MemoryDriver, mpsc::Receiver<Received>) {
    let driver = hub.driver();
    let received = driver.take_messages().unwrap();
    driver.subscribe(channels, &[]);
    (driver, received)
}

async fn next(received: &mut mpsc::Receiver<Received>) -> (String, Value) {
    let message = tokio::time::timeout(Duration::from_secs(2), received.recv())
        .await
        .expect("a message in time")
        .expect("the hub is up");
    let value = wire::decode_message(&message.payload).unwrap().value;
    (message.channel, value)
}

/// The captured message `label`, decoded, with `changes` applied to its fields.
fn node_value(label: &str, changes: &[(&str, Value)]) -> Value {
    let mut value = wire::decode_message(&bytes(label)).unwrap().value;
    for (key, change) in changes {
        value[*key] = change.clone();
    }
    value
}

#[tokio::test]
async fn a_rust_node_answers_nodes_requests_as_a_node_would() {
    let hub = MemoryHub::new();
    let _io = rust_node(&hub);
    let to = |uid: &str| Channels::new("socket.io", "/", uid).specific_response;
    let (_spy, mut answers) = spy(
        &hub,
        &[
            Channels::new("socket.io", "/", "x").response,
            to("XbyQtY"),
            to("6AQkNs"),
        ],
    );
    let node = hub.driver();
    let ask = |label: &str| {
        node.publish(&vector(label).channel, Bytes::from(vector(label).bytes()));
    };
    // Our node has no sockets: empty lists where Node's answers had B's client. Server-side
    // emit acks go to the shared channel, as Node's do.
    for (request, answer, channel, mut changes) in [
        (
            "A fetchSockets",
            "A fetchSockets #1",
            to("XbyQtY"),
            vec![("sockets", json!([]))],
        ),
        ("B fetchSockets", "B fetchSockets #1", to("6AQkNs"), vec![]),
        (
            "A allRooms",
            "A allRooms #1",
            to("XbyQtY"),
            vec![("rooms", json!([]))],
        ),
        (
            "A emitWithAck ask",
            "A emitWithAck ask #1",
            to("XbyQtY"),
            vec![("clientCount", json!(0))],
        ),
        (
            "A serverSideEmitWithAck",
            "A serverSideEmitWithAck #1",
            Channels::new("socket.io", "/", "x").response,
            vec![],
        ),
    ] {
        // Node's B answered A with the option our node has: on the same channel.
        if request.starts_with("A ") {
            assert_eq!(channel, vector(answer).channel, "{answer}");
        }
        ask(request);
        changes.push(("uid", json!("rust")));
        assert_eq!(
            next(&mut answers).await,
            (channel, node_value(answer, &changes)),
            "{request}"
        );
    }
    // Requests without answers get none.
    for label in [
        "A socketsJoin j1",
        "A disconnectSockets",
        "A serverSideEmit sse",
        "emitter socketsJoin j2",
        "emitter except r9 disconnectSockets true",
    ] {
        ask(label);
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(answers.try_recv().is_err(), "no answer expected");
}

#[tokio::test]
async fn a_rust_nodes_requests_are_nodes() {
    let hub = MemoryHub::new();
    // The spy subscribes first: the node's subscriber count (taken once its own subscriptions
    // are in place, then every heartbeat) includes it.
    let (_spy, mut requests) = spy(&hub, &[Channels::new("socket.io", "/", "x").request]);
    let io = rust_node(&hub);
    let namespace = io.of("/");
    let adapter = namespace.adapter();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let quick = Duration::from_millis(20);
    let in_r1 = BroadcastOptions {
        rooms: ["r1".to_owned()].into_iter().collect(),
        ..BroadcastOptions::default()
    };

    // The spy counts as one more node, so the node asks and waits `quick` for it.
    adapter
        .fetch_sockets(BroadcastOptions::default(), quick)
        .await
        .unwrap();
    let (channel, ours) = next(&mut requests).await;
    assert_eq!(channel, vector("A fetchSockets").channel);
    let id = ours["requestId"].clone();
    assert!(id.is_string());
    assert_eq!(
        ours,
        node_value(
            "A fetchSockets",
            &[("uid", json!("rust")), ("requestId", id)]
        )
    );

    adapter.all_rooms(quick).await.unwrap();
    let (_, ours) = next(&mut requests).await;
    let id = ours["requestId"].clone();
    assert_eq!(
        ours,
        node_value("A allRooms", &[("uid", json!("rust")), ("requestId", id)])
    );

    let rust = [("uid", json!("rust"))];
    adapter
        .add_sockets(BroadcastOptions::default(), vec!["j1".into()])
        .await
        .unwrap();
    assert_eq!(
        next(&mut requests).await.1,
        node_value("A socketsJoin j1", &rust)
    );
    adapter.del_sockets(in_r1, vec!["j1".into()]).await.unwrap();
    assert_eq!(
        next(&mut requests).await.1,
        node_value("A in r1 socketsLeave j1", &rust)
    );
    adapter
        .disconnect_sockets(BroadcastOptions::default(), false)
        .await
        .unwrap();
    assert_eq!(
        next(&mut requests).await.1,
        node_value("A disconnectSockets", &rust)
    );
    let event = |name: &str, args: Vec<Value>| ServerEvent {
        event: name.into(),
        payload: Payload {
            args,
            attachments: Vec::new(),
        },
    };
    adapter
        .server_side_emit(event("sse", vec![json!(1), json!("two")]), None)
        .await
        .unwrap();
    assert_eq!(
        next(&mut requests).await.1,
        node_value("A serverSideEmit sse", &rust)
    );
    adapter
        .server_side_emit(event("sse-ack", vec![json!(3)]), Some(quick))
        .await
        .unwrap();
    let (_, ours) = next(&mut requests).await;
    let id = ours["requestId"].clone();
    assert_eq!(
        ours,
        node_value(
            "A serverSideEmitWithAck",
            &[("uid", json!("rust")), ("requestId", id)]
        )
    );
}
