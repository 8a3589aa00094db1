//! Wire types of parkstream, shared by the server and its clients.
//!
//! Layout:
//! - [`events`]: the payloads of the SSE stream (`capacity_update`, `alert`, `violation`,
//!   `connected`, `reset`, `ping`) and [`EventType`], their names on the wire.
//! - [`api`]: request and response bodies of the REST and ingest API.
//! - [`forecast`]: `GET /api/lots/{id}/forecast`, expected occupancy over the next hour.
//! - [`session`]: `GET /api/session`, who a token is and what it may do.
//! - [`records`]: bodies of the record-keeping endpoints: audit, vehicles, statements.
//! - [`time`]: [`Timestamp`], RFC 3339 UTC with milliseconds, as JavaScript's `Date` prints it.
//! - [`sse`]: encoding SSE frames (server side) and a WHATWG-conformant incremental parser
//!   (client side).
//!
//! This crate depends on serde only (and chrono for time), so any client can use it without
//! pulling in a runtime or a web framework.

pub mod api;
pub mod events;
pub mod forecast;
pub mod records;
pub mod session;
pub mod sse;
pub mod time;

pub use events::{EventType, UnknownEventType};
pub use time::Timestamp;
