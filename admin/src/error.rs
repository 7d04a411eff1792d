//! Why the admin UI could not be set up.

/// Why [`crate::instrument`] refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdminError {
    /// No authentication was chosen: give basic credentials or say `no_auth` explicitly.
    #[error("the admin UI needs basic credentials or an explicit choice of no authentication")]
    AuthNotChosen,
    /// The password hash is not a bcrypt hash.
    #[error("the admin password must be a valid bcrypt hash ($2a$/$2b$/$2y$)")]
    InvalidHash,
    /// The namespace name does not start with `/`.
    #[error("the admin namespace must start with '/'")]
    InvalidNamespace,
    /// The server already has an observer (the admin UI in development mode needs it).
    #[error("the server already has an observer")]
    ObserverTaken,
}
