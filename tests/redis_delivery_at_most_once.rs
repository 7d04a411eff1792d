//! The Redis publisher delivers at most once and counts what it gives up on: a batch in flight
//! is not touched by the outage buffer dropping its oldest entries, a pipeline that failed is
//! not sent again, `flush` waits for the batch in flight without polling, and what is published
//! after a reconnect before every node has resubscribed is counted. Against a real
//! `redis-server`, stalled with `CLIENT PAUSE` or a busy script to hold a pipeline in flight.

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::Redis;
use sio_adapter_redis::{Driver, RedisDriver, RedisDriverConfig, ResumeGate};
use tokio::sync::mpsc;

/// Sends one inline command to Redis and returns its first reply line.
fn redis_command(redis: &Redis, command: &str) -> String {
    use std::io::{BufRead, BufReader, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", redis.port)).expect("redis");
    stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    write!(stream, "{command}\r\n").unwrap();
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).unwrap();
    line
}

/// Keeps Redis busy for `ms` with a Lua script (it reads no socket meanwhile, so what is sent
/// then runs afterwards, even from a connection closed in between). Keep the returned stream
/// open until then.
fn stall(redis: &Redis, ms: u64) -> std::net::TcpStream {
    use std::io::Write;
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", redis.port)).expect("redis");
    let script = format!(
        "local function now() local t = redis.call('TIME') return t[1] * 1000000 + t[2] end \
         local start = now() while now() - start < {} do end return 1",
        ms * 1000
    );
    write!(stream, "EVAL \"{script}\" 0\r\n").unwrap();
    std::thread::sleep(Duration::from_millis(50));
    stream
}

/// A publishing driver and a subscriber of channel `t` (a second driver), both connected.
async fn pair(
    redis: &Redis,
    config: RedisDriverConfig,
) -> (
    RedisDriver,
    RedisDriver,
    mpsc::Receiver<sio_adapter_redis::driver::Received>,
) {
    let publisher = RedisDriver::new(&redis.url(), config).unwrap();
    let subscriber = RedisDriver::new(&redis.url(), RedisDriverConfig::default()).unwrap();
    let mut received = subscriber.take_messages().unwrap();
    subscriber.subscribe(&["t".into()], &[]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while publisher.numsub("t").await != Ok(1) {
        assert!(Instant::now() < deadline, "subscriber never subscribed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    publisher.publish("t", Bytes::from_static(b"warm"));
    let warm = tokio::time::timeout(Duration::from_secs(5), received.recv())
        .await
        .expect("the first message arrives")
        .unwrap();
    assert_eq!(warm.payload, Bytes::from_static(b"warm"));
    (publisher, subscriber, received)
}

/// What arrives until nothing more does for `quiet`.
async fn drain(
    received: &mut mpsc::Receiver<sio_adapter_redis::driver::Received>,
    quiet: Duration,
) -> Vec<String> {
    let mut out = Vec::new();
    while let Ok(Some(m)) = tokio::time::timeout(quiet, received.recv()).await {
        out.push(String::from_utf8_lossy(&m.payload).into_owned());
    }
    out
}

fn numbered(range: std::ops::RangeInclusive<u32>) -> Vec<String> {
    range.map(|i| i.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_outage_buffer_never_drops_the_batch_in_flight() {
    let redis = Redis::start();
    let config = RedisDriverConfig {
        max_buffered: 4,
        ..RedisDriverConfig::default()
    };
    let (publisher, _subscriber, mut received) = pair(&redis, config).await;
    // Redis stalls: message 0 goes out and waits for its reply...
    assert!(redis_command(&redis, "CLIENT PAUSE 1000 ALL").starts_with("+OK"));
    publisher.publish("t", Bytes::from_static(b"0"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    // ...while 20 more overflow the buffer of 4: 1 to 16 are dropped, 17 to 20 kept.
    for i in 1..=20u32 {
        publisher.publish("t", Bytes::from(i.to_string()));
    }
    publisher.flush(Duration::from_secs(5)).await;
    let got = drain(&mut received, Duration::from_millis(500)).await;
    let mut expected = vec!["0".to_owned()];
    expected.extend(numbered(17..=20));
    assert_eq!(
        got, expected,
        "what was not dropped arrives, once, in order"
    );
    let stats = publisher.stats();
    assert_eq!(stats.dropped, 16, "{stats:?}");
    assert_eq!(stats.published, 6, "{stats:?}");
    assert_eq!(stats.unconfirmed, 0, "{stats:?}");
    assert_eq!(stats.buffered, 0, "{stats:?}");
    // Every message is delivered or counted.
    assert_eq!(got.len() as u64 + stats.dropped, 21);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_pipeline_is_counted_and_not_sent_again() {
    let redis = Redis::start();
    let (publisher, _subscriber, mut received) = pair(&redis, RedisDriverConfig::default()).await;
    // Redis stalls longer than the reply timeout (2 s): the pipeline fails on our side, but
    // Redis runs it when the script ends. Sending it again would publish every message twice.
    let _busy = stall(&redis, 2600);
    for i in 0..10u32 {
        publisher.publish("t", Bytes::from(i.to_string()));
    }
    tokio::time::sleep(Duration::from_millis(3000)).await;
    publisher.publish("t", Bytes::from_static(b"after"));
    let got = drain(&mut received, Duration::from_millis(1500)).await;
    let mut expected = numbered(0..=9);
    expected.push("after".to_owned());
    assert_eq!(got, expected, "each message arrives once");
    let stats = publisher.stats();
    // The batch in flight when the reply timed out is counted as unconfirmed; what was
    // published after it went out on the new connection.
    assert!(
        stats.unconfirmed >= 1,
        "the failed batch is counted: {stats:?}"
    );
    assert_eq!(stats.published + stats.unconfirmed, 12, "{stats:?}");
    assert_eq!(stats.dropped, 0, "{stats:?}");
}

/// Counts how often the inner future is polled.
struct CountPolls<F> {
    inner: Pin<Box<F>>,
    polls: usize,
}

impl<F: Future> Future for CountPolls<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.polls += 1;
        self.inner.as_mut().poll(cx)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flush_waits_for_the_batch_in_flight_without_polling() {
    let redis = Redis::start();
    let (publisher, _subscriber, mut received) = pair(&redis, RedisDriverConfig::default()).await;
    assert!(redis_command(&redis, "CLIENT PAUSE 500 ALL").starts_with("+OK"));
    publisher.publish("t", Bytes::from_static(b"last"));
    let started = Instant::now();
    let mut flush = CountPolls {
        inner: Box::pin(publisher.flush(Duration::from_secs(5))),
        polls: 0,
    };
    (&mut flush).await;
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(300) && waited < Duration::from_secs(3),
        "flush returned after {waited:?}"
    );
    assert!(flush.polls <= 10, "flush was polled {} times", flush.polls);
    assert_eq!(publisher.stats().buffered, 0);
    let got = drain(&mut received, Duration::from_millis(300)).await;
    assert_eq!(got, vec!["last".to_owned()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_before_every_node_resubscribed_is_counted() {
    let mut redis = Redis::start();
    let config = RedisDriverConfig {
        resume_timeout: Duration::from_millis(300),
        ..RedisDriverConfig::default()
    };
    let (publisher, subscriber, mut received) = pair(&redis, config).await;
    // The publisher expects two listeners on the gate channel; only the subscriber is one.
    subscriber.subscribe(&["gate".into()], &[]);
    publisher.set_resume_gate(ResumeGate {
        channel: "gate".into(),
        listeners: Arc::new(|| 2),
    });
    redis.kill();
    redis.restart();
    // The wait for the second listener times out: what goes out then is counted.
    publisher.publish("t", Bytes::from_static(b"early"));
    let got = drain(&mut received, Duration::from_millis(1500)).await;
    assert_eq!(got, vec!["early".to_owned()]);
    assert_eq!(publisher.stats().resume_incomplete, 1);
    // Once the second listener is there, publishing is complete again and not counted.
    let late = RedisDriver::new(&redis.url(), RedisDriverConfig::default()).unwrap();
    late.subscribe(&["gate".into()], &[]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while publisher.numsub("gate").await != Ok(2) {
        assert!(
            Instant::now() < deadline,
            "the second listener never subscribed"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    publisher.publish("t", Bytes::from_static(b"complete"));
    let got = drain(&mut received, Duration::from_millis(500)).await;
    assert_eq!(got, vec!["complete".to_owned()]);
    let stats = publisher.stats();
    assert_eq!(stats.resume_incomplete, 1, "{stats:?}");
    assert_eq!(stats.unconfirmed + stats.dropped, 0, "{stats:?}");
}
