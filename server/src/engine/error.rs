//! The Engine.IO request errors, and the one place they become HTTP responses.

use bytes::Bytes;
use http::{Response, StatusCode, header};
use http_body_util::Full;

/// A request the Engine.IO endpoint refuses, with the reference server's error codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// Code 0: the `transport` query parameter is missing, unknown or disabled.
    #[error("Transport unknown")]
    UnknownTransport,
    /// Code 1: the `sid` names no live session.
    #[error("Session ID unknown")]
    UnknownSid,
    /// Code 2: a handshake that is not a GET.
    #[error("Bad handshake method")]
    BadHandshakeMethod,
    /// Code 3: anything else malformed.
    #[error("Bad request")]
    BadRequest,
    /// Code 4: refused by the origin allow-list or the `allow_request` hook.
    #[error("Forbidden")]
    Forbidden,
    /// Code 5: `EIO` is not 4.
    #[error("Unsupported protocol version")]
    UnsupportedProtocolVersion,
}

impl EngineError {
    /// The numeric code of the reference server.
    #[must_use]
    pub fn code(self) -> u8 {
        match self {
            EngineError::UnknownTransport => 0,
            EngineError::UnknownSid => 1,
            EngineError::BadHandshakeMethod => 2,
            EngineError::BadRequest => 3,
            EngineError::Forbidden => 4,
            EngineError::UnsupportedProtocolVersion => 5,
        }
    }

    /// The HTTP response: 403 for `Forbidden`, 400 otherwise, with
    /// `{"code":N,"message":"..."}` as the body.
    #[must_use]
    pub fn into_response(self) -> Response<Full<Bytes>> {
        let status = if self == EngineError::Forbidden {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::BAD_REQUEST
        };
        let body = format!("{{\"code\":{},\"message\":\"{}\"}}", self.code(), self);
        Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_match_the_reference_server() {
        assert_eq!(EngineError::UnknownSid.code(), 1);
        assert_eq!(
            EngineError::UnsupportedProtocolVersion.to_string(),
            "Unsupported protocol version"
        );
        assert_eq!(
            EngineError::Forbidden.into_response().status(),
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            EngineError::BadRequest.into_response().status(),
            StatusCode::BAD_REQUEST
        );
    }
}
