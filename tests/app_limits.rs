//! The reference app's cluster-wide events (`count`, `rooms`, `gather`, `kick`) are bounded: a
//! socket gets a burst of 20 then 10 per second, a node holds at most 64 in flight, and what is
//! refused is answered with an error at once and counted in `/metrics`.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::client::Client;
use common::{Node, http_get};
use serde_json::{Value, json};

/// How many of `answers` are the refusal whose message starts with `prefix`.
fn refused(answers: &[Vec<Value>], prefix: &str) -> usize {
    answers
        .iter()
        .filter(|a| {
            a.first()
                .and_then(|v| v["error"].as_str())
                .is_some_and(|e| e.starts_with(prefix))
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_that_floods_count_is_rate_limited() {
    let node = Node::spawn("n-limit-rate", &[]);
    let client = Arc::new(Client::connect(&node.url()).await);
    let calls = (0..60).map(|_| {
        let client = client.clone();
        tokio::spawn(async move { client.call("count", vec![json!("r")]).await })
    });
    let mut answers = Vec::new();
    for call in calls {
        answers.push(call.await.unwrap());
    }
    let counted = answers.iter().filter(|a| **a == vec![json!(0)]).count();
    let limited = refused(&answers, "rate limited");
    assert_eq!(counted + limited, 60, "{answers:?}");
    // The burst (20) and what refilled while the calls were in flight; never all 60.
    assert!(
        (20..55).contains(&counted),
        "{counted} answered: {answers:?}"
    );
    let metrics = http_get(node.addr, "/metrics").unwrap().1;
    assert!(
        metrics.contains(&format!(
            "sio_app_cluster_queries_refused_total{{reason=\"rate_limited\"}} {limited}"
        )),
        "{metrics}"
    );
    // Another socket is not affected, and the flooder gets its tokens back over time.
    let other = Client::connect(&node.url()).await;
    assert_eq!(other.call("count", vec![json!("r")]).await, vec![json!(0)]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(client.call("count", vec![json!("r")]).await, vec![json!(0)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_holds_at_most_64_cluster_queries_in_flight() {
    let node = Node::spawn("n-limit-busy", &[]);
    // A member that never answers `ask`: every gather waits for its full timeout.
    let silent = Client::connect(&node.url()).await;
    assert_eq!(
        silent.call("join", vec![json!("s")]).await,
        vec![json!(true)]
    );
    let mut askers = Vec::new();
    for _ in 0..4 {
        askers.push(Arc::new(Client::connect(&node.url()).await));
    }
    // 4 sockets x 18 gathers (within each socket's burst of 20) = 72 > 64.
    let mut calls = Vec::new();
    for asker in &askers {
        for _ in 0..18 {
            let asker = asker.clone();
            calls.push(tokio::spawn(async move {
                let args = vec![json!({"room": "s", "data": 1, "timeout_ms": 2000})];
                asker.call("gather", args).await
            }));
        }
    }
    let mut answers = Vec::new();
    for call in calls {
        answers.push(call.await.unwrap());
    }
    let busy = refused(&answers, "busy");
    let gathered = answers
        .iter()
        .filter(|a| a.first().is_some_and(|v| v["replies"].is_array()))
        .count();
    assert_eq!((gathered, busy), (64, 8), "{answers:?}");
    let metrics = http_get(node.addr, "/metrics").unwrap().1;
    assert!(
        metrics.contains("sio_app_cluster_queries_refused_total{reason=\"busy\"} 8"),
        "{metrics}"
    );
    // Once they are answered, the node takes queries again.
    let args = vec![json!({"room": "s", "data": 1, "timeout_ms": 100})];
    let again = askers[0].call("gather", args).await;
    assert!(again[0]["replies"].is_array(), "{again:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_an_auth_token_only_authenticated_sockets_kick() {
    let node = Node::spawn("n-limit-kick", &["--auth-token", "s3cret"]);
    let refused = Client::connect_with(&node.url(), Some(json!({"token": "nope"}))).await;
    assert!(refused.is_err(), "a socket without the token connected");
    let auth = Some(json!({"token": "s3cret"}));
    let member = Client::connect_with(&node.url(), auth.clone())
        .await
        .unwrap();
    assert_eq!(
        member.call("join", vec![json!("k")]).await,
        vec![json!(true)]
    );
    let kicker = Client::connect_with(&node.url(), auth).await.unwrap();
    assert_eq!(
        kicker.call("kick", vec![json!("k")]).await,
        vec![json!(true)]
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let event = member
            .try_next(deadline - tokio::time::Instant::now())
            .await
            .expect("the member is disconnected");
        if event.name == "disconnect" {
            break;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joining_a_room_with_an_overlong_name_is_answered_with_an_error() {
    let node = Node::spawn("n-limit-room", &[]);
    let client = Client::connect(&node.url()).await;
    let long = "x".repeat(257);
    let answer = client.call("join", vec![json!(long)]).await;
    assert_eq!(
        answer,
        vec![json!({"error": "room name too long (257 bytes, at most 256)"})]
    );
    assert_eq!(
        client.call("join", vec![json!("x".repeat(256))]).await,
        vec![json!(true)]
    );
    let metrics = http_get(node.addr, "/metrics").unwrap().1;
    assert!(metrics.contains("sio_joins_refused_total 1"), "{metrics}");
}
