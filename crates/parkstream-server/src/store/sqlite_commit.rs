//! SQLite's group commits, on a thread of their own that owns one connection.
//!
//! sqlx runs each SQLite statement as a round trip to its connection's worker thread, so a
//! capacity update's commit (begin, upsert, insert, commit, plus the pool's bookkeeping) cost
//! about 30 thread switches and 0.8 ms of CPU (measured with `perf stat` and
//! `/proc/PID/task/*/status`; docs/performance.md). Here the whole transaction runs in one go:
//! one hand-over to this thread and one answer back. Reads keep using sqlx's pool; both go
//! through the same libsqlite3 (rusqlite and sqlx share `libsqlite3-sys`), on the same file in
//! WAL mode, so readers never block this writer.
//!
//! Checkpoints (copying the WAL back into the database file, with an fsync of that file) run
//! on a second thread, at most once a second, instead of inside whichever commit crosses
//! SQLite's 1,000-page threshold: that commit and every event waiting behind it took 10-40 ms
//! longer (measured in S1: p99 10.0 → 6.6 ms, p99.9 40 → 13 ms).

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use rusqlite::types::{ToSqlOutput, Value};
use rusqlite::{Connection, OpenFlags, ToSql};
use tokio::sync::oneshot;

use super::plan::{Param, Statement};
use super::StoreError;

/// The statements of one group commit, what to run once they are stored, and where to answer.
type Job = (
    Vec<Statement>,
    Box<dyn FnOnce() + Send>,
    oneshot::Sender<Result<(), StoreError>>,
);

/// A handle to the commit thread; the thread ends when the last handle is dropped.
#[derive(Debug, Clone)]
pub struct CommitThread {
    jobs: mpsc::Sender<Job>,
}

impl CommitThread {
    /// Opens the database file (already created and migrated) and starts the thread.
    pub fn start(path: &Path, busy_timeout: Duration) -> Result<Self, StoreError> {
        let mut conn = open(path, busy_timeout)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(unavailable)?;
        conn.pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(unavailable)?;
        let checkpoints = open(path, busy_timeout)?;
        let (committed, wake_checkpointer) = mpsc::sync_channel::<()>(1);
        spawn("sqlite-checkpoint", move || {
            // Wakes when something was committed since the last checkpoint; ends with the
            // commit thread.
            while wake_checkpointer.recv().is_ok() {
                if let Err(err) =
                    checkpoints.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                {
                    tracing::warn!(error = %err, "SQLite checkpoint failed; retrying after the next commit");
                }
                std::thread::sleep(CHECKPOINT_EVERY);
            }
        })?;
        let (jobs, incoming) = mpsc::channel::<Job>();
        spawn("sqlite-commit", move || {
            while let Ok((statements, then, reply)) = incoming.recv() {
                let result = run(&mut conn, &statements).map_err(unavailable);
                let stored = result.is_ok();
                if stored {
                    then();
                }
                let _ = reply.send(result);
                if stored {
                    // A full channel means a checkpoint is due already.
                    let _ = committed.try_send(());
                }
            }
        })?;
        Ok(Self { jobs })
    }

    /// Runs `statements` in one transaction (all stored, or none), then `stored` on this
    /// thread if they were, then answers.
    pub async fn commit_then(
        &self,
        statements: Vec<Statement>,
        stored: Box<dyn FnOnce() + Send>,
    ) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        let stopped = || StoreError::Unavailable("the SQLite commit thread stopped".into());
        self.jobs
            .send((statements, stored, reply))
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// The least time between two checkpoints.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

fn open(path: &Path, busy_timeout: Duration) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(unavailable)?;
    // WAL is the file's own setting (sqlx set it); every commit synced, so an acknowledged
    // write survives a crash of the machine too.
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(unavailable)?;
    conn.busy_timeout(busy_timeout).map_err(unavailable)?;
    Ok(conn)
}

fn spawn(name: &str, work: impl FnOnce() + Send + 'static) -> Result<(), StoreError> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(work)
        .map(drop)
        .map_err(|err| StoreError::Unavailable(Box::new(err)))
}

fn run(conn: &mut Connection, statements: &[Statement]) -> rusqlite::Result<()> {
    // Dropping the transaction on an error rolls it back.
    let tx = conn.transaction()?;
    for statement in statements {
        let mut prepared = tx.prepare_cached(&statement.sql)?;
        // `$N` is a named parameter to SQLite, numbered in order of first appearance: N, in
        // every planned statement (plan.rs writes `$1`, `$2`, ... in order). Looking each name
        // up instead scans every parameter, quadratic in a 3,000-parameter insert.
        if prepared.parameter_count() != statement.params.len() {
            return Err(rusqlite::Error::InvalidParameterCount(
                statement.params.len(),
                prepared.parameter_count(),
            ));
        }
        for (n, param) in statement.params.iter().enumerate() {
            prepared.raw_bind_parameter(n + 1, param)?;
        }
        prepared.raw_execute()?;
    }
    tx.commit()
}

impl ToSql for Param {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Param::Int(Some(value)) => ToSqlOutput::from(*value),
            Param::Real(Some(value)) => ToSqlOutput::from(*value),
            Param::Text(Some(value)) => ToSqlOutput::from(value.as_str()),
            Param::Int(None) | Param::Real(None) | Param::Text(None) => {
                ToSqlOutput::Owned(Value::Null)
            }
        })
    }
}

fn unavailable(err: rusqlite::Error) -> StoreError {
    StoreError::Unavailable(Box::new(err))
}
