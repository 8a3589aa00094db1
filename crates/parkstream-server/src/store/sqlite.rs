//! SQLite: the embedded default. One file in WAL mode; every commit is synced
//! (`synchronous=FULL`) so an acknowledged write survives a crash of the machine too.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Row, SqlitePool};

use parkstream_protocol::Timestamp;

use super::{Batch, Snapshot, StoreError, StoredEvent};
use crate::domain::{Change, Lot, LotId, LotSettings};

/// Rows per multi-row INSERT: 5 parameters each stays far below SQLite's limit of 32,766.
const ROWS_PER_INSERT: usize = 1_000;

#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    pub(super) async fn open(url: &str) -> anyhow::Result<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        // An in-memory database exists once per connection: keep exactly one.
        let max = if url.contains(":memory:") || url.contains("mode=memory") {
            1
        } else {
            4
        };
        let pool = SqlitePoolOptions::new()
            .max_connections(max)
            .min_connections(1)
            .connect_with(options)
            .await?;
        sqlx::migrate!("migrations/sqlite").run(&pool).await?;
        // Event ids start from the creation time (in µs-ish units) so that a client holding an
        // id from a wiped and re-created store gets `reset`, not a replay of unrelated events.
        let base = Timestamp::now().unix_millis().max(1) * 1000;
        sqlx::query("INSERT OR IGNORE INTO meta (key, value) VALUES ('event_id_base', ?)")
            .bind(base.to_string())
            .execute(&pool)
            .await?;
        Ok(Self { pool })
    }

    pub(super) async fn load(&self, history_size: u64) -> Result<Snapshot, StoreError> {
        let lots = sqlx::query(
            "SELECT id, name, total_slots, warning_threshold, max_stay_seconds, occupied, updated_at
             FROM lots",
        )
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|row| {
            let id: String = row.try_get("id")?;
            let max_stay: Option<i64> = row.try_get("max_stay_seconds")?;
            Ok(Lot {
                id: LotId::parse(&id).map_err(StoreError::Corrupt)?,
                settings: LotSettings {
                    name: row.try_get("name")?,
                    total_slots: u32_of(row.try_get("total_slots")?)?,
                    warning_threshold: row.try_get("warning_threshold")?,
                    max_stay_seconds: max_stay.map(|s| s as u64),
                },
                occupied: u32_of(row.try_get("occupied")?)?,
                updated_at: timestamp_of(&row.try_get::<String, _>("updated_at")?)?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;

        let limit = i64::try_from(history_size).unwrap_or(i64::MAX);
        let events = sqlx::query(
            "SELECT id, type, lot_id, data, created_at FROM
               (SELECT * FROM events ORDER BY id DESC LIMIT ?)
             ORDER BY id",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|row| {
            let event_type: String = row.try_get("type")?;
            Ok(StoredEvent {
                id: row.try_get::<i64, _>("id")? as u64,
                event_type: event_type
                    .parse()
                    .map_err(|e| StoreError::Corrupt(format!("{e}")))?,
                lot_id: row.try_get("lot_id")?,
                data: row.try_get("data")?,
                created_at: timestamp_of(&row.try_get::<String, _>("created_at")?)?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;

        let base: String = sqlx::query_scalar("SELECT value FROM meta WHERE key = 'event_id_base'")
            .fetch_one(&self.pool)
            .await?;
        let base: u64 = base
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("event_id_base {base:?}")))?;
        let max_id: Option<i64> = sqlx::query_scalar("SELECT max(id) FROM events")
            .fetch_one(&self.pool)
            .await?;
        let next_event_id = max_id.map_or(base, |id| (id as u64 + 1).max(base));
        Ok(Snapshot {
            lots,
            events,
            next_event_id,
        })
    }

    pub(super) async fn commit(&self, batch: &Batch<'_>) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for change in batch.changes {
            match change {
                Change::Lot(lot) => {
                    sqlx::query(
                        "INSERT INTO lots (id, name, total_slots, warning_threshold,
                                           max_stay_seconds, occupied, updated_at)
                         VALUES (?, ?, ?, ?, ?, ?, ?)
                         ON CONFLICT (id) DO UPDATE SET
                           name = excluded.name, total_slots = excluded.total_slots,
                           warning_threshold = excluded.warning_threshold,
                           max_stay_seconds = excluded.max_stay_seconds,
                           occupied = excluded.occupied, updated_at = excluded.updated_at",
                    )
                    .bind(lot.id.as_str())
                    .bind(&lot.settings.name)
                    .bind(i64::from(lot.settings.total_slots))
                    .bind(lot.settings.warning_threshold)
                    .bind(lot.settings.max_stay_seconds.map(|s| s as i64))
                    .bind(i64::from(lot.occupied))
                    .bind(lot.updated_at.to_string())
                    .execute(&mut *tx)
                    .await?;
                }
            }
        }
        for chunk in batch.events.chunks(ROWS_PER_INSERT) {
            let mut insert =
                QueryBuilder::new("INSERT INTO events (id, type, lot_id, data, created_at) ");
            insert.push_values(chunk, |mut row, event| {
                row.push_bind(event.id as i64)
                    .push_bind(event.event_type.as_str())
                    .push_bind(event.lot_id.as_deref())
                    .push_bind(&event.data)
                    .push_bind(event.created_at.to_string());
            });
            insert.build().execute(&mut *tx).await?;
        }
        if let Some(through) = batch.trim_through {
            sqlx::query("DELETE FROM events WHERE id <= ?")
                .bind(through as i64)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub(super) async fn close(&self) {
        self.pool.close().await;
    }
}

fn u32_of(value: i64) -> Result<u32, StoreError> {
    u32::try_from(value).map_err(|_| StoreError::Corrupt(format!("count {value} out of range")))
}

fn timestamp_of(value: &str) -> Result<Timestamp, StoreError> {
    value
        .parse()
        .map_err(|_| StoreError::Corrupt(format!("timestamp {value:?}")))
}
