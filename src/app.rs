//! The reference app: the events the cluster tests and the load tool rely on. Every operation
//! that may concern other nodes goes through the adapter, so a cluster behaves as one server.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};
use sio_server::{ConnectError, Event, Namespace, Payload, Server, Socket};

use crate::limits::ClusterQueryLimits;

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

/// Registers the app on every namespace of [`NAMESPACES`]. Returns the limits of the
/// cluster-wide events, shared by the namespaces (their counters go to `/metrics`).
pub(crate) fn register(io: &Server, config: &AppConfig) -> Arc<ClusterQueryLimits> {
    let limits = Arc::new(ClusterQueryLimits::default());
    for name in NAMESPACES {
        let ns = io.of(name);
        if let Some(token) = config.auth_token.clone() {
            ns.use_middleware(move |socket: Socket| {
                let authenticated = is_authenticated(&socket, Some(&token));
                async move {
                    if authenticated {
                        Ok(())
                    } else {
                        Err(ConnectError::new("unauthorized"))
                    }
                }
            });
        }
        attach(&ns, config, limits.clone());
    }
    limits
}

/// Whether the socket's CONNECT carried `"token": <token>` (always true without a token).
fn is_authenticated(socket: &Socket, token: Option<&str>) -> bool {
    // Only the token counts: a recovering client adds `pid` and `offset` beside it.
    token.is_none_or(|token| socket.handshake().auth.get("token") == Some(&json!(token)))
}

#[derive(Deserialize)]
struct Publish {
    room: String,
    #[serde(default)]
    data: Value,
}

#[derive(Deserialize)]
struct Herd {
    room: String,
    into: String,
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

/// Admits a cluster-wide query of `socket`, or answers `event` with the refusal and returns
/// `None`. Hold the permit until the query is answered.
fn admit(
    limits: &ClusterQueryLimits,
    socket: &Socket,
    event: Event,
) -> Option<(Event, tokio::sync::OwnedSemaphorePermit)> {
    match limits.admit(socket.id()) {
        Ok(permit) => Some((event, permit)),
        Err(refusal) => {
            reply_error(event, refusal.message());
            None
        }
    }
}

/// The events, registered once per namespace (no per-socket handler tables).
fn attach(ns: &Namespace, config: &AppConfig, limits: Arc<ClusterQueryLimits>) {
    let node_id = config.node_id.clone();
    let me = node_id.clone();
    ns.on("join", |socket: Socket, event: Event| async move {
        match parse::<String>(&event) {
            Some(room) => match socket.try_join([room.clone()]) {
                Ok(()) => {
                    // Acknowledged once the cluster delivers the room's messages here.
                    socket.namespace().adapter().rooms_ready(&[room]).await;
                    let _ = event.ack.send(&true);
                }
                Err(err) => reply_error(event, &err.to_string()),
            },
            None => reply_error(event, "join expects a room name"),
        }
    });
    ns.on("leave", |socket: Socket, event: Event| async move {
        match parse::<String>(&event) {
            Some(room) => {
                socket.leave(&room);
                let _ = event.ack.send(&true);
            }
            None => reply_error(event, "leave expects a room name"),
        }
    });
    ns.on("publish", |socket: Socket, event: Event| async move {
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
    ns.on("echo", |_socket: Socket, event: Event| async move {
        event.ack.send_payload(event.payload);
    });
    ns.on("whoami", move |socket: Socket, event: Event| {
        let node = node_id.clone();
        async move {
            let _ = event
                .ack
                .send(&json!({ "sid": socket.id().to_string(), "node": node }));
        }
    });
    let count_limits = limits.clone();
    ns.on("count", move |socket: Socket, event: Event| {
        let limits = count_limits.clone();
        async move {
            let Some(room) = parse::<String>(&event) else {
                return reply_error(event, "count expects a room name");
            };
            let Some((event, _permit)) = admit(&limits, &socket, event) else {
                return;
            };
            match socket.namespace().to([room]).fetch_sockets().await {
                Ok(found) => {
                    let _ = event.ack.send(&found.value.len());
                }
                Err(err) => reply_error(event, &err.to_string()),
            }
        }
    });
    let rooms_limits = limits.clone();
    ns.on("rooms", move |socket: Socket, event: Event| {
        let limits = rooms_limits.clone();
        async move {
            let Some((event, _permit)) = admit(&limits, &socket, event) else {
                return;
            };
            match socket.namespace().all_rooms().await {
                Ok(rooms) => {
                    let _ = event.ack.send(&rooms.value);
                }
                Err(err) => reply_error(event, &err.to_string()),
            }
        }
    });
    ns.on("direct", |socket: Socket, event: Event| async move {
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
    let gather_limits = limits.clone();
    ns.on("gather", move |socket: Socket, event: Event| {
        let limits = gather_limits.clone();
        async move {
            let Some(gather) = parse::<Gather>(&event) else {
                return reply_error(event, "gather expects {room, data, timeout_ms}");
            };
            let Some((event, _permit)) = admit(&limits, &socket, event) else {
                return;
            };
            let timeout = Duration::from_millis(gather.timeout_ms).min(MAX_GATHER);
            let payload = forward(gather.data, &event);
            let ns: &Namespace = socket.namespace();
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
        }
    });
    // `herd {room, into}`: the room's members join `into`, wherever they are.
    ns.on("herd", |socket: Socket, event: Event| async move {
        let Some(herd) = parse::<Herd>(&event) else {
            return reply_error(event, "herd expects {room, into}");
        };
        match socket
            .namespace()
            .to([herd.room])
            .sockets_join([herd.into])
            .await
        {
            Ok(()) => {
                let _ = event.ack.send(&true);
            }
            Err(err) => reply_error(event, &err.to_string()),
        }
    });
    // `servers`: asks the other servers `hello` (server-side emit with acks); answers
    // `{replies, missing_nodes}`, each reply `{node}`.
    ns.on_server_event(move |server_event, ack| {
        if let (Some(ack), "hello") = (ack, server_event.event.as_str()) {
            let reply = Payload {
                args: vec![json!({ "node": me })],
                attachments: Vec::new(),
            };
            let _ = ack.send(reply);
        }
    });
    let servers_limits = limits.clone();
    ns.on("servers", move |socket: Socket, event: Event| {
        let limits = servers_limits.clone();
        async move {
            let Some((event, _permit)) = admit(&limits, &socket, event) else {
                return;
            };
            let asked = socket
                .namespace()
                .server_side_emit("hello", Payload::default(), Some(Duration::from_secs(3)))
                .await;
            match asked {
                Ok(answer) => {
                    let replies: Vec<Value> = answer
                        .value
                        .into_iter()
                        .map(|p| p.args.into_iter().next().unwrap_or(Value::Null))
                        .collect();
                    let _ = event.ack.send(&json!({
                        "replies": replies,
                        "missing_nodes": answer.missing_nodes,
                    }));
                }
                Err(err) => reply_error(event, &err.to_string()),
            }
        }
    });
    ns.on("kick", |socket: Socket, event: Event| async move {
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
