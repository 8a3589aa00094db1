//! Rust client of the parkstream stream (`GET /api/sse/dashboard`).
//!
//! ```no_run
//! # async fn demo() -> Result<(), parkstream_client::ClientError> {
//! use futures_util::StreamExt;
//! use parkstream_client::{Client, Update};
//! use parkstream_protocol::events::Event;
//!
//! let client = Client::builder("http://127.0.0.1:8080").lots(["lot_1"]).build()?;
//! let mut updates = client.subscribe();
//! while let Some(update) = updates.next().await {
//!     match update? {
//!         Update::Event(received) => match received.event {
//!             Event::CapacityUpdate(u) => println!("{} now {}", u.parking_lot_id, u.occupied),
//!             Event::Reset(_) => println!("history lost: reload the snapshot over REST"),
//!             _ => {}
//!         },
//!         Update::Reconnecting { attempt, delay, .. } => println!("retry {attempt} in {delay:?}"),
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! Layout:
//! - [`Client`] and its builder: the server, filters, credentials, [`Backoff`]; `on`/`off`
//!   callbacks per event type.
//! - [`Subscription`]: a `Stream` of [`Update`]s. Behind it one task connects, parses with the
//!   protocol crate's WHATWG-conformant parser, remembers the last event id, and reconnects
//!   with exponential backoff (2, 4, 8, 16, 32 s by default, with jitter; the server's
//!   `retry:` as the base unless one is configured), resuming with `Last-Event-ID`. After the
//!   last attempt it yields [`ClientError::GaveUp`] and ends.
//! - [`EventStream`]: one connection's raw SSE items, without reconnection or typed parsing
//!   ([`Client::connect`]): what a subscription is built on, and what tools that count or time
//!   events (a load generator) use, against parkstream or another SSE server.

mod backoff;
mod client;
mod config;
mod connection;
mod error;
mod listeners;
mod subscription;
mod update;

pub use backoff::Backoff;
pub use client::{Client, ClientBuilder};
pub use connection::EventStream;
pub use error::ClientError;
pub use listeners::ListenerId;
pub use subscription::Subscription;
pub use update::{Received, Update};
