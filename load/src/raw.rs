//! A minimal WebSocket client on the raw TCP stream, for the subscribers' receive path, where
//! the generator spends almost all of its time: one `recv` per wake-up into a large per-thread
//! buffer, frames parsed in place (no allocation, no UTF-8 validation, no `Message`), and the
//! socket's readiness cleared after a short read (which on an edge-triggered poller means the
//! socket was drained) instead of with a second, empty `recv`.
//!
//! It speaks the client side of RFC 6455 that the scenarios need: the upgrade (the server's
//! `Sec-WebSocket-Accept` is checked), unfragmented text frames in both directions (client
//! frames masked), ping → pong, close. The Engine.IO/Socket.IO handshake on top
//! (`0{..}` → `40` → `40{..}`, then `join`) is the same as [`crate::client`]'s.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io;
use std::net::IpAddr;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::handshake::{client::generate_key, derive_accept_key};

use crate::client::{self, OpenError, Packet, Stage, Target, fail};

/// Bytes read per `recv` at most (the per-thread buffer; grown for a larger frame).
const SCRATCH: usize = 64 * 1024;
/// Longest upgrade response accepted.
const MAX_RESPONSE: usize = 8 * 1024;

thread_local! {
    /// The read buffer, shared by every connection a thread serves: a connection keeps only
    /// the bytes of an incomplete frame between reads ([`RawWs::carry`]).
    static BUF: RefCell<Vec<u8>> = RefCell::new(vec![0; SCRATCH]);
}

/// A frame's header: its first byte (FIN, opcode), where its payload starts, and its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Header {
    first: u8,
    start: usize,
    len: usize,
}

/// Parses the header at the start of `b`: `Ok(None)` when more bytes are needed; an error for
/// a masked frame (servers must not mask) or a length that does not fit.
fn header(b: &[u8]) -> io::Result<Option<Header>> {
    let [first, second, ..] = *b else {
        return Ok(None);
    };
    if second & 0x80 != 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "masked frame from the server",
        ));
    }
    let (start, len) = match second & 0x7f {
        126 => match b.get(2..4) {
            Some(x) => (4, usize::from(u16::from_be_bytes([x[0], x[1]]))),
            None => return Ok(None),
        },
        127 => match b.get(2..10) {
            Some(x) => {
                let mut n = [0; 8];
                n.copy_from_slice(x);
                let len = usize::try_from(u64::from_be_bytes(n))
                    .ok()
                    .filter(|l| *l <= 1 << 30)
                    .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "frame too long"))?;
                (10, len)
            }
            None => return Ok(None),
        },
        n => (2, usize::from(n)),
    };
    Ok(Some(Header { first, start, len }))
}

/// What [`parse_frames`] found besides the text frames it handed over.
#[derive(Debug, Default, PartialEq, Eq)]
struct Control {
    /// A close frame arrived (what follows it is ignored).
    closed: bool,
    /// The payload of the last ping frame, to answer.
    ping: Option<Vec<u8>>,
    /// Bytes consumed (the rest is an incomplete frame).
    used: usize,
    /// Bytes the incomplete frame at `used` needs in all, when its header is complete.
    need: Option<usize>,
}

/// Hands every complete frame of `b` to `on_frame` (text payloads as `Some`; binary,
/// fragmented or unknown frames as `None`), handles the control frames.
fn parse_frames(b: &[u8], on_frame: &mut impl FnMut(Option<&[u8]>)) -> io::Result<Control> {
    let mut ctl = Control::default();
    let mut at = 0;
    while let Some(h) = header(&b[at..])? {
        let end = at + h.start + h.len;
        if end > b.len() {
            ctl.need = Some(h.start + h.len);
            break;
        }
        let payload = &b[at + h.start..end];
        at = end;
        match (h.first & 0x80 != 0, h.first & 0x0f) {
            (true, 0x1) => on_frame(Some(payload)),
            (_, 0x8) => {
                ctl.closed = true;
                break;
            }
            (_, 0x9) => ctl.ping = Some(payload.to_vec()),
            (_, 0xa) => {}
            _ => on_frame(None),
        }
    }
    ctl.used = at;
    Ok(ctl)
}

/// Appends a masked client frame with opcode `op` to `out`.
fn encode(out: &mut Vec<u8>, op: u8, payload: &[u8], mask: [u8; 4]) {
    out.push(0x80 | op);
    match payload.len() {
        n @ 0..126 => out.push(0x80 | n as u8),
        n if n <= usize::from(u16::MAX) => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&mask);
    out.extend(payload.iter().zip(mask.iter().cycle()).map(|(b, m)| b ^ m));
}

/// A client WebSocket on the raw TCP stream.
#[derive(Debug)]
pub(crate) struct RawWs {
    stream: TcpStream,
    /// An incomplete frame left over from the last read.
    carry: Vec<u8>,
    /// Text frames read while waiting for something else (handshake, join).
    pending: VecDeque<Vec<u8>>,
    /// Masking keys: a cheap sequence is enough (the key only defeats proxy cache poisoning).
    mask: u32,
    /// The socket id the CONNECT answer gave.
    sid: Option<String>,
    out: Vec<u8>,
}

impl RawWs {
    /// Opens a Socket.IO connection to namespace `/`, as [`client::open`] does.
    pub(crate) async fn open(
        target: &Target,
        source: Option<IpAddr>,
        timeout: Duration,
    ) -> Result<RawWs, OpenError> {
        match tokio::time::timeout(timeout, Self::open_inner(target, source)).await {
            Ok(result) => result,
            Err(_) => Err(fail(Stage::Timeout, "handshake timed out")),
        }
    }

    async fn open_inner(target: &Target, source: Option<IpAddr>) -> Result<RawWs, OpenError> {
        let mut stream = client::connect_tcp(target, source).await?;
        let (host, path) = target
            .url
            .strip_prefix("ws://")
            .and_then(|r| r.find('/').map(|i| r.split_at(i)))
            .ok_or_else(|| fail(Stage::Upgrade, "bad target url"))?;
        let key = generate_key();
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n\r\n"
        );
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(|e| fail(Stage::Upgrade, e))?;
        let mut response = Vec::with_capacity(512);
        let head_len = loop {
            if let Some(i) = response.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if response.len() > MAX_RESPONSE {
                return Err(fail(Stage::Upgrade, "upgrade response too long"));
            }
            let mut chunk = [0u8; 1024];
            let n = stream
                .read(&mut chunk)
                .await
                .map_err(|e| fail(Stage::Upgrade, e))?;
            if n == 0 {
                return Err(fail(Stage::Upgrade, "closed during the upgrade"));
            }
            response.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&response[..head_len]);
        let mut lines = head.lines();
        let status = lines.next().unwrap_or("");
        if status.split_whitespace().nth(1) != Some("101") {
            return Err(fail(Stage::Upgrade, format!("got {status:.60}")));
        }
        let accept = lines.find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.trim()
                .eq_ignore_ascii_case("sec-websocket-accept")
                .then(|| value.trim().to_owned())
        });
        if accept.as_deref() != Some(derive_accept_key(key.as_bytes()).as_str()) {
            return Err(fail(Stage::Upgrade, "bad Sec-WebSocket-Accept"));
        }
        // Frames that came with the response (the Engine.IO open packet, often).
        let mut pending = VecDeque::new();
        let rest = &response[head_len..];
        let ctl = parse_frames(rest, &mut |f: Option<&[u8]>| {
            if let Some(p) = f {
                pending.push_back(p.to_vec());
            }
        })
        .map_err(|e| fail(Stage::Open, e))?;
        if ctl.closed {
            return Err(fail(Stage::Open, "closed"));
        }
        let mut ws = RawWs {
            stream,
            carry: rest[ctl.used..].to_vec(),
            pending,
            mask: crate::stats::now_ns() as u32 | 1,
            sid: None,
            out: Vec::with_capacity(64),
        };
        // Engine.IO open packet, then Socket.IO CONNECT and its answer.
        loop {
            let t = ws.text().await.map_err(|e| fail(Stage::Open, e))?;
            match t.first() {
                Some(b'0') => break,
                Some(b'2') => ws.send_text("3").await.map_err(|e| fail(Stage::Open, e))?,
                _ => return Err(fail(Stage::Open, String::from_utf8_lossy(&t))),
            }
        }
        ws.send_text("40")
            .await
            .map_err(|e| fail(Stage::Connect, e))?;
        loop {
            let t = ws.text().await.map_err(|e| fail(Stage::Connect, e))?;
            match client::parse(&String::from_utf8_lossy(&t)) {
                Packet::Connect => {
                    ws.sid = connect_sid(&t);
                    return Ok(ws);
                }
                Packet::ConnectError(why) => {
                    return Err(fail(Stage::Connect, format!("refused: {why:.60}")));
                }
                Packet::Ping => ws
                    .send_text("3")
                    .await
                    .map_err(|e| fail(Stage::Connect, e))?,
                _ => {}
            }
        }
    }

    /// The socket id of namespace `/`, from the CONNECT answer.
    pub(crate) fn sid(&self) -> Option<&str> {
        self.sid.as_deref()
    }

    /// Sends `join` for `room` and waits for its ack (answering pings meanwhile).
    pub(crate) async fn join(&mut self, room: &str, timeout: Duration) -> anyhow::Result<()> {
        let frame = format!(r#"420["join",{}]"#, serde_json::to_string(room)?);
        self.send_text(&frame).await?;
        let wait = async {
            let mut kept = VecDeque::new();
            loop {
                let t = self.text().await?;
                match client::parse(&String::from_utf8_lossy(&t)) {
                    Packet::Ack { id: 0, .. } => break,
                    Packet::Ping => self.send_text("3").await?,
                    Packet::Close | Packet::Disconnect => bail!("disconnected while joining"),
                    // Anything else (a message already) is for the caller.
                    _ => kept.push_back(t),
                }
            }
            kept.append(&mut self.pending);
            self.pending = kept;
            Ok(())
        };
        tokio::time::timeout(timeout, wait)
            .await
            .context("join timed out")?
    }

    /// Text frames that arrived before the caller started reading ([`RawWs::join`]).
    pub(crate) fn take_pending(&mut self) -> VecDeque<Vec<u8>> {
        std::mem::take(&mut self.pending)
    }

    /// The next text frame (allocating: for handshakes).
    async fn text(&mut self) -> io::Result<Vec<u8>> {
        loop {
            if let Some(t) = self.pending.pop_front() {
                return Ok(t);
            }
            let mut got = VecDeque::new();
            let open = self
                .read(|f: Option<&[u8]>| {
                    if let Some(p) = f {
                        got.push_back(p.to_vec());
                    }
                })
                .await?;
            self.pending.append(&mut got);
            if !open && self.pending.is_empty() {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
    }

    /// Sends a text frame.
    pub(crate) async fn send_text(&mut self, text: &str) -> io::Result<()> {
        self.send(0x1, text.as_bytes()).await
    }

    async fn send(&mut self, op: u8, payload: &[u8]) -> io::Result<()> {
        // xorshift32: a different key per frame.
        self.mask ^= self.mask << 13;
        self.mask ^= self.mask >> 17;
        self.mask ^= self.mask << 5;
        self.out.clear();
        encode(&mut self.out, op, payload, self.mask.to_le_bytes());
        self.stream.write_all(&self.out).await
    }

    /// Waits for data, reads it with one `recv` (up to 64 KiB), and hands each complete frame
    /// to `on_frame`: a text frame's payload as `Some`, a binary, fragmented or unknown frame as
    /// `None`. Answers WebSocket pings. Returns `false` once the server closed (close frame or
    /// end of stream). Cancel-safe: nothing is consumed before the data is there.
    pub(crate) async fn read(
        &mut self,
        mut on_frame: impl FnMut(Option<&[u8]>),
    ) -> io::Result<bool> {
        loop {
            self.stream.readable().await?;
            let RawWs { stream, carry, .. } = self;
            let ctl = BUF.with_borrow_mut(|buf| -> io::Result<Option<Control>> {
                let kept = carry.len();
                if buf.len() < kept + 1024 {
                    buf.resize((kept + 1024).next_power_of_two(), 0);
                }
                buf[..kept].copy_from_slice(carry);
                let space = buf.len() - kept;
                let mut n = 0;
                let res = stream.try_io(Interest::READABLE, || {
                    n = stream.try_read(&mut buf[kept..])?;
                    if n > 0 && n < space {
                        // A short read drained the socket: have tokio clear its readiness now
                        // (only if no new event came meanwhile) rather than after an empty
                        // `recv` on the next wake-up.
                        Err(io::ErrorKind::WouldBlock.into())
                    } else {
                        Ok(())
                    }
                });
                match res {
                    Err(e) if e.kind() != io::ErrorKind::WouldBlock => return Err(e),
                    _ if n == 0 => {
                        return match res {
                            // Spurious readiness: wait again.
                            Err(_) => Ok(None),
                            // End of stream.
                            Ok(()) => Ok(Some(Control {
                                closed: true,
                                ..Control::default()
                            })),
                        };
                    }
                    _ => {}
                }
                let filled = kept + n;
                let ctl = parse_frames(&buf[..filled], &mut on_frame)?;
                carry.clear();
                if !ctl.closed {
                    carry.extend_from_slice(&buf[ctl.used..filled]);
                    if let Some(need) = ctl.need
                        && need + 1024 > buf.len()
                    {
                        // A frame larger than the buffer: grow it for the next reads.
                        buf.resize((need + 1024).next_power_of_two(), 0);
                    }
                }
                Ok(Some(ctl))
            })?;
            let Some(ctl) = ctl else { continue };
            if let Some(payload) = ctl.ping {
                self.send(0xa, &payload).await?;
            }
            return Ok(!ctl.closed);
        }
    }
}

/// The `sid` of a CONNECT answer (`40{"sid":"…"}`).
fn connect_sid(frame: &[u8]) -> Option<String> {
    let json = frame.strip_prefix(b"40")?;
    let value: serde_json::Value = serde_json::from_slice(json).ok()?;
    value.get("sid")?.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![first];
        match payload.len() {
            n @ 0..126 => f.push(n as u8),
            n if n <= 65535 => {
                f.push(126);
                f.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                f.push(127);
                f.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn parses_frames_and_keeps_the_incomplete_one() {
        let big = vec![b'x'; 300];
        let huge = vec![b'y'; 70_000];
        let mut bytes = frame(0x81, b"42[\"message\",[1,2,3,1]]");
        bytes.extend(frame(0x89, b"hi"));
        bytes.extend(frame(0x81, &big));
        bytes.extend(frame(0x82, b"\x01"));
        bytes.extend(frame(0x81, &huge));
        let mut seen = Vec::new();
        let full = bytes.len();
        // Cut inside the last frame's payload.
        let ctl = parse_frames(&bytes[..full - 10], &mut |f: Option<&[u8]>| {
            seen.push(f.map(<[u8]>::len));
        })
        .unwrap();
        assert_eq!(seen, [Some(23), Some(300), None]);
        assert_eq!(ctl.ping.as_deref(), Some(&b"hi"[..]));
        assert!(!ctl.closed);
        assert_eq!(ctl.need, Some(10 + 70_000));
        assert_eq!(full - ctl.used, 10 + 70_000);
        // Cut inside a header: nothing more, no size known yet.
        let ctl = parse_frames(&bytes[..1], &mut |_: Option<&[u8]>| {}).unwrap();
        assert_eq!((ctl.used, ctl.need), (0, None));
        // A close frame ends it.
        let mut bytes = frame(0x88, b"");
        bytes.extend(frame(0x81, b"x"));
        let mut n = 0;
        let ctl = parse_frames(&bytes, &mut |_: Option<&[u8]>| n += 1).unwrap();
        assert!(ctl.closed);
        assert_eq!(n, 0);
        // Fragments are not text frames.
        let ctl = parse_frames(&frame(0x01, b"x"), &mut |f: Option<&[u8]>| {
            assert_eq!(f, None);
        })
        .unwrap();
        assert_eq!(ctl.used, 3);
        // Masked server frames are refused.
        assert!(parse_frames(&[0x81, 0x81, 0, 0, 0, 0, 0], &mut |_: Option<&[u8]>| {}).is_err());
    }

    /// Against a tokio-tungstenite server: the upgrade, the Socket.IO handshake and join,
    /// messages in one read and across reads, an Engine.IO ping, a WebSocket ping, the close.
    #[tokio::test]
    async fn talks_to_a_websocket_server() {
        use futures_util::{SinkExt, StreamExt};
        use tokio_tungstenite::tungstenite::Message;

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
            let text = |s: &str| Message::Text(s.to_owned().into());
            ws.send(text(r#"0{"sid":"x"}"#)).await.unwrap();
            assert_eq!(ws.next().await.unwrap().unwrap(), text("40"));
            ws.send(text(r#"40{"sid":"y"}"#)).await.unwrap();
            assert_eq!(
                ws.next().await.unwrap().unwrap(),
                text(r#"420["join","r"]"#)
            );
            // The ack and a first message together.
            ws.feed(text("430[true]")).await.unwrap();
            ws.feed(text(r#"42["message",[0,1,5,1]]"#)).await.unwrap();
            ws.flush().await.unwrap();
            ws.send(text("2")).await.unwrap();
            assert_eq!(ws.next().await.unwrap().unwrap(), text("3"));
            ws.send(Message::Ping(b"p".to_vec().into())).await.unwrap();
            assert_eq!(
                ws.next().await.unwrap().unwrap(),
                Message::Pong(b"p".to_vec().into())
            );
            let long = format!(r#"42["message",[0,2,5,1,"{}"]]"#, "x".repeat(100_000));
            ws.send(text(&long)).await.unwrap();
            ws.close(None).await.unwrap();
        });
        let target = Target::parse(&addr.to_string()).unwrap();
        let mut ws = RawWs::open(&target, None, Duration::from_secs(5))
            .await
            .unwrap();
        ws.join("r", Duration::from_secs(5)).await.unwrap();
        let mut texts: Vec<Vec<u8>> = ws.take_pending().into_iter().collect();
        loop {
            let mut got = Vec::new();
            let open = ws
                .read(|f: Option<&[u8]>| got.push(f.unwrap().to_vec()))
                .await
                .unwrap();
            for t in got {
                if t == b"2" {
                    ws.send_text("3").await.unwrap();
                } else {
                    texts.push(t);
                }
            }
            if !open {
                break;
            }
        }
        server.await.unwrap();
        assert_eq!(texts.len(), 2);
        assert_eq!(texts[0], br#"42["message",[0,1,5,1]]"#);
        assert_eq!(texts[1].len(), 100_000 + 26);
    }

    #[test]
    fn encodes_masked_frames() {
        let mut out = Vec::new();
        encode(&mut out, 0x1, b"abc", [1, 2, 3, 4]);
        assert_eq!(out, [0x81, 0x83, 1, 2, 3, 4, b'a' ^ 1, b'b' ^ 2, b'c' ^ 3]);
        out.clear();
        encode(&mut out, 0x1, &[0; 200], [0; 4]);
        assert_eq!(&out[..4], [0x81, 0xfe, 0, 200]);
        assert_eq!(out.len(), 4 + 4 + 200);
    }
}
