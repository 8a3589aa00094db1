//! How a writer commits a group in a cluster: under the cluster's write lock, catch up with
//! the other instances, make sure Redis takes appends, commit, append, release. The events
//! reach this instance's hub through the stream like every other instance's.

use std::time::Duration;

use parkstream_protocol::Timestamp;

use super::Appender;
use crate::domain::contractor::Contractor;
use crate::domain::State;
use crate::read_model::ReadModel;
use crate::store::{Batch, ClusterRow, PostgresStore, StoreError, WriteLock};

/// How long a writer waits for its own events to come back through the stream before it
/// answers (read your writes).
const REFLECT_WAIT: Duration = Duration::from_secs(2);

/// What a writer needs when it shares the database with other instances.
#[derive(Debug)]
pub struct ClusterWriting {
    pub store: PostgresStore,
    pub lock: WriteLock,
    pub appender: Appender,
    /// The cluster version the writer's state reflects (`None`: not known, reload).
    pub version: Option<u64>,
}

/// What a writer holding the lock must do before it applies its group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CatchUp {
    /// Another instance committed since this one's state was loaded.
    reload: bool,
    /// Events stored but not yet on the stream go first; and while Redis is failing, this
    /// is the check that turns writes away (503) instead of storing what cannot be sent.
    flush: bool,
}

fn catch_up(known_version: Option<u64>, row: &ClusterRow, redis_ok: bool) -> CatchUp {
    CatchUp {
        reload: known_version != Some(row.version),
        flush: row.appended_through < row.next_event_id - 1 || !redis_ok,
    }
}

/// What the cluster row records as appended once a commit's events through `last_id` were
/// (or were not) appended. Not appended, they wait in the database for the next writer (or
/// the timer leader within a second); they are stored, so the commands succeeded.
fn appended_through(appended: bool, last_id: u64) -> Option<u64> {
    appended.then_some(last_id)
}

impl ClusterWriting {
    /// Takes the write lock and catches up: reloads `state` if another instance committed
    /// since, and appends what is stored but not on the stream. Answers the id of the newest
    /// event stored; `None` (the lock released, or never taken) when the group must be
    /// refused.
    pub async fn begin(&mut self, state: &mut State) -> Option<u64> {
        let row = match self.lock.acquire().await {
            Ok(row) => row,
            Err(err) => {
                tracing::error!(error = %err, "cannot take the cluster's write lock");
                return None;
            }
        };
        let todo = catch_up(self.version, &row, self.appender.health().ok());
        if todo.reload {
            let retention = state.answer_retention();
            match self.store.load_state(retention).await {
                Ok((loaded, _)) => {
                    *state = State::from_loaded(loaded, retention, Timestamp::now());
                    self.version = Some(row.version);
                }
                Err(err) => {
                    tracing::error!(error = %err, "cannot reload the state another instance changed");
                    let _ = self.lock.release_appended(None).await;
                    return None;
                }
            }
        }
        if todo.flush {
            let flushed = match self.lock.events_after(row.appended_through).await {
                Ok(pending) => self.appender.append(&pending, true).await.is_ok(),
                Err(_) => false,
            };
            if !flushed {
                let _ = self.lock.release_appended(None).await;
                return None;
            }
        }
        Some(row.next_event_id - 1)
    }

    /// The group changed nothing: releases the lock (everything through `newest` is on the
    /// stream, as `begin` made sure).
    pub async fn release_unchanged(&mut self, newest: u64) {
        let _ = self.lock.release_appended(Some(newest)).await;
    }

    /// Commits `batch` (whose events end at `last_id`, or which has none and `last_id` is the
    /// newest stored), appends its events, releases the lock, and waits (briefly) until this
    /// instance's stream reader has published them, so the caller reads its own writes.
    ///
    /// # Errors
    /// When the commit fails: nothing of the batch is stored, the lock is released.
    pub async fn commit(
        &mut self,
        batch: &Batch<'_>,
        last_id: u64,
        contractors: &[Contractor],
        read_model: &ReadModel,
    ) -> Result<(), StoreError> {
        let version = self.lock.commit(batch).await?;
        self.version = Some(version);
        // New ids, above anything on the stream: no need to look for them there.
        let appended = self.appender.append(batch.events, false).await.is_ok();
        let _ = self
            .lock
            .release_appended(appended_through(appended, last_id))
            .await;
        read_model.update_contractors(contractors);
        if appended && !batch.events.is_empty() {
            read_model.wait_reflects(last_id, REFLECT_WAIT).await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(version: u64, next_event_id: u64, appended_through: u64) -> ClusterRow {
        ClusterRow {
            version,
            next_event_id,
            appended_through,
        }
    }

    #[test]
    fn a_writer_up_to_date_with_everything_appended_goes_straight_on() {
        let todo = catch_up(Some(4), &row(4, 11, 10), true);
        assert_eq!(
            todo,
            CatchUp {
                reload: false,
                flush: false
            }
        );
    }

    #[test]
    fn a_commit_by_another_instance_or_an_unknown_version_reloads_the_state() {
        assert!(catch_up(Some(4), &row(5, 11, 10), true).reload);
        assert!(catch_up(None, &row(4, 11, 10), true).reload);
    }

    #[test]
    fn events_not_yet_on_the_stream_are_appended_first() {
        let todo = catch_up(Some(4), &row(4, 11, 8), true);
        assert!(todo.flush && !todo.reload);
        // An empty database: nothing to append.
        assert!(!catch_up(Some(1), &row(1, 1, 0), true).flush);
    }

    #[test]
    fn while_redis_fails_every_group_first_checks_it_can_append() {
        assert!(catch_up(Some(4), &row(4, 11, 10), false).flush);
    }

    #[test]
    fn events_whose_append_failed_are_not_recorded_as_appended() {
        assert_eq!(appended_through(true, 12), Some(12));
        assert_eq!(appended_through(false, 12), None);
    }
}
