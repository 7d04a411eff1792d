//! The reference app: the events the cluster tests and the load tool rely on. Every operation
//! that may concern other nodes goes through the adapter, so a cluster behaves as one server.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};
use sio_server::{Adapter, ConnectError, Event, Namespace, Payload, Server, Socket};

/// The namespaces the app serves.
pub(crate) const NAMESPACES: [&str; 2] = ["/", "/custom"];

/// The longest `gather` wait a client may ask for.
const MAX_GATHER: Duration = Duration::from_secs(30);

/// Settings of the app.
#[derive(Debug, Clone)]
pub(crate) struct AppConfig {
    /// This node's id, answered by `whoami`.
    pub(crate) node_id: String,
    /// When set, a CONNECT must carry `{"token": <token>}`.
    pub(crate) auth_token: Option<String>,
}

/// Registers the app on every namespace of [`NAMESPACES`].
pub(crate) fn register<A: Adapter>(io: &Server<A>, config: &AppConfig) {
    for name in NAMESPACES {
        let ns = io.of(name);
        if let Some(token) = config.auth_token.clone() {
            ns.use_middleware(move |socket: Socket<A>| {
                let token = token.clone();
                async move {
                    // Only the token counts: a recovering client adds `pid` and `offset`.
                    if socket.handshake().auth.get("token") == Some(&json!(token)) {
                        Ok(())
                    } else {
                        Err(ConnectError::new("unauthorized"))
                    }
                }
            });
        }
        attach(&ns, config.node_id.clone());
    }
}

#[derive(Deserialize)]
struct Publish {
    room: String,
    #[serde(default)]
    data: Value,
}

#[derive(Deserialize)]
struct Direct {
    to: String,
    #[serde(default)]
    data: Value,
}

#[derive(Deserialize)]
struct Gather {
    room: String,
    #[serde(default)]
    data: Value,
    #[serde(default = "default_gather_ms")]
    timeout_ms: u64,
}

fn default_gather_ms() -> u64 {
    1000
}

/// The first argument as `T`, or `None` (and the event is answered with an error when acked).
fn parse<T: serde::de::DeserializeOwned>(event: &Event) -> Option<T> {
    event.payload.first::<T>().ok()
}

/// A payload of one value, keeping the event's attachments (placeholders inside `data` still
/// point at them).
fn forward(data: Value, event: &Event) -> Payload {
    Payload {
        args: vec![data],
        attachments: event.payload.attachments.clone(),
    }
}

fn reply_error(event: Event, message: &str) {
    let _ = event.ack.send(&json!({ "error": message }));
}

/// The events, registered once per namespace (no per-socket handler tables).
fn attach<A: Adapter>(ns: &Namespace<A>, node_id: String) {
    ns.on("join", |socket: Socket<A>, event: Event| async move {
        match parse::<String>(&event) {
            Some(room) => {
                socket.join([room]);
                let _ = event.ack.send(&true);
            }
            None => reply_error(event, "join expects a room name"),
        }
    });
    ns.on("leave", |socket: Socket<A>, event: Event| async move {
        match parse::<String>(&event) {
            Some(room) => {
                socket.leave(&room);
                let _ = event.ack.send(&true);
            }
            None => reply_error(event, "leave expects a room name"),
        }
    });
    ns.on("publish", |socket: Socket<A>, event: Event| async move {
        let Some(publish) = parse::<Publish>(&event) else {
            return reply_error(event, "publish expects {room, data}");
        };
        let payload = forward(publish.data, &event);
        let sent = socket
            .namespace()
            .to([publish.room])
            .emit_payload("message", payload)
            .await;
        match sent {
            Ok(()) => {
                let _ = event.ack.send(&true);
            }
            Err(err) => reply_error(event, &err.to_string()),
        }
    });
    ns.on("echo", |_socket: Socket<A>, event: Event| async move {
        event.ack.send_payload(event.payload);
    });
    ns.on("whoami", move |socket: Socket<A>, event: Event| {
        let node = node_id.clone();
        async move {
            let _ = event
                .ack
                .send(&json!({ "sid": socket.id().to_string(), "node": node }));
        }
    });
    ns.on("count", |socket: Socket<A>, event: Event| async move {
        let Some(room) = parse::<String>(&event) else {
            return reply_error(event, "count expects a room name");
        };
        match socket.namespace().to([room]).fetch_sockets().await {
            Ok(found) => {
                let _ = event.ack.send(&found.value.len());
            }
            Err(err) => reply_error(event, &err.to_string()),
        }
    });
    ns.on("rooms", |socket: Socket<A>, event: Event| async move {
        match socket.namespace().all_rooms().await {
            Ok(rooms) => {
                let _ = event.ack.send(&rooms.value);
            }
            Err(err) => reply_error(event, &err.to_string()),
        }
    });
    ns.on("direct", |socket: Socket<A>, event: Event| async move {
        let Some(direct) = parse::<Direct>(&event) else {
            return reply_error(event, "direct expects {to, data}");
        };
        let payload = forward(direct.data, &event);
        match socket
            .namespace()
            .to([direct.to])
            .emit_payload("message", payload)
            .await
        {
            Ok(()) => {
                let _ = event.ack.send(&true);
            }
            Err(err) => reply_error(event, &err.to_string()),
        }
    });
    ns.on("gather", |socket: Socket<A>, event: Event| async move {
        let Some(gather) = parse::<Gather>(&event) else {
            return reply_error(event, "gather expects {room, data, timeout_ms}");
        };
        let timeout = Duration::from_millis(gather.timeout_ms).min(MAX_GATHER);
        let payload = forward(gather.data, &event);
        let ns: &Namespace<A> = socket.namespace();
        match ns
            .to([gather.room])
            .timeout(timeout)
            .emit_with_ack("ask", payload)
            .await
        {
            Ok(acks) => {
                let replies: Vec<Value> = acks
                    .replies
                    .into_iter()
                    .map(|p| p.args.into_iter().next().unwrap_or(Value::Null))
                    .collect();
                let _ = event.ack.send(&json!({
                    "replies": replies,
                    "missing_nodes": acks.missing_nodes,
                }));
            }
            Err(err) => reply_error(event, &err.to_string()),
        }
    });
    ns.on("kick", |socket: Socket<A>, event: Event| async move {
        let Some(room) = parse::<String>(&event) else {
            return reply_error(event, "kick expects a room name");
        };
        // Ack first: the kicker may be in the room and lose its connection.
        let _ = event.ack.send(&true);
        if let Err(err) = socket.namespace().to([room]).disconnect_sockets(true).await {
            tracing::warn!(error = %err, "kick did not reach every node");
        }
    });
}
