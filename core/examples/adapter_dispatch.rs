//! Measures what the object-safe adapter behind `Arc<dyn …>` (which the server holds since
//! issue 16: `DynAdapter`) costs per broadcast against a generic `Adapter`: the same
//! `LocalAdapter` broadcast to one room of `--room-size` registered sockets, called directly
//! (static dispatch, the future on the stack) and through a trait object that boxes the future
//! (one allocation and one virtual call per broadcast). The sockets only count what they are
//! handed, so the figure is the adapter path itself, not the socket writes.
//!
//! `cargo run --release -p sio-core --example adapter_dispatch -- 500 20000`
//! (room size, broadcasts per round; five rounds of each, interleaved, best round reported).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use futures_util::FutureExt as _;
use sio_core::adapter::{Adapter, BroadcastOptions, LocalAdapter, LocalAdapterBuilder};
use sio_core::engine::{Frame, Sid};
use sio_core::protocol::{Packet, ParserKind, Payload};

#[path = "../tests/support/fixture_socket.rs"]
mod fixture_socket;
use fixture_socket::FixtureSocket;

/// The object-safe form an `Arc<dyn …>` adapter would need: a boxed future per call.
trait DynBroadcast: Send + Sync {
    fn broadcast(
        &self,
        packet: Packet,
        opts: BroadcastOptions,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
}

impl<A: Adapter> DynBroadcast for A {
    fn broadcast(
        &self,
        packet: Packet,
        opts: BroadcastOptions,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(Adapter::broadcast(self, packet, opts))
    }
}

fn arg(n: usize, default: usize) -> usize {
    std::env::args()
        .nth(n)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

/// Nanoseconds per broadcast over `rounds` broadcasts of `call`.
fn time_per_call(rounds: usize, mut call: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..rounds {
        call();
    }
    start.elapsed().as_nanos() as f64 / rounds as f64
}

fn main() {
    let room_size = arg(1, 500);
    let rounds = arg(2, 20_000);
    let (local, registry) = LocalAdapterBuilder::new("/", ParserKind::Json).build();
    let delivered = Arc::new(AtomicU64::new(0));
    for _ in 0..room_size {
        let delivered = delivered.clone();
        let socket = Arc::new(FixtureSocket {
            id: Sid::random(),
            on_frame: move |_: Sid, _: &Frame, _: bool| {
                delivered.fetch_add(1, Ordering::Relaxed);
            },
        });
        let id = socket.id;
        registry.insert(socket);
        registry
            .join(id, ["room".to_owned()])
            .expect("no room limits");
    }
    let packet = Packet::event(
        "/",
        "message",
        Payload::from_value(&["hello"]).expect("a JSON payload"),
    );
    let opts = BroadcastOptions {
        rooms: ["room".to_owned()].into(),
        ..BroadcastOptions::default()
    };
    let generic: &LocalAdapter = &local;
    let dynamic: Arc<dyn DynBroadcast> = Arc::new(local.clone());
    let (mut best_generic, mut best_dyn) = (f64::MAX, f64::MAX);
    for _ in 0..5 {
        best_generic = best_generic.min(time_per_call(rounds, || {
            Adapter::broadcast(generic, packet.clone(), opts.clone())
                .now_or_never()
                .expect("the in-memory broadcast completes at once");
        }));
        best_dyn = best_dyn.min(time_per_call(rounds, || {
            dynamic
                .broadcast(packet.clone(), opts.clone())
                .now_or_never()
                .expect("the in-memory broadcast completes at once");
        }));
    }
    let expected = 10 * rounds as u64 * room_size as u64;
    assert_eq!(
        delivered.load(Ordering::Relaxed),
        expected,
        "every socket got every broadcast"
    );
    println!(
        "room of {room_size}: generic {best_generic:.0} ns/broadcast, dyn {best_dyn:.0} ns/broadcast, \
         difference {:.0} ns ({:+.2}%), {:.2} ns per delivery generic",
        best_dyn - best_generic,
        (best_dyn - best_generic) / best_generic * 100.0,
        best_generic / room_size as f64
    );
}
