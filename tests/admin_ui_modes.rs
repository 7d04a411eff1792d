//! The admin namespace on an in-process `sio-server` (`sio_admin::instrument`), with the npm
//! `socket.io-client` as the admin client (`tests/interop/admin_modes.mjs`): development mode
//! reports the app's data changes and direct emits; production mode sends no socket and no
//! live event; authentication off only when chosen.

mod common;

use serde_json::Value;
use sio_admin::{AdminError, AdminMode, AdminOptions, instrument};
use sio_server::{Data, Server, Socket};

/// Serves an instrumented server on a free port and runs the scenario in `mode`.
async fn scenario(mode: AdminMode, arg: &str) -> String {
    let io = Server::builder().build();
    io.on_connection(|socket: Socket| async move {
        socket.on(
            "set",
            |socket: Socket, Data(data): Data<Value>| async move {
                let _ = socket.set_data(&data);
                let _ = socket.emit("done", &data["name"]);
            },
        );
    });
    let admin = instrument(
        &io,
        AdminOptions::default()
            .no_auth()
            .server_id("in-process")
            .mode(mode),
    )
    .expect("instrumented");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = io.clone();
    let serving = tokio::spawn(async move {
        let _ = server
            .serve(listener, async {
                let _ = stopped.await;
            })
            .await;
    });
    let arg = arg.to_owned();
    let output =
        tokio::task::spawn_blocking(move || common::run_node("admin_modes.mjs", &[&url, &arg]))
            .await
            .expect("the scenario ran");
    let _ = stop.send(());
    let _ = serving.await;
    assert_eq!(admin.dropped_events(), 0);
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn development_mode_reports_data_changes_and_direct_emits() {
    let stdout = scenario(AdminMode::Development, "development").await;
    common::assert_checks(
        &stdout,
        &[
            "no credentials are needed without authentication",
            "socket_updated carries the new data",
            "event_sent reports a direct emit",
            "all_sockets shows the app's data without the admin's facts",
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_mode_sends_only_the_config_and_the_stats() {
    let stdout = scenario(AdminMode::Production, "production").await;
    common::assert_checks(
        &stdout,
        &[
            "server_stats arrive",
            "production: no ALL_EVENTS",
            "production: no all_sockets and no live events",
        ],
    );
}

#[tokio::test]
async fn instrument_refuses_a_missing_auth_choice_a_bad_hash_and_a_second_observer() {
    let io = Server::builder().build();
    let err = instrument(&io, AdminOptions::default()).unwrap_err();
    assert_eq!(err, AdminError::AuthNotChosen);
    let err = instrument(&io, AdminOptions::default().basic_auth("a", "not-a-hash")).unwrap_err();
    assert_eq!(err, AdminError::InvalidHash);
    let _first = instrument(&io, AdminOptions::default().no_auth()).expect("first");
    let err = instrument(&io, AdminOptions::default().no_auth().namespace("/admin2")).unwrap_err();
    assert_eq!(err, AdminError::ObserverTaken);
}
