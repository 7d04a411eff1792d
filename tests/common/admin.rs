//! What the admin UI tests share: the credentials and the flags of an admin node.

/// The admin UI's username in the tests.
pub const USER: &str = "admin";
/// Its password.
pub const PASSWORD: &str = "admin-secret";
/// `bcryptjs.hashSync("admin-secret", 10)`: a hash made by Node's own library, at the cost
/// the UI's documentation uses.
pub const HASH: &str = "$2a$10$RX.Y.5E5VyiDFeH39QrOiOPjJMWUam9xTw0/j/QmqEElTa6ysBnMq";

/// The flags of a cluster node on Redis `redis_url` with the admin UI and basic auth, then
/// `extra`.
pub fn admin_node_args(redis_url: &str, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "--redis",
        redis_url,
        "--heartbeat-ms",
        "500",
        "--admin-ui",
        "--admin-user",
        USER,
        "--admin-password-hash",
        HASH,
    ]
    .iter()
    .map(|a| (*a).to_owned())
    .collect();
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    args
}
