//! Broadcast acks that no client answers are forgotten when they time out: the registry of
//! awaited acks does not grow with clients that never reply.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::sio::RawClient;
use sio_server::{Payload, Server};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_thousand_unanswered_broadcast_acks_leave_no_entry() {
    const CLIENTS: usize = 4;
    const BROADCASTS: usize = 25_000;
    const AT_ONCE: usize = 500;
    let io = Server::builder().max_buffered_packets(100_000).build();
    let (addr, _guard) = common::serve_io(&io).await;
    // Clients that read everything and never ack.
    let received = Arc::new(AtomicUsize::new(0));
    let mut readers = Vec::new();
    for _ in 0..CLIENTS {
        let (mut client, _) = RawClient::connect(addr, "/").await;
        let received = received.clone();
        readers.push(tokio::spawn(async move {
            while client
                .try_next_text(Duration::from_secs(30))
                .await
                .is_some()
            {
                received.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    common::eventually("every client joined", || {
        io.of("/").local_socket_count() == CLIENTS
    })
    .await;

    for _ in 0..BROADCASTS / AT_ONCE {
        let round = (0..AT_ONCE).map(|_| {
            io.timeout(Duration::from_millis(20))
                .emit_with_ack("ask", Payload::new())
        });
        for acks in futures_util::future::join_all(round).await {
            let acks = acks.unwrap();
            assert_eq!(acks.expected, CLIENTS);
            assert!(acks.replies.is_empty());
        }
    }

    let metrics = io.metrics();
    assert_eq!(
        metrics.ack_timeouts(),
        (CLIENTS * BROADCASTS) as u64,
        "every ack timed out"
    );
    assert_eq!(
        io.of("/").local_socket_count(),
        CLIENTS,
        "the silent clients are still connected (their acks were not cleared by a disconnect)"
    );
    assert_eq!(metrics.pending_acks(), 0, "no awaited ack is left behind");
    let mut text = String::new();
    metrics.write_prometheus(&mut text);
    assert!(text.contains("\nsio_pending_acks 0\n"), "{text}");
    // Generous on a loaded machine: the clients may still be reading their backlog.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while received.load(Ordering::Relaxed) < CLIENTS * BROADCASTS {
        assert!(
            std::time::Instant::now() < deadline,
            "the clients got every broadcast"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for reader in readers {
        reader.abort();
    }
}
