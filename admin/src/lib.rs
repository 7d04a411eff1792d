//! `sio-admin`: the server side of the [Socket.IO Admin UI](https://admin.socket.io)
//! (`@socket.io/admin-ui` 0.5) for an `sio-server` [`Server`], cluster-wide through its
//! adapter.
//!
//! [`instrument`] opens the admin namespace (`/admin` by default) on one node; call it on every
//! node of the cluster. An admin client, on whatever node it connects, then sees:
//! - `config`: the features this server offers (the actions unless read-only,
//!   `AGGREGATED_EVENTS`, and `ALL_EVENTS` in development mode);
//! - `all_sockets` (development mode): every socket of every namespace this node knows, on
//!   every node, through `fetch_sockets`;
//! - `server_stats` from every node every two seconds;
//! - in development mode, every socket, room and event of every node as it happens
//!   (`socket_connected`, `room_joined`, `event_received`, ...), through the server's
//!   [`Observer`](sio_server::Observer) hooks.
//!
//! Each node broadcasts its own messages to the admin namespace; the adapter carries them to
//! the admin clients of the other nodes (as Node's instrumentation does over the Redis
//! adapter). The actions the UI sends (`emit`, `join`, `leave`, `_disconnect`) are applied
//! by selector through the adapter, so they reach sockets on any node.
//!
//! ```no_run
//! use sio_admin::{AdminOptions, instrument};
//! use sio_server::Server;
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let io = Server::builder().build();
//! // The hash of the password, e.g. from `htpasswd -bnBC 10 "" password` or bcryptjs.
//! let hash = "$2b$10$heqvAkYMez.Va6Et2uXInOnkCT6/uQj1brkrbyG3LpopDklcq7ZOS";
//! let admin = instrument(&io, AdminOptions::default().basic_auth("admin", hash))?;
//! // ... serve `io`; the admin namespace lives as long as `admin`.
//! # drop(admin); Ok(()) }
//! ```

mod actions;
mod auth;
mod error;
mod live;
mod options;
mod serialize;
mod stats;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};
use sio_server::{Server, Socket};
use tokio::task::JoinHandle;

pub use error::AdminError;
pub use options::{AdminAuth, AdminMode, AdminOptions};

use crate::auth::Authenticator;
use crate::serialize::serialize;

/// The admin namespace of one node. Dropping it stops the node's reports (`server_stats` and
/// the development mode's events); the namespace itself stays.
#[must_use = "the admin UI's reports stop when this is dropped"]
#[derive(Debug)]
pub struct AdminUi {
    tasks: Vec<JoinHandle<()>>,
    dropped: Arc<AtomicU64>,
}

impl AdminUi {
    /// Development-mode events dropped because the queue to the admin clients was full.
    #[must_use]
    pub fn dropped_events(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Appends the admin UI's counters in the Prometheus text format
    /// (`sio_admin_events_dropped_total`).
    pub fn write_prometheus(&self, out: &mut String) {
        out.push_str(
            "# HELP sio_admin_events_dropped_total Admin UI events dropped because the queue to the admin clients was full.\n\
             # TYPE sio_admin_events_dropped_total counter\n",
        );
        out.push_str(&format!(
            "sio_admin_events_dropped_total {}\n",
            self.dropped_events()
        ));
    }
}

impl Drop for AdminUi {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Opens the admin namespace on `io` (call it inside a tokio runtime, on every node).
///
/// Fails when no authentication was chosen, when the password hash is not a bcrypt hash,
/// or, in development mode, when the server already has an [`Observer`](sio_server::Observer).
pub fn instrument(io: &Server, options: AdminOptions) -> Result<AdminUi, AdminError> {
    let auth = Arc::new(Authenticator::new(
        options.auth.as_ref().ok_or(AdminError::AuthNotChosen)?,
    )?);
    if !options.namespace.starts_with('/') {
        return Err(AdminError::InvalidNamespace);
    }
    let development = options.mode == AdminMode::Development;
    let mut features: Vec<&'static str> = if options.readonly {
        Vec::new()
    } else {
        actions::FEATURES.to_vec()
    };
    features.push("AGGREGATED_EVENTS");
    if development {
        features.push("ALL_EVENTS");
    }
    let dropped = Arc::new(AtomicU64::new(0));
    // The observer first: nothing is created when it is refused.
    let queue = if development {
        let (tx, rx) = tokio::sync::mpsc::channel(live::QUEUE);
        let observer = live::LiveEvents::new(options.namespace.clone(), tx, dropped.clone());
        io.observe(Arc::new(observer))
            .map_err(|_| AdminError::ObserverTaken)?;
        Some(rx)
    } else {
        None
    };
    // The middleware at once: no client gets in before it is there.
    let admin = io.of(&options.namespace);
    auth::install(&admin, auth.clone());
    let mut tasks = Vec::new();
    if let Some(rx) = queue {
        tasks.push(tokio::spawn(live::forward(admin.clone(), rx)));
    }
    let server = io.clone();
    let readonly = options.readonly;
    let config = json!({ "supportedFeatures": features });
    admin.on_connection(move |socket: Socket| {
        let io = server.clone();
        let auth = auth.clone();
        let config = config.clone();
        async move {
            if !readonly {
                actions::register(&io, &socket);
            }
            if auth::needs_session(&auth, &socket.handshake().auth) {
                let _ = socket.emit("session", &auth.new_session());
            }
            let _ = socket.emit("config", &config);
            if development {
                let sockets = all_sockets(&io).await;
                let _ = socket.emit("all_sockets", &sockets);
            }
        }
    });
    let server_id = options.server_id.clone().unwrap_or_else(stats::hostname);
    tasks.push(tokio::spawn(stats::report(io.clone(), admin, server_id)));
    Ok(AdminUi { tasks, dropped })
}

/// Every socket of every namespace of this node, on every node of the cluster.
async fn all_sockets(io: &Server) -> Vec<Value> {
    let mut names = io.namespaces();
    names.sort();
    let mut out = Vec::new();
    for name in names {
        let Some(ns) = io.namespace(&name) else {
            continue;
        };
        match ns.fetch_sockets().await {
            Ok(found) => {
                if !found.missing_nodes.is_empty() {
                    tracing::warn!(nsp = %name, missing = ?found.missing_nodes, "admin UI: some nodes did not list their sockets");
                }
                out.extend(found.value.iter().map(|s| serialize(&s.info, &name)));
            }
            Err(err) => tracing::warn!(nsp = %name, error = %err, "admin UI: sockets not listed"),
        }
    }
    out
}
