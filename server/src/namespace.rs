//! Namespaces: their connect middlewares and handler, their adapter, and namespace-wide
//! operations.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::adapter::{
    Adapter, AdapterError, ClusterResponse, DynAdapter, LocalAdapter, LocalAdapterBuilder, Room,
    ServerEvent, ServerEventReply, SocketRegistry,
};
use crate::config::ServerConfig;
use crate::error::ConnectError;
use crate::event::BoxFuture;
use crate::metrics::Metrics;
use crate::observer::{Observer, ObserverSlot};
use crate::protocol::{ParserKind, Payload};
use crate::socket::{BoxedEventHandler, Socket};

type ConnectHandler = Arc<dyn Fn(Socket) -> BoxFuture<()> + Send + Sync>;
type Middleware = Arc<dyn Fn(Socket) -> BoxFuture<Result<(), ConnectError>> + Send + Sync>;

/// The connect handler and middlewares of a namespace (shared by the children of a dynamic
/// namespace).
pub(crate) struct NsHandlers {
    connect: RwLock<Option<ConnectHandler>>,
    middlewares: RwLock<Vec<Middleware>>,
    /// Event handlers shared by every socket of the namespace.
    events: RwLock<HashMap<String, BoxedEventHandler>>,
}

impl Default for NsHandlers {
    fn default() -> Self {
        NsHandlers {
            connect: RwLock::new(None),
            middlewares: RwLock::new(Vec::new()),
            events: RwLock::new(HashMap::new()),
        }
    }
}

impl NsHandlers {
    pub(crate) fn set_connect<F, Fut>(&self, handler: F)
    where
        F: Fn(Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        *self.connect.write().unwrap_or_else(|e| e.into_inner()) =
            Some(Arc::new(move |s| Box::pin(handler(s))));
    }

    pub(crate) fn event_handler(&self, event: &str) -> Option<BoxedEventHandler> {
        self.events
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(event)
            .cloned()
    }

    pub(crate) fn add_middleware<F, Fut>(&self, middleware: F)
    where
        F: Fn(Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), ConnectError>> + Send + 'static,
    {
        self.middlewares
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(Arc::new(move |s| Box::pin(middleware(s))));
    }
}

/// Makes the adapter of a namespace around its local index (the builder's choice of adapter,
/// with its configuration).
pub(crate) type AdapterFactory = Arc<dyn Fn(LocalAdapter) -> Arc<dyn DynAdapter> + Send + Sync>;

/// Told when a namespace may be idle (no socket, no connect under way).
pub(crate) type IdleHook = Arc<dyn Fn(&Namespace) + Send + Sync>;

struct NsInner {
    name: Arc<str>,
    adapter: Arc<dyn DynAdapter>,
    /// The one handle that registers sockets in the adapter's local index.
    registry: SocketRegistry,
    handlers: Arc<NsHandlers>,
    request_timeout: Duration,
    metrics: Arc<Metrics>,
    /// Connects under way (from the lookup of the namespace to the socket's registration or
    /// refusal).
    connecting: AtomicUsize,
    /// For a child of a dynamic namespace: schedules its removal once it is idle.
    on_idle: Option<IdleHook>,
    /// The server's observer, if any.
    observer: Arc<ObserverSlot>,
}

/// A namespace (`/`, `/chat`, ...). Cheap to clone.
pub struct Namespace {
    inner: Arc<NsInner>,
}

impl Clone for Namespace {
    fn clone(&self) -> Self {
        Namespace {
            inner: self.inner.clone(),
        }
    }
}

impl std::fmt::Debug for Namespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Namespace")
            .field("name", &self.inner.name)
            .finish()
    }
}

impl Namespace {
    pub(crate) fn new(
        name: &str,
        settings: &ServerConfig,
        factory: &AdapterFactory,
        handlers: Arc<NsHandlers>,
        metrics: Arc<Metrics>,
        on_idle: Option<IdleHook>,
        observer: Arc<ObserverSlot>,
    ) -> Self {
        let (local, registry) = LocalAdapterBuilder::new(name, settings.parser)
            .max_rooms_per_socket(settings.max_rooms_per_socket)
            .max_room_name_len(settings.max_room_name_len)
            .recovery(settings.connection_state_recovery.clone())
            .build();
        let adapter = factory(local);
        let request_timeout = settings.request_timeout;
        let ns = Namespace {
            inner: Arc::new(NsInner {
                name: Arc::from(name),
                adapter,
                registry,
                handlers,
                request_timeout,
                metrics,
                connecting: AtomicUsize::new(0),
                on_idle,
                observer,
            }),
        };
        let started = ns.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => {
                rt.spawn(async move {
                    if let Err(err) = started.adapter().init().await {
                        tracing::error!(nsp = %started.name(), error = %err, "adapter init failed");
                    }
                });
            }
            Err(_) => tracing::warn!(
                nsp = name,
                "namespace created outside a runtime: adapter not started"
            ),
        }
        ns
    }

    /// The name (`/`, `/chat`).
    #[must_use]
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The name, shared.
    pub(crate) fn name_arc(&self) -> &Arc<str> {
        &self.inner.name
    }

    /// The adapter, as the object-safe [`DynAdapter`]; [`Namespace::adapter_as`] reaches its
    /// own type.
    #[must_use]
    pub fn adapter(&self) -> &dyn DynAdapter {
        &*self.inner.adapter
    }

    /// The adapter as its concrete type `A`, if the server was built with adapter `A` (for what
    /// a particular adapter offers beyond [`Adapter`]).
    #[must_use]
    pub fn adapter_as<A: Adapter>(&self) -> Option<&A> {
        self.adapter().downcast::<A>()
    }

    /// Registers this node's sockets in the adapter's local index.
    pub(crate) fn registry(&self) -> &SocketRegistry {
        &self.inner.registry
    }

    pub(crate) fn parser(&self) -> ParserKind {
        self.inner.adapter.local().parser()
    }

    pub(crate) fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The server's observer, if one is set (one atomic load).
    #[inline]
    pub(crate) fn observer(&self) -> Option<&Arc<dyn Observer>> {
        self.inner.observer.get()
    }

    /// Reports this namespace's joins, leaves and broadcast deliveries to `observer`.
    pub(crate) fn report_to(&self, observer: Arc<dyn Observer>) {
        self.registry()
            .observe_index(Arc::new(crate::observer::IndexHooks::new(
                self.inner.name.clone(),
                observer,
            )));
    }

    pub(crate) fn request_timeout(&self) -> Duration {
        self.inner.request_timeout
    }

    /// Whether `other` is this very namespace (not one of the same name created since).
    pub(crate) fn same(&self, other: &Namespace) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// Whether it is a child of a dynamic namespace (removed once idle).
    pub(crate) fn is_child(&self) -> bool {
        self.inner.on_idle.is_some()
    }

    /// A connect to the namespace starts; the guard ends it.
    pub(crate) fn begin_connect(&self) -> ConnectGuard {
        self.inner.connecting.fetch_add(1, Ordering::AcqRel);
        ConnectGuard(self.clone())
    }

    /// No socket and no connect under way.
    pub(crate) fn is_idle(&self) -> bool {
        self.inner.connecting.load(Ordering::Acquire) == 0 && self.adapter().local().is_empty()
    }

    /// Tells the idle hook when the namespace may have become idle (a socket left, a connect
    /// ended).
    pub(crate) fn check_idle(&self) {
        if let Some(hook) = &self.inner.on_idle
            && self.is_idle()
        {
            hook(self);
        }
    }

    /// Runs `handler` for every socket that connects, after the middlewares accepted it. Events
    /// the client sends right after connecting wait until the handler returns, so handlers it
    /// registers see them.
    pub fn on_connection<F, Fut>(&self, handler: F) -> &Self
    where
        F: Fn(Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.inner.handlers.set_connect(handler);
        self
    }

    /// Sets the namespace-wide handler of `event` (replacing one set before).
    pub(crate) fn set_event_handler(&self, event: String, handler: BoxedEventHandler) {
        self.inner
            .handlers
            .events
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(event, handler);
    }

    pub(crate) fn event_handler(&self, event: &str) -> Option<BoxedEventHandler> {
        self.inner.handlers.event_handler(event)
    }

    /// Adds a connect middleware; an `Err` refuses the connection with CONNECT_ERROR.
    ///
    /// ```
    /// use sio_server::{ConnectError, Server, Socket};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let io = Server::builder().build();
    /// io.of("/admin").use_middleware(|socket: Socket| async move {
    ///     match socket.handshake().auth.get("token").and_then(|t| t.as_str()) {
    ///         Some("letmein") => Ok(()),
    ///         _ => Err(ConnectError::new("unauthorized")),
    ///     }
    /// });
    /// # }
    /// ```
    pub fn use_middleware<F, Fut>(&self, middleware: F) -> &Self
    where
        F: Fn(Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), ConnectError>> + Send + 'static,
    {
        self.inner.handlers.add_middleware(middleware);
        self
    }

    /// Handles events sent by other servers with `server_side_emit`.
    pub fn on_server_event<F>(&self, handler: F)
    where
        F: Fn(ServerEvent, Option<ServerEventReply>) + Send + Sync + 'static,
    {
        self.adapter().local().on_server_event(Arc::new(handler));
    }

    /// Runs the middlewares; `Err` is the refusal to send.
    pub(crate) async fn run_middlewares(&self, socket: &Socket) -> Result<(), ConnectError> {
        let middlewares = self
            .inner
            .handlers
            .middlewares
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for middleware in middlewares {
            middleware(socket.clone()).await?;
        }
        Ok(())
    }

    pub(crate) async fn run_connect_handler(&self, socket: &Socket) {
        let handler = self
            .inner
            .handlers
            .connect
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some(handler) = handler {
            handler(socket.clone()).await;
        }
    }

    /// Every room with a socket in it, cluster-wide.
    pub async fn all_rooms(&self) -> Result<ClusterResponse<BTreeSet<Room>>, AdapterError> {
        self.adapter().all_rooms(self.request_timeout()).await
    }

    /// Sends an event to the other servers' `on_server_event` handlers; with `ack_timeout`,
    /// collects their replies.
    pub async fn server_side_emit(
        &self,
        event: &str,
        payload: Payload,
        ack_timeout: Option<Duration>,
    ) -> Result<ClusterResponse<Vec<Payload>>, AdapterError> {
        let event = ServerEvent {
            event: event.to_owned(),
            payload,
        };
        self.adapter().server_side_emit(event, ack_timeout).await
    }

    /// The number of live servers in the cluster.
    pub async fn server_count(&self) -> Result<usize, AdapterError> {
        self.adapter().server_count().await
    }

    /// The number of sockets connected to this node.
    #[must_use]
    pub fn local_socket_count(&self) -> usize {
        self.adapter().local().len()
    }
}

/// A connect under way to a namespace; dropping it ends the connect (whatever its outcome).
pub(crate) struct ConnectGuard(Namespace);

impl Drop for ConnectGuard {
    fn drop(&mut self) {
        self.0.inner.connecting.fetch_sub(1, Ordering::AcqRel);
        self.0.check_idle();
    }
}
