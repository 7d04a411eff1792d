//! A small Socket.IO client over websocket for black-box tests: acks by id, events in a queue.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

type Acks = Arc<Mutex<HashMap<u64, oneshot::Sender<Vec<Value>>>>>;

/// An event received from the server: name, arguments, and the ack id when one is asked.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    pub name: String,
    pub args: Vec<Value>,
    pub ack: Option<u64>,
}

pub struct Client {
    pub sid: String,
    out: mpsc::UnboundedSender<String>,
    acks: Acks,
    events: tokio::sync::Mutex<mpsc::UnboundedReceiver<Received>>,
    next_id: AtomicU64,
}

impl Client {
    /// Connects to `/` of the node at `base` (`http://host:port`).
    pub async fn connect(base: &str) -> Client {
        Self::connect_with(base, None).await.expect("connected")
    }

    /// Connects with an optional auth payload; `Err` carries a CONNECT_ERROR's data.
    pub async fn connect_with(base: &str, auth: Option<Value>) -> Result<Client, Value> {
        Self::open(base, auth)
            .await
            .unwrap_or_else(|err| panic!("connecting to {base}: {err}"))
    }

    /// Connects, or `None` when the server cannot be reached or does not complete the
    /// handshake within 10 s (for clients that retry, as through a load balancer whose node
    /// was just killed).
    pub async fn try_connect(base: &str) -> Option<Client> {
        Self::open(base, None).await.ok()?.ok()
    }

    /// `Err` when the transport fails; `Ok(Err)` carries a CONNECT_ERROR's data.
    async fn open(base: &str, auth: Option<Value>) -> Result<Result<Client, Value>, String> {
        let url = format!(
            "{}/socket.io/?EIO=4&transport=websocket",
            base.replacen("http://", "ws://", 1)
        );
        let (mut ws, _) = tokio::time::timeout(
            Duration::from_secs(10),
            tokio_tungstenite::connect_async(url),
        )
        .await
        .map_err(|_| "websocket handshake timed out".to_owned())?
        .map_err(|e| e.to_string())?;
        let open = read_text(&mut ws).await?;
        if !open.starts_with('0') {
            return Err(format!("unexpected open packet {open}"));
        }
        let connect = match &auth {
            Some(a) => format!("40{a}"),
            None => "40".to_owned(),
        };
        ws.send(Message::text(connect))
            .await
            .map_err(|e| e.to_string())?;
        let reply = read_text(&mut ws).await?;
        if let Some(err) = reply.strip_prefix("44") {
            return Ok(Err(serde_json::from_str(err).unwrap_or(Value::Null)));
        }
        let json: Value = reply
            .strip_prefix("40")
            .and_then(|r| serde_json::from_str(r).ok())
            .ok_or_else(|| format!("unexpected CONNECT reply {reply}"))?;
        let sid = json["sid"].as_str().unwrap_or_default().to_owned();
        let (out, mut out_rx) = mpsc::unbounded_channel::<String>();
        let (ev_tx, events) = mpsc::unbounded_channel();
        let acks: Acks = Arc::default();
        let reader_acks = acks.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    text = out_rx.recv() => {
                        let Some(text) = text else { break };
                        if ws.send(Message::text(text)).await.is_err() { break }
                    }
                    msg = ws.next() => {
                        let text = match msg {
                            Some(Ok(Message::Text(t))) => t.to_string(),
                            Some(Ok(_)) => continue,
                            _ => break,
                        };
                        if std::env::var_os("SIO_TEST_TRACE").is_some() {
                            eprintln!("client got {text:?}");
                        }
                        if text == "2" {
                            let _ = ws.send(Message::text("3")).await;
                        } else if text == "41" {
                            let _ = ev_tx.send(Received { name: "disconnect".into(), args: vec![], ack: None });
                        } else if let Some(rest) = text.strip_prefix("43") {
                            let (id, args) = split_id(rest);
                            if let (Some(id), Some(tx)) = (id, id.and_then(|id| reader_acks.lock().unwrap().remove(&id))) {
                                let _ = id;
                                let _ = tx.send(args);
                            }
                        } else if let Some(rest) = text
                            .strip_prefix("42")
                            .or_else(|| text.strip_prefix("45").and_then(|r| r.split_once('-')).map(|(_, r)| r))
                        {
                            // Binary events keep their placeholders; the attachments that follow
                            // as binary frames are skipped.
                            let (id, mut args) = split_id(rest);
                            if args.is_empty() { continue }
                            let name = args.remove(0).as_str().unwrap_or_default().to_owned();
                            let _ = ev_tx.send(Received { name, args, ack: id });
                        }
                    }
                }
            }
            let _ = ev_tx.send(Received {
                name: "closed".into(),
                args: vec![],
                ack: None,
            });
        });
        Ok(Ok(Client {
            sid,
            out,
            acks,
            events: tokio::sync::Mutex::new(events),
            next_id: AtomicU64::new(1),
        }))
    }

    /// Emits and waits (up to 10 s) for the ack's arguments.
    pub async fn call(&self, event: &str, args: Vec<Value>) -> Vec<Value> {
        self.try_call(event, args, Duration::from_secs(10))
            .await
            .unwrap_or_else(|| panic!("no ack for {event}"))
    }

    /// Emits and waits up to `wait` for the ack.
    pub async fn try_call(
        &self,
        event: &str,
        args: Vec<Value>,
        wait: Duration,
    ) -> Option<Vec<Value>> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.acks.lock().unwrap().insert(id, tx);
        let mut all = vec![Value::String(event.to_owned())];
        all.extend(args);
        let _ = self.out.send(format!("42{id}{}", Value::Array(all)));
        tokio::time::timeout(wait, rx).await.ok()?.ok()
    }

    /// Emits without asking for an ack.
    pub fn emit(&self, event: &str, args: Vec<Value>) {
        let mut all = vec![Value::String(event.to_owned())];
        all.extend(args);
        let _ = self.out.send(format!("42{}", Value::Array(all)));
    }

    /// Answers a server's ack request.
    pub fn ack(&self, id: u64, args: Vec<Value>) {
        let _ = self.out.send(format!("43{id}{}", Value::Array(args)));
    }

    /// The next event (up to 10 s).
    pub async fn next(&self) -> Received {
        self.try_next(Duration::from_secs(10))
            .await
            .expect("an event in time")
    }

    /// The next event, or `None` after `wait`.
    pub async fn try_next(&self, wait: Duration) -> Option<Received> {
        let mut events = self.events.lock().await;
        tokio::time::timeout(wait, events.recv())
            .await
            .ok()
            .flatten()
    }
}

fn split_id(rest: &str) -> (Option<u64>, Vec<Value>) {
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let id = digits.parse().ok();
    let args = serde_json::from_str(&rest[digits.len()..]).unwrap_or_default();
    (id, args)
}

async fn read_text<S>(ws: &mut S) -> Result<String, String>
where
    S: StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) if t.as_str() != "2" => return Ok(t.to_string()),
            Ok(Some(Ok(_))) => continue,
            other => return Err(format!("no message: {other:?}")),
        }
    }
}

/// `gather` in `room` asked by each of a Rust node's client `cr` and a Node node's client `cn`
/// (both members): both answer (`"rust"`, `"node"`), and no node is missing.
pub async fn gather_each_way(cr: &Client, cn: &Client, room: &str) {
    for asker in [cr, cn] {
        let gather = asker.call(
            "gather",
            vec![serde_json::json!({"room": room, "data": "q", "timeout_ms": 3000})],
        );
        let respond = async {
            for (client, reply) in [(cr, "rust"), (cn, "node")] {
                let ask = client.next().await;
                assert_eq!(ask.name, "ask");
                client.ack(ask.ack.unwrap(), vec![serde_json::json!(reply)]);
            }
        };
        let (result, ()) = tokio::join!(gather, respond);
        let mut replies = result[0]["replies"].as_array().cloned().unwrap_or_default();
        replies.sort_by_key(|v| v.to_string());
        assert_eq!(
            replies,
            vec![serde_json::json!("node"), serde_json::json!("rust")],
            "{result:?}"
        );
        assert_eq!(
            result[0]["missing_nodes"],
            serde_json::json!([]),
            "{result:?}"
        );
    }
}
