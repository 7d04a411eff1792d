//! `sio-node`: one node of a Socket.IO cluster, serving the reference app.
//!
//! Without `--redis` the node runs alone on the in-memory adapter.

mod app;
mod http;
mod limits;

use std::net::SocketAddr;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use sio_adapter_redis::{
    Driver, NodeRoute, RedisAdapter, RedisAdapterConfig, RedisCluster, RedisClusterDriver,
    RedisDriver, RedisDriverConfig, RedisStreamsAdapter, RedisStreamsCluster, ShardedRedisAdapter,
    StreamsConfig, SubscriptionMode,
};
use sio_server::engine::{ForwardingConfig, NodeTag};
use sio_server::protocol::ParserKind;
use sio_server::{Server, ServerBuilder};

/// Command-line flags (each also read from the environment).
#[derive(Debug, Parser)]
#[command(name = "sio-node", version, about = "A Socket.IO cluster node")]
struct Flags {
    /// Address to listen on.
    #[arg(long, env = "SIO_BIND", default_value = "127.0.0.1:3000")]
    bind: SocketAddr,
    /// Redis URL (`redis://host:port`, `rediss://...`): joins the cluster through Redis. With
    /// `--redis-cluster`, seed nodes of a Redis Cluster (repeatable or comma-separated).
    #[arg(long, env = "REDIS_URL", hide_env_values = true, value_delimiter = ',')]
    redis: Vec<String>,
    /// This node's id (default: a random UUID).
    #[arg(long, env = "NODE_ID")]
    node_id: Option<String>,
    /// Require `{"token": <TOKEN>}` as the CONNECT auth payload.
    #[arg(long, env = "AUTH_TOKEN", hide_env_values = true)]
    auth_token: Option<String>,
    /// Ping interval in milliseconds.
    #[arg(long, env = "SIO_PING_INTERVAL_MS", default_value_t = 25_000)]
    ping_interval_ms: u64,
    /// Ping timeout in milliseconds.
    #[arg(long, env = "SIO_PING_TIMEOUT_MS", default_value_t = 20_000)]
    ping_timeout_ms: u64,
    /// The most connections this node holds; further handshakes get 503 (default: unlimited).
    #[arg(long, env = "SIO_MAX_CONNECTIONS")]
    max_connections: Option<usize>,
    /// Redis channel prefix (the same for every node of a cluster, Node nodes included).
    #[arg(long, env = "SIO_REDIS_PREFIX", default_value = "socket.io")]
    redis_prefix: String,
    /// How often the node heartbeats to the cluster, in milliseconds; a node silent for two
    /// intervals is considered dead.
    #[arg(long, env = "SIO_HEARTBEAT_MS", default_value_t = 5_000)]
    heartbeat_ms: u64,
    /// Use Redis sharded pub/sub (SPUBLISH/SSUBSCRIBE; Redis 7+), speaking the wire format of
    /// Node's `createShardedAdapter`. Every node of the cluster must use it.
    #[arg(long, env = "SIO_REDIS_SHARDED")]
    redis_sharded: bool,
    /// With `--redis-sharded`: `static` (namespace channels only), `dynamic` (also the channel
    /// of each public room with a local member) or `dynamic-private` (and of each local
    /// socket). Every node of the cluster must use the same.
    /// Default: `dynamic`.
    #[arg(long, env = "SIO_REDIS_SUBSCRIPTION_MODE")]
    redis_subscription_mode: Option<SubscriptionMode>,
    /// The `--redis` URLs are seed nodes of a Redis Cluster: each channel is published and
    /// subscribed on its slot's master, following failovers and reshards. Implies
    /// `--redis-sharded`.
    #[arg(long, env = "SIO_REDIS_CLUSTER")]
    redis_cluster: bool,
    /// Connection state recovery: how long (ms) a disconnected client's session and the
    /// broadcasts it missed are kept for it to recover; 0 or absent: off.
    #[arg(long, env = "SIO_RECOVERY_MS")]
    recovery_ms: Option<u64>,
    /// Use the Redis Streams adapter (wire-compatible with Node's
    /// `@socket.io/redis-streams-adapter`) instead of pub/sub; needs `--redis`. With
    /// `--recovery-ms`, sessions survive the death of their node.
    #[arg(long, env = "SIO_REDIS_STREAMS")]
    redis_streams: bool,
    /// The socket.io-client browser bundle (`socket.io.min.js` from the npm package), served at
    /// `/socket.io/socket.io.min.js` for pages of your own (the chat page has its own client).
    #[arg(long, env = "SIO_CLIENT_BUNDLE")]
    client_bundle: Option<std::path::PathBuf>,
    /// Log format: `text` (coloured only on a terminal) or `json` (one object per line).
    #[arg(long, env = "SIO_LOG_FORMAT", value_enum, default_value = "text")]
    log_format: LogFormat,
    /// Allowed CORS origins (repeatable); none: CORS headers are not sent.
    #[arg(long = "cors-origin", env = "SIO_CORS_ORIGINS", value_delimiter = ',')]
    cors_origins: Vec<String>,
    /// The address (`host:port`) other nodes use to forward requests to this one, announced in
    /// the heartbeat (default: the bound address, unless it is unspecified such as 0.0.0.0).
    #[arg(long, env = "SIO_ADVERTISE")]
    advertise: Option<String>,
    /// Turn off session forwarding (with `--redis`, on by default): polling clients then need a
    /// load balancer with sticky sessions.
    #[arg(long, env = "SIO_NO_FORWARDING", value_parser = clap::builder::BoolishValueParser::new())]
    no_forwarding: bool,
    /// Send long-polling responses uncompressed (by default one of 1 KiB or more is gzip- or
    /// deflate-encoded when the client accepts it).
    #[arg(long, env = "SIO_NO_HTTP_COMPRESSION", value_parser = clap::builder::BoolishValueParser::new())]
    no_http_compression: bool,
    /// Open the Socket.IO Admin UI's namespace (`/admin`) on this node (give it on every node).
    /// Needs `--admin-user` and `--admin-password-hash`, or `--admin-no-auth`.
    #[arg(long, env = "SIO_ADMIN_UI", value_parser = clap::builder::BoolishValueParser::new())]
    admin_ui: bool,
    /// The admin UI's username.
    #[arg(long, env = "SIO_ADMIN_USER")]
    admin_user: Option<String>,
    /// The bcrypt hash of the admin UI's password (`$2b$10$...`).
    #[arg(long, env = "SIO_ADMIN_PASSWORD_HASH", hide_env_values = true)]
    admin_password_hash: Option<String>,
    /// Run the admin UI without authentication: anyone who reaches the node administers the
    /// cluster.
    #[arg(long, env = "SIO_ADMIN_NO_AUTH", value_parser = clap::builder::BoolishValueParser::new())]
    admin_no_auth: bool,
    /// Read-only admin UI: it shows the cluster but cannot emit, join, leave or disconnect.
    #[arg(long, env = "SIO_ADMIN_READONLY", value_parser = clap::builder::BoolishValueParser::new())]
    admin_readonly: bool,
    /// `development` (every socket, room and event, live) or `production` (server stats only).
    #[arg(
        long,
        env = "SIO_ADMIN_MODE",
        value_enum,
        default_value = "development"
    )]
    admin_mode: AdminModeFlag,
    /// Socket.IO packet format: `json` (the default parser of every client) or `msgpack`
    /// (`socket.io-msgpack-parser`; clients must be built with it). Every node of a cluster must
    /// use the same, since a load balancer may send any client to any node.
    #[arg(long, env = "SIO_PARSER", value_enum, default_value = "json")]
    parser: PacketFormat,
}

/// The Socket.IO packet format of the node's clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum PacketFormat {
    /// The default text format with binary attachments.
    Json,
    /// `socket.io-msgpack-parser`: one binary msgpack message per packet.
    Msgpack,
}

/// The admin UI's mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum AdminModeFlag {
    /// Sockets, rooms and events as they happen, and the server stats.
    Development,
    /// The server stats only.
    Production,
}

/// The admin UI's options from the flags; `None` without `--admin-ui`. Refuses an admin UI
/// without credentials unless `--admin-no-auth` says so.
fn admin_options(flags: &Flags, node_id: &str) -> anyhow::Result<Option<sio_admin::AdminOptions>> {
    let any_admin_flag = flags.admin_user.is_some()
        || flags.admin_password_hash.is_some()
        || flags.admin_no_auth
        || flags.admin_readonly;
    if !flags.admin_ui {
        if any_admin_flag {
            anyhow::bail!("the --admin-* flags need --admin-ui");
        }
        return Ok(None);
    }
    let options = sio_admin::AdminOptions::default()
        .server_id(node_id)
        .readonly(flags.admin_readonly)
        .mode(match flags.admin_mode {
            AdminModeFlag::Development => sio_admin::AdminMode::Development,
            AdminModeFlag::Production => sio_admin::AdminMode::Production,
        });
    let options = match (
        &flags.admin_user,
        &flags.admin_password_hash,
        flags.admin_no_auth,
    ) {
        (Some(user), Some(hash), false) => options.basic_auth(user, hash),
        (None, None, true) => options.no_auth(),
        (_, _, true) => {
            anyhow::bail!("--admin-no-auth excludes --admin-user and --admin-password-hash")
        }
        _ => anyhow::bail!(
            "--admin-ui needs --admin-user and --admin-password-hash (a bcrypt hash), or --admin-no-auth"
        ),
    };
    Ok(Some(options))
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    /// Human-readable lines; coloured only when stdout is a terminal.
    Text,
    /// One JSON object per line (for journald, Loki, files).
    Json,
}

/// Installs the log subscriber: `RUST_LOG` filters (default `info`); ANSI colours only on a
/// terminal, so compose, journald and files get plain text.
fn init_logs(format: LogFormat) {
    use std::io::IsTerminal as _;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        LogFormat::Text => logs.with_ansi(std::io::stdout().is_terminal()).init(),
        LogFormat::Json => logs.json().with_current_span(false).init(),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let flags = Flags::parse();
    init_logs(flags.log_format);
    let node_id = flags
        .node_id
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    // A bad admin UI configuration stops the node before it binds.
    admin_options(&flags, &node_id)?;
    let mut builder = Server::builder()
        .ping_interval(std::time::Duration::from_millis(flags.ping_interval_ms))
        .ping_timeout(std::time::Duration::from_millis(flags.ping_timeout_ms))
        .parser(match flags.parser {
            PacketFormat::Json => ParserKind::Json,
            PacketFormat::Msgpack => ParserKind::MsgPack,
        });
    if let Some(max) = flags.max_connections {
        builder = builder.max_connections(max);
    }
    if flags.no_http_compression {
        builder = builder.http_compression(None);
    }
    if let Some(ms) = flags.recovery_ms.filter(|ms| *ms > 0) {
        builder = builder.connection_state_recovery(sio_server::adapter::RecoveryConfig {
            max_disconnection_duration: Duration::from_millis(ms),
            ..sio_server::adapter::RecoveryConfig::default()
        });
    }
    if !flags.cors_origins.is_empty() {
        builder = builder.cors(
            sio_server::engine::CorsConfig::origins(flags.cors_origins.clone())
                .with_credentials(true),
        );
    }
    let app = app::AppConfig {
        node_id: node_id.clone(),
        auth_token: flags.auth_token.clone(),
    };
    if flags.redis_streams && flags.redis.is_empty() {
        anyhow::bail!("--redis-streams needs --redis URL");
    }
    let sharded = flags.redis_sharded || flags.redis_cluster;
    if flags.redis_subscription_mode.is_some() && !sharded {
        anyhow::bail!("--redis-subscription-mode needs --redis-sharded or --redis-cluster");
    }
    if flags.redis.len() > 1 && !flags.redis_cluster {
        anyhow::bail!("several --redis URLs need --redis-cluster");
    }
    let listener = tokio::net::TcpListener::bind(flags.bind)
        .await
        .with_context(|| format!("binding {}", flags.bind))?;
    let local = listener.local_addr()?;
    match flags.redis.first() {
        Some(url) => {
            let config = RedisDriverConfig {
                sharded,
                ..RedisDriverConfig::default()
            };
            let driver: Arc<dyn Driver> = if flags.redis_cluster {
                Arc::new(
                    RedisClusterDriver::new(&flags.redis, config).context("invalid --redis URL")?,
                )
            } else {
                Arc::new(RedisDriver::new(url, config).context("invalid --redis URL")?)
            };
            if flags.redis_streams {
                let cluster = RedisStreamsCluster::new(
                    url,
                    driver,
                    StreamsConfig {
                        channel_prefix: flags.redis_prefix.clone(),
                        node_id: node_id.clone(),
                        ..StreamsConfig::default()
                    },
                )
                .context("invalid --redis URL")?;
                // No session forwarding here (it needs the pub/sub adapter's heartbeats):
                // polling clients need sticky sessions.
                tracing::info!(node = %node_id, "joining the cluster through redis streams");
                let builder = builder.adapter::<RedisStreamsAdapter>(cluster);
                return run(builder, listener, &flags, app).await;
            }
            let heartbeat_interval = Duration::from_millis(flags.heartbeat_ms.max(100));
            let route = forwarding_route(&flags, local)?;
            let cluster = RedisCluster::new(
                driver,
                RedisAdapterConfig {
                    prefix: flags.redis_prefix.clone(),
                    node_id: node_id.clone(),
                    heartbeat_interval,
                    route: route.clone(),
                    subscription_mode: flags.redis_subscription_mode.unwrap_or_default(),
                    ..RedisAdapterConfig::default()
                },
            );
            if let Some(route) = route {
                tracing::info!(tag = %route.tag, addr = %route.addr, "forwarding sessions");
                let directory = Arc::new(cluster.clone());
                builder = builder.forwarding(
                    // An owner silent for most of a heartbeat interval is dead: the client hears
                    // so within one interval.
                    ForwardingConfig::new(route.tag, directory)
                        .answer_timeout(heartbeat_interval.mul_f64(0.8)),
                );
            }
            tracing::info!(node = %node_id, sharded, redis_cluster = flags.redis_cluster, "joining the cluster through redis");
            let builder = if sharded {
                builder.adapter::<ShardedRedisAdapter>(cluster)
            } else {
                builder.adapter::<RedisAdapter>(cluster)
            };
            run(builder, listener, &flags, app).await
        }
        None => run(builder, listener, &flags, app).await,
    }
}

/// This node's forwarding route: a fresh tag and the advertised address, or `None` when
/// forwarding is off (`--no-forwarding`, or no address to advertise).
fn forwarding_route(flags: &Flags, local: SocketAddr) -> anyhow::Result<Option<NodeRoute>> {
    if flags.no_forwarding {
        return Ok(None);
    }
    let addr = match &flags.advertise {
        Some(addr) => addr.clone(),
        None if !local.ip().is_unspecified() => local.to_string(),
        None => {
            tracing::warn!(
                bind = %local,
                "session forwarding off: the bound address is unspecified, give --advertise \
                 HOST:PORT (where other nodes reach this one); polling clients need sticky sessions"
            );
            return Ok(None);
        }
    };
    Ok(Some(NodeRoute {
        tag: NodeTag::random(),
        addr,
    }))
}

async fn run(
    builder: ServerBuilder,
    listener: tokio::net::TcpListener,
    flags: &Flags,
    app: app::AppConfig,
) -> anyhow::Result<()> {
    let io = builder.build();
    let limits = app::register(&io, &app);
    // Kept for the node's life (in the HTTP routes): the admin reports stop when it drops.
    let admin = match admin_options(flags, &app.node_id)? {
        Some(options) => {
            tracing::info!(
                readonly = flags.admin_readonly,
                "admin UI namespace /admin open"
            );
            Some(Arc::new(
                sio_admin::instrument(&io, options).context("admin UI")?,
            ))
        }
        None => None,
    };
    let local = listener.local_addr()?;
    tracing::info!(addr = %local, node = %app.node_id, "sio-node listening");
    let bundle = match &flags.client_bundle {
        Some(path) => Some(
            std::fs::read(path)
                .with_context(|| format!("reading the client bundle {}", path.display()))?,
        ),
        None => None,
    };
    let node = http::Node::new(io.clone(), app.node_id.clone(), bundle, limits, admin);
    // On SIGTERM: stop accepting, close the clients (what is queued first), flush the adapter
    // and announce the departure, then let the last HTTP exchanges finish.
    sio_server::serve::serve_http_with_drain(
        listener,
        move |req, peer| {
            let node = node.clone();
            async move { node.handle(req, peer).await }
        },
        async {
            shutdown_signal().await;
            tracing::info!("shutting down");
        },
        async move { io.close().await },
    )
    .await?;
    tracing::info!("stopped");
    Ok(())
}

/// Resolves on SIGTERM or SIGINT.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
