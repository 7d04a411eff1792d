//! The server's shared state: its configuration, its namespaces (registered and dynamic), its
//! metrics and observer. Below the connection (`client.rs`), which finds a CONNECT's namespace
//! here, and below the public `Server` (`server.rs`), which wraps it.

use std::collections::HashMap;
use std::sync::{Arc, RwLock, Weak};

use crate::config::ServerConfig;
use crate::metrics::{Metrics, add};
use crate::namespace::{AdapterFactory, ConnectGuard, IdleHook, Namespace, NsHandlers};
use crate::observer::{Observer, ObserverSlot};

pub(crate) type Matcher = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// Why a CONNECT found no namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum NamespaceRefusal {
    /// No namespace of that name, and no dynamic namespace matches it.
    #[error("Invalid namespace")]
    Unknown,
    /// The node holds `max_namespaces` namespaces.
    #[error("Too many namespaces")]
    TooMany,
}

pub(crate) struct ServerInner {
    pub(crate) me: Weak<ServerInner>,
    pub(crate) config: ServerConfig,
    pub(crate) adapter: AdapterFactory,
    pub(crate) namespaces: RwLock<HashMap<String, Namespace>>,
    pub(crate) dynamic: RwLock<Vec<(Matcher, Arc<NsHandlers>)>>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) observer: Arc<ObserverSlot>,
}

impl ServerInner {
    pub(crate) fn of(&self, name: &str) -> Namespace {
        if let Some(ns) = self.read_namespaces().get(name) {
            return ns.clone();
        }
        let mut namespaces = self.namespaces.write().unwrap_or_else(|e| e.into_inner());
        namespaces
            .entry(name.to_owned())
            .or_insert_with(|| self.create(name, Arc::default(), None))
            .clone()
    }

    fn create(
        &self,
        name: &str,
        handlers: Arc<NsHandlers>,
        on_idle: Option<IdleHook>,
    ) -> Namespace {
        let ns = Namespace::new(
            name,
            &self.config,
            &self.adapter,
            handlers,
            self.metrics.clone(),
            on_idle,
            self.observer.hooks().clone(),
        );
        if let Some(observer) = self.observer.get() {
            ns.report_to(observer.clone());
            observer.namespace_created(&ns);
        }
        ns
    }

    /// The observer, if one is set.
    pub(crate) fn observer(&self) -> Option<&Arc<dyn Observer>> {
        self.observer.get()
    }

    pub(crate) fn read_namespaces(
        &self,
    ) -> std::sync::RwLockReadGuard<'_, HashMap<String, Namespace>> {
        self.namespaces.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The namespace a CONNECT addresses (a registered one, or a new child of a matching
    /// dynamic namespace), with the connect under way: the namespace is not removed before the
    /// guard drops.
    pub(crate) fn namespace_for(
        &self,
        name: &str,
    ) -> Result<(Namespace, ConnectGuard), NamespaceRefusal> {
        if let Some(ns) = self.read_namespaces().get(name) {
            // Under the lock: a removal (under the write lock) sees the connect under way.
            let guard = ns.begin_connect();
            return Ok((ns.clone(), guard));
        }
        let handlers = self
            .dynamic
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|(matches, _)| matches(name))
            .map(|(_, handlers)| handlers.clone())
            .ok_or(NamespaceRefusal::Unknown)?;
        let mut namespaces = self.namespaces.write().unwrap_or_else(|e| e.into_inner());
        if let Some(ns) = namespaces.get(name) {
            let guard = ns.begin_connect();
            return Ok((ns.clone(), guard));
        }
        if namespaces.len() >= self.config.max_namespaces {
            add(&self.metrics.namespaces_refused, 1);
            tracing::warn!(
                nsp = name,
                limit = self.config.max_namespaces,
                "namespace limit reached; connect refused"
            );
            return Err(NamespaceRefusal::TooMany);
        }
        let ns = self.create(name, handlers, Some(self.idle_hook()));
        namespaces.insert(name.to_owned(), ns.clone());
        let guard = ns.begin_connect();
        Ok((ns, guard))
    }
}
