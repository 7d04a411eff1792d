//! The emitter, from a plain process: it joins no cluster and serves no client, yet reaches
//! the clients of every node (a cron job, a worker, a web backend in another stack).
//!
//! `REDIS_URL=redis://127.0.0.1:6379 cargo run -p sio-server --example emitter -- ROOM TEXT`
//! emits `news` with `TEXT` to the sockets in `ROOM` on namespace `/` of every node of the
//! cluster (Rust nodes and Node.js nodes with `@socket.io/redis-adapter` alike), makes them
//! join the room `readers`, waits until Redis has the messages, and exits. Run the
//! `cluster_node` example to receive them.

use std::sync::Arc;
use std::time::Duration;

use sio_adapter_redis::{Emitter, RedisDriver, RedisDriverConfig};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(room), Some(text)) = (args.next(), args.next()) else {
        eprintln!("usage: emitter ROOM TEXT");
        std::process::exit(2);
    };
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let driver = RedisDriver::new(&url, RedisDriverConfig::default())?;
    let emitter = Emitter::new(Arc::new(driver));
    let readers = emitter.to([room.as_str()]);
    readers.emit("news", &text)?;
    readers.sockets_join(["readers"]);
    // Publishing is asynchronous: without this, the process could exit with the messages still
    // queued.
    emitter.flush(Duration::from_secs(5)).await;
    println!("sent to room {room}");
    Ok(())
}
