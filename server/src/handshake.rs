//! What a socket's connection started with: headers, query, auth and address.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::engine::RequestInfo;

fn query_pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    query.split('&').filter(|p| !p.is_empty()).map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (
            crate::engine::percent_decode(k),
            crate::engine::percent_decode(v),
        )
    })
}

/// The handshake of a socket, available to middlewares and handlers: the first HTTP request of
/// its connection (shared by the connection's sockets, not copied) and the CONNECT payload.
#[derive(Debug, Clone)]
pub struct Handshake {
    request: Arc<RequestInfo>,
    /// The CONNECT packet's payload (`{}` when none).
    pub auth: Value,
}

impl Handshake {
    pub(crate) fn new(request: &Arc<RequestInfo>, auth: Value) -> Self {
        Handshake {
            request: request.clone(),
            auth,
        }
    }

    /// The first request of the connection: URL, headers, address.
    #[must_use]
    pub fn request(&self) -> &RequestInfo {
        &self.request
    }

    /// The HTTP headers of the first request (a fresh map on each call; see
    /// [`Handshake::header`] for one value).
    #[must_use]
    pub fn headers(&self) -> http::HeaderMap {
        self.request.header_map()
    }

    /// The first value of a header of the first request, if it is text.
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&str> {
        self.request
            .header(name)
            .and_then(|v| std::str::from_utf8(v).ok())
    }

    /// The query parameters of the first request, percent-decoded.
    #[must_use]
    pub fn query(&self) -> BTreeMap<String, String> {
        query_pairs(self.request.query().unwrap_or("")).collect()
    }

    /// One query parameter of the first request, percent-decoded.
    #[must_use]
    pub fn query_param(&self, name: &str) -> Option<String> {
        query_pairs(self.request.query().unwrap_or(""))
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    /// The peer address.
    #[must_use]
    pub fn address(&self) -> Option<SocketAddr> {
        self.request.remote_addr()
    }

    /// The request URL (path and query).
    #[must_use]
    pub fn url(&self) -> &str {
        self.request.url()
    }

    /// When the connection started, in milliseconds since the Unix epoch.
    #[must_use]
    pub fn issued(&self) -> u64 {
        self.request.issued_ms()
    }

    /// Whether the request came with an `Origin` header.
    #[must_use]
    pub fn xdomain(&self) -> bool {
        self.request.header("origin").is_some()
    }

    /// The handshake in the JSON shape of Node's `socket.handshake`.
    #[must_use]
    pub fn to_json(&self) -> Value {
        let mut headers = Map::new();
        for (name, value) in self.request.headers() {
            // Node joins repeated headers with ", " (cookies with "; ").
            let value = String::from_utf8_lossy(value);
            match headers.get_mut(name) {
                Some(Value::String(prev)) => {
                    prev.push_str(if name == "cookie" { "; " } else { ", " });
                    prev.push_str(&value);
                }
                _ => {
                    headers.insert(name.to_owned(), Value::String(value.into_owned()));
                }
            }
        }
        let mut out = Map::new();
        out.insert("headers".into(), Value::Object(headers));
        out.insert("time".into(), Value::String(self.issued().to_string()));
        out.insert(
            "address".into(),
            Value::String(
                self.address()
                    .map(|a| a.ip().to_string())
                    .unwrap_or_default(),
            ),
        );
        out.insert("xdomain".into(), Value::Bool(self.xdomain()));
        out.insert("secure".into(), Value::Bool(false));
        out.insert("issued".into(), Value::from(self.issued()));
        out.insert("url".into(), Value::String(self.url().to_owned()));
        out.insert(
            "query".into(),
            Value::Object(
                query_pairs(self.request.query().unwrap_or(""))
                    .map(|(k, v)| (k, Value::String(v)))
                    .collect(),
            ),
        );
        out.insert("auth".into(), self.auth.clone());
        Value::Object(out)
    }
}
