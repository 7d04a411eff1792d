//! Long-polling responses of 1 KiB and more are compressed for a client that accepts gzip or
//! deflate, as the reference server's `httpCompression`; the bodies are decoded by independent
//! decoders (GNU `gzip`, CPython's `zlib`), not by the encoder's own crate.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::EchoServer;
use sio_server::engine::{EngineConfig, HttpCompression};

/// A Socket.IO-like message of `len` bytes.
fn message(len: usize) -> String {
    let mut text = String::from("4");
    while text.len() < len {
        text.push_str("[\"chat\",\"hello from the server\"]");
    }
    text.truncate(len);
    text
}

/// Posts `text` to be echoed, then polls with `headers`; returns the head and the raw body.
async fn echo_poll(server: &EchoServer, text: &str, headers: &[(&str, &str)]) -> (String, Vec<u8>) {
    let sid = server.handshake().await;
    assert_eq!(server.post(&sid, text.as_bytes()).await, (200, "ok".into()));
    let url = server.url(&format!("EIO=4&transport=polling&sid={sid}"));
    let (status, head, body) = common::http_bytes(server.addr, "GET", &url, headers, b"").await;
    assert_eq!(status, 200, "{head}");
    (head.to_ascii_lowercase(), body)
}

/// Runs `program args` with `input` on stdin and returns its stdout; fails if it is missing.
fn pipe(program: &str, args: &[&str], input: &[u8]) -> Vec<u8> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program} must be installed: {e}"));
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{program} failed to decode");
    out.stdout
}

#[tokio::test]
async fn a_large_poll_is_gzipped_for_a_client_that_accepts_gzip() {
    let server = EchoServer::start(EchoServer::fast_config()).await;
    let text = message(4000);
    let (head, body) = echo_poll(&server, &text, &[("Accept-Encoding", "gzip, deflate, br")]).await;
    assert!(head.contains("content-encoding: gzip"), "{head}");
    assert!(head.contains("vary: accept-encoding"), "{head}");
    assert!(body.len() < text.len() / 4, "{} bytes", body.len());
    assert_eq!(pipe("gzip", &["-dc"], &body), text.as_bytes());
}

#[tokio::test]
async fn deflate_is_the_zlib_format() {
    let server = EchoServer::start(EchoServer::fast_config()).await;
    let text = message(2000);
    let (head, body) = echo_poll(&server, &text, &[("Accept-Encoding", "deflate")]).await;
    assert!(head.contains("content-encoding: deflate"), "{head}");
    let decoded = pipe(
        "python3",
        &[
            "-c",
            "import sys, zlib; sys.stdout.buffer.write(zlib.decompress(sys.stdin.buffer.read()))",
        ],
        &body,
    );
    assert_eq!(decoded, text.as_bytes());
}

#[tokio::test]
async fn a_poll_under_the_threshold_is_sent_as_is() {
    let server = EchoServer::start(EchoServer::fast_config()).await;
    let text = message(1023);
    let (head, body) = echo_poll(&server, &text, &[("Accept-Encoding", "gzip")]).await;
    assert!(!head.contains("content-encoding"), "{head}");
    assert_eq!(body, text.as_bytes());
    let text = message(1024);
    let (head, _) = echo_poll(&server, &text, &[("Accept-Encoding", "gzip")]).await;
    assert!(head.contains("content-encoding: gzip"), "{head}");
}

#[tokio::test]
async fn a_client_that_accepts_no_coding_gets_plain_text() {
    let server = EchoServer::start(EchoServer::fast_config()).await;
    let text = message(4000);
    let (head, body) = echo_poll(&server, &text, &[]).await;
    assert!(!head.contains("content-encoding"), "{head}");
    assert_eq!(body, text.as_bytes());
    let (head, body) = echo_poll(&server, &text, &[("Accept-Encoding", "gzip;q=0, br")]).await;
    assert!(!head.contains("content-encoding"), "{head}");
    assert_eq!(body, text.as_bytes());
}

#[tokio::test]
async fn compression_can_be_turned_off_or_tuned() {
    let off = EchoServer::start(EngineConfig {
        http_compression: None,
        ..EchoServer::fast_config()
    })
    .await;
    let text = message(4000);
    let (head, body) = echo_poll(&off, &text, &[("Accept-Encoding", "gzip")]).await;
    assert!(!head.contains("content-encoding"), "{head}");
    assert_eq!(body, text.as_bytes());

    let small = EchoServer::start(EngineConfig {
        http_compression: Some(HttpCompression { threshold: 100 }),
        ..EchoServer::fast_config()
    })
    .await;
    let text = message(200);
    let (head, body) = echo_poll(&small, &text, &[("Accept-Encoding", "gzip")]).await;
    assert!(head.contains("content-encoding: gzip"), "{head}");
    assert_eq!(pipe("gzip", &["-dc"], &body), text.as_bytes());
}
