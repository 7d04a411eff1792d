//! A server built with an adapter of the user's own: the builder picks its type, the server
//! holds it behind `Arc<dyn DynAdapter>`, handlers name no adapter type, every broadcast goes
//! through it, and `Namespace::adapter_as` reaches its own type.
//!
//! Encode once: an adapter that leaves `takes_json_events` to its default gets packets; one that
//! takes events gets each `emit` serialized once (`JsonEvent`), except where the server's rule
//! (on `BroadcastOperator::emit`) keeps the packet: a value the fast path declines, the msgpack
//! parser, an observer, a recoverable event with connection state recovery on. The clients get
//! the same bytes either way.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::sio::RawClient;
use sio_server::adapter::{
    AckReplies, Adapter, AdapterError, BroadcastOptions, ClusterResponse, Room, ServerEvent,
    SocketInfo,
};
use sio_server::protocol::{JsonEvent, Packet, Payload};
use sio_server::{LocalAdapter, Server, Socket};

/// What a [`CountingAdapter`] was asked to broadcast.
#[derive(Default)]
struct Counts {
    packets: AtomicUsize,
    events: AtomicUsize,
}

impl Counts {
    fn get(&self) -> (usize, usize) {
        (
            self.packets.load(Ordering::SeqCst),
            self.events.load(Ordering::SeqCst),
        )
    }
}

/// The in-memory adapter, counting the broadcasts it is asked for; with `EVENTS`, it takes
/// events encoded once where the in-memory adapter does (otherwise it keeps the default).
struct CountingAdapter<const EVENTS: bool> {
    local: LocalAdapter,
    counts: Arc<Counts>,
}

impl<const EVENTS: bool> Adapter for CountingAdapter<EVENTS> {
    type Config = Arc<Counts>;

    fn new(local: LocalAdapter, config: &Arc<Arc<Counts>>) -> Self {
        CountingAdapter {
            local,
            counts: Arc::clone(config),
        }
    }
    async fn init(&self) -> Result<(), AdapterError> {
        Ok(())
    }
    async fn close(&self) {}
    async fn close_namespace(&self) {}
    fn local(&self) -> &LocalAdapter {
        &self.local
    }
    async fn broadcast(&self, packet: Packet, opts: BroadcastOptions) {
        self.counts.packets.fetch_add(1, Ordering::SeqCst);
        Adapter::broadcast(&self.local, packet, opts).await;
    }
    fn takes_json_events(&self, opts: &BroadcastOptions) -> bool {
        EVENTS && Adapter::takes_json_events(&self.local, opts)
    }
    async fn broadcast_event(&self, event: JsonEvent, opts: BroadcastOptions) {
        self.counts.events.fetch_add(1, Ordering::SeqCst);
        Adapter::broadcast_event(&self.local, event, opts).await;
    }
    async fn broadcast_with_ack(
        &self,
        packet: Packet,
        opts: BroadcastOptions,
        timeout: Duration,
    ) -> Result<AckReplies, AdapterError> {
        Adapter::broadcast_with_ack(&self.local, packet, opts, timeout).await
    }
    async fn add_sockets(
        &self,
        opts: BroadcastOptions,
        rooms: Vec<Room>,
    ) -> Result<(), AdapterError> {
        Adapter::add_sockets(&self.local, opts, rooms).await
    }
    async fn del_sockets(
        &self,
        opts: BroadcastOptions,
        rooms: Vec<Room>,
    ) -> Result<(), AdapterError> {
        Adapter::del_sockets(&self.local, opts, rooms).await
    }
    async fn disconnect_sockets(
        &self,
        opts: BroadcastOptions,
        close: bool,
    ) -> Result<(), AdapterError> {
        Adapter::disconnect_sockets(&self.local, opts, close).await
    }
    async fn fetch_sockets(
        &self,
        opts: BroadcastOptions,
        timeout: Duration,
    ) -> Result<ClusterResponse<Vec<SocketInfo>>, AdapterError> {
        Adapter::fetch_sockets(&self.local, opts, timeout).await
    }
    async fn all_rooms(
        &self,
        timeout: Duration,
    ) -> Result<ClusterResponse<BTreeSet<Room>>, AdapterError> {
        Adapter::all_rooms(&self.local, timeout).await
    }
    async fn server_side_emit(
        &self,
        event: ServerEvent,
        ack_timeout: Option<Duration>,
    ) -> Result<ClusterResponse<Vec<Payload>>, AdapterError> {
        Adapter::server_side_emit(&self.local, event, ack_timeout).await
    }
    async fn server_count(&self) -> Result<usize, AdapterError> {
        Ok(7)
    }
}

#[tokio::test]
async fn a_custom_adapter_carries_every_broadcast_and_handlers_name_no_adapter_type() {
    let counts = Arc::new(Counts::default());
    let io = Server::builder()
        .adapter::<CountingAdapter<false>>(counts.clone())
        .build();
    io.on_connection(|socket: Socket| async move {
        socket.join(["room"]);
        socket.to(["room"]).emit("hello", &1).await.unwrap();
    });
    let (addr, _guard) = common::serve_io(&io).await;
    let (_a, _) = RawClient::connect(addr, "/").await;
    // Packets only: the adapter does not take events encoded once.
    let count = || match counts.get() {
        (packets, 0) => packets,
        (_, events) => panic!("{events} events to an adapter that takes packets"),
    };
    common::eventually("a's connect handler broadcast", || count() == 1).await;
    let (mut b, _) = RawClient::connect(addr, "/").await;
    common::eventually("b's connect handler broadcast", || count() == 2).await;
    io.to(["room"]).emit("all", &2).await.unwrap();
    assert_eq!(b.next_text().await, r#"42["all",2]"#);
    // The two connect handlers' broadcasts and the server's.
    assert_eq!(count(), 3);
    // The server asks the adapter of the builder's type.
    assert_eq!(io.server_count().await.unwrap(), 7);
    let ns = io.of("/");
    assert!(ns.adapter_as::<CountingAdapter<false>>().is_some());
    assert!(ns.adapter_as::<LocalAdapter>().is_none());
    assert_eq!(ns.adapter().local().len(), 2);
}

#[tokio::test]
async fn the_default_adapter_is_the_in_memory_one() {
    let io = Server::builder().build();
    assert!(io.of("/").adapter_as::<LocalAdapter>().is_some());
    assert_eq!(io.server_count().await.unwrap(), 1);
}

/// A map that writes its key twice (the fast path declines it; the tree keeps the last value).
struct RepeatedKey;

impl serde::Serialize for RepeatedKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("k", &0)?;
        map.serialize_entry("k", "again")?;
        map.end()
    }
}

/// A server on `CountingAdapter<true>`, serving, with a client in `room`.
async fn serving(
    builder: sio_server::ServerBuilder,
) -> (Server, Arc<Counts>, RawClient, impl Sized) {
    let counts = Arc::new(Counts::default());
    let io = builder
        .adapter::<CountingAdapter<true>>(counts.clone())
        .build();
    io.on_connection(|socket: Socket| async move {
        socket.join(["room"]);
        socket.emit("joined", &()).unwrap();
    });
    let (addr, guard) = common::serve_io(&io).await;
    let (mut client, _) = RawClient::connect(addr, "/").await;
    assert_eq!(client.next_text().await, r#"42["joined",null]"#);
    (io, counts, client, guard)
}

#[tokio::test]
async fn an_emit_is_serialized_once_where_the_adapter_takes_events() {
    let (io, counts, mut client, _guard) = serving(Server::builder()).await;
    let value = serde_json::json!({"z": 1, "a": "é\n\"", "f": 0.1, "n": null});
    io.to(["room"]).emit("chat", &value).await.unwrap();
    assert_eq!(
        client.next_text().await,
        r#"42["chat",{"z":1,"a":"é\n\"","f":0.1,"n":null}]"#
    );
    assert_eq!(counts.get(), (0, 1));
    io.to(["room"])
        .volatile()
        .emit("v", &[1.5f32])
        .await
        .unwrap();
    assert_eq!(client.next_text().await, r#"42["v",[1.5]]"#);
    io.local().emit("l", "x").await.unwrap();
    assert_eq!(client.next_text().await, r#"42["l","x"]"#);
    assert_eq!(counts.get(), (0, 3));
    // Declined by the fast path: the tree's bytes (its text, from the tree, encoded once).
    io.to(["room"]).emit("dup", &RepeatedKey).await.unwrap();
    assert_eq!(client.next_text().await, r#"42["dup",{"k":"again"}]"#);
    assert_eq!(counts.get(), (0, 4));
    // A payload: encoded once from its tree without binary, the packet with binary.
    let payload = Payload::from_value(&1).and_then(|p| p.arg("two")).unwrap();
    io.to(["room"]).emit_payload("args", payload).await.unwrap();
    assert_eq!(client.next_text().await, r#"42["args",1,"two"]"#);
    assert_eq!(counts.get(), (0, 5));
    let binary = Payload::new().binary(vec![1u8]);
    io.to(["room"]).emit_payload("bin", binary).await.unwrap();
    assert_eq!(
        client.next_text().await,
        r#"451-["bin",{"_placeholder":true,"num":0}]"#
    );
    assert_eq!(counts.get(), (1, 5));
    // Refused by the tree: its error, and nothing sent.
    let refused = std::collections::BTreeMap::from([((1u8, 2u8), 3u8)]);
    let err = io.emit("bad", &refused).await.unwrap_err();
    assert_eq!(err.to_string(), "serialize: key must be a string");
    assert_eq!(counts.get(), (1, 5));
}

#[tokio::test]
async fn recoverable_events_keep_the_packet_and_get_their_offset() {
    let builder = Server::builder().connection_state_recovery(Default::default());
    let (io, counts, mut client, _guard) = serving(builder).await;
    io.emit("logged", &1).await.unwrap();
    let text = client.next_text().await;
    assert!(text.starts_with(r#"42["logged",1,""#), "{text}");
    assert_eq!(counts.get(), (1, 0));
    // A volatile event is not logged: encoded once.
    io.volatile().emit("fleeting", &2).await.unwrap();
    assert_eq!(client.next_text().await, r#"42["fleeting",2]"#);
    assert_eq!(counts.get(), (1, 1));
}

/// Records the events the server reports sent.
#[derive(Default)]
struct SentEvents(std::sync::Mutex<Vec<String>>);

impl sio_server::Observer for SentEvents {
    fn event_sent(&self, _nsp: &str, _sid: sio_server::engine::Sid, event: &str, p: &Payload) {
        let line = format!("{event} {}", serde_json::Value::Array(p.args.clone()));
        self.0.lock().unwrap().push(line);
    }
}

#[tokio::test]
async fn an_observer_sees_every_broadcast_event_through_the_packet_path() {
    let (io, counts, mut client, _guard) = serving(Server::builder()).await;
    let observer = Arc::new(SentEvents::default());
    io.observe(observer.clone()).unwrap();
    io.to(["room"]).emit("seen", &[1, 2]).await.unwrap();
    assert_eq!(client.next_text().await, r#"42["seen",[1,2]]"#);
    assert_eq!(counts.get(), (1, 0));
    assert_eq!(*observer.0.lock().unwrap(), ["seen [[1,2]]"]);
}

#[tokio::test]
async fn the_msgpack_parser_keeps_the_packet() {
    let counts = Arc::new(Counts::default());
    let io = Server::builder()
        .parser(sio_server::protocol::ParserKind::MsgPack)
        .adapter::<CountingAdapter<true>>(counts.clone())
        .build();
    io.emit("packed", &1).await.unwrap();
    assert_eq!(counts.get(), (1, 0));
}
