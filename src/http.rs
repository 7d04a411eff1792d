//! The node's HTTP surface: the Socket.IO endpoint, the chat page at `/`, health and readiness
//! probes, and Prometheus metrics.

use std::fmt::Write as _;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use sio_server::Server;

use crate::limits::ClusterQueryLimits;

/// The chat page served at `/`.
const INDEX_HTML: &str = include_str!("index.html");
/// The page's own small Socket.IO client (polling, upgrade, websocket, acks, reconnection),
/// built into the binary so the page works with no flag and no internet.
const CHAT_CLIENT_JS: &str = include_str!("chat-client.js");

/// The HTTP routes of one node.
pub(crate) struct Node {
    io: Server,
    node_id: String,
    client_bundle: Option<Bytes>,
    limits: std::sync::Arc<ClusterQueryLimits>,
    /// The admin UI, when `--admin-ui` is on (its counters go to `/metrics`).
    admin: Option<std::sync::Arc<sio_admin::AdminUi>>,
}

impl Clone for Node {
    fn clone(&self) -> Self {
        Node {
            io: self.io.clone(),
            node_id: self.node_id.clone(),
            client_bundle: self.client_bundle.clone(),
            limits: self.limits.clone(),
            admin: self.admin.clone(),
        }
    }
}

fn respond(
    status: StatusCode,
    content_type: &str,
    body: impl Into<Bytes>,
) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .header("cache-control", "no-store")
        .body(Full::new(body.into()))
        .unwrap_or_default()
}

impl Node {
    pub(crate) fn new(
        io: Server,
        node_id: String,
        client_bundle: Option<Vec<u8>>,
        limits: std::sync::Arc<ClusterQueryLimits>,
        admin: Option<std::sync::Arc<sio_admin::AdminUi>>,
    ) -> Self {
        Node {
            io,
            node_id,
            client_bundle: client_bundle.map(Bytes::from),
            limits,
            admin,
        }
    }

    pub(crate) async fn handle(
        &self,
        req: Request<Incoming>,
        peer: SocketAddr,
    ) -> Response<Full<Bytes>> {
        let path = req.uri().path();
        if self.io.handles_path(path) {
            return self.io.handle(req, Some(peer)).await;
        }
        match path {
            "/healthz" => respond(StatusCode::OK, "text/plain", "ok\n"),
            "/chat-client.js" => respond(StatusCode::OK, "application/javascript", CHAT_CLIENT_JS),
            "/socket.io/socket.io.min.js" => match &self.client_bundle {
                Some(bundle) => respond(StatusCode::OK, "application/javascript", bundle.clone()),
                None => respond(
                    StatusCode::NOT_FOUND,
                    "text/plain",
                    "no client bundle configured\n",
                ),
            },
            "/readyz" => match self.io.server_count().await {
                Ok(_) if self.io.of("/").adapter().is_ready() => {
                    respond(StatusCode::OK, "text/plain", "ready\n")
                }
                Ok(_) => respond(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "text/plain",
                    "adapter not ready: not subscribed yet\n",
                ),
                Err(err) => respond(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "text/plain",
                    format!("adapter not ready: {err}\n"),
                ),
            },
            "/metrics" => {
                let mut body = self.metrics();
                let nodes = self.io.server_count().await.unwrap_or(0);
                let _ = writeln!(
                    body,
                    "# HELP sio_cluster_nodes Live nodes in the cluster (0: adapter unreachable)."
                );
                let _ = writeln!(body, "# TYPE sio_cluster_nodes gauge");
                let _ = writeln!(body, "sio_cluster_nodes {nodes}");
                respond(StatusCode::OK, "text/plain; version=0.0.4", body)
            }
            "/" | "/index.html" => respond(
                StatusCode::OK,
                "text/html; charset=utf-8",
                INDEX_HTML.replace("{{NODE_ID}}", &self.node_id),
            ),
            _ => respond(StatusCode::NOT_FOUND, "text/plain", "not found\n"),
        }
    }

    fn metrics(&self) -> String {
        let (polling, websocket) = self.io.sessions_by_transport();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP sio_connections Live Engine.IO connections by transport."
        );
        let _ = writeln!(out, "# TYPE sio_connections gauge");
        let _ = writeln!(out, "sio_connections{{transport=\"polling\"}} {polling}");
        let _ = writeln!(
            out,
            "sio_connections{{transport=\"websocket\"}} {websocket}"
        );
        let _ = writeln!(
            out,
            "# HELP sio_namespace_sockets Sockets connected to this node, by namespace."
        );
        let _ = writeln!(out, "# TYPE sio_namespace_sockets gauge");
        let mut names = self.io.namespaces();
        names.sort();
        for name in &names {
            // A namespace removed meanwhile is skipped, not created again.
            let Some(ns) = self.io.namespace(name) else {
                continue;
            };
            let _ = writeln!(
                out,
                "sio_namespace_sockets{{namespace=\"{}\"}} {}",
                name.replace('\\', "\\\\").replace('"', "\\\""),
                ns.local_socket_count()
            );
        }
        let _ = writeln!(
            out,
            "# HELP sio_namespace_rooms Rooms with a socket of this node, by namespace (own-id rooms not counted)."
        );
        let _ = writeln!(out, "# TYPE sio_namespace_rooms gauge");
        for name in &names {
            let Some(ns) = self.io.namespace(name) else {
                continue;
            };
            let _ = writeln!(
                out,
                "sio_namespace_rooms{{namespace=\"{}\"}} {}",
                name.replace('\\', "\\\\").replace('"', "\\\""),
                ns.adapter().local().room_count()
            );
        }
        let _ = writeln!(out, "# HELP sio_namespaces Namespaces on this node.");
        let _ = writeln!(out, "# TYPE sio_namespaces gauge");
        let _ = writeln!(out, "sio_namespaces {}", names.len());
        self.io.metrics().write_prometheus(&mut out);
        self.limits.write_metrics(&mut out);
        if let Some(admin) = &self.admin {
            admin.write_prometheus(&mut out);
        }
        // Adapter counters are node-wide: the main namespace's adapter reports them.
        self.io.of("/").adapter().write_metrics(&mut out);
        out
    }
}
