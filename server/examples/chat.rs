//! A chat with rooms and acks.
//!
//! `cargo run -p sio-server --example chat` serves on `127.0.0.1:3000` (`PORT` overrides it;
//! `PORT=0` takes a free port, printed on stdout). With any Socket.IO client:
//!
//! - `emit("nick", name, ack)`: sets the nickname, kept in the socket's `data`; acks `true`, or
//!   `{"error": ...}` for an empty or long name;
//! - `emit("join", room, ack)`: joins a room, tells its members (`joined`), acks the room's
//!   member count;
//! - `emit("say", {room, text}, ack)`: sends `said` `{room, from, text}` to the room's other
//!   members; acks `{"delivered": true}`, or an error when the sender is not in the room;
//! - `emit("leave", room, ack)`: leaves it, tells the members (`left`);
//! - on disconnect, the rooms it was in hear `left` (a disconnect handler runs after the socket
//!   left its rooms, as in Node, so the example keeps its rooms in the socket's `data`).
//!
//! Each handler answers through its `AckSender`; a client that asks no ack gets none.

use serde::{Deserialize, Serialize};
use serde_json::json;
use sio_server::{AckSender, Data, Server, Socket};

/// What `say` carries.
#[derive(Deserialize)]
struct Say {
    room: String,
    text: String,
}

/// What room members hear.
#[derive(Serialize)]
struct Said<'a> {
    room: &'a str,
    from: String,
    text: &'a str,
}

/// What the example keeps in each socket's `data` (visible cluster-wide to `fetch_sockets`).
#[derive(Default, Serialize, Deserialize)]
struct Profile {
    nick: Option<String>,
    rooms: Vec<String>,
}

fn profile(socket: &Socket) -> Profile {
    socket.data().unwrap_or_default()
}

/// The nickname, or the socket id.
fn nick(socket: &Socket) -> String {
    profile(socket)
        .nick
        .unwrap_or_else(|| socket.id().to_string())
}

/// Changes the socket's profile.
fn update(socket: &Socket, change: impl FnOnce(&mut Profile)) {
    let mut p = profile(socket);
    change(&mut p);
    let _ = socket.set_data(&p);
}

fn on_connection(socket: Socket) {
    socket.on(
        "nick",
        |s: Socket, Data(name): Data<String>, ack: AckSender| async move {
            if name.trim().is_empty() || name.len() > 32 {
                let _ = ack.send(&json!({"error": "a nickname has 1 to 32 characters"}));
                return;
            }
            update(&s, |p| p.nick = Some(name));
            let _ = ack.send(&true);
        },
    );
    socket.on(
        "join",
        |s: Socket, Data(room): Data<String>, ack: AckSender| async move {
            // Awaiting the join makes sure messages other nodes publish to the room reach this
            // one before the client hears it joined (a no-op on one node).
            s.join([room.clone()]).await;
            update(&s, |p| p.rooms.push(room.clone()));
            let _ = s
                .to([room.clone()])
                .emit("joined", &json!({"room": room, "who": nick(&s)}))
                .await;
            let members = s
                .namespace()
                .to([room])
                .fetch_sockets()
                .await
                .map_or(0, |found| found.value.len());
            let _ = ack.send(&members);
        },
    );
    socket.on(
        "say",
        |s: Socket, Data(say): Data<Say>, ack: AckSender| async move {
            if !s.rooms().contains(&say.room) {
                let _ = ack.send(&json!({"error": "join the room first"}));
                return;
            }
            let said = Said {
                room: &say.room,
                from: nick(&s),
                text: &say.text,
            };
            let delivered = s.to([say.room.clone()]).emit("said", &said).await.is_ok();
            let _ = ack.send(&json!({ "delivered": delivered }));
        },
    );
    socket.on(
        "leave",
        |s: Socket, Data(room): Data<String>, ack: AckSender| async move {
            s.leave(&room);
            update(&s, |p| p.rooms.retain(|r| *r != room));
            let _ = s
                .to([room.clone()])
                .emit("left", &json!({"room": room, "who": nick(&s)}))
                .await;
            let _ = ack.send(&true);
        },
    );
    socket.on_disconnect(|s: Socket, _reason| async move {
        let who = nick(&s);
        for room in profile(&s).rooms {
            let _ = s
                .namespace()
                .to([room.clone()])
                .emit("left", &json!({"room": room, "who": who}))
                .await;
        }
    });
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let io = Server::builder().build();
    io.on_connection(|socket: Socket| async move { on_connection(socket) });
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("chat on http://{}", listener.local_addr()?);
    io.serve(listener, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}
