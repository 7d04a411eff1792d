//! Small HTTP pieces of the engine: query parsing, CORS headers, and response builders.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode, header};
use http_body_util::Full;

use super::config::CorsConfig;

/// The query parameters the engine reads.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Query {
    pub(crate) eio: Option<String>,
    pub(crate) transport: Option<String>,
    pub(crate) sid: Option<String>,
}

impl Query {
    pub(crate) fn parse(query: &str) -> Query {
        let mut out = Query::default();
        for pair in query.split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let slot = match key {
                "EIO" => &mut out.eio,
                "transport" => &mut out.transport,
                "sid" => &mut out.sid,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(percent_decode(value));
            }
        }
        out
    }
}

/// Decodes `%XX` escapes and `+` in a query component; invalid escapes are kept as they are.
pub fn percent_decode(value: &str) -> String {
    if !value.contains(['%', '+']) {
        return value.to_owned();
    }
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether the request asks for a websocket upgrade.
pub(crate) fn is_websocket_upgrade<B>(req: &Request<B>) -> bool {
    let header_has = |name: header::HeaderName, token: &str| {
        req.headers().get_all(name).iter().any(|v| {
            v.to_str()
                .map(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
                .unwrap_or(false)
        })
    };
    req.method() == http::Method::GET
        && header_has(header::UPGRADE, "websocket")
        && header_has(header::CONNECTION, "upgrade")
        && req.headers().contains_key(header::SEC_WEBSOCKET_KEY)
}

/// A `200` with a long-polling payload.
pub(crate) fn text_response(body: Bytes) -> Response<Full<Bytes>> {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/plain; charset=UTF-8")
        .body(Full::new(body))
        .unwrap_or_default()
}

/// A polling payload encoded with `coding` (`gzip`, `deflate`).
pub(crate) fn compressed_text_response(body: Bytes, coding: &'static str) -> Response<Full<Bytes>> {
    vary_accept_encoding(
        Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, "text/plain; charset=UTF-8")
            .header(header::CONTENT_ENCODING, coding)
            .body(Full::new(body))
            .unwrap_or_default(),
    )
}

/// Marks a response that depends on the request's `Accept-Encoding`, for caches.
pub(crate) fn vary_accept_encoding(mut response: Response<Full<Bytes>>) -> Response<Full<Bytes>> {
    response.headers_mut().insert(
        header::VARY,
        http::HeaderValue::from_static("Accept-Encoding"),
    );
    response
}

/// The `ok` answer to a polling POST.
pub(crate) fn ok_response() -> Response<Full<Bytes>> {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/html")
        .body(Full::new(Bytes::from_static(b"ok")))
        .unwrap_or_default()
}

/// A `503` for a handshake refused because the node is full.
pub(crate) fn service_unavailable() -> Response<Full<Bytes>> {
    Response::builder()
        .status(StatusCode::SERVICE_UNAVAILABLE)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::RETRY_AFTER, "1")
        .body(Full::new(Bytes::from_static(
            b"{\"message\":\"Server full\"}",
        )))
        .unwrap_or_default()
}

/// A `413` for a polling POST over the max payload.
pub(crate) fn payload_too_large() -> Response<Full<Bytes>> {
    Response::builder()
        .status(StatusCode::PAYLOAD_TOO_LARGE)
        .header(header::CONNECTION, "close")
        .body(Full::new(Bytes::new()))
        .unwrap_or_default()
}

/// The `101` that accepts a websocket upgrade.
pub(crate) fn switching_protocols(key: &[u8]) -> Response<Full<Bytes>> {
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key);
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::CONNECTION, "Upgrade")
        .header(header::UPGRADE, "websocket")
        .header(header::SEC_WEBSOCKET_ACCEPT, accept)
        .body(Full::new(Bytes::new()))
        .unwrap_or_default()
}

/// The answer to a CORS preflight.
pub(crate) fn preflight<B>(req: &Request<B>) -> Response<Full<Bytes>> {
    let mut builder = Response::builder().status(StatusCode::NO_CONTENT).header(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        "GET,HEAD,PUT,PATCH,POST,DELETE",
    );
    if let Some(h) = req.headers().get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
        builder = builder.header(header::ACCESS_CONTROL_ALLOW_HEADERS, h.clone());
    }
    builder.body(Full::new(Bytes::new())).unwrap_or_default()
}

/// Adds the CORS headers for `origin` to a response.
pub(crate) fn cors_headers(cors: &CorsConfig, origin: Option<&str>, headers: &mut HeaderMap) {
    let allow_origin = match (origin, &cors.allowed_origins, cors.credentials) {
        (Some(origin), _, _) if cors.allows(origin) => HeaderValue::from_str(origin).ok(),
        (None, None, false) => Some(HeaderValue::from_static("*")),
        _ => None,
    };
    if let Some(value) = allow_origin {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        headers.insert(header::VARY, HeaderValue::from_static("Origin"));
        if cors.credentials {
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_engine_parameters() {
        let q = Query::parse("EIO=4&transport=polling&t=N8hyd6w&sid=ab%2Dc");
        assert_eq!(q.eio.as_deref(), Some("4"));
        assert_eq!(q.transport.as_deref(), Some("polling"));
        assert_eq!(q.sid.as_deref(), Some("ab-c"));
        assert_eq!(Query::parse(""), Query::default());
        assert_eq!(Query::parse("EIO").eio.as_deref(), Some(""));
    }

    #[test]
    fn percent_decoding_never_panics() {
        assert_eq!(percent_decode("%"), "%");
        assert_eq!(percent_decode("%4"), "%4");
        assert_eq!(percent_decode("%zz"), "%zz");
        assert_eq!(percent_decode("a+b%20c"), "a b c");
        assert_eq!(percent_decode("%ff"), "\u{fffd}");
    }
}
