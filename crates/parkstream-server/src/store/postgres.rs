//! PostgreSQL: for several instances sharing one database (with Redis, see `cluster`) or an
//! operator who keeps everything in PostgreSQL. The same tables and behaviour as SQLite.
//!
//! Besides the store's interface it offers [`WriteLock`]: a dedicated connection holding the
//! cluster's write lock (a session advisory lock), on which a writer reloads state when another
//! instance wrote since, commits, and records what reached the Redis stream.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions};
use sqlx::{Connection, PgPool, Postgres, Row};

use super::sql::{Backend, NEWEST_EVENT_ID};
use super::{Batch, ListQuery, Page, Snapshot, StoreError, StoredEvent, Table};
use crate::domain::contractor::Contractor;
use crate::domain::idempotency::Retention;
use crate::domain::{Loaded, Lot};

impl Backend for Postgres {
    const ALERT_CONTRACTOR: &'static str = "(data::jsonb ->> 'contractorId')";
    const INSERTION_ORDER: &'static str = "seq";

    fn rows_affected(result: &sqlx::postgres::PgQueryResult) -> u64 {
        result.rows_affected()
    }
}

/// The advisory lock every instance's writer takes around a group commit.
const WRITE_LOCK: i64 = 0x7061_726b_0001;

#[derive(Debug, Clone)]
pub struct PostgresStore {
    pub(super) pool: PgPool,
    options: std::sync::Arc<PgConnectOptions>,
}

impl PostgresStore {
    pub(super) async fn open(url: &str) -> anyhow::Result<Self> {
        let options = PgConnectOptions::from_str(url)?;
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(options.clone())
            .await?;
        // sqlx takes an advisory lock while migrating: instances starting together are safe.
        sqlx::migrate!("migrations/postgres").run(&pool).await?;
        // Event ids start from the creation time (ms × 1000) so that a client holding an id
        // from a wiped and re-created store gets `reset`, not a replay of unrelated events.
        Postgres::init_event_ids(&mut *pool.acquire().await?).await?;
        Ok(Self {
            pool,
            options: options.into(),
        })
    }

    pub(super) async fn load(
        &self,
        history_size: u64,
        answers: Retention,
    ) -> Result<Snapshot, StoreError> {
        // One snapshot: other instances may be committing while this one starts.
        let mut tx = self.snapshot("").await?;
        let snapshot = Postgres::load_snapshot(&mut tx, history_size, answers).await?;
        tx.commit().await?;
        Ok(snapshot)
    }

    /// The domain state and the id the next event gets, read in one snapshot.
    pub(crate) async fn load_state(&self, answers: Retention) -> Result<(Loaded, u64), StoreError> {
        // Not read-only: expired gate answers are deleted on the way.
        let mut tx = self.snapshot("").await?;
        let loaded = Postgres::load_state(&mut tx, answers).await?;
        tx.commit().await?;
        Ok(loaded)
    }

    /// A transaction that reads one snapshot of the database (`REPEATABLE READ`, with `mode`
    /// such as `READ ONLY` or nothing).
    async fn snapshot(
        &self,
        mode: &str,
    ) -> Result<sqlx::Transaction<'static, Postgres>, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(&format!(
            "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ {mode}"
        ))
        .execute(&mut *tx)
        .await?;
        Ok(tx)
    }

    /// Every lot and contractor, and the newest event id they reflect, read in one snapshot
    /// (what an instance's read model shows).
    pub(crate) async fn load_views(&self) -> Result<(Vec<Lot>, Vec<Contractor>, u64), StoreError> {
        let mut tx = self.snapshot("READ ONLY").await?;
        let lots = Postgres::load_lots(&mut tx).await?;
        let contractors = Postgres::load_contractors(&mut tx).await?;
        let newest = Postgres::newest_event_id(&mut tx).await?;
        tx.commit().await?;
        Ok((lots, contractors, newest))
    }

    /// Stored events with ids in `after + 1 .. before`, oldest first.
    pub(crate) async fn events_between(
        &self,
        after: u64,
        before: u64,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        Postgres::events(
            &mut *self.pool.acquire().await?,
            "SELECT id, type, lot_id, owner, data, created_at FROM events
             WHERE id > $1 AND id < $2 ORDER BY id",
            &[after as i64, i64::try_from(before).unwrap_or(i64::MAX)],
        )
        .await
    }

    /// How to open a connection of one's own (for locks held by a session).
    pub(crate) fn connect_options(&self) -> PgConnectOptions {
        (*self.options).clone()
    }

    /// A connection of its own for the cluster's write lock (see [`WriteLock`]).
    pub(crate) fn write_lock(&self) -> WriteLock {
        WriteLock {
            options: self.connect_options(),
            conn: None,
        }
    }

    pub(super) async fn commit(&self, batch: &Batch<'_>) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        write_batch_and_bump(&mut tx, batch).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The alerts or violations matching `query`, read in one snapshot with the newest
    /// event id.
    pub(super) async fn list<T: serde::de::DeserializeOwned>(
        &self,
        table: Table,
        query: &ListQuery,
    ) -> Result<Page<T>, StoreError> {
        let mut tx = self.snapshot("READ ONLY").await?;
        let page = Postgres::read_page(&mut tx, Postgres::list_select(table, query)).await?;
        tx.commit().await?;
        Ok(page)
    }

    pub(super) async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub(super) async fn close(&self) {
        self.pool.close().await;
    }
}

/// Writes a batch in the caller's transaction and bumps the cluster's version.
async fn write_batch_and_bump(
    conn: &mut PgConnection,
    batch: &Batch<'_>,
) -> Result<(), StoreError> {
    Postgres::write_batch(conn, batch).await?;
    sqlx::query("UPDATE cluster SET version = version + 1")
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// What the cluster row says when the write lock is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClusterRow {
    /// Changes with every commit of any instance.
    pub version: u64,
    /// The id the next event gets.
    pub next_event_id: u64,
    /// The newest event id known to be on the Redis stream.
    pub appended_through: u64,
}

/// The cluster's write lock: a session advisory lock on a connection of its own, held from
/// before a writer reads the state until its events are on the Redis stream, so that
/// instances commit one at a time and append in commit order. If the connection breaks (or
/// the process dies) PostgreSQL releases the lock; the next writer then finds and appends
/// what was committed but never appended (`appended_through`).
#[derive(Debug)]
pub struct WriteLock {
    options: PgConnectOptions,
    conn: Option<PgConnection>,
}

impl WriteLock {
    /// Waits for the lock and reads the cluster row.
    ///
    /// # Errors
    /// When PostgreSQL cannot be reached; the lock is not held then.
    pub async fn acquire(&mut self) -> Result<ClusterRow, StoreError> {
        let result = self.try_acquire().await;
        if result.is_err() {
            self.conn = None; // dropping the connection drops any lock it took
        }
        result
    }

    async fn try_acquire(&mut self) -> Result<ClusterRow, StoreError> {
        if self.conn.is_none() {
            self.conn = Some(PgConnection::connect_with(&self.options).await?);
        }
        let conn = self.conn.as_mut().expect("connected");
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(WRITE_LOCK)
            .execute(&mut *conn)
            .await?;
        let row = sqlx::query(&format!(
            "SELECT version, appended_through, ({NEWEST_EVENT_ID}) AS newest FROM cluster"
        ))
        .fetch_one(&mut *conn)
        .await?;
        Ok(ClusterRow {
            version: row.try_get::<i64, _>("version")? as u64,
            appended_through: row.try_get::<i64, _>("appended_through")? as u64,
            next_event_id: row.try_get::<i64, _>("newest")? as u64 + 1,
        })
    }

    /// Stores a batch atomically (the lock must be held); answers the new version.
    ///
    /// # Errors
    /// When the transaction fails; then nothing of the batch is stored. The lock is released.
    pub async fn commit(&mut self, batch: &Batch<'_>) -> Result<u64, StoreError> {
        let result = async {
            let conn = self.conn.as_mut().ok_or_else(not_held)?;
            let mut tx = conn.begin().await?;
            write_batch_and_bump(&mut tx, batch).await?;
            let version: i64 = sqlx::query_scalar("SELECT version FROM cluster")
                .fetch_one(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(version as u64)
        }
        .await;
        if result.is_err() {
            self.conn = None;
        }
        result
    }

    /// Stored events after `after`, oldest first (what is still to be appended).
    ///
    /// # Errors
    /// When the database cannot be read. The lock is released.
    pub async fn events_after(&mut self, after: u64) -> Result<Vec<StoredEvent>, StoreError> {
        let result: Result<Vec<StoredEvent>, StoreError> = async {
            let conn = self.conn.as_mut().ok_or_else(not_held)?;
            Postgres::events(
                conn,
                "SELECT id, type, lot_id, owner, data, created_at FROM events
                 WHERE id > $1 ORDER BY id",
                &[after as i64],
            )
            .await
        }
        .await;
        if result.is_err() {
            self.conn = None;
        }
        result
    }

    /// Records that every event up to `id` is on the stream, and releases the lock.
    ///
    /// # Errors
    /// When the database cannot be written; the lock is released all the same.
    pub async fn release_appended(&mut self, id: Option<u64>) -> Result<(), StoreError> {
        let result = async {
            let conn = self.conn.as_mut().ok_or_else(not_held)?;
            if let Some(id) = id {
                sqlx::query("UPDATE cluster SET appended_through = GREATEST(appended_through, $1)")
                    .bind(id as i64)
                    .execute(&mut *conn)
                    .await?;
            }
            sqlx::query("SELECT pg_advisory_unlock($1)")
                .bind(WRITE_LOCK)
                .execute(&mut *conn)
                .await?;
            Ok(())
        }
        .await;
        if result.is_err() {
            self.conn = None;
        }
        result
    }
}

fn not_held() -> StoreError {
    StoreError::Corrupt("the cluster write lock is not held".to_owned())
}
