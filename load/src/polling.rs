//! Engine.IO long-polling as a client transport (`--transport polling`): the same message
//! stream and sink as a WebSocket, over HTTP/1.1 with hyper's client.
//!
//! As browsers do, a client keeps two keep-alive connections: one carries the long-polling
//! GETs (each answered with every packet queued by then, joined by `\x1e`), the other the POSTs
//! of its own packets (one at a time: the protocol forbids overlapping POSTs; packets sent
//! while one is in flight go together in the next).

use std::collections::VecDeque;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures_util::{Sink, Stream};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use crate::client::{OpenError, Stage, Target, connect_tcp, fail};

type Request = Pin<Box<dyn Future<Output = Result<Bytes, WsError>> + Send>>;

const SEPARATOR: u8 = 0x1e;

/// One Engine.IO session over long-polling.
pub(crate) struct Polling {
    /// `/path/?EIO=4&transport=polling&sid=...`.
    uri: String,
    host: String,
    get: SendRequest<Full<Bytes>>,
    post: SendRequest<Full<Bytes>>,
    /// The GET in flight (kept across polls: dropping a `next()` future loses nothing).
    polling: Option<Request>,
    /// The POST in flight.
    posting: Option<Request>,
    /// Packets received, not yet taken.
    inbox: VecDeque<String>,
    /// Packets to send in the next POST.
    outbox: Vec<u8>,
    closed: bool,
}

fn io_error(what: impl std::fmt::Display) -> WsError {
    WsError::Io(std::io::Error::other(what.to_string()))
}

async fn http_connection(
    target: &Target,
    source: Option<IpAddr>,
) -> Result<SendRequest<Full<Bytes>>, OpenError> {
    let stream = connect_tcp(target, source).await?;
    let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| fail(Stage::Upgrade, e))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(send)
}

/// Sends a request on `conn` and collects the body of a `200` answer.
fn request(
    conn: &mut SendRequest<Full<Bytes>>,
    method: http::Method,
    uri: &str,
    host: &str,
    body: Bytes,
) -> Request {
    let req = http::Request::builder()
        .method(method)
        .uri(uri)
        .header(http::header::HOST, host)
        .header(http::header::CONTENT_TYPE, "text/plain;charset=UTF-8")
        .body(Full::new(body));
    let sent = req.map(|req| conn.send_request(req));
    Box::pin(async move {
        let response = sent.map_err(io_error)?.await.map_err(io_error)?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(io_error)?
            .to_bytes();
        if status != http::StatusCode::OK {
            return Err(io_error(format!(
                "HTTP {status}: {}",
                String::from_utf8_lossy(&body)
            )));
        }
        Ok(body)
    })
}

impl Polling {
    /// The Engine.IO handshake over polling: returns the session and the open packet.
    pub(crate) async fn open(
        target: &Target,
        source: Option<IpAddr>,
    ) -> Result<(Polling, String), OpenError> {
        let mut get = http_connection(target, source).await?;
        let host = target.addr.to_string();
        let base = format!("{}?EIO=4&transport=polling", target.path);
        let body = request(&mut get, http::Method::GET, &base, &host, Bytes::new())
            .await
            .map_err(|e| fail(Stage::Open, e))?;
        let open = String::from_utf8_lossy(&body).into_owned();
        let sid = open
            .strip_prefix('0')
            .and_then(|json| serde_json::from_str::<serde_json::Value>(json).ok())
            .and_then(|v| v["sid"].as_str().map(str::to_owned))
            .ok_or_else(|| fail(Stage::Open, format!("got {open:.40}")))?;
        let via;
        let polled = match target.poll_via {
            Some(addr) => {
                via = Target {
                    addr,
                    ..target.clone()
                };
                get = http_connection(&via, source).await?;
                &via
            }
            None => target,
        };
        let post = http_connection(polled, source).await?;
        let session = Polling {
            uri: format!("{base}&sid={sid}"),
            host,
            get,
            post,
            polling: None,
            posting: None,
            inbox: VecDeque::new(),
            outbox: Vec::new(),
            closed: false,
        };
        Ok((session, open))
    }

    fn start_post(&mut self) {
        let body = Bytes::from(std::mem::take(&mut self.outbox));
        self.posting = Some(request(
            &mut self.post,
            http::Method::POST,
            &self.uri,
            &self.host,
            body,
        ));
    }
}

impl Stream for Polling {
    type Item = Result<Message, WsError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(packet) = this.inbox.pop_front() {
                return Poll::Ready(Some(Ok(Message::Text(packet.into()))));
            }
            if this.closed {
                return Poll::Ready(None);
            }
            if this.polling.is_none() {
                this.polling = Some(request(
                    &mut this.get,
                    http::Method::GET,
                    &this.uri,
                    &this.host,
                    Bytes::new(),
                ));
            }
            let result = ready!(
                this.polling
                    .as_mut()
                    .map_or(Poll::Pending, |p| p.as_mut().poll(cx))
            );
            this.polling = None;
            let body = match result {
                Ok(body) => body,
                Err(err) => {
                    this.closed = true;
                    return Poll::Ready(Some(Err(err)));
                }
            };
            for packet in body.split(|&b| b == SEPARATOR) {
                match packet {
                    b"6" => {}
                    b"1" => this.closed = true,
                    _ => this
                        .inbox
                        .push_back(String::from_utf8_lossy(packet).into_owned()),
                }
            }
        }
    }
}

impl Sink<Message> for Polling {
    type Error = WsError;

    fn poll_ready(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        // Packets queue while a POST is in flight.
        Poll::Ready(Ok(()))
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), WsError> {
        let this = self.get_mut();
        let Message::Text(text) = item else {
            return Err(io_error("polling carries text packets only"));
        };
        if !this.outbox.is_empty() {
            this.outbox.push(SEPARATOR);
        }
        this.outbox.extend_from_slice(text.as_bytes());
        Ok(())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        let this = self.get_mut();
        loop {
            if let Some(post) = this.posting.as_mut() {
                let result = ready!(post.as_mut().poll(cx));
                this.posting = None;
                result?;
            }
            if this.outbox.is_empty() {
                return Poll::Ready(Ok(()));
            }
            this.start_post();
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), WsError>> {
        let this = self.get_mut();
        if !this.closed {
            this.closed = true;
            if !this.outbox.is_empty() {
                this.outbox.push(SEPARATOR);
            }
            this.outbox.push(b'1');
        }
        Pin::new(this).poll_flush(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use futures_util::{SinkExt, StreamExt};
    use sio_server::{Event, Server, Socket};

    use crate::client::{self, Packet, Target, Transport};

    /// Against a real sio-server: the handshake and CONNECT over polling, acks, packets sent
    /// while a POST is in flight (batched into the next), and the server's close.
    #[tokio::test]
    async fn talks_to_a_socketio_server_over_polling() {
        let io = Server::builder().build();
        io.of("/").on("echo", |_s: Socket, ev: Event| async move {
            ev.ack.send_payload(ev.payload);
        });
        io.of("/").on("bye", |s: Socket, _ev: Event| async move {
            s.disconnect(true);
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let served = io.clone();
        tokio::spawn(async move {
            let _ = served
                .serve(listener, async {
                    let _ = stop_rx.await;
                })
                .await;
        });
        let mut target = Target::parse(&addr.to_string()).unwrap();
        target.transport = Transport::Polling;
        let mut conn = client::open(&target, None, Duration::from_secs(5))
            .await
            .unwrap();
        assert!(matches!(conn, client::Ws::Polling(_)));
        for id in 0..3u64 {
            conn.feed(format!(r#"42{id}["echo","hi {id}"]"#).into())
                .await
                .unwrap();
        }
        conn.flush().await.unwrap();
        let mut acks = Vec::new();
        while acks.len() < 3 {
            let msg = tokio::time::timeout(Duration::from_secs(5), conn.next())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            let text = msg.into_text().unwrap();
            if let Packet::Ack { id, args } = client::parse(&text) {
                assert_eq!(args, format!(r#"["hi {id}"]"#));
                acks.push(id);
            }
        }
        assert_eq!(acks, [0, 1, 2]);
        conn.send(r#"42["bye"]"#.into()).await.unwrap();
        // The server's DISCONNECT, then the end of the session.
        let mut rest = Vec::new();
        while let Ok(Some(Ok(msg))) =
            tokio::time::timeout(Duration::from_secs(5), conn.next()).await
        {
            rest.push(msg.into_text().unwrap().to_string());
        }
        assert_eq!(rest, ["41"]);
        let _ = stop_tx.send(());
    }
}
