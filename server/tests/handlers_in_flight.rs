//! A socket runs at most `max_handlers_per_socket` event handlers at once; further events wait
//! and start in their arrival order as handlers finish (backpressure, nothing dropped).

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::sio::RawClient;
use sio_server::{Data, Server, Socket};

#[derive(Default)]
struct Record {
    started: Vec<u32>,
    finished: Vec<u32>,
    running: usize,
    most_running: usize,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_beyond_the_handler_limit_wait_in_order() {
    const EVENTS: u32 = 12;
    let io = Server::builder().max_handlers_per_socket(3).build();
    let record = Arc::new(Mutex::new(Record::default()));
    let seen = record.clone();
    io.on_connection(move |socket: Socket| {
        let record = seen.clone();
        async move {
            socket.on("work", move |_s: Socket, Data(i): Data<u32>| {
                let record = record.clone();
                async move {
                    {
                        let mut r = record.lock().unwrap();
                        r.started.push(i);
                        r.running += 1;
                        r.most_running = r.most_running.max(r.running);
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    let mut r = record.lock().unwrap();
                    r.running -= 1;
                    r.finished.push(i);
                }
            });
        }
    });
    let (addr, _guard) = common::serve_io(&io).await;
    let (mut client, _) = RawClient::connect(addr, "/").await;
    for i in 0..EVENTS {
        client.send(&format!("42[\"work\",{i}]")).await;
    }
    common::eventually("every event was handled", || {
        record.lock().unwrap().finished.len() == EVENTS as usize
    })
    .await;
    {
        let r = record.lock().unwrap();
        assert_eq!(r.most_running, 3, "at most 3 handlers ran at once");
        assert_eq!(
            r.started,
            (0..EVENTS).collect::<Vec<_>>(),
            "handlers started in arrival order"
        );
        assert_eq!(
            io.metrics().handlers_waited(),
            u64::from(EVENTS) - 3,
            "the events beyond the limit waited"
        );
    }
    // The connection still works once the backlog is gone.
    client.send("42[\"work\",99]").await;
    common::eventually("a later event is handled", || {
        record.lock().unwrap().finished.contains(&99)
    })
    .await;
}
