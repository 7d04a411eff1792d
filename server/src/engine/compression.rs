//! Compression of long-polling responses, as the reference server's `httpCompression`: a body
//! of at least the threshold goes out gzip- or deflate-encoded when the request accepts either.
//!
//! WebSocket frames are not compressed (no permessage-deflate): see the README.

use std::io::Write;

use flate2::Compression;
use flate2::write::{GzEncoder, ZlibEncoder};
use http::HeaderMap;
use http::header::ACCEPT_ENCODING;

/// When long-polling responses are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpCompression {
    /// The smallest body that is compressed, in bytes. Default: 1024, as the reference server.
    pub threshold: usize,
}

impl Default for HttpCompression {
    fn default() -> Self {
        HttpCompression { threshold: 1024 }
    }
}

/// A content coding the server produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    /// `gzip` (RFC 1952).
    Gzip,
    /// `deflate`, which HTTP defines as the zlib format (RFC 1950).
    Deflate,
}

impl Encoding {
    /// The `Content-Encoding` token.
    pub(crate) fn token(self) -> &'static str {
        match self {
            Encoding::Gzip => "gzip",
            Encoding::Deflate => "deflate",
        }
    }

    /// Compresses `body` at zlib's default level (the reference server's).
    pub(crate) fn compress(self, body: &[u8]) -> std::io::Result<Vec<u8>> {
        let out = Vec::with_capacity(body.len() / 2);
        match self {
            Encoding::Gzip => {
                let mut encoder = GzEncoder::new(out, Compression::default());
                encoder.write_all(body)?;
                encoder.finish()
            }
            Encoding::Deflate => {
                let mut encoder = ZlibEncoder::new(out, Compression::default());
                encoder.write_all(body)?;
                encoder.finish()
            }
        }
    }
}

/// The coding to answer a request with: the accepted one of `gzip` and `deflate` with the
/// highest quality, ties going to the one the client listed first; `None` when the request
/// accepts neither (no `Accept-Encoding`, `identity` only, or `q=0`).
pub(crate) fn negotiate(headers: &HeaderMap) -> Option<Encoding> {
    let mut best: Option<(Encoding, u16, usize, bool)> = None;
    let mut explicit = [false; 2];
    let mut wildcard: Option<(u16, usize)> = None;
    let items = headers
        .get_all(ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .enumerate();
    for (order, item) in items {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or("").trim();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .next()
            .map_or(Some(1000), parse_quality);
        let Some(q) = q else { continue };
        let encoding =
            if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
                Encoding::Gzip
            } else if coding.eq_ignore_ascii_case("deflate") {
                Encoding::Deflate
            } else {
                if coding == "*" {
                    wildcard = Some((q, order));
                }
                continue;
            };
        explicit[encoding as usize] = true;
        consider(&mut best, encoding, q, order, true);
    }
    if let Some((q, order)) = wildcard {
        for encoding in [Encoding::Gzip, Encoding::Deflate] {
            if !explicit[encoding as usize] {
                consider(&mut best, encoding, q, order, false);
            }
        }
    }
    best.filter(|&(_, q, _, _)| q > 0).map(|(e, ..)| e)
}

/// Keeps the better of `best` and the candidate: higher quality, then named over `*`, then
/// listed earlier.
fn consider(
    best: &mut Option<(Encoding, u16, usize, bool)>,
    encoding: Encoding,
    q: u16,
    order: usize,
    named: bool,
) {
    let better = match *best {
        None => true,
        Some((_, bq, border, bnamed)) => {
            (q, named, std::cmp::Reverse(order)) > (bq, bnamed, std::cmp::Reverse(border))
        }
    };
    if better {
        *best = Some((encoding, q, order, named));
    }
}

/// A quality value (`0` to `1`, up to three decimals) in thousandths; `None` when malformed.
fn parse_quality(s: &str) -> Option<u16> {
    let value: f32 = s.trim().parse().ok()?;
    (0.0..=1.0)
        .contains(&value)
        .then(|| (value * 1000.0).round() as u16)
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT_ENCODING, value.parse().unwrap());
        headers
    }

    #[test]
    fn a_browser_accept_encoding_gets_gzip() {
        assert_eq!(
            negotiate(&accept("gzip, deflate, br, zstd")),
            Some(Encoding::Gzip)
        );
    }

    #[test]
    fn the_client_order_breaks_ties() {
        assert_eq!(negotiate(&accept("deflate, gzip")), Some(Encoding::Deflate));
    }

    #[test]
    fn quality_values_decide_over_order() {
        assert_eq!(
            negotiate(&accept("gzip;q=0.5, deflate;q=0.8")),
            Some(Encoding::Deflate)
        );
    }

    #[test]
    fn nothing_accepted_means_no_compression() {
        assert_eq!(negotiate(&HeaderMap::new()), None);
        assert_eq!(negotiate(&accept("identity")), None);
        assert_eq!(negotiate(&accept("br")), None);
        assert_eq!(negotiate(&accept("gzip;q=0")), None);
        assert_eq!(negotiate(&accept("*, gzip;q=0, deflate;q=0")), None);
    }

    #[test]
    fn a_wildcard_accepts_what_is_not_named() {
        assert_eq!(negotiate(&accept("*")), Some(Encoding::Gzip));
        assert_eq!(negotiate(&accept("gzip;q=0, *")), Some(Encoding::Deflate));
    }

    #[test]
    fn malformed_qualities_are_ignored() {
        assert_eq!(
            negotiate(&accept("gzip;q=2, deflate")),
            Some(Encoding::Deflate)
        );
        assert_eq!(negotiate(&accept("gzip;q=abc")), None);
    }

    #[test]
    fn compressed_bodies_decompress_to_the_original() {
        let body = b"42[\"message\",\"hello\"]".repeat(100);
        let gz = Encoding::Gzip.compress(&body).unwrap();
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, body);
        let zlib = Encoding::Deflate.compress(&body).unwrap();
        let mut out = Vec::new();
        flate2::read::ZlibDecoder::new(&zlib[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, body);
        assert!(gz.len() < body.len() / 4);
    }
}
