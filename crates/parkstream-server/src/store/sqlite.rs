//! SQLite: the embedded default. One file in WAL mode; every commit is synced
//! (`synchronous=FULL`) so an acknowledged write survives a crash of the machine too.
//! The statements are shared with PostgreSQL (`sql.rs`, `plan.rs`); a file's commits run on a
//! thread of their own (`sqlite_commit.rs`), reads on sqlx's pool.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool};

use super::sql::Backend;
use super::sqlite_commit::CommitThread;
use super::{Batch, ListQuery, Page, Snapshot, StoreError, Table};
use crate::domain::idempotency::Retention;

impl Backend for Sqlite {
    const ALERT_CONTRACTOR: &'static str = "json_extract(data, '$.contractorId')";
    const INSERTION_ORDER: &'static str = "rowid";

    fn rows_affected(result: &sqlx::sqlite::SqliteQueryResult) -> u64 {
        result.rows_affected()
    }
}

/// Makes the database file readable by its owner only (it holds the generated JWT secret and
/// every plate), creating it so if it does not exist. SQLite gives the `-wal` and `-shm` files
/// it creates the main file's mode; those left by an earlier version are narrowed too.
pub(super) fn owner_only(path: &std::path::Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)?;
        for suffix in ["", "-wal", "-shm"] {
            let mut file = path.as_os_str().to_owned();
            file.push(suffix);
            match std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)) {
                Err(err) if err.kind() != std::io::ErrorKind::NotFound => return Err(err),
                _ => {}
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// How long a connection waits for another's write lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct SqliteStore {
    pub(super) pool: SqlitePool,
    /// Where a file database's commits run; `None` for an in-memory database, which exists
    /// only inside the pool's one connection and so commits through it.
    commits: Option<CommitThread>,
}

impl SqliteStore {
    pub(super) async fn open(url: &str) -> anyhow::Result<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        // An in-memory database exists once per connection: keep exactly one.
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        if !in_memory {
            owner_only(options.get_filename())?;
        }
        let max = if in_memory { 1 } else { 4 };
        let pool = SqlitePoolOptions::new()
            .max_connections(max)
            .min_connections(1)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("migrations/sqlite").run(&pool).await?;
        // Event ids start from the creation time (ms × 1000) so that a client holding an id
        // from a wiped and re-created store gets `reset`, not a replay of unrelated events.
        Sqlite::init_event_ids(&mut *pool.acquire().await?).await?;
        let commits = if in_memory {
            None
        } else {
            Some(CommitThread::start(options.get_filename(), BUSY_TIMEOUT)?)
        };
        Ok(Self { pool, commits })
    }

    pub(super) async fn load(
        &self,
        history_size: u64,
        answers: Retention,
    ) -> Result<Snapshot, StoreError> {
        // A write transaction (expired gate answers are deleted on the way), so one snapshot.
        let mut tx = self.pool.begin().await?;
        let snapshot = Sqlite::load_snapshot(&mut tx, history_size, answers).await?;
        tx.commit().await?;
        Ok(snapshot)
    }

    pub(super) async fn commit_then(
        &self,
        batch: &Batch<'_>,
        stored: impl FnOnce() + Send + 'static,
    ) -> Result<(), StoreError> {
        if let Some(commits) = &self.commits {
            return commits
                .commit_then(super::plan::statements(batch), Box::new(stored))
                .await;
        }
        let mut tx = self.pool.begin().await?;
        Sqlite::write_batch(&mut tx, batch).await?;
        tx.commit().await?;
        stored();
        Ok(())
    }

    /// The alerts or violations matching `query`, read in one transaction with the newest
    /// event id.
    pub(super) async fn list<T: serde::de::DeserializeOwned>(
        &self,
        table: Table,
        query: &ListQuery,
    ) -> Result<Page<T>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let page = Sqlite::read_page(&mut tx, Sqlite::list_select(table, query)).await?;
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
