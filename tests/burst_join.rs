//! 5 000 clients each emit `join` the moment their connect is acknowledged: every one is acked
//! (handlers are in place before the first event is processed).

mod common;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

async fn next_text<S>(ws: &mut S) -> String
where
    S: StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) if t.as_str() == "2" => continue,
            Some(Ok(Message::Text(t))) => return t.to_string(),
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_thousand_clients_join_on_connect() {
    let node = common::Node::spawn("n-burst", &[]);
    let url = format!("ws://{}/socket.io/?EIO=4&transport=websocket", node.addr);
    let clients = 5_000;
    let in_flight = std::sync::Arc::new(tokio::sync::Semaphore::new(500));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..clients {
        let url = url.clone();
        let permit = in_flight.clone().acquire_owned().await.unwrap();
        tasks.spawn(async move {
            let (mut ws, _) = tokio_tungstenite::connect_async(url)
                .await
                .expect("connects");
            assert!(next_text(&mut ws).await.starts_with("0{"));
            ws.send(Message::text("40")).await.unwrap();
            assert!(next_text(&mut ws).await.starts_with("40{"));
            ws.send(Message::text(format!(r#"421["join","burst-{}"]"#, i % 50)))
                .await
                .unwrap();
            let ack = next_text(&mut ws).await;
            drop(permit);
            // Keep the connection until every client is in.
            (ack, ws)
        });
    }
    let mut acked = 0;
    let mut sockets = Vec::with_capacity(clients);
    let all = tokio::time::timeout(Duration::from_secs(120), async {
        while let Some(done) = tasks.join_next().await {
            let (ack, ws) = done.expect("client task");
            assert_eq!(ack, "431[true]");
            acked += 1;
            sockets.push(ws);
        }
    })
    .await;
    assert!(all.is_ok(), "only {acked} of {clients} acked in time");
    assert_eq!(acked, clients);
    let metrics = common::http_get(node.addr, "/metrics").unwrap().1;
    assert!(
        metrics.contains(&format!(
            "sio_namespace_sockets{{namespace=\"/\"}} {clients}"
        )),
        "{metrics}"
    );
}
