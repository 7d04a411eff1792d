//! The UI's shape of a socket (`SerializedSocket` of `@socket.io/admin-ui`), and its timestamps.
//!
//! What the UI needs of a socket beyond [`SocketInfo`] (its connection id and transport) rides
//! in the socket's data under `_admin`, as with Node's instrumentation, so that it reaches the
//! admin of any node through `fetch_sockets`; it is taken out of `data` again here.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};
use sio_server::Socket;
use sio_server::adapter::SocketInfo;

/// The key of the admin's facts in a socket's data.
const ADMIN_KEY: &str = "_admin";

/// The `_admin` facts of a local socket: its connection id (shortened to 12 characters, as
/// Node does) and its current transport.
pub(crate) fn admin_facts(socket: &Socket) -> Value {
    let id = socket.connection_id().to_string();
    let short: String = id.chars().take(12).collect();
    json!({ "clientId": short, "transport": socket.transport().as_str() })
}

/// Puts the admin facts into `data` (an object, or null which becomes one); other values are
/// left alone.
pub(crate) fn add_admin_facts(data: &mut Value, facts: Value) {
    if data.is_null() {
        *data = Value::Object(Map::new());
    }
    if let Value::Object(map) = data {
        map.insert(ADMIN_KEY.to_owned(), facts);
    }
}

/// A local socket's description, with the admin facts (not under the room index's lock).
pub(crate) fn describe_local(socket: &Socket) -> SocketInfo {
    let mut data = socket.data::<Value>().unwrap_or(Value::Null);
    add_admin_facts(&mut data, admin_facts(socket));
    SocketInfo {
        id: socket.id().to_string(),
        handshake: socket.handshake().to_json(),
        rooms: socket.rooms(),
        data,
    }
}

/// A socket in the UI's shape. The handshake's `auth` is left out (it may hold credentials).
pub(crate) fn serialize(info: &SocketInfo, nsp: &str) -> Value {
    let mut data = info.data.clone();
    let facts = match &mut data {
        Value::Object(map) => map.remove(ADMIN_KEY).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    let handshake = &info.handshake;
    let headers = handshake.get("headers").cloned().unwrap_or(json!({}));
    let address = ["cf-connecting-ip", "x-forwarded-for"]
        .iter()
        .find_map(|h| headers.get(*h).cloned())
        .or_else(|| handshake.get("address").cloned())
        .unwrap_or(Value::Null);
    let field = |name: &str| handshake.get(name).cloned().unwrap_or(Value::Null);
    json!({
        "id": info.id,
        "clientId": facts.get("clientId").cloned().unwrap_or(Value::Null),
        "transport": facts.get("transport").cloned().unwrap_or(Value::Null),
        "nsp": nsp,
        "data": if data.is_null() { json!({}) } else { data },
        "handshake": {
            "address": address,
            "headers": headers,
            "query": field("query"),
            "issued": field("issued"),
            "secure": field("secure"),
            "time": field("time"),
            "url": field("url"),
            "xdomain": field("xdomain"),
        },
        "rooms": info.rooms,
    })
}

/// Now, as JavaScript's `Date` serializes to JSON (`2024-05-01T12:00:00.000Z`).
pub(crate) fn now_iso() -> String {
    sio_server::protocol::iso_date(i64::try_from(now_millis()).unwrap_or(i64::MAX))
}

/// Milliseconds since the Unix epoch.
pub(crate) fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialized_sockets_drop_the_admin_facts_and_the_auth() {
        let info = SocketInfo {
            id: "abc".into(),
            handshake: json!({"headers": {"x-forwarded-for": "10.0.0.1"}, "address": "127.0.0.1",
                "auth": {"password": "secret"}, "query": {"EIO": "4"}}),
            rooms: vec!["abc".into(), "room".into()],
            data: json!({"_admin": {"clientId": "c1", "transport": "websocket"}, "user": "ann"}),
        };
        let out = serialize(&info, "/");
        assert_eq!(out["clientId"], "c1");
        assert_eq!(out["transport"], "websocket");
        assert_eq!(out["data"], json!({"user": "ann"}));
        assert_eq!(out["handshake"]["address"], "10.0.0.1");
        assert!(out["handshake"].get("auth").is_none());
        assert!(!out.to_string().contains("secret"));
    }
}
