//! Commands: what a handler asks of the writer, applied to the state in the writer's turn.

use parkstream_protocol::Timestamp;
use tokio::sync::oneshot;

use crate::domain::{DomainError, Txn};
use crate::store::WriteError;

pub(super) type Reply<T> = oneshot::Sender<Result<T, WriteError>>;

/// What a command sees besides the transaction.
#[derive(Debug, Clone, Copy)]
pub(super) struct Context {
    /// The group's clock.
    pub now: Timestamp,
    /// The id of the newest event stored before this group.
    pub newest: u64,
}

/// Answers a command once the fate of its group is known (`true`: stored).
pub(super) type Finish = Box<dyn FnOnce(bool) + Send>;

type Apply = Box<dyn FnOnce(&mut Txn<'_>, Context) -> Option<Finish> + Send>;

/// One command. Dropped without being applied (the group could not run), its reply is dropped
/// too, which the waiting handler reads as [`WriteError::NotStored`].
pub(super) struct Command(Apply);

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Command")
    }
}

impl Command {
    /// A command answered on `reply`: refused by the rules (which then changed nothing), at
    /// once; accepted, when its group is stored, or "not stored" when the group's commit fails.
    pub(super) fn request<T: Send + 'static>(
        reply: Reply<T>,
        apply: impl FnOnce(&mut Txn<'_>, Context) -> Result<T, DomainError> + Send + 'static,
    ) -> Self {
        Self(Box::new(move |tx, context| match apply(tx, context) {
            Ok(output) => Some(Box::new(move |stored| {
                let _ = reply.send(if stored {
                    Ok(output)
                } else {
                    Err(WriteError::NotStored)
                });
            })),
            Err(err) => {
                let _ = reply.send(Err(err.into()));
                None
            }
        }))
    }

    /// A command nobody waits for.
    pub(super) fn unanswered(apply: impl FnOnce(&mut Txn<'_>, Context) + Send + 'static) -> Self {
        Self(Box::new(move |tx, context| {
            apply(tx, context);
            None
        }))
    }
}

/// Applies a group of commands in order; answers how to finish each accepted one.
pub(super) fn apply(
    tx: &mut Txn<'_>,
    commands: &mut Vec<Command>,
    context: Context,
) -> Vec<Finish> {
    commands
        .drain(..)
        .filter_map(|Command(apply)| apply(tx, context))
        .collect()
}
