//! Durable storage behind one type, [`Store`], with one implementation per backend chosen by
//! the database URL's scheme. Handlers never see SQL; the writer hands the store whole
//! batches (group commit), and the store answers with small typed errors.

mod backup;
mod plan;
mod postgres;
mod records;
mod rollup;
mod sql;
mod sqlite;
mod sqlite_commit;
mod statement;
mod webhook_outbox;
mod webhooks;

use std::str::FromStr;

use parkstream_protocol::{EventType, Timestamp};

use sqlx::{Postgres, Sqlite};

use crate::domain::idempotency::Retention;
use crate::domain::{Change, DomainError, Loaded};
use records::Records;
use sql::Backend;

pub use backup::{backup, BackupReport};
pub use postgres::{ClusterRow, PostgresStore, WriteLock};
pub use records::{AuditQuery, VisitQuery};
pub use rollup::{counts_of, LotCounts, RollupRetention, RollupRow, RollupWrite, Step};
pub use sqlite::SqliteStore;
pub use webhook_outbox::AttemptOutcome;
pub use webhooks::{AttemptRow, OutboxRow, WebhookRow, WebhookSettings};

/// Why storage failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or refused the write; nothing was stored.
    #[error("storage unavailable: {0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Stored data does not decode: a bug or a database edited by hand.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        match err {
            sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => {
                StoreError::Corrupt(err.to_string())
            }
            other => StoreError::Unavailable(Box::new(other)),
        }
    }
}

/// Why a write command failed: the rules refused it, or it was not stored.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error(transparent)]
    Refused(#[from] DomainError),
    /// The change could not be stored (the database failed or the server is stopping);
    /// nothing was applied.
    #[error("the change was not stored")]
    NotStored,
    /// The writer's queue stayed full (ingest faster than the streams can take it); nothing
    /// was applied, and the caller should retry later.
    #[error("the server is busy; the change was not stored")]
    Busy,
}

/// A published event as stored: its id, what the stream's filters need, and its JSON data.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub id: u64,
    pub event_type: EventType,
    pub lot_id: Option<String>,
    /// The contractor the event belongs to, if any (see `PublishedEvent::owner`).
    pub owner: Option<String>,
    pub data: String,
    pub created_at: Timestamp,
}

/// What the server loads at start.
#[derive(Debug)]
pub struct Snapshot {
    /// The domain state.
    pub state: Loaded,
    /// The newest `history_size` events, oldest first.
    pub events: Vec<StoredEvent>,
    /// The id the next event gets.
    pub next_event_id: u64,
}

/// One group commit: every change and event of the commands in it, stored atomically.
#[derive(Debug)]
pub struct Batch<'a> {
    pub changes: &'a [Change],
    pub events: &'a [StoredEvent],
    /// Delete stored events with an id up to this one (history beyond `--history-size`).
    pub trim_through: Option<u64>,
    /// The occupancy rollups the group's counts update, and old rows to delete.
    pub rollups: &'a RollupWrite,
}

fn json_text<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("wire types serialize")
}

fn json_of<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("stored JSON: {e}")))
}

fn parse<T>(value: &str, f: impl FnOnce(&str) -> Option<T>) -> Result<T, StoreError> {
    f(value).ok_or_else(|| StoreError::Corrupt(format!("unexpected stored value {value:?}")))
}

fn u32_of(value: i64) -> Result<u32, StoreError> {
    u32::try_from(value).map_err(|_| StoreError::Corrupt(format!("count {value} out of range")))
}

fn timestamp_of(value: &str) -> Result<Timestamp, StoreError> {
    parse(value, |s| s.parse().ok())
}

/// Tables that [`Store::exists`] can look in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Alerts,
    Violations,
}

/// Which alerts or violations a list wants, newest first.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// Only this status (its wire name, such as `active` or `pending`).
    pub status: Option<String>,
    pub lot: Option<String>,
    /// Only this contractor's.
    pub contractor: Option<String>,
    /// Only these lots.
    pub lots: Option<Vec<String>>,
    pub limit: u32,
}

/// A page of a list and the newest event id it reflects.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub last_event_id: u64,
}

/// The database, whichever backend it is.
#[derive(Debug, Clone)]
pub enum Store {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

impl Store {
    /// Opens the database named by `url`, creating it and applying migrations as needed.
    ///
    /// # Errors
    /// When the scheme is not supported, or the database cannot be opened or migrated.
    pub async fn open(url: &str) -> anyhow::Result<Self> {
        if url.starts_with("sqlite:") {
            Ok(Store::Sqlite(SqliteStore::open(url).await?))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Store::Postgres(PostgresStore::open(url).await?))
        } else {
            anyhow::bail!(
                "unsupported database URL: expected sqlite://FILE or postgres://USER@HOST/DB"
            )
        }
    }

    /// The JWT secret a server generated and keeps in the database at `url`, read without
    /// creating or changing anything (for `parkstream token --database-url`); `None` when it
    /// holds none (its servers were given a secret or a key).
    ///
    /// # Errors
    /// When the database cannot be opened or read.
    pub async fn stored_secret(url: &str) -> anyhow::Result<Option<String>> {
        use sqlx::Connection;
        const READ: &str = "SELECT value FROM meta WHERE key = 'jwt_secret'";
        if url.starts_with("sqlite:") {
            let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)?
                .create_if_missing(false)
                .read_only(true);
            let mut conn = sqlx::SqliteConnection::connect_with(&options).await?;
            Ok(sqlx::query_scalar(READ).fetch_optional(&mut conn).await?)
        } else {
            let mut conn = sqlx::PgConnection::connect(url).await?;
            Ok(sqlx::query_scalar(READ).fetch_optional(&mut conn).await?)
        }
    }

    /// Loads the state, with the gate answers `answers` keeps (deleting the others), and the
    /// newest `history_size` events.
    ///
    /// # Errors
    /// When the database cannot be read or holds rows that do not decode.
    pub async fn load(
        &self,
        history_size: u64,
        answers: Retention,
    ) -> Result<Snapshot, StoreError> {
        match self {
            Store::Sqlite(store) => store.load(history_size, answers).await,
            Store::Postgres(store) => store.load(history_size, answers).await,
        }
    }

    /// Stores a batch atomically (all of it or nothing), then runs `stored` (the writer
    /// publishes there) before answering. On a SQLite file `stored` runs on the commit thread
    /// the moment the commit is durable, sparing the fan-out a hop back to the writer.
    ///
    /// # Errors
    /// When the transaction fails; then nothing of the batch is stored and `stored` is dropped
    /// without running.
    pub async fn commit_then(
        &self,
        batch: &Batch<'_>,
        stored: impl FnOnce() + Send + 'static,
    ) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(store) => store.commit_then(batch, stored).await,
            Store::Postgres(store) => {
                store.commit(batch).await?;
                stored();
                Ok(())
            }
        }
    }

    /// The alerts or violations (`table`) matching `query`, newest first, read in one snapshot
    /// with the newest event id.
    ///
    /// # Errors
    /// When the database cannot be read, or holds rows that do not decode as `T`.
    pub async fn list<T: serde::de::DeserializeOwned>(
        &self,
        table: Table,
        query: &ListQuery,
    ) -> Result<Page<T>, StoreError> {
        match self {
            Store::Sqlite(store) => store.list(table, query).await,
            Store::Postgres(store) => store.list(table, query).await,
        }
    }

    /// A lot's stored occupancy buckets of `step` starting in `from .. to` (Unix
    /// milliseconds), oldest first.
    ///
    /// # Errors
    /// When the database cannot be read, or holds rows that do not decode.
    pub async fn rollups(
        &self,
        step: Step,
        lot: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<RollupRow>, StoreError> {
        match self {
            Store::Sqlite(store) => rollup::read(&store.pool, step, lot, from, to).await,
            Store::Postgres(store) => rollup::read(&store.pool, step, lot, from, to).await,
        }
    }

    /// Adds rows to a lot's rollups of `step` (each with its bucket's start) in one
    /// transaction, as if their counts had been stored then: for a generated history.
    ///
    /// # Errors
    /// When the database refuses the write; then nothing is written.
    pub async fn write_rollup_rows(
        &self,
        step: Step,
        rows: &[(i64, LotCounts)],
    ) -> Result<(), StoreError> {
        let statements = rollup::rows_statements(step, rows);
        match self {
            Store::Sqlite(store) => {
                let mut tx = store.pool.begin().await?;
                for s in statements {
                    Sqlite::query_of(&s.sql, s.params).execute(&mut *tx).await?;
                }
                tx.commit().await?;
            }
            Store::Postgres(store) => {
                let mut tx = store.pool.begin().await?;
                for s in statements {
                    Postgres::query_of(&s.sql, s.params)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
            }
        }
        Ok(())
    }

    /// A lot's stored `timeZone`, when it has one (the forecast keeps its profile in it).
    ///
    /// # Errors
    /// When the database cannot be read.
    pub async fn lot_time_zone(&self, lot: &str) -> Result<Option<String>, StoreError> {
        const SQL: &str = "SELECT time_zone FROM lots WHERE id = $1";
        let zone: Option<Option<String>> = match self {
            Store::Sqlite(store) => {
                sqlx::query_scalar(SQL)
                    .bind(lot)
                    .fetch_optional(&store.pool)
                    .await?
            }
            Store::Postgres(store) => {
                sqlx::query_scalar(SQL)
                    .bind(lot)
                    .fetch_optional(&store.pool)
                    .await?
            }
        };
        Ok(zone.flatten())
    }

    /// Whether an alert (`alerts`) or violation (`violations`) with this id was ever stored.
    ///
    /// # Errors
    /// When the database cannot be read.
    pub async fn exists(&self, table: Table, id: &str) -> Result<bool, StoreError> {
        match self {
            Store::Sqlite(store) => {
                Sqlite::exists(&mut *store.pool.acquire().await?, table, id).await
            }
            Store::Postgres(store) => {
                Postgres::exists(&mut *store.pool.acquire().await?, table, id).await
            }
        }
    }

    /// The audit entries matching `query`, newest first.
    ///
    /// # Errors
    /// When the database cannot be read.
    pub async fn audit(
        &self,
        query: &AuditQuery,
    ) -> Result<Vec<parkstream_protocol::records::AuditEntry>, StoreError> {
        match self {
            Store::Sqlite(store) => Sqlite::audit(&mut *store.pool.acquire().await?, query).await,
            Store::Postgres(store) => {
                Postgres::audit(&mut *store.pool.acquire().await?, query).await
            }
        }
    }

    /// A plate's visits matching `query`, newest first.
    ///
    /// # Errors
    /// When the database cannot be read.
    pub async fn visits(
        &self,
        query: &VisitQuery,
    ) -> Result<Vec<parkstream_protocol::records::Visit>, StoreError> {
        match self {
            Store::Sqlite(store) => Sqlite::visits(&mut *store.pool.acquire().await?, query).await,
            Store::Postgres(store) => {
                Postgres::visits(&mut *store.pool.acquire().await?, query).await
            }
        }
    }

    /// A contractor's violations detected from `from` to `to`, oldest first.
    ///
    /// # Errors
    /// When the database cannot be read, or holds rows that do not decode.
    pub async fn contractor_violations(
        &self,
        contractor: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<parkstream_protocol::events::Violation>, StoreError> {
        match self {
            Store::Sqlite(store) => {
                let conn = &mut *store.pool.acquire().await?;
                Sqlite::contractor_violations(conn, contractor, from, to).await
            }
            Store::Postgres(store) => {
                let conn = &mut *store.pool.acquire().await?;
                Postgres::contractor_violations(conn, contractor, from, to).await
            }
        }
    }

    /// The JWT secret this database generated for itself (created on first use), so tokens
    /// minted with it stay valid across restarts; and whether this call generated it.
    ///
    /// # Errors
    /// When the database cannot be read or written.
    pub async fn generated_secret(&self) -> Result<(String, bool), StoreError> {
        match self {
            Store::Sqlite(store) => {
                Sqlite::generated_secret(&mut *store.pool.acquire().await?).await
            }
            Store::Postgres(store) => {
                Postgres::generated_secret(&mut *store.pool.acquire().await?).await
            }
        }
    }

    /// Checks that the database answers (for `/readyz`).
    ///
    /// # Errors
    /// When it does not.
    pub async fn ping(&self) -> Result<(), StoreError> {
        match self {
            Store::Sqlite(store) => store.ping().await,
            Store::Postgres(store) => store.ping().await,
        }
    }

    /// Closes every connection, flushing what the backend buffers.
    pub async fn close(&self) {
        match self {
            Store::Sqlite(store) => store.close().await,
            Store::Postgres(store) => store.close().await,
        }
    }
}
