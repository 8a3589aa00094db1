//! Signed webhooks: events also sent by HTTP POST to the endpoints an administrator
//! registered (`/api/webhooks`), in the Standard Webhooks format.
//!
//! Durability comes from the outbox: the group commit that stores an event also queues it for
//! every endpoint whose filters it passes (store/webhooks.rs), so a stored event is delivered
//! at least once, across restarts and crashes. The delivery task ([`deliver`]) sends each
//! endpoint's queue in event order, one request in flight per endpoint, retrying with
//! exponential backoff and full jitter until the retry horizon; past it the endpoint is
//! disabled. In a cluster every instance runs the task; a lease on the endpoint's row makes
//! one instance at a time deliver to it.

pub mod deliver;
pub mod sign;
pub mod target;

use std::time::Duration;

/// How webhooks are sent, from the flags.
#[derive(Debug, Clone, Copy)]
pub struct WebhookOptions {
    /// `--webhook-allow-private`: endpoints may be on this machine or private networks.
    pub allow_private: bool,
    /// `--webhook-timeout`: the longest one attempt may take.
    pub timeout: Duration,
    /// `--webhook-retry-horizon`: how long the oldest undelivered event is retried before the
    /// endpoint is disabled.
    pub retry_horizon: Duration,
}

/// How long a rotated secret keeps signing beside the new one.
pub const ROTATION_OVERLAP: Duration = Duration::from_secs(24 * 3600);

/// The most of an endpoint's answer read (and discarded).
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;
