//! The admin namespace's authentication: the UI's basic scheme (a username and a bcrypt hash,
//! checked in the connect middleware), and the session ids that let a reloaded UI reconnect
//! without the password.
//!
//! The UI sends `{username, password}` or `{sessionId}` as the CONNECT auth. A good password
//! earns a fresh session id, sent to the client as the `session` event; a known session id is
//! enough by itself. Sessions live in this node's memory (at most [`MAX_SESSIONS`], oldest
//! forgotten first): a UI that reconnects to another node sends its password again.

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use serde_json::Value;
use sio_server::{ConnectError, Socket};
use tokio::sync::Semaphore;

use crate::error::AdminError;
use crate::options::AdminAuth;

/// The most sessions a node remembers.
pub(crate) const MAX_SESSIONS: usize = 4096;

/// How many bcrypt checks run at once (each takes a core for tens of milliseconds).
const CONCURRENT_CHECKS: usize = 2;

/// The message of a refused CONNECT, as the UI expects it.
pub(crate) const INVALID_CREDENTIALS: &str = "invalid credentials";

/// Checks admin clients' credentials.
pub(crate) struct Authenticator {
    basic: Option<(String, String)>,
    sessions: Mutex<Sessions>,
    checks: Semaphore,
}

#[derive(Default)]
struct Sessions {
    known: HashSet<String>,
    order: VecDeque<String>,
}

/// What the middleware decided for a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Let in, with a new session to hand out.
    NewSession,
    /// Let in (a known session, or no authentication).
    Admitted,
    /// Refused.
    Refused,
}

impl Authenticator {
    /// Checks the options: basic authentication needs a valid bcrypt hash.
    pub(crate) fn new(auth: &AdminAuth) -> Result<Self, AdminError> {
        let basic = match auth {
            AdminAuth::None => {
                tracing::warn!("admin UI: authentication is disabled");
                None
            }
            AdminAuth::Basic {
                username,
                password_hash,
            } => {
                if password_hash.parse::<bcrypt::HashParts>().is_err() {
                    return Err(AdminError::InvalidHash);
                }
                Some((username.clone(), password_hash.clone()))
            }
        };
        Ok(Authenticator {
            basic,
            sessions: Mutex::new(Sessions::default()),
            checks: Semaphore::new(CONCURRENT_CHECKS),
        })
    }

    /// Decides on a CONNECT auth payload.
    pub(crate) async fn check(&self, auth: &Value) -> Verdict {
        let Some((username, hash)) = &self.basic else {
            return Verdict::Admitted;
        };
        if let Some(Value::String(session)) = auth.get("sessionId")
            && self.lock().known.contains(session)
        {
            return Verdict::Admitted;
        }
        let (Some(Value::String(user)), Some(Value::String(password))) =
            (auth.get("username"), auth.get("password"))
        else {
            return Verdict::Refused;
        };
        if user != username {
            return Verdict::Refused;
        }
        let Ok(_permit) = self.checks.acquire().await else {
            return Verdict::Refused;
        };
        let (password, hash) = (password.clone(), hash.clone());
        let matches = tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash))
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or(false);
        if matches {
            Verdict::NewSession
        } else {
            Verdict::Refused
        }
    }

    /// Makes and remembers a new session id.
    pub(crate) fn new_session(&self) -> String {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let mut sessions = self.lock();
        if sessions.order.len() >= MAX_SESSIONS
            && let Some(oldest) = sessions.order.pop_front()
        {
            sessions.known.remove(&oldest);
        }
        sessions.known.insert(id.clone());
        sessions.order.push_back(id.clone());
        id
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Sessions> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Installs the middleware on the admin namespace. A client let in with credentials is given
/// a session id once connected (the connection handler asks [`needs_session`]).
pub(crate) fn install(ns: &sio_server::Namespace, auth: Arc<Authenticator>) {
    ns.use_middleware(move |socket: Socket| {
        let auth = auth.clone();
        async move {
            match auth.check(&socket.handshake().auth).await {
                Verdict::Refused => {
                    tracing::info!(sid = %socket.id(), "admin UI: invalid credentials");
                    Err(ConnectError::new(INVALID_CREDENTIALS))
                }
                Verdict::Admitted | Verdict::NewSession => Ok(()),
            }
        }
    });
}

/// Whether a connected admin client came with credentials rather than a known session (it is
/// then given a session id).
pub(crate) fn needs_session(auth: &Authenticator, handshake_auth: &Value) -> bool {
    auth.basic.is_some()
        && !matches!(handshake_auth.get("sessionId"),
            Some(Value::String(s)) if auth.lock().known.contains(s))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// `bcryptjs.hashSync("admin-secret", 4)` (Node's library; cost 4 to keep the test quick).
    const HASH: &str = "$2a$04$Y.k6qtxV18N2qnLlVY9f0.RQJTnhdTHS31v7Z0YmxvWhDGonSpdWK";

    fn basic() -> Authenticator {
        Authenticator::new(&AdminAuth::Basic {
            username: "admin".into(),
            password_hash: HASH.into(),
        })
        .expect("a valid hash")
    }

    #[tokio::test]
    async fn a_bcryptjs_hash_admits_its_password_and_nothing_else() {
        let auth = basic();
        let good = json!({"username": "admin", "password": "admin-secret"});
        assert_eq!(auth.check(&good).await, Verdict::NewSession);
        for bad in [
            json!({"username": "admin", "password": "admin-secreT"}),
            json!({"username": "root", "password": "admin-secret"}),
            json!({"username": "admin"}),
            json!({"username": "admin", "password": 42}),
            json!(null),
            json!("admin"),
        ] {
            assert_eq!(auth.check(&bad).await, Verdict::Refused, "{bad}");
        }
    }

    #[tokio::test]
    async fn a_session_id_admits_until_it_is_evicted() {
        let auth = basic();
        let first = auth.new_session();
        let with_session = json!({ "sessionId": first });
        assert_eq!(auth.check(&with_session).await, Verdict::Admitted);
        assert!(!needs_session(&auth, &with_session));
        for _ in 0..MAX_SESSIONS {
            let _ = auth.new_session();
        }
        assert_eq!(auth.lock().known.len(), MAX_SESSIONS);
        assert_eq!(auth.check(&with_session).await, Verdict::Refused);
    }

    #[test]
    fn a_plain_password_is_not_accepted_as_a_hash() {
        let err = Authenticator::new(&AdminAuth::Basic {
            username: "admin".into(),
            password_hash: "admin-secret".into(),
        })
        .err();
        assert_eq!(err, Some(AdminError::InvalidHash));
    }

    #[tokio::test]
    async fn without_authentication_everyone_is_admitted_without_a_session() {
        let auth = Authenticator::new(&AdminAuth::None).expect("no auth");
        assert_eq!(auth.check(&json!(null)).await, Verdict::Admitted);
        assert!(!needs_session(&auth, &json!(null)));
    }
}
