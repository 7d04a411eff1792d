//! The floor of a node's cost for the cluster traffic it receives: a Redis subscriber that
//! reads one channel, finds where each message (a RESP push) ends, and does nothing else. With
//! `--forward` it also writes every read, as it came, to one local TCP client (a thread that
//! drains it), which is what a node minimally does to deliver the messages to a member.
//!
//! `sio-peer-redis-floor --redis 127.0.0.1:6379 --channel NAME [--sharded] [--forward]`
//!
//! Attached next to a node to the same channel under the same load (`load/floor.sh`), its CPU
//! per message is the part of that node's cost that no implementation can avoid on the
//! machine: the wake-up, the read, and (with `--forward`) one socket write per read. It prints
//! `reads <n> messages <n>` to stderr about once a second, blocking reads on std sockets, no
//! runtime, no allocation per message.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// Where the command line points the floor.
struct Args {
    redis: String,
    channel: String,
    sharded: bool,
    forward: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut redis = None;
    let mut channel = None;
    let (mut sharded, mut forward) = (false, false);
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--redis" => redis = it.next(),
            "--channel" => channel = it.next(),
            "--sharded" => sharded = true,
            "--forward" => forward = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(Args {
        redis: redis.ok_or("--redis HOST:PORT is required")?,
        channel: channel.ok_or("--channel NAME is required")?,
        sharded,
        forward,
    })
}

/// The command `[verb, channel]` as a RESP array of bulk strings.
fn command(verb: &str, channel: &str) -> Vec<u8> {
    let mut out = format!("*2\r\n${}\r\n{verb}\r\n", verb.len()).into_bytes();
    out.extend_from_slice(format!("${}\r\n", channel.len()).as_bytes());
    out.extend_from_slice(channel.as_bytes());
    out.extend_from_slice(b"\r\n");
    out
}

/// The length of the line starting at `at` (up to `\r\n`) and the number it holds after its
/// type byte, or `None` when the line is not complete yet.
fn header(buf: &[u8], at: usize) -> Option<(usize, usize)> {
    let end = buf[at..].windows(2).position(|w| w == b"\r\n")? + at;
    let n = std::str::from_utf8(&buf[at + 1..end]).ok()?.parse().ok()?;
    Some((end + 2 - at, n))
}

/// Where the complete RESP value starting at `at` ends, or `None` when it is not complete yet.
/// Arrays and pushes (`*`, `>`) of bulk strings (`$`) and integers (`:`), which is all that
/// a subscriber receives.
fn value_end(buf: &[u8], at: usize) -> Option<usize> {
    match *buf.get(at)? {
        b'*' | b'>' => {
            let (len, n) = header(buf, at)?;
            let mut pos = at + len;
            for _ in 0..n {
                pos = value_end(buf, pos)?;
            }
            Some(pos)
        }
        b'$' => {
            let (len, n) = header(buf, at)?;
            let end = at + len + n + 2;
            (end <= buf.len()).then_some(end)
        }
        _ => {
            let (len, _) = header(buf, at).or_else(|| {
                let end = buf[at..].windows(2).position(|w| w == b"\r\n")?;
                Some((end + 2, 0))
            })?;
            Some(at + len)
        }
    }
}

/// A local client for `--forward`: a connected socket whose other end a thread drains.
fn client() -> io::Result<TcpStream> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    std::thread::spawn(move || {
        if let Ok((mut peer, _)) = listener.accept() {
            let mut buf = vec![0u8; 1 << 16];
            while matches!(peer.read(&mut buf), Ok(n) if n > 0) {}
        }
    });
    let stream = TcpStream::connect(addr)?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

fn run(args: Args) -> io::Result<()> {
    let mut redis = TcpStream::connect(&args.redis)?;
    redis.set_nodelay(true)?;
    let verb = if args.sharded {
        "SSUBSCRIBE"
    } else {
        "SUBSCRIBE"
    };
    redis.write_all(&command(verb, &args.channel))?;
    let mut sink = if args.forward { Some(client()?) } else { None };

    let mut buf = vec![0u8; 1 << 16];
    let (mut filled, mut reads, mut messages) = (0usize, 0u64, 0u64);
    let mut last = Instant::now();
    loop {
        if filled == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        let n = redis.read(&mut buf[filled..])?;
        if n == 0 {
            return Ok(());
        }
        if let Some(sink) = sink.as_mut() {
            sink.write_all(&buf[filled..filled + n])?;
        }
        filled += n;
        reads += 1;
        let mut at = 0;
        while let Some(end) = value_end(&buf[..filled], at) {
            messages += 1;
            at = end;
        }
        buf.copy_within(at..filled, 0);
        filled -= at;
        if last.elapsed() >= Duration::from_secs(1) {
            last = Instant::now();
            eprintln!("reads {reads} messages {messages}");
        }
    }
}

fn main() {
    match parse_args() {
        Ok(args) => {
            if let Err(e) = run(args) {
                eprintln!("sio-peer-redis-floor: {e}");
                std::process::exit(1);
            }
        }
        Err(e) => {
            eprintln!("sio-peer-redis-floor: {e}");
            std::process::exit(2);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_end_of_a_push_of_bulk_strings() {
        let push = b">3\r\n$8\r\nsmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n";
        assert_eq!(value_end(push, 0), Some(push.len()));
    }

    #[test]
    fn waits_for_the_rest_of_a_split_push() {
        let push = b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n";
        for cut in 0..push.len() {
            assert_eq!(value_end(&push[..cut], 0), None, "cut at {cut}");
        }
    }

    #[test]
    fn counts_the_subscribe_confirmation_as_one_value() {
        let reply = b"*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n";
        assert_eq!(value_end(reply, 0), Some(reply.len()));
    }

    #[test]
    fn writes_the_command_as_an_array_of_bulk_strings() {
        assert_eq!(
            command("SUBSCRIBE", "a#b"),
            b"*2\r\n$9\r\nSUBSCRIBE\r\n$3\r\na#b\r\n"
        );
    }
}
