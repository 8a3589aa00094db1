//! Who did what: every change made through the API (lots, contractors, acknowledging and
//! resolving) leaves an audit entry, recorded in the same transaction as the change itself,
//! so an entry exists exactly when the change was stored. Ingest is not audited: its
//! reports are many, and each is in the events already.

use parkstream_protocol::records::{AuditEntry, AuditTarget, MAX_NOTE_CHARS};
use parkstream_protocol::Timestamp;

use super::state::{Change, Txn};
use super::{new_id, DomainError};

/// Who asks for a change (the token's `sub`), and the note they gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub name: String,
    pub note: Option<String>,
}

impl Actor {
    /// `name` acting with an optional note: blank is none, longer than 500 characters is
    /// refused.
    ///
    /// # Errors
    /// `Invalid` naming `note` when it is too long.
    pub fn new(name: impl Into<String>, note: Option<String>) -> Result<Self, DomainError> {
        let note = note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
        if let Some(note) = &note {
            let chars = note.chars().count();
            if chars > MAX_NOTE_CHARS {
                return Err(DomainError::invalid(
                    "note",
                    format!("a note has at most {MAX_NOTE_CHARS} characters, not {chars}"),
                ));
            }
        }
        Ok(Self {
            name: name.into(),
            note,
        })
    }
}

impl Txn<'_> {
    /// Records that `actor` did `action` (`lot.update`) to `kind` `id`, stored with the
    /// transaction's other changes.
    pub fn audit(
        &mut self,
        actor: &Actor,
        action: &str,
        (kind, id): (&str, &str),
        summary: String,
        at: Timestamp,
    ) {
        let summary = match &actor.note {
            Some(note) => format!("{summary}: {note}"),
            None => summary,
        };
        self.record(Change::Audit(AuditEntry {
            id: new_id("audit"),
            actor: actor.name.clone(),
            at,
            action: action.to_owned(),
            target: AuditTarget {
                kind: kind.to_owned(),
                id: id.to_owned(),
            },
            summary,
        }));
    }
}

/// The wire name of a unit enum value (`capacity_breach`), for summaries.
pub fn wire_name<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        other => format!("{other:?}"),
    }
}

/// What the audit says of a violation acted on.
pub(super) fn violation_summary(violation: &parkstream_protocol::events::Violation) -> String {
    let whose = violation
        .contractor_id
        .as_deref()
        .map_or_else(String::new, |c| format!(" by {c}"));
    format!(
        "{} in lot {}{whose}, penalty {}",
        wire_name(&violation.violation_type),
        violation.parking_lot_id,
        violation.penalty
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_is_trimmed_blank_is_none_and_a_long_one_is_refused() {
        let actor = Actor::new("ana", Some("  towed  ".into())).unwrap();
        assert_eq!(actor.note.as_deref(), Some("towed"));
        assert_eq!(Actor::new("ana", Some("   ".into())).unwrap().note, None);
        let longest = "é".repeat(MAX_NOTE_CHARS);
        assert!(Actor::new("ana", Some(longest.clone())).is_ok());
        let refused = Actor::new("ana", Some(format!("{longest}x")));
        assert!(
            matches!(refused, Err(DomainError::Invalid { ref field, .. }) if field == "note"),
            "{refused:?}"
        );
    }
}
