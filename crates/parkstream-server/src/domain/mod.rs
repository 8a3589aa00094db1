//! The parking domain: plain data and pure rules, no HTTP and no SQL.
//!
//! Handlers parse requests into these types at the boundary; the writer applies commands to
//! [`State`] inside a [`Txn`] and turns the recorded [`Change`]s and events into stored rows
//! and published events.
//!
//! - [`lot`]: lots, counts, and the count reports of `POST /api/capacity/update`.
//! - [`camera`]: lot monitors (cameras) and their silence.
//! - [`gate`]: entries and exits, stays, idempotent gate events.
//! - [`idempotency`]: the answers kept for gate events' `eventId`s, and their retention.
//! - [`contractor`]: contractors, their allocations and registered plates.
//! - [`alert`]: capacity and camera alerts, their hysteresis and lifecycle.
//! - [`violation`]: contractor violations (capacity breach, unauthorized vehicle, overstay).
//! - [`audit`]: who changed what through the API, recorded with the change.
//! - [`visit`]: every stay of a vehicle, kept after it ends.

pub mod alert;
pub mod audit;
pub mod camera;
pub mod contractor;
pub mod gate;
pub mod idempotency;
pub mod lot;
#[cfg(test)]
mod properties;
mod routing;
mod state;
#[cfg(test)]
mod testing;
pub mod violation;
pub mod visit;

pub use lot::{check_observed_at, CountReport, Lot, LotId, LotSettings};
pub use routing::Routing;
pub use state::{Change, Loaded, State, Txn};

/// Why a command was refused. Nothing of a refused command is applied.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// Something the command names does not exist (`field` says where it was named).
    #[error("{message}")]
    NotFound { field: String, message: String },
    /// A value is out of its range or inconsistent with the state.
    #[error("{message}")]
    Invalid { field: String, message: String },
    /// The command conflicts with the current state (e.g. resolving twice).
    #[error("{0}")]
    Conflict(String),
    /// A gate event reuses an `eventId` already answered in its lot, with a different body.
    #[error("{message}")]
    IdempotencyConflict { field: String, message: String },
}

impl DomainError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        DomainError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    /// Prefixes the field with a batch index: `occupied` becomes `[3].occupied`.
    pub fn at_index(self, index: usize) -> Self {
        let prefix = |field: String, message: String| {
            (
                format!("[{index}].{field}"),
                format!("item {index}: {message}"),
            )
        };
        match self {
            DomainError::NotFound { field, message } => {
                let (field, message) = prefix(field, message);
                DomainError::NotFound { field, message }
            }
            DomainError::Invalid { field, message } => {
                let (field, message) = prefix(field, message);
                DomainError::Invalid { field, message }
            }
            DomainError::IdempotencyConflict { field, message } => {
                let (field, message) = prefix(field, message);
                DomainError::IdempotencyConflict { field, message }
            }
            other => other,
        }
    }
}

/// Checks an identifier (lot, contractor, camera, gate): 1 to 128 characters of
/// `A-Z a-z 0-9 _ - . :`, so it is safe in a URL path, a query list (`lots=a,b`) and a log.
///
/// # Errors
/// A message naming `what` when `raw` does not qualify.
/// How many characters of a client's input an error message quotes.
const QUOTED_CHARS: usize = 32;

/// `raw` quoted for an error message: whole when short, else its first characters and `…`,
/// so an answer never echoes a large input back (nor costs its size again).
pub fn quote(raw: &str) -> String {
    match raw.char_indices().nth(QUOTED_CHARS) {
        None => format!("{raw:?}"),
        Some((end, _)) => format!("{:?}…", &raw[..end]),
    }
}

pub fn check_identifier(raw: &str, what: &str) -> Result<(), String> {
    if raw.is_empty() || raw.len() > 128 {
        return Err(format!("a {what} has 1 to 128 characters"));
    }
    if !raw
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'))
    {
        return Err(format!(
            "{what} {} may only contain letters, digits, '_', '-', '.' and ':'",
            quote(raw)
        ));
    }
    Ok(())
}

/// A new id for an alert or violation: `prefix_` and 32 hex digits.
fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}
