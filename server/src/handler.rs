//! Event handlers: what `Socket::on` accepts, the event they receive, and the ack sender.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::engine::Session;
use crate::protocol::{Packet, ParserKind, Payload};
use crate::socket::Socket;

/// A boxed, sendable future.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// An event received from a client.
#[derive(Debug)]
pub struct Event {
    /// The event name.
    pub name: String,
    /// The arguments (binary blobs in `payload.attachments`).
    pub payload: Payload,
    /// Answers the event when the client asked for an ack.
    pub ack: AckSender,
}

/// The first argument of an event, deserialized (`null` when there is none).
#[derive(Debug, Clone, PartialEq)]
pub struct Data<T>(pub T);

/// Sends the ack of one event; does nothing when the client asked for none.
#[derive(Debug)]
pub struct AckSender {
    target: Option<AckTarget>,
}

#[derive(Debug)]
struct AckTarget {
    session: Arc<Session>,
    nsp: Arc<str>,
    id: u64,
    parser: ParserKind,
}

impl AckSender {
    pub(crate) fn new(
        session: Arc<Session>,
        nsp: Arc<str>,
        id: Option<u64>,
        parser: ParserKind,
    ) -> Self {
        AckSender {
            target: id.map(|id| AckTarget {
                session,
                nsp,
                id,
                parser,
            }),
        }
    }

    /// Whether the client asked for an ack.
    #[must_use]
    pub fn is_requested(&self) -> bool {
        self.target.is_some()
    }

    /// Answers with one serializable argument.
    pub fn send<T: Serialize + ?Sized>(self, value: &T) -> Result<(), serde_json::Error> {
        self.send_payload(Payload::from_value(value)?);
        Ok(())
    }

    /// Answers with any arguments, binary included.
    pub fn send_payload(self, payload: Payload) {
        if let Some(t) = self.target {
            let packet = Packet::ack(t.nsp.as_ref(), t.id, payload);
            let _ = t.session.send(t.parser.encode(&packet));
        }
    }
}

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

/// A stored event handler.
pub(crate) type BoxedEventHandler = Arc<dyn Fn(Socket, Event) -> BoxFuture<()> + Send + Sync>;

/// Boxes any [`EventHandler`].
pub(crate) fn boxed<M, H: EventHandler<M>>(handler: H) -> BoxedEventHandler {
    Arc::new(move |socket, event| handler.call(socket, event))
}
