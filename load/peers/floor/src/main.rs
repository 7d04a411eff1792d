//! The floor: a bare tokio-tungstenite broadcast server that speaks just enough Engine.IO v4 /
//! Socket.IO v5 for the load tool (`0{...}` open, `40` connect, `2`/`3` heartbeat, and the
//! `join`, `leave`, `publish`, `echo` events with acks). No sessions, no namespaces beyond `/`,
//! no polling, no heartbeat timer: what is left is the cost of parsing a publish once and
//! writing the same WebSocket frame to every member of the room, with the same write batching
//! as sio-server (feed up to 64 queued frames, then flush once).
//!
//! `sio-peer-floor --port 3000 [--seconds N] [--write-buffer BYTES]`

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

/// Frames written between two flushes, at most (as in sio-server).
const WRITE_BATCH: usize = 64;
/// Outbound queue per connection.
const QUEUE: usize = 1024;

type Tx = mpsc::Sender<Utf8Bytes>;

#[derive(Default)]
struct Rooms {
    /// room → (connection id → sender)
    rooms: Mutex<HashMap<String, HashMap<u64, Tx>>>,
}

#[derive(Deserialize)]
struct Publish<'a> {
    #[serde(borrow)]
    room: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    data: Option<&'a RawValue>,
}

fn main() -> std::io::Result<()> {
    let mut port = 3000u16;
    let mut seconds = 0u64;
    // As sio-server since 8d28b6e: the frames of a batch go out in one write.
    let mut write_buffer = 16 * 1024;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--port" => port = args.next().and_then(|v| v.parse().ok()).unwrap_or(port),
            "--seconds" => seconds = args.next().and_then(|v| v.parse().ok()).unwrap_or(0),
            "--write-buffer" => {
                write_buffer = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(write_buffer);
            }
            _ => {
                eprintln!("usage: sio-peer-floor --port PORT [--seconds N] [--write-buffer BYTES]");
                std::process::exit(2);
            }
        }
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(port, seconds, write_buffer))
}

async fn run(port: u16, seconds: u64, write_buffer: usize) -> std::io::Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    eprintln!("floor listening on 127.0.0.1:{port}");
    let rooms = Arc::new(Rooms::default());
    let ids = Arc::new(AtomicU64::new(1));
    let accept = async {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let id = ids.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(connection(stream, id, rooms.clone(), write_buffer));
        }
    };
    let limit = async {
        if seconds == 0 {
            std::future::pending::<()>().await;
        } else {
            tokio::time::sleep(std::time::Duration::from_secs(seconds)).await;
        }
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = accept => {}
        () = limit => {}
        () = term => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}

async fn connection(stream: TcpStream, id: u64, rooms: Arc<Rooms>, write_buffer: usize) {
    // The same buffers as sio-server: tungstenite zero-fills `read_buffer_size` bytes before
    // every read attempt, so its 128 KiB default costs a 128 KiB memset per wakeup (and RSS).
    let mut config = WebSocketConfig::default();
    config.read_buffer_size = 4096;
    // 16 KiB by default (as sio-server): the frames of a batch accumulate and the flush writes
    // them at once. `--write-buffer 0` writes every frame with its own write(2), as sio-server
    // did before 8d28b6e (and as the first BENCHMARKS.md tables were measured).
    config.write_buffer_size = write_buffer;
    let Ok(mut ws) = tokio_tungstenite::accept_async_with_config(stream, Some(config)).await else {
        return;
    };
    let sid = format!("floor{id:016x}");
    let open = format!(
        r#"0{{"sid":"{sid}","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}}"#
    );
    if ws.send(Message::Text(open.into())).await.is_err() {
        return;
    }
    let (tx, mut rx) = mpsc::channel::<Utf8Bytes>(QUEUE);
    let mut joined: Vec<String> = Vec::new();
    loop {
        tokio::select! {
            biased;
            frame = rx.recv() => {
                let Some(frame) = frame else { break };
                if ws.feed(Message::Text(frame)).await.is_err() {
                    break;
                }
                let mut n = 1;
                while n < WRITE_BATCH {
                    let Ok(more) = rx.try_recv() else { break };
                    if ws.feed(Message::Text(more)).await.is_err() {
                        break;
                    }
                    n += 1;
                }
                if ws.flush().await.is_err() {
                    break;
                }
            }
            msg = ws.next() => {
                let text = match msg {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                    Some(Ok(_)) => continue,
                };
                if let Some(reply) = handle(&text, &sid, &tx, id, &rooms, &mut joined) {
                    // Through the queue, to stay in order with the broadcasts already queued.
                    if tx.try_send(reply.into()).is_err() {
                        break;
                    }
                }
            }
        }
    }
    let mut map = rooms.rooms.lock().unwrap_or_else(|e| e.into_inner());
    for room in joined {
        if let Some(members) = map.get_mut(&room) {
            members.remove(&id);
            if members.is_empty() {
                map.remove(&room);
            }
        }
    }
}

/// Handles one client text frame; returns the reply, if any.
fn handle(
    text: &str,
    sid: &str,
    tx: &Tx,
    id: u64,
    rooms: &Rooms,
    joined: &mut Vec<String>,
) -> Option<String> {
    match text.as_bytes().first()? {
        b'2' => return Some(format!("3{}", &text[1..])),
        b'4' => {}
        _ => return None,
    }
    let rest = &text[1..];
    match rest.as_bytes().first()? {
        b'0' => return Some(format!(r#"40{{"sid":"{sid}"}}"#)),
        b'2' => {}
        _ => return None,
    }
    let rest = &rest[1..];
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let ack = &rest[..digits];
    let body = &rest[digits..];
    let args: Vec<&RawValue> = serde_json::from_str(body).ok()?;
    let event: &str = serde_json::from_str(args.first()?.get()).ok()?;
    let reply = |payload: &str| {
        if ack.is_empty() {
            None
        } else {
            Some(format!("43{ack}[{payload}]"))
        }
    };
    match event {
        "join" | "leave" => {
            let room: String = serde_json::from_str(args.get(1)?.get()).ok()?;
            let mut map = rooms.rooms.lock().unwrap_or_else(|e| e.into_inner());
            if event == "join" {
                map.entry(room.clone()).or_default().insert(id, tx.clone());
                joined.push(room);
            } else if let Some(members) = map.get_mut(&room) {
                members.remove(&id);
                joined.retain(|r| r != &room);
            }
            reply("true")
        }
        "publish" => {
            let p: Publish = serde_json::from_str(args.get(1)?.get()).ok()?;
            let data = p.data.map_or("null", RawValue::get);
            let frame: Utf8Bytes = format!(r#"42["message",{data}]"#).into();
            let map = rooms.rooms.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(members) = map.get(p.room.as_ref()) {
                for member in members.values() {
                    // A full queue drops the frame for that member (the load tool counts it lost).
                    let _ = member.try_send(frame.clone());
                }
            }
            reply("true")
        }
        "echo" => {
            let rest: Vec<&str> = args[1..].iter().map(|a| a.get()).collect();
            reply(&rest.join(","))
        }
        "whoami" => reply(&format!(r#"{{"sid":"{sid}","node":"floor"}}"#)),
        _ => reply("null"),
    }
}
