//! A minimal raw Socket.IO client over websocket, for tests that check exact packets.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

use super::Ws;

pub struct RawClient {
    pub ws: Ws,
}

impl RawClient {
    /// Opens an Engine.IO websocket session (no namespace yet).
    pub async fn open(addr: std::net::SocketAddr) -> RawClient {
        let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
        let (ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let mut client = RawClient { ws };
        let open = client.next_text().await;
        assert!(open.starts_with("0{"), "{open}");
        client
    }

    /// Opens a session and connects to `nsp`; returns the client and the socket id.
    pub async fn connect(addr: std::net::SocketAddr, nsp: &str) -> (RawClient, String) {
        let mut client = RawClient::open(addr).await;
        let sid = client.join_namespace(nsp, None).await;
        (client, sid)
    }

    pub async fn join_namespace(&mut self, nsp: &str, auth: Option<&str>) -> String {
        let prefix = if nsp == "/" {
            String::new()
        } else {
            format!("{nsp},")
        };
        self.send(&format!("40{prefix}{}", auth.unwrap_or("")))
            .await;
        let reply = self.next_text().await;
        let expected = format!("40{prefix}");
        assert!(reply.starts_with(&expected), "{reply}");
        let json: Value = serde_json::from_str(&reply[expected.len()..]).unwrap();
        json["sid"].as_str().unwrap().to_owned()
    }

    pub async fn send(&mut self, text: &str) {
        self.ws.send(Message::text(text.to_owned())).await.unwrap();
    }

    /// The next text message other than a ping (pings are answered).
    pub async fn next_text(&mut self) -> String {
        self.try_next_text(Duration::from_secs(5))
            .await
            .expect("a message in time")
    }

    /// Like `next_text`, `None` when nothing arrives within `wait` or the socket closes.
    pub async fn try_next_text(&mut self, wait: Duration) -> Option<String> {
        loop {
            let msg = tokio::time::timeout(wait, self.ws.next()).await.ok()??;
            match msg {
                Ok(Message::Text(t)) if t.as_str() == "2" => {
                    let _ = self.ws.send(Message::text("3")).await;
                }
                Ok(Message::Text(t)) => return Some(t.to_string()),
                Ok(Message::Binary(b)) => return Some(format!("<binary {}>", b.len())),
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }

    /// Waits until the server closes the connection (up to 5 s); returns whether it did.
    pub async fn closed(&mut self) -> bool {
        tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                match self.ws.next().await {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                    Some(Ok(Message::Text(t))) if t.as_str() == "2" => {
                        let _ = self.ws.send(Message::text("3")).await;
                    }
                    _ => {}
                }
            }
        })
        .await
        .is_ok()
    }
}
