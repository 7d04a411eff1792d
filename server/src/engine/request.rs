//! What a session's first request carried (URL, headers, peer address), kept compactly for the
//! life of the session.
//!
//! hyper parses a request into pieces that share its connection's read buffer, so keeping the
//! parsed `HeaderMap` or `Uri` would keep that whole buffer (8 KiB or more) alive as long as the
//! session. [`RequestInfo`] copies what it needs into one allocation instead.

use std::net::SocketAddr;

/// The handshake request of a session: its URL (path and query), headers, peer address and time.
///
/// Header names are lower-case, as HTTP/1.1 parsers and `http::HeaderName` normalize them.
#[derive(Clone)]
pub struct RequestInfo {
    /// The URL, then one `name:value\n` line per header. Header names are tokens and values
    /// never contain `\n` or NUL (HTTP forbids them), so the lines split unambiguously.
    raw: Box<[u8]>,
    /// Where the header lines start in `raw`.
    headers_at: usize,
    remote_addr: Option<SocketAddr>,
    issued_ms: u64,
}

impl RequestInfo {
    /// Copies what a session keeps of its handshake request.
    #[must_use]
    pub fn new(
        uri: &http::Uri,
        headers: &http::HeaderMap,
        remote_addr: Option<SocketAddr>,
        issued_ms: u64,
    ) -> Self {
        let url = uri
            .path_and_query()
            .map_or_else(|| uri.path(), http::uri::PathAndQuery::as_str);
        let len = url.len()
            + headers
                .iter()
                .map(|(n, v)| n.as_str().len() + v.len() + 2)
                .sum::<usize>();
        let mut raw = Vec::with_capacity(len);
        raw.extend_from_slice(url.as_bytes());
        let headers_at = raw.len();
        for (name, value) in headers {
            raw.extend_from_slice(name.as_str().as_bytes());
            raw.push(b':');
            raw.extend_from_slice(value.as_bytes());
            raw.push(b'\n');
        }
        RequestInfo {
            raw: raw.into_boxed_slice(),
            headers_at,
            remote_addr,
            issued_ms,
        }
    }

    /// The request URL: path and query, as sent.
    #[must_use]
    pub fn url(&self) -> &str {
        // The URL came from a `&str`; a failure here cannot happen, and yields "" if it did.
        std::str::from_utf8(&self.raw[..self.headers_at]).unwrap_or("")
    }

    /// The raw query string (without `?`), if any.
    #[must_use]
    pub fn query(&self) -> Option<&str> {
        self.url().split_once('?').map(|(_, q)| q)
    }

    /// The headers in arrival order: lower-case name and raw value. A repeated header appears
    /// once per occurrence.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> + '_ {
        self.raw[self.headers_at..]
            .split(|&b| b == b'\n')
            .filter(|line| !line.is_empty())
            .filter_map(|line| {
                let colon = line.iter().position(|&b| b == b':')?;
                let name = std::str::from_utf8(&line[..colon]).ok()?;
                Some((name, &line[colon + 1..]))
            })
    }

    /// The first value of a header (`name` in any case).
    #[must_use]
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The headers as an `http::HeaderMap` (built on each call).
    #[must_use]
    pub fn header_map(&self) -> http::HeaderMap {
        let mut map = http::HeaderMap::new();
        for (name, value) in self.headers() {
            if let (Ok(name), Ok(value)) = (
                http::HeaderName::from_bytes(name.as_bytes()),
                http::HeaderValue::from_bytes(value),
            ) {
                map.append(name, value);
            }
        }
        map
    }

    /// The peer's address.
    #[must_use]
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.remote_addr
    }

    /// When the handshake happened, in milliseconds since the Unix epoch.
    #[must_use]
    pub fn issued_ms(&self) -> u64 {
        self.issued_ms
    }
}

impl std::fmt::Debug for RequestInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Header values may carry credentials (cookies, authorization): names only.
        f.debug_struct("RequestInfo")
            .field("url", &self.url())
            .field(
                "headers",
                &self.headers().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("remote_addr", &self.remote_addr)
            .field("issued_ms", &self.issued_ms)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_url_and_headers_in_order() {
        let uri: http::Uri = "/socket.io/?EIO=4&transport=websocket".parse().unwrap();
        let mut headers = http::HeaderMap::new();
        headers.insert("host", "example".parse().unwrap());
        headers.append("x-multi", "a".parse().unwrap());
        headers.append("x-multi", "b: c".parse().unwrap());
        headers.insert("cookie", http::HeaderValue::from_bytes(b"k=\xe9").unwrap());
        let info = RequestInfo::new(&uri, &headers, None, 7);
        assert_eq!(info.url(), "/socket.io/?EIO=4&transport=websocket");
        assert_eq!(info.query(), Some("EIO=4&transport=websocket"));
        assert_eq!(info.header("HOST"), Some(&b"example"[..]));
        assert_eq!(info.header("x-multi"), Some(&b"a"[..]));
        assert_eq!(info.header("cookie"), Some(&b"k=\xe9"[..]));
        assert_eq!(info.header("missing"), None);
        let map = info.header_map();
        let multi: Vec<_> = map.get_all("x-multi").iter().collect();
        assert_eq!(multi, ["a", "b: c"]);
        assert_eq!(map.len(), 4);
        assert_eq!(info.issued_ms(), 7);
        assert!(!format!("{info:?}").contains("k="));
    }

    #[test]
    fn no_query_no_headers() {
        let uri: http::Uri = "/socket.io/".parse().unwrap();
        let info = RequestInfo::new(&uri, &http::HeaderMap::new(), None, 0);
        assert_eq!(info.url(), "/socket.io/");
        assert_eq!(info.query(), None);
        assert_eq!(info.headers().count(), 0);
    }
}
