//! A cluster node on the Redis adapter: start several, on different ports, against one Redis,
//! and clients connected to any of them talk to each other.
//!
//! `REDIS_URL=redis://127.0.0.1:6379 PORT=3001 cargo run -p sio-server --example cluster_node`
//! (`PORT=0` takes a free port, printed on stdout; `NODE_ID` names the node, a random id
//! otherwise). Each client:
//!
//! - is greeted with `welcome` `{node}`;
//! - `emit("join", room, ack)`: joins a room cluster-wide; the ack (the node's id) comes once
//!   this node receives the room's messages from the others;
//! - `emit("shout", {room, text})`: every member of the room, on every node, gets `shout`
//!   `{from_node, text}`;
//! - `emit("census", ack)`: acks `{nodes, sockets}`: how many nodes answer, and every socket
//!   of the cluster (`fetch_sockets`), with the ids of nodes that did not answer in time.
//!
//! A process with no sockets can reach the same clients with the emitter (see the `emitter`
//! example).

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::json;
use sio_adapter_redis::{
    RedisAdapter, RedisAdapterConfig, RedisCluster, RedisDriver, RedisDriverConfig,
};
use sio_server::{AckSender, Data, Event, Server, Socket};

/// What `shout` carries.
#[derive(Deserialize)]
struct Shout {
    room: String,
    text: String,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let node_id = std::env::var("NODE_ID").unwrap_or_else(|_| uuid::Uuid::new_v4().to_string());
    let driver = RedisDriver::new(&url, RedisDriverConfig::default())?;
    let cluster = RedisCluster::new(
        Arc::new(driver),
        RedisAdapterConfig {
            node_id: node_id.clone(),
            heartbeat_interval: Duration::from_secs(1),
            ..RedisAdapterConfig::default()
        },
    );
    let io = Server::builder().adapter::<RedisAdapter>(cluster).build();
    let node = node_id.clone();
    io.on_connection(move |socket: Socket| {
        let (node, joined_on, shouted_from) = (node.clone(), node.clone(), node.clone());
        async move {
            let _ = socket.emit("welcome", &json!({ "node": node }));
            socket.on(
                "join",
                move |s: Socket, Data(room): Data<String>, ack: AckSender| {
                    let node = joined_on.clone();
                    async move {
                        s.join([room]).await;
                        let _ = ack.send(&node);
                    }
                },
            );
            socket.on("shout", move |s: Socket, Data(shout): Data<Shout>| {
                let node = shouted_from.clone();
                async move {
                    let _ = s
                        .namespace()
                        .to([shout.room])
                        .emit("shout", &json!({"from_node": node, "text": shout.text}))
                        .await;
                }
            });
            socket.on("census", |s: Socket, event: Event| async move {
                let nodes = s.namespace().server_count().await.unwrap_or(1);
                let (sockets, missing) = match s.namespace().fetch_sockets().await {
                    Ok(found) => (
                        found
                            .value
                            .iter()
                            .map(|r| r.info.id.clone())
                            .collect::<Vec<_>>(),
                        found.missing_nodes,
                    ),
                    Err(_) => (Vec::new(), Vec::new()),
                };
                let _ = event
                    .ack
                    .send(&json!({"nodes": nodes, "sockets": sockets, "missing": missing}));
            });
        }
    });
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("node {node_id} on http://{}", listener.local_addr()?);
    io.serve(listener, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
