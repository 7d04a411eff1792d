//! Event handlers: what `Socket::on` and `Namespace::on` (both defined here) accept.

use std::future::Future;
use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::event::{AckSender, BoxFuture, Data, Event};
use crate::namespace::Namespace;
use crate::socket::{BoxedEventHandler, Socket};

/// What `Socket::on` accepts: an async function of the socket and the event, in one of the
/// shapes below. `M` only tells the shapes apart.
///
/// - `|socket: Socket, event: Event| async move { ... }` — the raw event;
/// - `|socket: Socket, Data(x): Data<T>| async move { ... }` — the first argument as `T`;
/// - `|socket: Socket, Data(x): Data<T>, ack: AckSender| async move { ... }` — and its ack.
///
/// An event whose first argument does not deserialize as `T` is dropped (and logged).
pub trait EventHandler<M>: Send + Sync + 'static {
    /// Runs the handler.
    fn call(&self, socket: Socket, event: Event) -> BoxFuture<()>;
}

/// Marks handlers of the raw event.
#[derive(Debug)]
pub struct RawMarker;
/// Marks handlers of typed data.
#[derive(Debug)]
pub struct DataMarker;
/// Marks handlers of typed data with an ack.
#[derive(Debug)]
pub struct DataAckMarker;

impl<F, Fut> EventHandler<RawMarker> for F
where
    F: Fn(Socket, Event) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    fn call(&self, socket: Socket, event: Event) -> BoxFuture<()> {
        Box::pin(self(socket, event))
    }
}

fn typed<T: DeserializeOwned>(event: &Event) -> Option<T> {
    match event.payload.first::<T>() {
        Ok(value) => Some(value),
        Err(err) => {
            tracing::debug!(event = %event.name, error = %err, "event data does not match the handler");
            None
        }
    }
}

impl<F, Fut, T> EventHandler<(DataMarker, T)> for F
where
    T: DeserializeOwned + Send + 'static,
    F: Fn(Socket, Data<T>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    fn call(&self, socket: Socket, event: Event) -> BoxFuture<()> {
        match typed::<T>(&event) {
            Some(value) => Box::pin(self(socket, Data(value))),
            None => Box::pin(async {}),
        }
    }
}

impl<F, Fut, T> EventHandler<(DataAckMarker, T)> for F
where
    T: DeserializeOwned + Send + 'static,
    F: Fn(Socket, Data<T>, AckSender) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    fn call(&self, socket: Socket, event: Event) -> BoxFuture<()> {
        match typed::<T>(&event) {
            Some(value) => Box::pin(self(socket, Data(value), event.ack)),
            None => Box::pin(async {}),
        }
    }
}

/// Boxes any [`EventHandler`].
pub(crate) fn boxed<M, H: EventHandler<M>>(handler: H) -> BoxedEventHandler {
    Arc::new(move |socket, event| handler.call(socket, event))
}

impl Socket {
    /// Handles event `event` (see [`EventHandler`] for the accepted shapes). A second handler
    /// for the same event replaces the first.
    ///
    /// ```
    /// use serde::Deserialize;
    /// use sio_server::{AckSender, Data, Event, Payload, Socket};
    ///
    /// #[derive(Deserialize)]
    /// struct Move { x: i32, y: i32 }
    ///
    /// fn setup(socket: &Socket) {
    ///     // Typed first argument, with the ack.
    ///     socket.on("move", |s: Socket, Data(m): Data<Move>, ack: AckSender| async move {
    ///         let _ = ack.send(&(m.x + m.y));
    ///     });
    ///     // The raw event: every argument, binary attachments included.
    ///     socket.on("upload", |_s: Socket, event: Event| async move {
    ///         let size: usize = event.payload.attachments.iter().map(|b| b.len()).sum();
    ///         let _ = event.ack.send(&size);
    ///     });
    ///     // Binary in an emit.
    ///     let _ = socket.emit_payload("file", Payload::new().binary(vec![1u8, 2, 3]));
    /// }
    /// ```
    pub fn on<M, H: EventHandler<M>>(&self, event: impl Into<String>, handler: H) {
        self.set_handler(event.into(), boxed(handler));
    }

    /// Handles every event that has no handler of its own.
    pub fn on_any<M, H: EventHandler<M>>(&self, handler: H) {
        self.set_catch_all(boxed(handler));
    }
}

impl Namespace {
    /// Handles `event` for every socket of the namespace (a socket's own handler for the same
    /// event, registered with [`Socket::on`], takes precedence). Handlers registered here cost
    /// nothing per socket, unlike handlers registered on each socket in the connect handler.
    ///
    /// ```
    /// use sio_server::{AckSender, Data, Server, Socket};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let io = Server::builder().build();
    /// io.of("/").on("add", |_s: Socket, Data((a, b)): Data<(i64, i64)>, ack: AckSender| async move {
    ///     let _ = ack.send(&(a + b));
    /// });
    /// # }
    /// ```
    pub fn on<M, H: EventHandler<M>>(&self, event: impl Into<String>, handler: H) -> &Self {
        self.set_event_handler(event.into(), boxed(handler));
        self
    }
}
