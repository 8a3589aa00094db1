//! The parking domain: plain data and pure rules, no HTTP and no SQL.
//!
//! Handlers parse requests into these types at the boundary; the writer applies commands to
//! [`State`] and turns the changes into stored rows and published events.

mod lot;
mod state;

pub use lot::{check_observed_at, CountReport, Lot, LotId, LotSettings};
pub use state::{Change, Savepoint, State, Txn};

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
    /// The change could not be stored (the database failed or the server is stopping);
    /// nothing was applied.
    #[error("the change was not stored")]
    NotStored,
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
            other => other,
        }
    }
}
