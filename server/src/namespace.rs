//! Namespaces: their connect middlewares and handler, their adapter, and namespace-wide
//! operations. The handle is declared next to the socket that holds it (`socket.rs`), its
//! state below both (`namespace_state.rs`); this file is what a namespace does.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::adapter::{
    Adapter, AdapterError, ClusterResponse, DynAdapter, Room, ServerEvent, ServerEventReply,
    SocketRegistry,
};
use crate::config::ServerConfig;
use crate::error::ConnectError;
use crate::hooks::{HookSlot, SocketHooks};
use crate::metrics::Metrics;
use crate::namespace_state::{self, NsState};
use crate::protocol::Payload;
use crate::socket::{BoxedEventHandler, Socket};

pub(crate) use crate::namespace_state::AdapterFactory;
pub use crate::socket::Namespace;

/// The handlers of a namespace, which take [`Socket`]s.
pub(crate) type NsHandlers = namespace_state::NsHandlers<Socket>;
/// Told when a namespace may be idle.
pub(crate) type IdleHook = namespace_state::IdleHook<Socket>;
/// A connect under way to a namespace.
pub(crate) type ConnectGuard = namespace_state::ConnectGuard<Socket>;
/// The server's hooks, as its namespaces hold them.
pub(crate) type Hooks = HookSlot<Socket>;

impl Namespace {
    pub(crate) fn new(
        name: &str,
        settings: &ServerConfig,
        factory: &AdapterFactory,
        handlers: Arc<NsHandlers>,
        metrics: Arc<Metrics>,
        on_idle: Option<IdleHook>,
        hooks: Arc<Hooks>,
    ) -> Self {
        let ns = Namespace {
            state: Arc::new(NsState::new(
                name, settings, factory, handlers, metrics, on_idle, hooks,
            )),
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

    /// The namespace whose state this is.
    pub(crate) fn from_state(state: &Arc<NsState<Socket>>) -> Self {
        Namespace {
            state: state.clone(),
        }
    }

    /// The name (`/`, `/chat`).
    #[must_use]
    pub fn name(&self) -> &str {
        self.state.name()
    }

    /// The name, shared.
    pub(crate) fn name_arc(&self) -> &Arc<str> {
        self.state.name()
    }

    /// The adapter, as the object-safe [`DynAdapter`]; [`Namespace::adapter_as`] reaches its
    /// own type.
    #[must_use]
    pub fn adapter(&self) -> &dyn DynAdapter {
        self.state.adapter()
    }

    /// The adapter as its concrete type `A`, if the server was built with adapter `A` (for what
    /// a particular adapter offers beyond [`Adapter`]).
    #[must_use]
    pub fn adapter_as<A: Adapter>(&self) -> Option<&A> {
        self.adapter().downcast::<A>()
    }

    /// Registers this node's sockets in the adapter's local index.
    pub(crate) fn registry(&self) -> &SocketRegistry {
        self.state.registry()
    }

    pub(crate) fn metrics(&self) -> &Metrics {
        self.state.metrics()
    }

    /// The server's hooks, if set (one atomic load).
    #[inline]
    pub(crate) fn hooks(&self) -> Option<&Arc<dyn SocketHooks<Socket>>> {
        self.state.hooks()
    }

    pub(crate) fn request_timeout(&self) -> Duration {
        self.state.request_timeout()
    }

    /// Whether `other` is this very namespace (not one of the same name created since).
    pub(crate) fn same(&self, other: &Namespace) -> bool {
        Arc::ptr_eq(&self.state, &other.state)
    }

    /// Whether it is a child of a dynamic namespace (removed once idle).
    pub(crate) fn is_child(&self) -> bool {
        self.state.is_child()
    }

    /// A connect to the namespace starts; the guard ends it.
    pub(crate) fn begin_connect(&self) -> ConnectGuard {
        self.state.begin_connect()
    }

    /// No socket and no connect under way.
    pub(crate) fn is_idle(&self) -> bool {
        self.state.is_idle()
    }

    /// Runs `handler` for every socket that connects, after the middlewares accepted it. Events
    /// the client sends right after connecting wait until the handler returns, so handlers it
    /// registers see them.
    pub fn on_connection<F, Fut>(&self, handler: F) -> &Self
    where
        F: Fn(Socket) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.state.handlers().set_connect(handler);
        self
    }

    /// Sets the namespace-wide handler of `event` (replacing one set before).
    pub(crate) fn set_event_handler(&self, event: String, handler: BoxedEventHandler) {
        self.state.handlers().set_event_handler(event, handler);
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
        self.state.handlers().add_middleware(middleware);
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
        for middleware in self.state.handlers().middlewares() {
            middleware(socket.clone()).await?;
        }
        Ok(())
    }

    pub(crate) async fn run_connect_handler(&self, socket: &Socket) {
        if let Some(handler) = self.state.handlers().connect_handler() {
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
