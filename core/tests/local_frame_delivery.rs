//! `LocalAdapter::broadcast_local_frame` delivers a frame encoded elsewhere exactly as
//! `broadcast_local` delivers the packet it encodes (the same sockets, the same frame, the same
//! volatility), and declines, delivering nothing, where the packet itself is needed: a server
//! on the msgpack parser, or index hooks that observe deliveries.

mod support;

use std::sync::{Arc, Mutex};

use sio_core::adapter::{
    BroadcastFlags, BroadcastOptions, IndexObserver, LocalAdapter, LocalAdapterBuilder, Room,
    SocketRegistry,
};
use sio_core::engine::{Frame, Sid};
use sio_core::protocol::{Packet, ParserKind, Payload};
use support::fixture_socket::FixtureSocket;

type Log = Arc<Mutex<Vec<(Sid, String, bool)>>>;

struct Hooks;

impl IndexObserver for Hooks {
    fn membership(&self, _room: &str, _sid: Sid, _joined: bool) {}
    fn delivered(&self, _packet: &Packet, _sid: Sid) {}
}

/// Six sockets: 0-2 in `a`, 2-4 in `b`, 5 in none.
fn setup(parser: ParserKind) -> (LocalAdapter, SocketRegistry, Vec<Sid>, Log) {
    let (local, registry) = LocalAdapterBuilder::new("/chat", parser).build();
    let log = Log::default();
    let mut ids = Vec::new();
    for i in 0..6 {
        let id = Sid::random();
        let log = log.clone();
        registry.insert(Arc::new(FixtureSocket {
            id,
            on_frame: move |id: Sid, frame: &Frame, volatile: bool| {
                let text = frame
                    .as_text()
                    .map_or_else(|| format!("{frame:?}"), str::to_owned);
                log.lock().unwrap().push((id, text, volatile));
            },
        }));
        let rooms: Vec<Room> = match i {
            0 | 1 => vec!["a".into()],
            2 => vec!["a".into(), "b".into()],
            3 | 4 => vec!["b".into()],
            _ => vec![],
        };
        registry.join(id, rooms).unwrap();
        ids.push(id);
    }
    (local, registry, ids, log)
}

fn sorted(log: &Log) -> Vec<(Sid, String, bool)> {
    let mut out = std::mem::take(&mut *log.lock().unwrap());
    out.sort_by(|x, y| x.0.as_str().cmp(y.0.as_str()));
    out
}

#[test]
fn frame_reaches_exactly_whom_the_packet_reaches() {
    let (local, _registry, ids, log) = setup(ParserKind::Json);
    let packet = Packet::event("/chat", "m", Payload::new().arg(&1).unwrap());
    let selections = [
        BroadcastOptions::default(),
        BroadcastOptions {
            rooms: ["a".into(), "b".into()].into(),
            except: [ids[2].to_string()].into(),
            flags: BroadcastFlags {
                volatile: true,
                local: false,
            },
        },
        BroadcastOptions {
            rooms: [ids[5].to_string(), "b".into()].into(),
            except: ["a".into()].into(),
            ..BroadcastOptions::default()
        },
        BroadcastOptions {
            rooms: ["nobody".into()].into(),
            ..BroadcastOptions::default()
        },
    ];
    assert!(local.takes_json_frames());
    let frame = ParserKind::Json.encode(&packet);
    for opts in &selections {
        let by_packet = local.broadcast_local(&packet, opts);
        let expected = sorted(&log);
        let by_frame = local.broadcast_local_frame(&frame, opts);
        assert_eq!(by_frame, Some(by_packet));
        assert_eq!(sorted(&log), expected);
        assert_eq!(expected.len(), by_packet);
        assert!(expected.iter().all(|(_, _, v)| *v == opts.flags.volatile));
    }
}

/// The adapter takes no frame, and delivers nothing when handed one.
fn assert_declines(local: &LocalAdapter, log: &Log) {
    assert!(!local.takes_json_frames());
    let frame = ParserKind::Json.encode(&Packet::event("/chat", "m", Payload::new()));
    assert_eq!(
        local.broadcast_local_frame(&frame, &BroadcastOptions::default()),
        None
    );
    assert!(log.lock().unwrap().is_empty());
}

#[test]
fn index_hooks_make_it_decline_and_deliver_nothing() {
    let (local, registry, _ids, log) = setup(ParserKind::Json);
    registry.observe_index(Arc::new(Hooks));
    assert_declines(&local, &log);
}

#[test]
fn msgpack_server_declines_and_delivers_nothing() {
    let (local, _registry, _ids, log) = setup(ParserKind::MsgPack);
    assert_declines(&local, &log);
}
