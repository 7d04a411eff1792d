//! A server built with an adapter of the user's own: the builder picks its type, the server
//! holds it behind `Arc<dyn DynAdapter>`, handlers name no adapter type, every broadcast goes
//! through it, and `Namespace::adapter_as` reaches its own type.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::sio::RawClient;
use sio_server::adapter::{
    AckReplies, Adapter, AdapterError, BroadcastOptions, ClusterResponse, Room, ServerEvent,
    SocketInfo,
};
use sio_server::protocol::{Packet, Payload};
use sio_server::{LocalAdapter, Server, Socket};

/// The in-memory adapter, counting the broadcasts it is asked for.
struct CountingAdapter {
    local: LocalAdapter,
    broadcasts: Arc<AtomicUsize>,
}

impl Adapter for CountingAdapter {
    type Config = Arc<AtomicUsize>;

    fn new(local: LocalAdapter, config: &Arc<Arc<AtomicUsize>>) -> Self {
        CountingAdapter {
            local,
            broadcasts: Arc::clone(config),
        }
    }
    async fn init(&self) -> Result<(), AdapterError> {
        Ok(())
    }
    async fn close(&self) {}
    async fn close_namespace(&self) {}
    fn local(&self) -> &LocalAdapter {
        &self.local
    }
    async fn broadcast(&self, packet: Packet, opts: BroadcastOptions) {
        self.broadcasts.fetch_add(1, Ordering::SeqCst);
        Adapter::broadcast(&self.local, packet, opts).await;
    }
    async fn broadcast_with_ack(
        &self,
        packet: Packet,
        opts: BroadcastOptions,
        timeout: Duration,
    ) -> Result<AckReplies, AdapterError> {
        Adapter::broadcast_with_ack(&self.local, packet, opts, timeout).await
    }
    async fn add_sockets(
        &self,
        opts: BroadcastOptions,
        rooms: Vec<Room>,
    ) -> Result<(), AdapterError> {
        Adapter::add_sockets(&self.local, opts, rooms).await
    }
    async fn del_sockets(
        &self,
        opts: BroadcastOptions,
        rooms: Vec<Room>,
    ) -> Result<(), AdapterError> {
        Adapter::del_sockets(&self.local, opts, rooms).await
    }
    async fn disconnect_sockets(
        &self,
        opts: BroadcastOptions,
        close: bool,
    ) -> Result<(), AdapterError> {
        Adapter::disconnect_sockets(&self.local, opts, close).await
    }
    async fn fetch_sockets(
        &self,
        opts: BroadcastOptions,
        timeout: Duration,
    ) -> Result<ClusterResponse<Vec<SocketInfo>>, AdapterError> {
        Adapter::fetch_sockets(&self.local, opts, timeout).await
    }
    async fn all_rooms(
        &self,
        timeout: Duration,
    ) -> Result<ClusterResponse<BTreeSet<Room>>, AdapterError> {
        Adapter::all_rooms(&self.local, timeout).await
    }
    async fn server_side_emit(
        &self,
        event: ServerEvent,
        ack_timeout: Option<Duration>,
    ) -> Result<ClusterResponse<Vec<Payload>>, AdapterError> {
        Adapter::server_side_emit(&self.local, event, ack_timeout).await
    }
    async fn server_count(&self) -> Result<usize, AdapterError> {
        Ok(7)
    }
}

#[tokio::test]
async fn a_custom_adapter_carries_every_broadcast_and_handlers_name_no_adapter_type() {
    let broadcasts = Arc::new(AtomicUsize::new(0));
    let io = Server::builder()
        .adapter::<CountingAdapter>(broadcasts.clone())
        .build();
    io.on_connection(|socket: Socket| async move {
        socket.join(["room"]);
        socket.to(["room"]).emit("hello", &1).await.unwrap();
    });
    let (addr, _guard) = common::serve_io(&io).await;
    let (_a, _) = RawClient::connect(addr, "/").await;
    let count = || broadcasts.load(Ordering::SeqCst);
    common::eventually("a's connect handler broadcast", || count() == 1).await;
    let (mut b, _) = RawClient::connect(addr, "/").await;
    common::eventually("b's connect handler broadcast", || count() == 2).await;
    io.to(["room"]).emit("all", &2).await.unwrap();
    assert_eq!(b.next_text().await, r#"42["all",2]"#);
    // The two connect handlers' broadcasts and the server's.
    assert_eq!(count(), 3);
    // The server asks the adapter of the builder's type.
    assert_eq!(io.server_count().await.unwrap(), 7);
    let ns = io.of("/");
    assert!(ns.adapter_as::<CountingAdapter>().is_some());
    assert!(ns.adapter_as::<LocalAdapter>().is_none());
    assert_eq!(ns.adapter().local().len(), 2);
}

#[tokio::test]
async fn the_default_adapter_is_the_in_memory_one() {
    let io = Server::builder().build();
    assert!(io.of("/").adapter_as::<LocalAdapter>().is_some());
    assert_eq!(io.server_count().await.unwrap(), 1);
}
