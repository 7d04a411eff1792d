//! Shared fixture of the black-box tests: `sio-node` processes on free ports, stopped when
//! dropped, and the third-party client scripts under `tests/interop/`.

#![allow(dead_code, unreachable_pub, missing_docs)]

pub mod admin;
pub mod cluster;
pub mod parsers;

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The first port of the range that [`free_port`] draws from.
const PORTS_FROM: u16 = 10_000;
/// The end (exclusive) of that range: a Redis Cluster node also listens on its port + 10 000,
/// and both stay below the kernel's ephemeral range (32 768 and up by default).
const PORTS_TO: u16 = 22_768;

/// A free TCP port on loopback, for a server a test starts.
///
/// Drawn below the kernel's ephemeral range, not from it (`bind(":0")` would): between this
/// check and the server's own `bind`, any outgoing connection of any test could otherwise be
/// given the same port as its local end, and the server would fail to start (a Redis Cluster
/// node did, in CI). Ports are drawn in a sequence that starts at a point picked from the
/// process id and the clock, so concurrent test threads never share one and concurrent
/// processes rarely try the same.
pub fn free_port() -> u16 {
    use std::sync::LazyLock;
    use std::sync::atomic::{AtomicU32, Ordering};
    static START: LazyLock<u32> = LazyLock::new(|| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        std::process::id().wrapping_mul(7_919) ^ nanos
    });
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let span = u32::from(PORTS_TO - PORTS_FROM);
    for _ in 0..span {
        let offset = START.wrapping_add(NEXT.fetch_add(1, Ordering::Relaxed)) % span;
        let port = PORTS_FROM + offset as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in {PORTS_FROM}..{PORTS_TO}");
}

/// A running `sio-node`, killed when dropped.
pub struct Node {
    pub child: Child,
    pub addr: SocketAddr,
    pub node_id: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
}

impl Node {
    /// Starts a node with `args` (besides `--bind` and `--node-id`) and waits for `/healthz`.
    pub fn spawn(node_id: &str, args: &[&str]) -> Node {
        Self::start(node_id, args, None, &[])
    }

    /// Like `spawn`, with the node's output (logs at debug level, unless `env` sets
    /// `RUST_LOG`) in `log` and extra environment variables.
    pub fn spawn_logged(
        node_id: &str,
        args: &[&str],
        log: &std::path::Path,
        env: &[(&str, String)],
    ) -> Node {
        Self::start(node_id, args, Some(log), env)
    }

    fn start(
        node_id: &str,
        args: &[&str],
        log: Option<&std::path::Path>,
        env: &[(&str, String)],
    ) -> Node {
        let port = free_port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        let child = launch(node_id, addr, &args, log, &env);
        let node = Node {
            child,
            addr,
            node_id: node_id.to_owned(),
            args,
            env,
        };
        node.wait_healthy();
        node
    }

    /// Kills the process (SIGKILL) if it still runs, starts a new one on the same address with
    /// the same flags (output in `log`), and waits for `/healthz`.
    pub fn respawn(&mut self, log: Option<&std::path::Path>) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = launch(&self.node_id, self.addr, &self.args, log, &self.env);
        self.wait_healthy();
    }

    /// The process's resident memory in KiB (`VmRSS`), `None` once it has exited.
    pub fn rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    fn wait_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Some((200, _)) = http_get(self.addr, "/healthz") {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("sio-node on {} did not become healthy", self.addr);
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal (`TERM`, `KILL`, ...) to the node.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// Waits for the process to exit (up to `limit`); returns its exit status.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

fn launch(
    node_id: &str,
    addr: SocketAddr,
    args: &[String],
    log: Option<&std::path::Path>,
    env: &[(String, String)],
) -> Child {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sio-node"));
    command
        .arg("--bind")
        .arg(addr.to_string())
        .arg("--node-id")
        .arg(node_id)
        .args(args)
        .env(
            "RUST_LOG",
            std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .stdin(Stdio::null());
    if let Some(log) = log {
        let file = std::fs::File::create(log).expect("log file");
        command
            .env("RUST_LOG", "debug")
            .stdout(file.try_clone().expect("log file"))
            .stderr(file);
    }
    command.envs(env.iter().map(|(k, v)| (k, v)));
    command.spawn().expect("sio-node starts")
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plain HTTP GET; `None` when the server cannot be reached.
pub fn http_get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = String::new();
    stream.read_to_string(&mut raw).ok()?;
    let (head, body) = raw.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_owned()))
}

/// The folder of the third-party client scripts (`SIO_INTEROP_DIR`, or `tests/interop`).
pub fn interop_dir() -> PathBuf {
    std::env::var_os("SIO_INTEROP_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop"))
}

/// Runs a Node.js client script from the interop folder; panics with its output on failure.
pub fn run_node(script: &str, args: &[&str]) -> Output {
    let dir = interop_dir();
    assert!(
        dir.join("node_modules").is_dir(),
        "{} has no node_modules: run scripts/install-deps.sh first",
        dir.display()
    );
    run_checked(
        Command::new("node")
            .current_dir(&dir)
            .arg(script)
            .args(args),
    )
}

/// Like `run_node`, with extra environment variables.
pub fn run_node_env(script: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let dir = interop_dir();
    assert!(
        dir.join("node_modules").is_dir(),
        "{} has no node_modules",
        dir.display()
    );
    run_checked(
        Command::new("node")
            .current_dir(&dir)
            .arg(script)
            .args(args)
            .envs(env.iter().copied()),
    )
}

/// Runs a Python client script from the interop folder with its virtualenv.
pub fn run_python(script: &str, args: &[&str]) -> Output {
    let dir = interop_dir();
    let python = dir.join(".venv/bin/python");
    assert!(
        python.is_file(),
        "{} is missing: run scripts/install-deps.sh first",
        python.display()
    );
    run_checked(
        Command::new(python)
            .current_dir(&dir)
            .arg(script)
            .args(args),
    )
}

fn run_checked(command: &mut Command) -> Output {
    let output = command.output().expect("the client script runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{command:?} failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(
        stdout.lines().any(|l| l.starts_with("ok")),
        "{command:?} reported no passed check:\n{stdout}"
    );
    output
}

pub mod client;
pub mod redis_cluster;

/// Waits (up to 10 s) until `node`'s `/metrics` contains `line`.
pub fn wait_for_metric(node: &Node, line: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !http_get(node.addr, "/metrics").is_some_and(|m| m.1.contains(line)) {
        assert!(
            Instant::now() < deadline,
            "{} never showed {line:?}",
            node.node_id
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `redis-cli -p port args...`, its output as text.
pub fn cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A `redis-server` on a free port, killed when dropped; it can be killed and restarted on the
/// same port.
pub struct Redis {
    pub port: u16,
    child: Option<Child>,
}

impl Redis {
    pub fn start() -> Redis {
        let mut redis = Redis {
            port: free_port(),
            child: None,
        };
        redis.restart();
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts (again) the server and waits until it answers; returns when it first accepted
    /// a connection (checked every millisecond).
    pub fn restart(&mut self) -> Instant {
        assert!(self.child.is_none(), "redis already running");
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server runs (scripts/install-deps.sh installs it)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut accepted = None;
        while Instant::now() < deadline {
            if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) {
                let at = *accepted.get_or_insert_with(Instant::now);
                use std::io::{Read, Write};
                let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
                let mut buf = [0u8; 7];
                if s.write_all(b"PING\r\n").is_ok()
                    && s.read_exact(&mut buf).is_ok()
                    && &buf == b"+PONG\r\n"
                {
                    return at;
                }
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        panic!("redis-server did not start");
    }

    /// Kills the server (SIGKILL).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A Node.js cluster node (`tests/interop/node_cluster_node.mjs`), killed when dropped.
pub struct NodeJs(Child);

impl Drop for NodeJs {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts a Node.js node on Redis `redis` with extra environment variables; returns it and its
/// URL once `/healthz` answers.
pub fn spawn_node_js(redis: &str, id: &str, env: &[(&str, &str)]) -> (NodeJs, String) {
    spawn_node_js_variant(redis, id, "classic", env)
}

/// Like [`spawn_node_js`], with Node's adapter `variant`: `classic`, or `sharded:<mode>`
/// (`createShardedAdapter` with that subscription mode).
pub fn spawn_node_js_variant(
    redis: &str,
    id: &str,
    variant: &str,
    env: &[(&str, &str)],
) -> (NodeJs, String) {
    let dir = interop_dir();
    assert!(
        dir.join("node_modules").is_dir(),
        "run scripts/install-deps.sh first"
    );
    let port = free_port();
    let child = Command::new("node")
        .current_dir(&dir)
        .args([
            "node_cluster_node.mjs",
            &port.to_string(),
            redis,
            id,
            variant,
        ])
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .spawn()
        .expect("node runs");
    let guard = NodeJs(child);
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while http_get(addr, "/healthz").is_none() {
        assert!(Instant::now() < deadline, "the Node.js node did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    (guard, format!("http://{addr}"))
}

/// `haproxy` in front of nodes, with the configuration of `deploy/haproxy.cfg.tmpl` (rendered by
/// `scripts/render-haproxy.sh`), on a free port; killed when dropped.
pub struct HaProxy {
    child: Child,
    pub addr: SocketAddr,
}

impl HaProxy {
    /// Starts haproxy for `servers` (name, address), its configuration and log in `dir`, and
    /// waits until `/healthz` answers through it.
    pub fn start(servers: &[(&str, SocketAddr)], dir: &std::path::Path) -> HaProxy {
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let rendered = Command::new(root.join("scripts/render-haproxy.sh"))
            .arg(addr.to_string())
            .args(servers.iter().map(|(name, a)| format!("{name}={a}")))
            .output()
            .expect("render-haproxy.sh runs");
        assert!(rendered.status.success(), "{rendered:?}");
        let config = dir.join("haproxy.cfg");
        std::fs::write(&config, &rendered.stdout).unwrap();
        let log = std::fs::File::create(dir.join("haproxy.log")).unwrap();
        let child = Command::new("haproxy")
            .arg("-f")
            .arg(&config)
            .arg("-db")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("haproxy runs (scripts/install-deps.sh installs it)");
        let haproxy = HaProxy { child, addr };
        let deadline = Instant::now() + Duration::from_secs(15);
        while http_get(addr, "/healthz").is_none_or(|r| r.0 != 200) {
            assert!(Instant::now() < deadline, "haproxy did not come up");
            std::thread::sleep(Duration::from_millis(50));
        }
        haproxy
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for HaProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Asserts that a scenario script's output has every one of `checks` (`ok ...` lines) and no
/// failed check.
pub fn assert_checks(stdout: &str, checks: &[&str]) {
    for check in checks {
        assert!(
            stdout.contains(&format!("ok {check}")),
            "missing `ok {check}` in:\n{stdout}"
        );
    }
    assert!(!stdout.contains("FAIL"), "{stdout}");
}
