//! The Socket.IO server: configuration, namespaces, server-wide operations, and the ways to run
//! it (its own listener, or mounted as a tower `Service`).

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, Response};

use crate::adapter::{
    Adapter, AdapterError, ClusterResponse, DynAdapter, LocalAdapter, RecoveryConfig, Room,
};
use crate::client::SioHandler;
use crate::config::ServerConfig;
use crate::connect_timeout::ConnectTimeouts;
use crate::engine::{Body, CloseReason, CorsConfig, Engine};
use crate::error::ConnectError;
use crate::event::BoxFuture;
use crate::metrics::Metrics;
use crate::namespace::{AdapterFactory, Namespace, NsHandlers};
use crate::observer::{Observer, ObserverAlreadySet};
use crate::protocol::{ParserKind, Payload};
use crate::serve::Listener;
use crate::server_inner::ServerInner;
use crate::socket::Socket;

/// Builds a [`Server`]. Every setter documents its default.
#[must_use]
pub struct ServerBuilder {
    config: ServerConfig,
    adapter: AdapterFactory,
}

impl std::fmt::Debug for ServerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerBuilder")
            .field("config", &self.config)
            .finish()
    }
}

impl ServerBuilder {
    /// Replaces the whole configuration.
    pub fn config(mut self, config: ServerConfig) -> Self {
        self.config = config;
        self
    }

    /// The HTTP path. Default: `/socket.io/`.
    pub fn path(mut self, path: impl Into<String>) -> Self {
        let mut path = path.into();
        if !path.ends_with('/') {
            path.push('/');
        }
        self.config.engine.path = path;
        self
    }

    /// The ping interval. Default: 25 s.
    pub fn ping_interval(mut self, interval: Duration) -> Self {
        self.config.engine.ping_interval = interval;
        self
    }

    /// The ping timeout. Default: 20 s.
    pub fn ping_timeout(mut self, timeout: Duration) -> Self {
        self.config.engine.ping_timeout = timeout;
        self
    }

    /// The largest message a client may send, in bytes. Default: 1 000 000.
    pub fn max_payload(mut self, bytes: usize) -> Self {
        self.config.engine.max_payload = bytes;
        self
    }

    /// Which transports are enabled. Default: both.
    pub fn transports(mut self, polling: bool, websocket: bool) -> Self {
        self.config.engine.polling = polling;
        self.config.engine.websocket = websocket;
        self
    }

    /// Whether polling clients may upgrade to WebSocket. Default: `true`.
    pub fn allow_upgrades(mut self, allow: bool) -> Self {
        self.config.engine.allow_upgrades = allow;
        self
    }

    /// Cross-origin settings. Default: none.
    pub fn cors(mut self, cors: CorsConfig) -> Self {
        self.config.engine.cors = Some(cors);
        self
    }

    /// Compression of long-polling responses: `None` turns it off. Default: gzip or deflate
    /// (as the client accepts) for bodies of 1024 bytes and more, as the reference server.
    pub fn http_compression(mut self, compression: Option<crate::engine::HttpCompression>) -> Self {
        self.config.engine.http_compression = compression;
        self
    }

    /// The packet format. Default: JSON.
    pub fn parser(mut self, parser: ParserKind) -> Self {
        self.config.parser = parser;
        self
    }

    /// Each connection's outbound queue capacity, in packets. Default: 1024.
    pub fn max_buffered_packets(mut self, packets: usize) -> Self {
        self.config.engine.max_buffered_packets = packets;
        self
    }

    /// Each connection's outbound queue capacity, in payload bytes; beyond it the client is a
    /// slow consumer (volatile packets are dropped instead). Default: 8 MiB.
    pub fn max_buffered_bytes(mut self, bytes: usize) -> Self {
        self.config.engine.max_buffered_bytes = bytes;
        self
    }

    /// The most connections this node holds; further handshakes get `503`. Default: unlimited.
    pub fn max_connections(mut self, max: usize) -> Self {
        self.config.engine.max_connections = Some(max);
        self
    }

    /// Forwards requests for other nodes' sessions to their owner, so that a load balancer
    /// needs no sticky sessions (see [`ForwardingConfig`](crate::engine::ForwardingConfig)).
    /// Default: off.
    pub fn forwarding(mut self, forwarding: crate::engine::ForwardingConfig) -> Self {
        self.config.engine.forwarding = Some(forwarding);
        self
    }

    /// How long a connection may stay without joining a namespace. Default: 45 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.config.connect_timeout = timeout;
        self
    }

    /// The default timeout of cluster requests and broadcast acks. Default: 5 s.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.config.request_timeout = timeout;
        self
    }

    /// The most rooms a socket may join. Default: 10 000.
    pub fn max_rooms_per_socket(mut self, max: usize) -> Self {
        self.config.max_rooms_per_socket = max;
        self
    }

    /// Turns connection state recovery on. Default: off.
    ///
    /// ```
    /// use std::time::Duration;
    /// use sio_server::{Server, adapter::RecoveryConfig};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let io = Server::builder()
    ///     .connection_state_recovery(RecoveryConfig {
    ///         max_disconnection_duration: Duration::from_secs(30),
    ///         ..RecoveryConfig::default()
    ///     })
    ///     .build();
    /// io.on_connection(|socket: sio_server::Socket| async move {
    ///     if socket.recovered() {
    ///         // Same id, rooms and data as before; missed broadcasts were replayed.
    ///     }
    /// });
    /// # }
    /// ```
    pub fn connection_state_recovery(mut self, config: RecoveryConfig) -> Self {
        self.config.connection_state_recovery = Some(config);
        self
    }

    /// The longest room name a socket may join, in bytes. Default: 256.
    pub fn max_room_name_len(mut self, bytes: usize) -> Self {
        self.config.max_room_name_len = bytes;
        self
    }

    /// The most event handlers of one socket that run at once; further events wait, in order.
    /// Default: 64.
    pub fn max_handlers_per_socket(mut self, max: usize) -> Self {
        self.config.max_handlers_per_socket = max;
        self
    }

    /// The most namespaces this node holds; a CONNECT that would create one more dynamic child
    /// gets CONNECT_ERROR. Default: 1 000.
    pub fn max_namespaces(mut self, max: usize) -> Self {
        self.config.max_namespaces = max;
        self
    }

    /// How long an empty child of a dynamic namespace stays before it is removed. Default: 30 s.
    pub fn empty_namespace_grace(mut self, grace: Duration) -> Self {
        self.config.empty_namespace_grace = grace;
        self
    }

    /// Uses adapter `A` (default: [`LocalAdapter`]) with its configuration: each namespace
    /// gets an `A`, which the server holds as an `Arc<dyn DynAdapter>`.
    pub fn adapter<A: Adapter>(mut self, config: A::Config) -> ServerBuilder {
        self.adapter = factory::<A>(Arc::new(config));
        self
    }

    /// Builds the server. Call it inside a tokio runtime.
    pub fn build(self) -> Server {
        let inner = Arc::new_cyclic(|me| ServerInner {
            me: me.clone(),
            observer: Arc::default(),
            config: self.config,
            adapter: self.adapter,
            namespaces: RwLock::new(HashMap::new()),
            dynamic: RwLock::new(Vec::new()),
            metrics: Arc::default(),
        });
        let engine = Engine::with_metrics(
            inner.config.engine.clone(),
            SioHandler {
                server: inner.clone(),
                connect_timeouts: ConnectTimeouts::new(inner.config.connect_timeout),
            },
            inner.metrics.clone(),
        );
        // The main namespace always exists, as in the reference server.
        inner.of("/");
        Server { inner, engine }
    }
}

/// A Socket.IO server. Cheap to clone.
///
/// ```
/// use sio_server::{Data, AckSender, Server, Socket};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let io = Server::builder().build();
/// io.on_connection(|socket: Socket| async move {
///     socket.on("join", |socket: Socket, Data(room): Data<String>, ack: AckSender| async move {
///         socket.join([room]);
///         let _ = ack.send(&true);
///     });
/// });
/// # }
/// ```
pub struct Server {
    inner: Arc<ServerInner>,
    engine: Arc<Engine<SioHandler>>,
}

impl Clone for Server {
    fn clone(&self) -> Self {
        Server {
            inner: self.inner.clone(),
            engine: self.engine.clone(),
        }
    }
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("config", &self.inner.config)
            .finish()
    }
}

impl Server {
    /// A builder with the defaults and the in-memory adapter.
    pub fn builder() -> ServerBuilder {
        ServerBuilder {
            config: ServerConfig::default(),
            adapter: factory::<LocalAdapter>(Arc::new(())),
        }
    }
}

/// The factory of adapter `A`'s namespaces, around `config`.
fn factory<A: Adapter>(config: Arc<A::Config>) -> AdapterFactory {
    Arc::new(move |local| Arc::new(A::new(local, &config)) as Arc<dyn DynAdapter>)
}

/// A family of namespaces created on demand when a client connects to a matching name.
pub struct DynamicNamespace {
    handlers: Arc<NsHandlers>,
}

impl std::fmt::Debug for DynamicNamespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DynamicNamespace")
    }
}

impl DynamicNamespace {
    /// The connect handler of every child namespace.
    pub fn on_connection<F, Fut>(&self, handler: F) -> &Self
    where
        F: Fn(Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.handlers.set_connect(handler);
        self
    }

    /// A connect middleware of every child namespace.
    pub fn use_middleware<F, Fut>(&self, middleware: F) -> &Self
    where
        F: Fn(Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), ConnectError>> + Send + 'static,
    {
        self.handlers.add_middleware(middleware);
        self
    }
}

impl Server {
    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.inner.config
    }

    /// The namespace `name`, created if needed.
    pub fn of(&self, name: &str) -> Namespace {
        self.inner.of(name)
    }

    /// Namespaces whose names satisfy `matches`, created when a client first connects to one.
    pub fn of_dynamic<F>(&self, matches: F) -> DynamicNamespace
    where
        F: Fn(&str) -> bool + Send + Sync + 'static,
    {
        let handlers: Arc<NsHandlers> = Arc::default();
        self.inner
            .dynamic
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push((Arc::new(matches), handlers.clone()));
        DynamicNamespace { handlers }
    }

    /// Namespaces whose names match `regex` (like Node's `io.of(/^\/room-\d+$/)`).
    pub fn of_regex(&self, regex: regex::Regex) -> DynamicNamespace {
        self.of_dynamic(move |name| regex.is_match(name))
    }

    /// The namespace `name`, if it exists now (unlike [`Server::of`], never creates it).
    pub fn namespace(&self, name: &str) -> Option<Namespace> {
        self.inner.read_namespaces().get(name).cloned()
    }

    /// The names of the namespaces that exist now.
    pub fn namespaces(&self) -> Vec<String> {
        self.inner.read_namespaces().keys().cloned().collect()
    }

    /// Sets the server's [`Observer`] (see [`crate::observer`]): from now on it is told of
    /// every namespace, socket, room change and event; it is first told of the namespaces that
    /// exist already. A server has at most one observer.
    pub fn observe(&self, observer: Arc<dyn Observer>) -> Result<(), ObserverAlreadySet> {
        if !self.inner.observer.set(observer.clone()) {
            return Err(ObserverAlreadySet);
        }
        let namespaces: Vec<Namespace> = self.inner.read_namespaces().values().cloned().collect();
        for ns in namespaces {
            ns.report_to(observer.clone());
            observer.namespace_created(&ns);
        }
        Ok(())
    }

    /// The connect handler of the main namespace `/`.
    pub fn on_connection<F, Fut>(&self, handler: F)
    where
        F: Fn(Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.of("/").on_connection(handler);
    }

    /// A connect middleware of the main namespace.
    pub fn use_middleware<F, Fut>(&self, middleware: F)
    where
        F: Fn(Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), ConnectError>> + Send + 'static,
    {
        self.of("/").use_middleware(middleware);
    }

    /// Every room of `/`, cluster-wide.
    pub async fn all_rooms(&self) -> Result<ClusterResponse<BTreeSet<Room>>, AdapterError> {
        self.of("/").all_rooms().await
    }

    /// Sends an event to the other servers (namespace `/`).
    pub async fn server_side_emit(
        &self,
        event: &str,
        payload: Payload,
        ack_timeout: Option<Duration>,
    ) -> Result<ClusterResponse<Vec<Payload>>, AdapterError> {
        self.of("/")
            .server_side_emit(event, payload, ack_timeout)
            .await
    }

    /// The number of live servers in the cluster.
    pub async fn server_count(&self) -> Result<usize, AdapterError> {
        self.of("/").server_count().await
    }

    /// The server's counters (render them with [`Metrics::write_prometheus`]).
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The most connections this node accepts. Default: unlimited.
    pub fn max_connections(&self) -> Option<usize> {
        self.inner.config.engine.max_connections
    }

    /// The number of live Engine.IO sessions on this node.
    pub fn session_count(&self) -> usize {
        self.engine.session_count()
    }

    /// Live sessions by transport: `(polling, websocket)`.
    pub fn sessions_by_transport(&self) -> (usize, usize) {
        self.engine.sessions_by_transport()
    }

    /// Whether a request path belongs to this server.
    pub fn handles_path(&self, path: &str) -> bool {
        self.inner.config.engine.matches_path(path)
    }

    /// Answers one request addressed to the server's path.
    pub async fn handle<B>(
        &self,
        req: Request<B>,
        remote_addr: Option<SocketAddr>,
    ) -> Response<Body>
    where
        B: http_body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        self.engine.handle(req, remote_addr).await
    }

    /// A tower `Service` answering the server's path, to mount in axum or hyper. The peer
    /// address is read from a `SocketAddr` request extension when there is one.
    pub fn service(&self) -> SocketIoService {
        SocketIoService {
            server: self.clone(),
        }
    }

    /// Serves on `listener` (a `std` or a tokio `TcpListener`, see [`Listener`]) until
    /// `shutdown` resolves; then stops accepting connections, closes every client connection
    /// (clients reconnect elsewhere, see [`Server::close`]), and stops the adapters.
    pub async fn serve(
        &self,
        listener: impl Listener,
        shutdown: impl Future<Output = ()> + Send,
    ) -> std::io::Result<()> {
        let server = self.clone();
        let handler = move |req: Request<hyper::body::Incoming>, peer: SocketAddr| {
            let server = server.clone();
            async move {
                if server.handles_path(req.uri().path()) {
                    server.handle(req, Some(peer)).await
                } else {
                    not_found()
                }
            }
        };
        crate::serve::serve_http_with_drain(listener, handler, shutdown, self.close()).await
    }

    /// Shuts the server down, in this order: new handshakes are refused (`503`), every
    /// connection is closed ("server shutting down") after what was queued for it is delivered
    /// (up to 5 s), then the adapters stop (they flush what they owe the cluster, then announce
    /// the node's departure). [`Server::serve`] also stops accepting connections first.
    pub async fn close(&self) {
        // Clients get what was queued for them, then their connection closes; those that do not
        // collect it within the drain deadline are dropped.
        self.engine
            .shutdown(CloseReason::ServerShutdown, Duration::from_secs(5))
            .await;
        let namespaces: Vec<Namespace> = self.inner.read_namespaces().values().cloned().collect();
        for ns in namespaces {
            ns.adapter().close().await;
        }
    }
}

/// A `404` for paths outside the server.
pub(crate) fn not_found() -> Response<Body> {
    Response::builder()
        .status(http::StatusCode::NOT_FOUND)
        .body(Body::default())
        .unwrap_or_default()
}

/// The server as a tower `Service`.
pub struct SocketIoService {
    server: Server,
}

impl Clone for SocketIoService {
    fn clone(&self) -> Self {
        SocketIoService {
            server: self.server.clone(),
        }
    }
}

impl std::fmt::Debug for SocketIoService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SocketIoService")
    }
}

impl<B> tower_service::Service<Request<B>> for SocketIoService
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response<Body>;
    type Error = std::convert::Infallible;
    type Future = BoxFuture<Result<Response<Body>, std::convert::Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let server = self.server.clone();
        Box::pin(async move {
            if !server.handles_path(req.uri().path()) {
                return Ok(not_found());
            }
            let peer = req.extensions().get::<SocketAddr>().copied();
            Ok(server.handle(req, peer).await)
        })
    }
}
