//! What a subscription yields.

use std::time::Duration;

use parkstream_protocol::events::Event;

/// An event and the id it carried (domain events only; `connected`, `reset` and `ping`
/// carry none).
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    pub id: Option<String>,
    pub event: Event,
}

/// What a subscription yields.
#[derive(Debug, Clone, PartialEq)]
pub enum Update {
    /// An event from the server. A [`Event::Reset`] means events were missed: reload the
    /// state over REST.
    Event(Received),
    /// The connection was lost (or could not be made); the next attempt comes after `delay`.
    Reconnecting {
        attempt: u32,
        delay: Duration,
        error: String,
    },
}
