//! Children of dynamic namespaces do not outlive their sockets: once one has no socket and no
//! connect under way for the grace period (`empty_namespace_grace`), it is removed, and its
//! adapter is told to close it (a cluster adapter unsubscribes its channels and stops naming
//! it in its heartbeats). A later CONNECT creates it again.

use std::sync::Arc;

use crate::event::BoxFuture;
use crate::metrics::add;
use crate::namespace::{IdleHook, Namespace};
use crate::server_inner::ServerInner;

impl ServerInner {
    /// The hook of a child namespace: when it may be idle, check again after the grace period.
    pub(crate) fn idle_hook(&self) -> IdleHook {
        let server = self.me.clone();
        let grace = self.config.empty_namespace_grace;
        Arc::new(move |state| {
            let server = server.clone();
            let ns = Namespace::from_state(state);
            tokio::spawn(async move {
                tokio::time::sleep(grace).await;
                if let Some(server) = server.upgrade() {
                    server.remove_if_idle(&ns);
                }
            });
        })
    }

    /// Removes `ns` if it is still registered and idle, and tells its adapter.
    fn remove_if_idle(&self, ns: &Namespace) {
        let mut namespaces = self.namespaces.write().unwrap_or_else(|e| e.into_inner());
        let registered = namespaces
            .get(ns.name())
            .is_some_and(|current| current.same(ns));
        // Connects start under the namespaces lock, so none can begin between this check and
        // the removal.
        if !registered || !ns.is_child() || !ns.is_idle() {
            return;
        }
        namespaces.remove(ns.name());
        add(&self.metrics.namespaces_removed, 1);
        tracing::debug!(nsp = ns.name(), "empty namespace removed");
        // The adapter's first step runs while the lock is held, so it is ordered before the
        // adapter of a namespace of the same name created again.
        let closing = ns.clone();
        let mut close: BoxFuture<()> =
            Box::pin(async move { closing.adapter().close_namespace().await });
        let mut cx = std::task::Context::from_waker(futures_util::task::noop_waker_ref());
        if close.as_mut().poll(&mut cx).is_pending() {
            tokio::spawn(close);
        }
    }
}
