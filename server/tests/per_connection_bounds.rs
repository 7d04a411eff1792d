//! What one connection may cost is bounded: the node's connection count holds under a burst of
//! concurrent handshakes, each outbound queue is bounded in bytes as well as in packets, and
//! room names have a length limit.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::sio::RawClient;
use sio_server::engine::{CloseReason, Engine, EngineConfig, EngineHandler, Message, Session};
use sio_server::{JoinError, Server, Socket};

/// A handler whose sessions take a while to open (as one that loads state would), which
/// widens the window between the engine's check of `max_connections` and the session's
/// registration.
struct SlowOpen;

impl EngineHandler for SlowOpen {
    type Conn = ();

    fn on_open(&self, _session: &Arc<Session>) {
        std::thread::sleep(Duration::from_millis(2));
    }

    fn on_message(&self, _conn: &(), _message: Message<'_>) {}

    fn on_close(&self, _conn: &(), _reason: CloseReason) {}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_handshakes_never_pass_max_connections() {
    const MAX: usize = 8;
    const ATTEMPTS: usize = 400;
    let engine = Engine::new(
        EngineConfig {
            max_connections: Some(MAX),
            ..EngineConfig::default()
        },
        SlowOpen,
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = engine.clone();
    let server = tokio::spawn(sio_server::serve::serve_http(
        listener,
        move |req, peer| {
            let engine = served.clone();
            async move { engine.handle(req, Some(peer)).await }
        },
        async move {
            let _ = stopped.await;
        },
    ));
    // Every handshake starts at once, each on its own connection.
    let start = Arc::new(tokio::sync::Barrier::new(ATTEMPTS));
    let attempts: Vec<_> = (0..ATTEMPTS)
        .map(|_| {
            let start = start.clone();
            tokio::spawn(async move {
                let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
                start.wait().await;
                common::http_on(
                    &mut stream,
                    "GET",
                    "/socket.io/?EIO=4&transport=polling",
                    b"",
                )
                .await
                .0
            })
        })
        .collect();
    let mut accepted = 0;
    let mut refused = 0;
    for attempt in attempts {
        match attempt.await.unwrap() {
            200 => accepted += 1,
            503 => refused += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    println!("{accepted} accepted, {refused} refused");
    assert_eq!(accepted, MAX, "exactly max_connections handshakes succeed");
    assert_eq!(refused, ATTEMPTS - MAX);
    assert_eq!(engine.session_count(), MAX);
    assert_eq!(engine.metrics().refused_full(), (ATTEMPTS - MAX) as u64);
    let _ = stop.send(());
    let _ = server.await;
}

#[tokio::test]
async fn a_queue_over_its_byte_bound_drops_volatile_packets_then_the_slow_consumer() {
    let io = Server::builder()
        .max_buffered_packets(1_000_000)
        .max_buffered_bytes(64 * 1024)
        .build();
    io.on_connection(|socket: Socket| async move {
        socket.join(["stalled"]);
    });
    let (addr, _guard) = common::serve_io(&io).await;
    // Connects, then never reads: its queue only fills.
    let (stalled, _) = RawClient::connect(addr, "/").await;
    common::eventually("the client joined", || io.of("/").local_socket_count() == 1).await;
    let kib = "x".repeat(1024);
    // 200 KiB of volatile packets: those beyond 64 KiB are dropped; the client stays.
    for _ in 0..200 {
        io.to(["stalled"]).volatile().emit("m", &kib).await.unwrap();
    }
    let dropped = io.metrics().volatile_dropped();
    assert!(
        (130..=200).contains(&dropped),
        "about 136 of 200 volatile packets are dropped, got {dropped}"
    );
    assert_eq!(io.of("/").local_socket_count(), 1, "the client stays");
    // A regular packet beyond the bound disconnects it as a slow consumer, long before the
    // packet bound (a million) is reached.
    io.to(["stalled"]).emit("m", &kib).await.unwrap();
    common::eventually("the slow consumer is dropped", || {
        io.metrics().closes(CloseReason::SlowConsumer) == 1
    })
    .await;
    drop(stalled);
}

#[tokio::test]
async fn a_room_name_over_the_limit_is_refused() {
    let io = Server::builder().max_room_name_len(16).build();
    let mut rx = common::connected_sockets(&io);
    let (addr, _guard) = common::serve_io(&io).await;
    let (_client, _) = RawClient::connect(addr, "/").await;
    let socket = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap();
    let long = "r".repeat(17);
    assert_eq!(
        socket.try_join(["just-sixteen-b..", long.as_str()]),
        Err(JoinError::RoomNameTooLong { len: 17, max: 16 })
    );
    // The rooms that fit were joined; the long one was not, by either method.
    socket.join([long.clone()]);
    assert_eq!(socket.rooms()[1..], ["just-sixteen-b..".to_owned()]);
    assert_eq!(io.metrics().joins_refused(), 2);
    assert!(
        !io.of("/")
            .adapter()
            .local()
            .rooms_local()
            .contains(long.as_str())
    );
}
