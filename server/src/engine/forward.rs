//! Session forwarding: with it, any node of a cluster serves any request of any session, so a
//! load balancer needs no stickiness.
//!
//! Each node prefixes the ids of the sessions it opens with its [`NodeTag`]. A request for a
//! session whose tag is another node's goes straight to that node (one hop, found in the
//! [`OwnerDirectory`], no broadcast) over a pooled keep-alive HTTP/1.1 connection, marked with
//! [`FORWARDED_HEADER`] so it is never forwarded twice, and the owner's answer is relayed. A
//! websocket upgrade is relayed byte for byte for the life of the connection. An owner that is
//! unknown, refuses the connection or does not answer in time is treated as dead: the request
//! gets Engine.IO error 1, "Session ID unknown", and the client reconnects.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response, header};
use http_body_util::{BodyExt, Empty, Full, Limited};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::{Body, EngineError, http_util};
use super::{NodeTag, OwnerDirectory, Sid};
use crate::metrics::{Metrics, add};

/// The header that marks a request forwarded by another node: it is served where it lands.
pub const FORWARDED_HEADER: &str = "x-sio-forwarded";

/// Settings of session forwarding.
#[derive(Clone)]
pub struct ForwardingConfig {
    /// This node's tag, the prefix of every session id it issues. Default: none (set by
    /// [`ForwardingConfig::new`]).
    pub tag: NodeTag,
    /// Where the other tags live.
    pub directory: Arc<dyn OwnerDirectory>,
    /// How long an owner may take to accept a connection, or to answer a request that does not
    /// wait for packets (POST, upgrade); a long-polling GET may take the ping interval plus this.
    /// Beyond it the owner is treated as dead. Default: 5 s (one default cluster heartbeat).
    pub answer_timeout: Duration,
    /// Idle keep-alive connections kept open to each owner. Default: 256.
    pub max_idle_per_owner: usize,
    /// The largest answer relayed from an owner, in bytes; a larger one fails the request.
    /// Default: 64 MiB.
    pub max_response_bytes: usize,
}

impl ForwardingConfig {
    /// Forwarding for the node `tag`, finding the others in `directory`, with the defaults.
    #[must_use]
    pub fn new(tag: NodeTag, directory: Arc<dyn OwnerDirectory>) -> Self {
        ForwardingConfig {
            tag,
            directory,
            answer_timeout: Duration::from_secs(5),
            max_idle_per_owner: 256,
            max_response_bytes: 64 << 20,
        }
    }

    /// Sets [`answer_timeout`](Self::answer_timeout).
    #[must_use]
    pub fn answer_timeout(mut self, timeout: Duration) -> Self {
        self.answer_timeout = timeout;
        self
    }

    /// Sets [`max_idle_per_owner`](Self::max_idle_per_owner).
    #[must_use]
    pub fn max_idle_per_owner(mut self, connections: usize) -> Self {
        self.max_idle_per_owner = connections;
        self
    }
}

impl std::fmt::Debug for ForwardingConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForwardingConfig")
            .field("tag", &self.tag)
            .field("answer_timeout", &self.answer_timeout)
            .field("max_idle_per_owner", &self.max_idle_per_owner)
            .field("max_response_bytes", &self.max_response_bytes)
            .finish()
    }
}

/// Why a forwarded request failed: every one of them means "the owner is dead" to the client.
#[derive(Debug, thiserror::Error)]
enum ForwardError {
    #[error("no live node has tag {0}")]
    UnknownOwner(NodeTag),
    #[error("owner {0} did not answer in time")]
    Timeout(String),
    #[error("owner {0} unreachable: {1}")]
    Connect(String, std::io::Error),
    #[error("owner {0}: {1}")]
    Http(String, hyper::Error),
    #[error("owner {0} answered more than the relay limit")]
    TooLarge(String),
}

type Sender = SendRequest<Full<Bytes>>;

/// Forwards requests for foreign sessions to their owners, over pooled connections.
pub(crate) struct Forwarder {
    config: ForwardingConfig,
    idle: Mutex<HashMap<String, Vec<Sender>>>,
}

/// Headers that describe one connection, not the request: never relayed as they are.
const HOP_BY_HOP: [header::HeaderName; 6] = [
    header::CONNECTION,
    header::TRANSFER_ENCODING,
    header::TE,
    header::TRAILER,
    header::UPGRADE,
    header::HOST,
];

fn end_to_end(headers: &HeaderMap) -> HeaderMap {
    let mut out = headers.clone();
    for name in &HOP_BY_HOP {
        out.remove(name);
    }
    out.remove("keep-alive");
    out.remove("proxy-connection");
    out.remove(header::CONTENT_LENGTH);
    out
}

impl Forwarder {
    pub(crate) fn new(config: ForwardingConfig) -> Self {
        Forwarder {
            config,
            idle: Mutex::new(HashMap::new()),
        }
    }

    /// This node's tag.
    pub(crate) fn tag(&self) -> NodeTag {
        self.config.tag
    }

    /// Whether a request for `sid` goes to another node: its tag is not ours, and no node
    /// forwarded it here already.
    pub(crate) fn is_foreign(&self, sid: &Sid, headers: &HeaderMap) -> bool {
        sid.tag() != self.config.tag && !headers.contains_key(FORWARDED_HEADER)
    }

    /// Forwards a polling request or a websocket upgrade for `sid` to its owner and answers
    /// with the owner's response; "Session ID unknown" when the owner is dead.
    pub(crate) async fn forward<B>(
        &self,
        sid: Sid,
        req: Request<B>,
        ping_interval: Duration,
        max_payload: usize,
        metrics: &Metrics,
    ) -> Response<Body>
    where
        B: http_body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        add(&metrics.forwarded_requests, 1);
        let Some(owner) = self.config.directory.locate(sid.tag()) else {
            return self.owner_dead(sid, &ForwardError::UnknownOwner(sid.tag()), metrics);
        };
        let result = if http_util::is_websocket_upgrade(&req) {
            self.relay_upgrade(&owner, req, metrics).await
        } else {
            let wait = if req.method() == http::Method::GET {
                ping_interval + self.config.answer_timeout
            } else {
                self.config.answer_timeout
            };
            let (parts, body) = req.into_parts();
            let body = match Limited::new(body, max_payload).collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(err) => {
                    if err
                        .downcast_ref::<http_body_util::LengthLimitError>()
                        .is_some()
                    {
                        add(&metrics.payloads_too_large, 1);
                        return http_util::payload_too_large();
                    }
                    return EngineError::BadRequest.into_response();
                }
            };
            let mut out = Request::builder()
                .method(parts.method)
                .uri(origin_form(&parts.uri))
                .body(Full::new(body))
                .unwrap_or_default();
            *out.headers_mut() = end_to_end(&parts.headers);
            mark(out.headers_mut(), &owner);
            match tokio::time::timeout(wait, self.send(&owner, out)).await {
                Ok(result) => result,
                Err(_) => Err(ForwardError::Timeout(owner.clone())),
            }
        };
        match result {
            Ok(response) => response,
            Err(err) => self.owner_dead(sid, &err, metrics),
        }
    }

    fn owner_dead(&self, sid: Sid, err: &ForwardError, metrics: &Metrics) -> Response<Body> {
        add(&metrics.forward_failures, 1);
        tracing::info!(sid = %sid, error = %err, "forwarding failed: answered as an unknown session");
        EngineError::UnknownSid.into_response()
    }

    /// Sends `req` on an idle pooled connection to `owner`, or a new one, and relays the answer.
    async fn send(
        &self,
        owner: &str,
        mut req: Request<Full<Bytes>>,
    ) -> Result<Response<Body>, ForwardError> {
        // A pooled connection the owner closed while idle hands the request back unsent: then
        // the next one, or a fresh connection, carries it.
        loop {
            let pooled = self.take_idle(owner);
            let fresh = pooled.is_none();
            let mut sender = match pooled {
                Some(sender) => sender,
                None => self.connect(owner).await?,
            };
            if sender.ready().await.is_err() {
                if fresh {
                    return Err(ForwardError::Timeout(owner.to_owned()));
                }
                continue;
            }
            match sender.try_send_request(req).await {
                Ok(response) => {
                    let (parts, body) = response.into_parts();
                    let limit = self.config.max_response_bytes;
                    let body = match Limited::new(body, limit).collect().await {
                        Ok(collected) => collected.to_bytes(),
                        Err(_) => return Err(ForwardError::TooLarge(owner.to_owned())),
                    };
                    self.put_idle(owner, sender);
                    let mut out = Response::new(Full::new(body));
                    *out.status_mut() = parts.status;
                    *out.headers_mut() = end_to_end(&parts.headers);
                    return Ok(out);
                }
                Err(mut err) => match err.take_message() {
                    Some(unsent) if !fresh => req = unsent,
                    _ => return Err(ForwardError::Http(owner.to_owned(), err.into_error())),
                },
            }
        }
    }

    fn take_idle(&self, owner: &str) -> Option<Sender> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let list = idle.get_mut(owner)?;
        while let Some(sender) = list.pop() {
            if !sender.is_closed() {
                return Some(sender);
            }
        }
        None
    }

    fn put_idle(&self, owner: &str, sender: Sender) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let list = idle.entry(owner.to_owned()).or_default();
        list.retain(|s| !s.is_closed());
        if list.len() < self.config.max_idle_per_owner {
            list.push(sender);
        }
    }

    async fn open(&self, owner: &str) -> Result<TcpStream, ForwardError> {
        let connect = TcpStream::connect(owner);
        let stream = match tokio::time::timeout(self.config.answer_timeout, connect).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(err)) => return Err(ForwardError::Connect(owner.to_owned(), err)),
            Err(_) => return Err(ForwardError::Timeout(owner.to_owned())),
        };
        let _ = stream.set_nodelay(true);
        Ok(stream)
    }

    async fn connect(&self, owner: &str) -> Result<Sender, ForwardError> {
        let stream = self.open(owner).await?;
        let (sender, conn) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| ForwardError::Http(owner.to_owned(), e))?;
        tokio::spawn(async move {
            if let Err(err) = conn.await {
                tracing::trace!(error = %err, "forwarding connection ended with an error");
            }
        });
        Ok(sender)
    }

    /// Relays a websocket upgrade to `owner` on a connection of its own, then copies bytes both
    /// ways until either side closes.
    async fn relay_upgrade<B>(
        &self,
        owner: &str,
        mut req: Request<B>,
        metrics: &Metrics,
    ) -> Result<Response<Body>, ForwardError> {
        let Some(client_upgrade) = req.extensions_mut().remove::<OnUpgrade>() else {
            return Ok(EngineError::BadRequest.into_response());
        };
        let (uri, mut headers) = (origin_form(req.uri()), req.headers().clone());
        drop(req);
        headers.remove(header::HOST);
        mark(&mut headers, owner);
        let answer = async {
            let stream = self.open(owner).await?;
            let (mut sender, conn) = http1::handshake::<_, Empty<Bytes>>(TokioIo::new(stream))
                .await
                .map_err(|e| ForwardError::Http(owner.to_owned(), e))?;
            tokio::spawn(async move {
                if let Err(err) = conn.with_upgrades().await {
                    tracing::trace!(error = %err, "relayed websocket ended with an error");
                }
            });
            let mut out = Request::builder()
                .method(http::Method::GET)
                .uri(uri)
                .body(Empty::new())
                .unwrap_or_default();
            *out.headers_mut() = headers;
            sender
                .send_request(out)
                .await
                .map_err(|e| ForwardError::Http(owner.to_owned(), e))
        };
        let mut response = match tokio::time::timeout(self.config.answer_timeout, answer).await {
            Ok(result) => result?,
            Err(_) => return Err(ForwardError::Timeout(owner.to_owned())),
        };
        let (status, headers) = (response.status(), response.headers().clone());
        if status != http::StatusCode::SWITCHING_PROTOCOLS {
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| ForwardError::Http(owner.to_owned(), e))?
                .to_bytes();
            let mut out = Response::new(Full::new(body));
            *out.status_mut() = status;
            *out.headers_mut() = end_to_end(&headers);
            return Ok(out);
        }
        let owner_upgrade = hyper::upgrade::on(&mut response);
        add(&metrics.relayed_websockets, 1);
        tokio::spawn(async move {
            let (client, owner) = match tokio::join!(client_upgrade, owner_upgrade) {
                (Ok(client), Ok(owner)) => (client, owner),
                _ => return,
            };
            let (mut client, mut owner) = (TokioIo::new(client), TokioIo::new(owner));
            let _ = tokio::io::copy_bidirectional(&mut client, &mut owner).await;
        });
        let mut out = Response::new(Full::new(Bytes::new()));
        *out.status_mut() = status;
        *out.headers_mut() = headers;
        Ok(out)
    }
}

/// The path and query of `uri`, as sent to the owner.
fn origin_form(uri: &http::Uri) -> http::Uri {
    uri.path_and_query()
        .map(|pq| pq.as_str())
        .unwrap_or("/")
        .parse()
        .unwrap_or_default()
}

fn mark(headers: &mut HeaderMap, owner: &str) {
    headers.insert(FORWARDED_HEADER, HeaderValue::from_static("1"));
    if let Ok(host) = HeaderValue::from_str(owner) {
        headers.insert(header::HOST, host);
    }
}
