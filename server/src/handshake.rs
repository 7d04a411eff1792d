//! What a socket's connection started with: headers, query, auth and address.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde_json::{Map, Value};

use crate::engine::RequestInfo;

/// The handshake of a socket, available to middlewares and handlers.
#[derive(Debug, Clone)]
pub struct Handshake {
    /// The HTTP headers of the first request.
    pub headers: http::HeaderMap,
    /// The query parameters of the first request.
    pub query: BTreeMap<String, String>,
    /// The CONNECT packet's payload (`{}` when none).
    pub auth: Value,
    /// The peer address.
    pub address: Option<SocketAddr>,
    /// The request URL (path and query).
    pub url: String,
    /// When the connection started, in milliseconds since the Unix epoch.
    pub issued: u64,
    /// Whether the request came with an `Origin` header.
    pub xdomain: bool,
}

impl Handshake {
    pub(crate) fn new(request: &RequestInfo, auth: Value) -> Self {
        let query = request
            .uri
            .query()
            .unwrap_or("")
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                (
                    crate::engine::percent_decode(k),
                    crate::engine::percent_decode(v),
                )
            })
            .collect();
        Handshake {
            headers: request.headers.clone(),
            query,
            auth,
            address: request.remote_addr,
            url: request.uri.to_string(),
            issued: request.issued_ms,
            xdomain: request.headers.contains_key(http::header::ORIGIN),
        }
    }

    /// The handshake in the JSON shape of Node's `socket.handshake`.
    #[must_use]
    pub fn to_json(&self) -> Value {
        let mut headers = Map::new();
        for (name, value) in &self.headers {
            headers.insert(
                name.as_str().to_owned(),
                Value::String(String::from_utf8_lossy(value.as_bytes()).into_owned()),
            );
        }
        let mut out = Map::new();
        out.insert("headers".into(), Value::Object(headers));
        out.insert("time".into(), Value::String(self.issued.to_string()));
        out.insert(
            "address".into(),
            Value::String(self.address.map(|a| a.ip().to_string()).unwrap_or_default()),
        );
        out.insert("xdomain".into(), Value::Bool(self.xdomain));
        out.insert("secure".into(), Value::Bool(false));
        out.insert("issued".into(), Value::from(self.issued));
        out.insert("url".into(), Value::String(self.url.clone()));
        out.insert(
            "query".into(),
            Value::Object(
                self.query
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect(),
            ),
        );
        out.insert("auth".into(), self.auth.clone());
        Value::Object(out)
    }
}
