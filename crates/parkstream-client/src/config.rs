//! What a client's connections ask for: shared by its subscriptions and its raw connections.

use crate::backoff::Backoff;

#[derive(Debug)]
pub(crate) struct Config {
    /// The stream's URL, filters included.
    pub(crate) url: reqwest::Url,
    pub(crate) access_token: Option<String>,
    /// Where the first connection starts.
    pub(crate) last_event_id: Option<String>,
    pub(crate) backoff: Backoff,
    pub(crate) http: reqwest::Client,
}
