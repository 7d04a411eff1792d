//! The UI's actions on sockets, applied cluster-wide by selector through the adapter:
//! `emit(nsp, filter, event, ...args)`, `join(nsp, room, filter)`, `leave(nsp, room, filter)`
//! and `_disconnect(nsp, close, filter)`. The filter is a room (a socket's id for one socket);
//! none selects every socket of the namespace. Not registered in read-only mode.
//!
//! Only namespaces that exist on this node are acted on (an unknown name is ignored rather
//! than created); arguments of the wrong type are ignored.

use serde_json::Value;
use sio_server::{BroadcastOperator, Event, Payload, Server, Socket};

/// The features the actions give, as the UI names them (the `M*` ones: by selector).
pub(crate) const FEATURES: [&str; 7] = [
    "EMIT",
    "JOIN",
    "LEAVE",
    "DISCONNECT",
    "MJOIN",
    "MLEAVE",
    "MDISCONNECT",
];

/// Event names a client keeps for itself; Node refuses to emit them (so the UI's emit of one
/// is ignored here too).
const RESERVED_EVENTS: [&str; 6] = [
    "connect",
    "connect_error",
    "disconnect",
    "disconnecting",
    "newListener",
    "removeListener",
];

/// The sockets of namespace `nsp` in room `filter` (every socket without one), if the
/// namespace exists here.
fn select(io: &Server, nsp: &Value, filter: Option<&Value>) -> Option<BroadcastOperator> {
    let ns = io.namespace(nsp.as_str()?)?;
    Some(
        match filter.and_then(Value::as_str).filter(|f| !f.is_empty()) {
            Some(room) => ns.to([room.to_owned()]),
            None => ns.to(std::iter::empty::<String>()),
        },
    )
}

/// Registers the action handlers on an admin socket.
pub(crate) fn register(io: &Server, socket: &Socket) {
    let server = io.clone();
    socket.on("emit", move |_s: Socket, event: Event| {
        let io = server.clone();
        async move {
            let mut args = event.payload.args.into_iter();
            let (Some(nsp), filter, Some(Value::String(name))) =
                (args.next(), args.next(), args.next())
            else {
                return;
            };
            if RESERVED_EVENTS.contains(&name.as_str()) {
                tracing::info!(event = %name, "admin UI: reserved event name not emitted");
                return;
            }
            let Some(target) = select(&io, &nsp, filter.as_ref()) else {
                return;
            };
            let payload = Payload {
                args: args.collect(),
                attachments: Vec::new(),
            };
            log_failure("emit", target.emit_payload(&name, payload).await);
        }
    });
    for action in ["join", "leave"] {
        let server = io.clone();
        socket.on(action, move |_s: Socket, event: Event| {
            let io = server.clone();
            async move {
                let args = &event.payload.args;
                let (Some(nsp), Some(Value::String(room))) = (args.first(), args.get(1)) else {
                    return;
                };
                let Some(target) = select(&io, nsp, args.get(2)) else {
                    return;
                };
                let rooms = [room.clone()];
                let result = if action == "join" {
                    target.sockets_join(rooms).await
                } else {
                    target.sockets_leave(rooms).await
                };
                log_failure(action, result);
            }
        });
    }
    let server = io.clone();
    socket.on("_disconnect", move |_s: Socket, event: Event| {
        let io = server.clone();
        async move {
            let args = &event.payload.args;
            let Some(nsp) = args.first() else { return };
            let close = args.get(1).and_then(Value::as_bool).unwrap_or(false);
            if let Some(target) = select(&io, nsp, args.get(2)) {
                log_failure("disconnect", target.disconnect_sockets(close).await);
            }
        }
    });
}

fn log_failure<E: std::fmt::Display>(action: &str, result: Result<(), E>) {
    match result {
        Ok(()) => tracing::info!(action, "admin UI: action applied"),
        Err(err) => {
            tracing::warn!(action, error = %err, "admin UI: action failed on part of the cluster")
        }
    }
}
