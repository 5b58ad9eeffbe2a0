//! The hub's error types. [`HubError`] is what a caller is answered: each kind maps to one
//! HTTP status and a stable code, so the kiosk and the online channel can act on it.
//! [`StorageError`] is the database failing, never a business answer: it travels as its
//! own type from the backends up, so a refused op and a broken disk are never confused.

/// The database failed: a lost connection, a statement that could not run, a stored row
/// that cannot be read back. The detail is for the hub's log.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StorageError(pub String);

#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    /// The kiosk's cursor belongs to another database (a re-seeded or replaced hub) or is
    /// ahead of this feed (a restored backup): it must pull again from the start.
    #[error("{0}")]
    CursorReset(String),
    #[error("protocol version {0} is not served here: update needed")]
    UpdateNeeded(u32),
    /// The request's body is larger than the hub takes (`ServeConfig::max_body_bytes`).
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    NotImplemented(String),
    /// Past its limits: the caller is told to come back after this many seconds.
    #[error("the hub is busy: try again in {0} s")]
    Overloaded(u64),
    /// The device made more lookups than it may per minute (`--lookups-per-minute`): it is
    /// told to come back after this many seconds.
    #[error("this device made too many lookups: try again in {0} s")]
    LookupRateLimited(u64),
    #[error("internal error: {0}")]
    Internal(String),
    #[error("internal error: {0}")]
    Storage(#[from] StorageError),
}

impl HubError {
    pub fn status(&self) -> u16 {
        match self {
            HubError::BadRequest(_) => 400,
            HubError::Unauthorized(_) => 401,
            HubError::Forbidden(_) => 403,
            HubError::NotFound(_) => 404,
            HubError::Conflict(_) | HubError::CursorReset(_) => 409,
            HubError::TooLarge(_) => 413,
            HubError::UpdateNeeded(_) => 426,
            HubError::NotImplemented(_) => 501,
            HubError::Overloaded(_) | HubError::LookupRateLimited(_) => 429,
            HubError::Internal(_) | HubError::Storage(_) => 500,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            HubError::BadRequest(_) => "bad_request",
            HubError::Unauthorized(_) => "unauthorized",
            HubError::Forbidden(_) => "forbidden",
            HubError::NotFound(_) => "not_found",
            HubError::Conflict(_) => "conflict",
            HubError::CursorReset(_) => "cursor_reset",
            HubError::TooLarge(_) => "too_large",
            HubError::UpdateNeeded(_) => "update_needed",
            HubError::NotImplemented(_) => "not_implemented",
            HubError::Overloaded(_) => "busy",
            HubError::LookupRateLimited(_) => "lookup_rate_limited",
            HubError::Internal(_) | HubError::Storage(_) => "internal",
        }
    }

    /// Seconds the caller is asked to wait before it asks again (`Retry-After`).
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            HubError::Overloaded(secs) | HubError::LookupRateLimited(secs) => Some(*secs),
            _ => None,
        }
    }
}

impl From<rusqlite::Error> for StorageError {
    fn from(e: rusqlite::Error) -> Self {
        StorageError(format!("database: {e}"))
    }
}

impl From<rusqlite_migration::Error> for StorageError {
    fn from(e: rusqlite_migration::Error) -> Self {
        StorageError(format!("database migration: {e}"))
    }
}

impl From<postgres::Error> for StorageError {
    fn from(e: postgres::Error) -> Self {
        let detail = e.as_db_error().map(|d| d.to_string()).unwrap_or_else(|| e.to_string());
        StorageError(format!("database: {detail}"))
    }
}

impl From<serde_json::Error> for StorageError {
    fn from(e: serde_json::Error) -> Self {
        StorageError(format!("stored JSON: {e}"))
    }
}

pub type Result<T, E = HubError> = std::result::Result<T, E>;
