//! The HTTP/1.1 accept loop shared by the server and the examples: one task per connection,
//! websocket upgrades enabled, a header read timeout against slow clients, and a graceful
//! shutdown that stops accepting, drains, and lets in-flight requests finish.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};

/// A bound TCP listener to serve on: a [`std::net::TcpListener`] or a
/// `tokio::net::TcpListener`. Sealed: the server takes either without its signatures naming
/// the runtime's type.
pub trait Listener: sealed::Sealed {}

impl Listener for std::net::TcpListener {}
impl Listener for tokio::net::TcpListener {}

mod sealed {
    /// Turns a listener into the runtime's (inside the runtime).
    pub trait Sealed {
        fn into_tokio(self) -> std::io::Result<tokio::net::TcpListener>;
    }

    impl Sealed for std::net::TcpListener {
        fn into_tokio(self) -> std::io::Result<tokio::net::TcpListener> {
            self.set_nonblocking(true)?;
            tokio::net::TcpListener::from_std(self)
        }
    }

    impl Sealed for tokio::net::TcpListener {
        fn into_tokio(self) -> std::io::Result<tokio::net::TcpListener> {
            Ok(self)
        }
    }
}

/// How long a client may take to send a request's headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves HTTP/1.1 on `listener`, answering each request with `handler`, until `shutdown`
/// resolves; then stops accepting and waits (up to 5 s) for in-flight requests.
pub async fn serve_http<F, Fut>(
    listener: impl Listener,
    handler: F,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()>
where
    F: Fn(Request<Incoming>, SocketAddr) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    serve_http_with_drain(listener, handler, shutdown, async {}).await
}

/// Like [`serve_http`], with a drain step. Once `shutdown` resolves: the listener closes (new
/// connections are refused), then `drain` runs while the open connections are still served
/// (to deliver what is queued for clients and close them), then the connections are asked to
/// finish their requests and close, and waited for (up to 5 s).
pub async fn serve_http_with_drain<F, Fut>(
    listener: impl Listener,
    handler: F,
    shutdown: impl Future<Output = ()>,
    drain: impl Future<Output = ()>,
) -> std::io::Result<()>
where
    F: Fn(Request<Incoming>, SocketAddr) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let listener = sealed::Sealed::into_tokio(listener)?;
    // Every connection task holds a receiver; dropping the sender asks them to wind down, and
    // `closed()` resolves once the last one has finished.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(());
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(err) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let handler = handler.clone();
        let service = service_fn(move |req: Request<Incoming>| {
            let fut = handler(req, peer);
            async move { Ok::<_, Infallible>(fut.await) }
        });
        let conn = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT)
            .keep_alive(true)
            .serve_connection(TokioIo::new(stream), service)
            .with_upgrades();
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            tokio::pin!(conn);
            let result = tokio::select! {
                result = conn.as_mut() => result,
                _ = stop.changed() => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(err) = result {
                tracing::trace!(error = %err, "http connection ended with an error");
            }
            drop(stop);
        });
    }
    // Stop accepting first: from here on a connection attempt is refused by the OS.
    drop(listener);
    drain.await;
    drop(stop_rx);
    stop_tx.send_replace(());
    let _ = tokio::time::timeout(Duration::from_secs(5), stop_tx.closed()).await;
    Ok(())
}
