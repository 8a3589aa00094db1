//! What can go wrong.

use std::time::Duration;

/// A client error.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server URL does not parse.
    #[error("invalid server URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    /// The server refused the stream for good (bad filter, bad credentials): retrying cannot
    /// help. `body` is its error answer.
    #[error("the server refused the stream with {status}: {body}")]
    Rejected { status: u16, body: String },
    /// The connection could not be made, the server was overloaded (5xx, 429, 408), or the
    /// connection broke. A [`Subscription`](crate::Subscription) retries; an
    /// [`EventStream`](crate::EventStream) does not.
    #[error("{0}")]
    Disconnected(String),
    /// Every reconnection attempt failed.
    #[error("gave up after {attempts} attempts over {waited:?}; last error: {last_error}")]
    GaveUp {
        attempts: u32,
        waited: Duration,
        last_error: String,
    },
}
