//! python-socketio's `AsyncClient` drives every reference-app event against `sio-node`, over
//! polling, websocket, and polling upgraded to websocket.

mod common;

use common::{Node, run_python};

#[test]
fn python_socketio_every_event_every_transport() {
    let node = Node::spawn("node-py", &[]);
    let url = node.url();
    for mode in ["polling", "websocket", "upgrade"] {
        run_python("sio_client.py", &[url.as_str(), mode]);
    }
}

#[test]
fn python_socketio_with_an_auth_token() {
    let node = Node::spawn("node-py-auth", &["--auth-token", "s3cret"]);
    let url = node.url();
    for mode in ["polling", "websocket", "upgrade"] {
        run_python("sio_client.py", &[url.as_str(), mode, "--token", "s3cret"]);
    }
}
