//! What [`crate::instrument`] is told: the namespace, the authentication, the mode.

/// How admin clients authenticate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminAuth {
    /// No authentication: anyone who reaches the namespace administers the cluster. Must be
    /// chosen explicitly.
    None,
    /// The UI's basic authentication: a username and a bcrypt hash of the password
    /// (`$2a$`/`$2b$`/`$2y$`, as Node's `bcryptjs` makes them).
    Basic {
        /// The username.
        username: String,
        /// The bcrypt hash of the password.
        password_hash: String,
    },
}

/// Which events the admin namespace sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminMode {
    /// Everything: the sockets (`all_sockets` on connect) and every socket, room and event as
    /// it happens (`socket_connected`, `room_joined`, `event_received`, ...). Costs a message
    /// to the admin room per event.
    Development,
    /// Only the configuration and the servers' statistics every two seconds.
    Production,
}

/// Options of the admin namespace.
#[derive(Debug, Clone)]
pub struct AdminOptions {
    /// The namespace the UI connects to. Default: `/admin`.
    pub namespace: String,
    /// The authentication. Default: none given (`instrument` refuses to start until one is
    /// chosen, [`AdminAuth::None`] included).
    pub auth: Option<AdminAuth>,
    /// Read-only: the UI's actions (emit, join, leave, disconnect) are not offered and not
    /// applied. Default: `false`.
    pub readonly: bool,
    /// This node's id in the UI's server list. Default: the host name.
    pub server_id: Option<String>,
    /// The mode. Default: [`AdminMode::Development`], as Node's default outside production.
    pub mode: AdminMode,
}

impl Default for AdminOptions {
    fn default() -> Self {
        AdminOptions {
            namespace: "/admin".to_owned(),
            auth: None,
            readonly: false,
            server_id: None,
            mode: AdminMode::Development,
        }
    }
}

impl AdminOptions {
    /// The namespace (default `/admin`).
    #[must_use]
    pub fn namespace(mut self, name: impl Into<String>) -> Self {
        self.namespace = name.into();
        self
    }

    /// Basic authentication with a username and a bcrypt hash.
    #[must_use]
    pub fn basic_auth(
        mut self,
        username: impl Into<String>,
        password_hash: impl Into<String>,
    ) -> Self {
        self.auth = Some(AdminAuth::Basic {
            username: username.into(),
            password_hash: password_hash.into(),
        });
        self
    }

    /// No authentication (say so explicitly; default: none chosen, which is refused).
    #[must_use]
    pub fn no_auth(mut self) -> Self {
        self.auth = Some(AdminAuth::None);
        self
    }

    /// Read-only mode (default `false`).
    #[must_use]
    pub fn readonly(mut self, readonly: bool) -> Self {
        self.readonly = readonly;
        self
    }

    /// This node's id in the server list (default: the host name).
    #[must_use]
    pub fn server_id(mut self, id: impl Into<String>) -> Self {
        self.server_id = Some(id.into());
        self
    }

    /// The mode (default [`AdminMode::Development`]).
    #[must_use]
    pub fn mode(mut self, mode: AdminMode) -> Self {
        self.mode = mode;
        self
    }
}
