//! What the sockets of one namespace share: its name, adapter and index registry, the server's
//! metrics and hooks, its request timeout, the connects under way, and the handlers its sockets
//! run. Below the socket (`socket.rs`), which holds it through its `Namespace`, and below the
//! namespace's API (`namespace.rs`); it names neither: `S` is the socket type.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::adapter::{DynAdapter, LocalAdapter, LocalAdapterBuilder, SocketRegistry};
use crate::config::ServerConfig;
use crate::error::ConnectError;
use crate::event::{BoxFuture, Event};
use crate::hooks::{HookSlot, SocketHooks};
use crate::metrics::Metrics;
use crate::protocol::ParserKind;

/// A stored event handler (see `handler.rs` for what user code registers).
pub(crate) type StoredHandler<S> = Arc<dyn Fn(S, Event) -> BoxFuture<()> + Send + Sync>;
type ConnectHandler<S> = Arc<dyn Fn(S) -> BoxFuture<()> + Send + Sync>;
type Middleware<S> = Arc<dyn Fn(S) -> BoxFuture<Result<(), ConnectError>> + Send + Sync>;

/// Makes the adapter of a namespace around its local index (the builder's choice of adapter,
/// with its configuration).
pub(crate) type AdapterFactory = Arc<dyn Fn(LocalAdapter) -> Arc<dyn DynAdapter> + Send + Sync>;

/// Told when a namespace may be idle (no socket, no connect under way).
pub(crate) type IdleHook<S> = Arc<dyn Fn(&Arc<NsState<S>>) + Send + Sync>;

/// The connect handler, middlewares and namespace-wide event handlers of a namespace (shared by
/// the children of a dynamic namespace).
pub(crate) struct NsHandlers<S> {
    connect: RwLock<Option<ConnectHandler<S>>>,
    middlewares: RwLock<Vec<Middleware<S>>>,
    events: RwLock<HashMap<String, StoredHandler<S>>>,
}

impl<S> Default for NsHandlers<S> {
    fn default() -> Self {
        NsHandlers {
            connect: RwLock::new(None),
            middlewares: RwLock::new(Vec::new()),
            events: RwLock::new(HashMap::new()),
        }
    }
}

impl<S: 'static> NsHandlers<S> {
    pub(crate) fn set_connect<F, Fut>(&self, handler: F)
    where
        F: Fn(S) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        *self.connect.write().unwrap_or_else(|e| e.into_inner()) =
            Some(Arc::new(move |s| Box::pin(handler(s))));
    }

    pub(crate) fn add_middleware<F, Fut>(&self, middleware: F)
    where
        F: Fn(S) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), ConnectError>> + Send + 'static,
    {
        self.middlewares
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(Arc::new(move |s| Box::pin(middleware(s))));
    }

    /// Sets the namespace-wide handler of `event` (replacing one set before).
    pub(crate) fn set_event_handler(&self, event: String, handler: StoredHandler<S>) {
        self.events
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(event, handler);
    }

    pub(crate) fn event_handler(&self, event: &str) -> Option<StoredHandler<S>> {
        self.events
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(event)
            .cloned()
    }

    /// The connect handler, if one is set.
    pub(crate) fn connect_handler(&self) -> Option<ConnectHandler<S>> {
        self.connect
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The middlewares, in the order they were added.
    pub(crate) fn middlewares(&self) -> Vec<Middleware<S>> {
        self.middlewares
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// One namespace's shared state.
pub(crate) struct NsState<S> {
    name: Arc<str>,
    adapter: Arc<dyn DynAdapter>,
    /// The one handle that registers sockets in the adapter's local index.
    registry: SocketRegistry,
    handlers: Arc<NsHandlers<S>>,
    request_timeout: Duration,
    metrics: Arc<Metrics>,
    /// Connects under way (from the lookup of the namespace to the socket's registration or
    /// refusal).
    connecting: AtomicUsize,
    /// For a child of a dynamic namespace: schedules its removal once it is idle.
    on_idle: Option<IdleHook<S>>,
    /// The server's hooks, if any.
    hooks: Arc<HookSlot<S>>,
}

impl<S> NsState<S> {
    pub(crate) fn new(
        name: &str,
        settings: &ServerConfig,
        factory: &AdapterFactory,
        handlers: Arc<NsHandlers<S>>,
        metrics: Arc<Metrics>,
        on_idle: Option<IdleHook<S>>,
        hooks: Arc<HookSlot<S>>,
    ) -> Self {
        let (local, registry) = LocalAdapterBuilder::new(name, settings.parser)
            .max_rooms_per_socket(settings.max_rooms_per_socket)
            .max_room_name_len(settings.max_room_name_len)
            .recovery(settings.connection_state_recovery.clone())
            .build();
        NsState {
            name: Arc::from(name),
            adapter: factory(local),
            registry,
            handlers,
            request_timeout: settings.request_timeout,
            metrics,
            connecting: AtomicUsize::new(0),
            on_idle,
            hooks,
        }
    }

    /// The name (`/`, `/chat`), shared.
    pub(crate) fn name(&self) -> &Arc<str> {
        &self.name
    }

    pub(crate) fn adapter(&self) -> &dyn DynAdapter {
        &*self.adapter
    }

    /// Registers this node's sockets in the adapter's local index.
    pub(crate) fn registry(&self) -> &SocketRegistry {
        &self.registry
    }

    pub(crate) fn parser(&self) -> ParserKind {
        self.adapter.local().parser()
    }

    pub(crate) fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    pub(crate) fn handlers(&self) -> &NsHandlers<S> {
        &self.handlers
    }

    /// The server's hooks, if set (one atomic load).
    #[inline]
    pub(crate) fn hooks(&self) -> Option<&Arc<dyn SocketHooks<S>>> {
        self.hooks.get()
    }

    pub(crate) fn request_timeout(&self) -> Duration {
        self.request_timeout
    }

    /// Whether it is a child of a dynamic namespace (removed once idle).
    pub(crate) fn is_child(&self) -> bool {
        self.on_idle.is_some()
    }

    /// No socket and no connect under way.
    pub(crate) fn is_idle(&self) -> bool {
        self.connecting.load(Ordering::Acquire) == 0 && self.adapter.local().is_empty()
    }

    /// A connect to the namespace starts; the guard ends it.
    pub(crate) fn begin_connect(self: &Arc<Self>) -> ConnectGuard<S> {
        self.connecting.fetch_add(1, Ordering::AcqRel);
        ConnectGuard(self.clone())
    }

    /// Tells the idle hook when the namespace may have become idle (a socket left, a connect
    /// ended).
    pub(crate) fn check_idle(self: &Arc<Self>) {
        if let Some(hook) = &self.on_idle
            && self.is_idle()
        {
            hook(self);
        }
    }
}

/// A connect under way to a namespace; dropping it ends the connect (whatever its outcome).
pub(crate) struct ConnectGuard<S>(Arc<NsState<S>>);

impl<S> Drop for ConnectGuard<S> {
    fn drop(&mut self) {
        self.0.connecting.fetch_sub(1, Ordering::AcqRel);
        self.0.check_idle();
    }
}
