//! Just enough of a Socket.IO v5 client (Engine.IO v4 over WebSocket, or long-polling with
//! `--transport polling`; JSON parser, namespace `/`) for the scenarios: open a connection from
//! a chosen source address, parse what the server sends without allocating, and answer its
//! pings.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use anyhow::{Context, bail};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};

use crate::polling::Polling;

/// A client's connection: a WebSocket, or a long-polling session, as one stream of messages
/// and one sink.
pub(crate) enum Ws {
    /// Engine.IO over WebSocket.
    Ws(Box<WebSocketStream<TcpStream>>),
    /// Engine.IO over HTTP long-polling.
    Polling(Box<Polling>),
}

impl std::fmt::Debug for Ws {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Ws::Ws(_) => "Ws::Ws",
            Ws::Polling(_) => "Ws::Polling",
        })
    }
}

impl Stream for Ws {
    type Item = Result<Message, WsError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        match self.get_mut() {
            Ws::Ws(ws) => ws.poll_next_unpin(cx),
            Ws::Polling(p) => p.poll_next_unpin(cx),
        }
    }
}

impl Sink<Message> for Ws {
    type Error = WsError;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Result<(), WsError>> {
        match self.get_mut() {
            Ws::Ws(ws) => ws.poll_ready_unpin(cx),
            Ws::Polling(p) => p.poll_ready_unpin(cx),
        }
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), WsError> {
        match self.get_mut() {
            Ws::Ws(ws) => ws.start_send_unpin(item),
            Ws::Polling(p) => p.start_send_unpin(item),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Result<(), WsError>> {
        match self.get_mut() {
            Ws::Ws(ws) => ws.poll_flush_unpin(cx),
            Ws::Polling(p) => p.poll_flush_unpin(cx),
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Result<(), WsError>> {
        match self.get_mut() {
            Ws::Ws(ws) => ws.poll_close_unpin(cx),
            Ws::Polling(p) => p.poll_close_unpin(cx),
        }
    }
}

/// The Engine.IO transport the generator's clients use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub(crate) enum Transport {
    /// WebSocket from the first request.
    #[default]
    Websocket,
    /// HTTP long-polling only (no upgrade).
    Polling,
}

/// A server to load: its socket address and the WebSocket URL of its Socket.IO endpoint.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// Where to connect.
    pub(crate) addr: SocketAddr,
    /// `ws://host:port/socket.io/?EIO=4&transport=websocket`.
    pub(crate) url: String,
    /// The endpoint's path (`/socket.io/`).
    pub(crate) path: String,
    /// How clients connect (`--transport`).
    pub(crate) transport: Transport,
    /// Polling only: where every GET and POST after the handshake goes (`--poll-via`), when not
    /// to `addr`.
    pub(crate) poll_via: Option<SocketAddr>,
}

impl Target {
    /// Parses `host:port`, `http://host:port[/path/]` or `ws://host:port[/path/]` (the path
    /// defaults to `/socket.io/`). Only loopback addresses are accepted.
    pub(crate) fn parse(spec: &str) -> anyhow::Result<Target> {
        let rest = spec
            .strip_prefix("ws://")
            .or_else(|| spec.strip_prefix("http://"))
            .unwrap_or(spec);
        let (hostport, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/socket.io/"),
        };
        let mut path = if path == "/" {
            "/socket.io/".to_owned()
        } else {
            path.to_owned()
        };
        if !path.ends_with('/') {
            path.push('/');
        }
        let addr = hostport
            .to_socket_addrs()
            .with_context(|| format!("resolving target {spec}"))?
            .next()
            .with_context(|| format!("target {spec} resolves to nothing"))?;
        if !addr.ip().is_loopback() {
            bail!("target {spec}: only loopback addresses (127.0.0.0/8, ::1) may be loaded");
        }
        Ok(Target {
            addr,
            url: format!("ws://{hostport}{path}?EIO=4&transport=websocket"),
            path,
            transport: Transport::Websocket,
            poll_via: None,
        })
    }
}

/// Checks that every source address is a loopback address.
pub(crate) fn check_sources(ips: &[IpAddr]) -> anyhow::Result<()> {
    for ip in ips {
        if !ip.is_loopback() {
            bail!("source address {ip}: only loopback addresses may be used");
        }
    }
    Ok(())
}

/// Where opening a connection failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Stage {
    /// Creating, binding or connecting the TCP socket.
    Tcp,
    /// The WebSocket upgrade.
    Upgrade,
    /// Waiting for the Engine.IO open packet.
    Open,
    /// Waiting for the Socket.IO CONNECT answer.
    Connect,
    /// The whole handshake took longer than the connect timeout.
    Timeout,
}

impl Stage {
    /// A short name for tables.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Stage::Tcp => "tcp",
            Stage::Upgrade => "ws-upgrade",
            Stage::Open => "eio-open",
            Stage::Connect => "sio-connect",
            Stage::Timeout => "timeout",
        }
    }
}

/// A failed connection attempt: the stage and the error, shortened.
#[derive(Debug, Clone)]
pub(crate) struct OpenError {
    /// Where it failed.
    pub(crate) stage: Stage,
    /// Why, in a few words (grouped in the report).
    pub(crate) reason: String,
}

/// A failure at `stage`, its reason shortened.
pub(crate) fn fail(stage: Stage, err: impl std::fmt::Display) -> OpenError {
    let mut reason = err.to_string();
    // Group "Connection refused (os error 111)" and the like, not per-attempt details.
    reason.truncate(80);
    OpenError { stage, reason }
}

fn ws_config() -> WebSocketConfig {
    let mut config = WebSocketConfig::default();
    // Small buffers: the generator may hold 20k connections and frames in these scenarios are
    // small (a larger frame still arrives whole, over several reads). tungstenite zero-fills
    // this many bytes before every read attempt, so it is also a per-message cost.
    config.read_buffer_size = 2048;
    config.write_buffer_size = 0;
    config
}

/// Opens a Socket.IO connection to namespace `/`: TCP (bound to `source` when given), the
/// WebSocket upgrade, the Engine.IO open packet, CONNECT and its answer.
pub(crate) async fn open(
    target: &Target,
    source: Option<IpAddr>,
    timeout: Duration,
) -> Result<Ws, OpenError> {
    match tokio::time::timeout(timeout, open_inner(target, source)).await {
        Ok(result) => result,
        Err(_) => Err(fail(Stage::Timeout, "handshake timed out")),
    }
}

/// Opens the TCP connection (bound to `source` when given), without Nagle.
pub(crate) async fn connect_tcp(
    target: &Target,
    source: Option<IpAddr>,
) -> Result<TcpStream, OpenError> {
    let socket = if target.addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(|e| fail(Stage::Tcp, e))?;
    if let Some(ip) = source {
        socket
            .bind(SocketAddr::new(ip, 0))
            .map_err(|e| fail(Stage::Tcp, e))?;
    }
    let stream = socket
        .connect(target.addr)
        .await
        .map_err(|e| fail(Stage::Tcp, e))?;
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

async fn open_inner(target: &Target, source: Option<IpAddr>) -> Result<Ws, OpenError> {
    let mut ws = match target.transport {
        Transport::Websocket => {
            let stream = connect_tcp(target, source).await?;
            let (mut ws, _) = tokio_tungstenite::client_async_with_config(
                target.url.as_str(),
                stream,
                Some(ws_config()),
            )
            .await
            .map_err(|e| fail(Stage::Upgrade, e))?;
            loop {
                match ws.next().await {
                    Some(Ok(Message::Text(t))) if t.starts_with('0') => break,
                    Some(Ok(Message::Text(t))) => {
                        return Err(fail(Stage::Open, format!("got {t:.40}")));
                    }
                    Some(Ok(Message::Close(_))) | None => {
                        return Err(fail(Stage::Open, "closed"));
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(fail(Stage::Open, e)),
                }
            }
            Ws::Ws(Box::new(ws))
        }
        Transport::Polling => Ws::Polling(Box::new(Polling::open(target, source).await?.0)),
    };
    ws.send(text_static("40"))
        .await
        .map_err(|e| fail(Stage::Connect, e))?;
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => match parse(&t) {
                Packet::Connect => return Ok(ws),
                Packet::ConnectError(why) => {
                    return Err(fail(Stage::Connect, format!("refused: {why:.60}")));
                }
                Packet::Ping => ws
                    .send(text_static("3"))
                    .await
                    .map_err(|e| fail(Stage::Connect, e))?,
                _ => {}
            },
            Some(Ok(Message::Close(_))) | None => return Err(fail(Stage::Connect, "closed")),
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(fail(Stage::Connect, e)),
        }
    }
}

/// A text frame from a static string (no allocation).
pub(crate) fn text_static(s: &'static str) -> Message {
    Message::Text(Utf8Bytes::from_static(s))
}

/// A packet from the server, borrowed from the frame's text.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Packet<'a> {
    /// Engine.IO ping (`2`): answer `3`.
    Ping,
    /// Engine.IO close (`1`).
    Close,
    /// Socket.IO CONNECT answer (`40{...}`).
    Connect,
    /// Socket.IO CONNECT_ERROR (`44{...}`).
    ConnectError(&'a str),
    /// Socket.IO DISCONNECT (`41`).
    Disconnect,
    /// Socket.IO EVENT (`42[...]`): its ack id and its arguments array.
    Event {
        /// The ack id, when the server wants an ack.
        ack: Option<u64>,
        /// The JSON array `["name", args...]`.
        args: &'a str,
    },
    /// Socket.IO ACK (`43<id>[...]`).
    Ack {
        /// The ack id.
        id: u64,
        /// The JSON array of the ack's arguments.
        args: &'a str,
    },
    /// Anything else (pong, noop, binary packets).
    Other,
}

/// Parses one text frame.
pub(crate) fn parse(text: &str) -> Packet<'_> {
    let b = text.as_bytes();
    match b.first() {
        Some(b'2') => return Packet::Ping,
        Some(b'1') => return Packet::Close,
        Some(b'4') => {}
        _ => return Packet::Other,
    }
    let Some(&kind) = b.get(1) else {
        return Packet::Other;
    };
    let mut rest = &text[2..];
    if rest.starts_with('/') {
        // A namespace other than `/` would be named here; skip it.
        rest = rest.find(',').map_or("", |i| &rest[i + 1..]);
    }
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let id = if digits == 0 {
        None
    } else {
        rest[..digits].parse::<u64>().ok()
    };
    let args = &rest[digits..];
    match kind {
        b'0' => Packet::Connect,
        b'1' => Packet::Disconnect,
        b'2' => Packet::Event { ack: id, args },
        b'3' => match id {
            Some(id) => Packet::Ack { id, args },
            None => Packet::Other,
        },
        b'4' => Packet::ConnectError(args),
        _ => Packet::Other,
    }
}

/// The stamp a fan-out message carries: `[publisher, seq, sent_ns, measured, padding?]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    /// Which publisher sent it.
    pub(crate) publisher: u64,
    /// Its number among that publisher's messages to that room (from 1).
    pub(crate) seq: u64,
    /// When it was written, in [`crate::stats::now_ns`] time.
    pub(crate) sent_ns: u64,
    /// Whether it was scheduled inside the measurement window (after the warm-up).
    pub(crate) measured: bool,
}

/// The stamp in the arguments of a `message` event.
pub(crate) fn parse_stamp(args: &str) -> Option<Stamp> {
    let rest = args.strip_prefix(r#"["message","#)?.trim_start();
    let rest = rest.strip_prefix('[')?;
    let mut fields = rest.splitn(5, [',', ']']);
    let mut next = || fields.next()?.trim().parse::<u64>().ok();
    Some(Stamp {
        publisher: next()?,
        seq: next()?,
        sent_ns: next()?,
        measured: next()? != 0,
    })
}

/// The stamp of a `message` event frame in the shape every server tested sends,
/// `42["message",[p,s,t,m]]` (or with padding after `m`), read straight from the bytes: no
/// UTF-8 check, no JSON parser. `None` for anything else (then [`parse`] and [`parse_stamp`]
/// decide).
pub(crate) fn fast_stamp(frame: &[u8]) -> Option<Stamp> {
    let mut rest = frame.strip_prefix(br#"42["message",["#)?;
    let mut fields = [0u64; 4];
    for (f, field) in fields.iter_mut().enumerate() {
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        // At most 19 digits: no overflow.
        if digits == 0 || digits > 19 {
            return None;
        }
        *field = rest[..digits]
            .iter()
            .fold(0, |v, d| v * 10 + u64::from(d - b'0'));
        let sep = *rest.get(digits)?;
        match (f, sep) {
            (0..3, b',') | (3, b',' | b']') => {}
            _ => return None,
        }
        rest = &rest[digits + 1..];
    }
    Some(Stamp {
        publisher: fields[0],
        seq: fields[1],
        sent_ns: fields[2],
        measured: fields[3] != 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_packets() {
        assert_eq!(parse("2"), Packet::Ping);
        assert_eq!(parse(r#"40{"sid":"x"}"#), Packet::Connect);
        assert_eq!(
            parse(r#"44{"message":"no"}"#),
            Packet::ConnectError(r#"{"message":"no"}"#)
        );
        assert_eq!(
            parse(r#"4317[true]"#),
            Packet::Ack {
                id: 17,
                args: "[true]"
            }
        );
        assert_eq!(
            parse(r#"42["message",[1,2,3]]"#),
            Packet::Event {
                ack: None,
                args: r#"["message",[1,2,3]]"#
            }
        );
        assert_eq!(
            parse(r#"42/custom,5["x"]"#),
            Packet::Event {
                ack: Some(5),
                args: r#"["x"]"#
            }
        );
        assert_eq!(parse("3"), Packet::Other);
    }

    #[test]
    fn parses_stamps() {
        let stamp = Stamp {
            publisher: 3,
            seq: 42,
            sent_ns: 123_456_789,
            measured: true,
        };
        assert_eq!(
            parse_stamp(r#"["message",[3,42,123456789,1]]"#),
            Some(stamp)
        );
        assert_eq!(
            parse_stamp(r#"["message",[3,42,123456789,1,"xxxx"]]"#),
            Some(stamp)
        );
        assert_eq!(
            parse_stamp(r#"["message", [ 3, 42, 7, 0 ]]"#).map(|s| (s.sent_ns, s.measured)),
            Some((7, false))
        );
        assert_eq!(parse_stamp(r#"["message",[1,2,3]]"#), None);
        for frame in [
            r#"42["message",[3,42,123456789,1]]"#,
            r#"42["message",[3,42,123456789,1,"xxxx"]]"#,
        ] {
            assert_eq!(fast_stamp(frame.as_bytes()), Some(stamp), "{frame}");
        }
        for frame in [
            r#"42["message",[3,42,123456789]]"#,
            r#"42["message",[3,42,123456789,1"#,
            r#"42["message", [3,42,123456789,1]]"#,
            r#"42["message",[3,,123456789,1]]"#,
            r#"42["message",[3,-42,123456789,1]]"#,
            r#"42["message",[3,99999999999999999999,1,1]]"#,
            r#"42["other",[3,42,123456789,1]]"#,
        ] {
            assert_eq!(fast_stamp(frame.as_bytes()), None, "{frame}");
        }
        assert_eq!(parse_stamp(r#"["other",[1,2,3,0]]"#), None);
    }

    #[test]
    fn targets() {
        let t = Target::parse("127.0.0.1:3000").unwrap();
        assert_eq!(
            t.url,
            "ws://127.0.0.1:3000/socket.io/?EIO=4&transport=websocket"
        );
        let t = Target::parse("http://127.0.0.2:80/sio").unwrap();
        assert_eq!(t.url, "ws://127.0.0.2:80/sio/?EIO=4&transport=websocket");
        assert!(Target::parse("10.0.0.1:3000").is_err());
    }
}
