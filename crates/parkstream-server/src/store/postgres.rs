//! PostgreSQL: for several instances sharing one database (with Redis, see `cluster`) or an
//! operator who keeps everything in PostgreSQL. The same tables and behaviour as SQLite.
//!
//! Besides the store's interface it offers [`WriteLock`]: a dedicated connection holding the
//! cluster's write lock (a session advisory lock), on which a writer reloads state when another
//! instance wrote since, commits, and records what reached the Redis stream.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions, PgRow};
use sqlx::{Connection, PgPool, Postgres, QueryBuilder, Row};

use parkstream_protocol::events::{Alert, Violation};
use parkstream_protocol::Timestamp;

use super::{
    gate_answer_horizon, json_of, json_text, parse, timestamp_of, u32_of, wire_name, Batch,
    ListQuery, Page, Snapshot, StoreError, StoredEvent, Table,
};
use crate::domain::alert::{AlertKey, AlertRecord};
use crate::domain::camera::Camera;
use crate::domain::contractor::{Contractor, ContractorId, Plate};
use crate::domain::gate::Stay;
use crate::domain::violation::ViolationRecord;
use crate::domain::{Change, Loaded, Lot, LotId, LotSettings};

/// Rows per multi-row INSERT: 6 parameters each stays far below PostgreSQL's limit of 65,535.
const ROWS_PER_INSERT: usize = 1_000;
/// The advisory lock every instance's writer takes around a group commit.
const WRITE_LOCK: i64 = 0x7061_726b_0001;

#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
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
        let base = Timestamp::now().unix_millis().max(1) * 1000;
        sqlx::query(
            "INSERT INTO meta (key, value) VALUES ('event_id_base', $1) ON CONFLICT DO NOTHING",
        )
        .bind(base.to_string())
        .execute(&pool)
        .await?;
        Ok(Self {
            pool,
            options: options.into(),
        })
    }

    pub(super) async fn load(&self, history_size: u64) -> Result<Snapshot, StoreError> {
        let limit = i64::try_from(history_size).unwrap_or(i64::MAX);
        let mut tx = self.pool.begin().await?;
        // One snapshot: other instances may be committing while this one starts.
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            .execute(&mut *tx)
            .await?;
        let (state, next_event_id) = load_state(&mut tx).await?;
        let events = sqlx::query(
            "SELECT id, type, lot_id, owner, data, created_at FROM
               (SELECT * FROM events ORDER BY id DESC LIMIT $1) AS newest
             ORDER BY id",
        )
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(event_of)
        .collect::<Result<Vec<_>, StoreError>>()?;
        tx.commit().await?;
        Ok(Snapshot {
            state,
            events,
            next_event_id,
        })
    }

    /// The domain state and the id the next event gets, read in one snapshot.
    pub(crate) async fn load_state(&self) -> Result<(Loaded, u64), StoreError> {
        let mut tx = self.pool.begin().await?;
        // Not read-only: expired gate answers are deleted on the way.
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            .execute(&mut *tx)
            .await?;
        let loaded = load_state(&mut tx).await?;
        tx.commit().await?;
        Ok(loaded)
    }

    /// Every lot and contractor, and the newest event id they reflect, read in one snapshot
    /// (what an instance's read model shows).
    pub(crate) async fn load_views(&self) -> Result<(Vec<Lot>, Vec<Contractor>, u64), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .execute(&mut *tx)
            .await?;
        let lots = load_lots(&mut tx).await?;
        let contractors = load_contractors(&mut tx).await?;
        let newest: i64 = sqlx::query_scalar(NEWEST_EVENT_ID)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok((lots, contractors, newest as u64))
    }

    /// Stored events with ids in `after + 1 .. before`, oldest first.
    pub(crate) async fn events_between(
        &self,
        after: u64,
        before: u64,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        sqlx::query(
            "SELECT id, type, lot_id, owner, data, created_at FROM events
             WHERE id > $1 AND id < $2 ORDER BY id",
        )
        .bind(after as i64)
        .bind(i64::try_from(before).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(event_of)
        .collect()
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
        write_batch(&mut tx, batch).await?;
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn alerts(&self, query: &ListQuery) -> Result<Page<Alert>, StoreError> {
        // Alerts keep their contractor only in the JSON (most have none).
        self.list(
            "alerts",
            "(data::jsonb ->> 'contractorId')",
            "created_at",
            query,
        )
        .await
    }

    pub(super) async fn violations(
        &self,
        query: &ListQuery,
    ) -> Result<Page<Violation>, StoreError> {
        self.list("violations", "contractor_id", "timestamp", query)
            .await
    }

    /// The rows of `table` matching `query`, newest (by `time_column`) first.
    async fn list<T: serde::de::DeserializeOwned>(
        &self,
        table: &str,
        contractor_column: &str,
        time_column: &str,
        query: &ListQuery,
    ) -> Result<Page<T>, StoreError> {
        let mut select =
            QueryBuilder::<Postgres>::new(format!("SELECT data FROM {table} WHERE 1 = 1"));
        if let Some(status) = &query.status {
            select.push(" AND status = ").push_bind(status.clone());
        }
        if let Some(lot) = &query.lot {
            select.push(" AND lot_id = ").push_bind(lot.clone());
        }
        if let Some(lots) = &query.lots {
            if lots.is_empty() {
                select.push(" AND 1 = 0");
            } else {
                select.push(" AND lot_id IN (");
                let mut each = select.separated(", ");
                for lot in lots {
                    each.push_bind(lot.clone());
                }
                select.push(")");
            }
        }
        if let Some(contractor) = &query.contractor {
            select
                .push(format!(" AND {contractor_column} = "))
                .push_bind(contractor.clone());
        }
        select
            .push(format!(" ORDER BY {time_column} DESC, seq DESC LIMIT "))
            .push_bind(i64::from(query.limit));
        self.page(select).await
    }

    /// Runs a `SELECT data ...` and reads the newest event id in the same read transaction,
    /// so the page and the id agree.
    async fn page<T: serde::de::DeserializeOwned>(
        &self,
        mut select: QueryBuilder<'_, Postgres>,
    ) -> Result<Page<T>, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .execute(&mut *tx)
            .await?;
        let rows: Vec<PgRow> = select.build().fetch_all(&mut *tx).await?;
        let newest: i64 = sqlx::query_scalar(NEWEST_EVENT_ID)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        let items = rows
            .iter()
            .map(|row| json_of(&row.try_get::<String, _>("data")?))
            .collect::<Result<_, _>>()?;
        Ok(Page {
            items,
            last_event_id: newest as u64,
        })
    }

    pub(super) async fn exists(&self, table: Table, id: &str) -> Result<bool, StoreError> {
        let sql = match table {
            Table::Alerts => "SELECT count(*) FROM alerts WHERE id = $1",
            Table::Violations => "SELECT count(*) FROM violations WHERE id = $1",
        };
        let count: i64 = sqlx::query_scalar(sql)
            .bind(id)
            .fetch_one(&self.pool)
            .await?;
        Ok(count > 0)
    }

    pub(super) async fn generated_secret(&self) -> Result<String, StoreError> {
        let fresh = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        sqlx::query(
            "INSERT INTO meta (key, value) VALUES ('jwt_secret', $1) ON CONFLICT DO NOTHING",
        )
        .bind(fresh)
        .execute(&self.pool)
        .await?;
        Ok(
            sqlx::query_scalar("SELECT value FROM meta WHERE key = 'jwt_secret'")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    pub(super) async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub(super) async fn close(&self) {
        self.pool.close().await;
    }
}

async fn load_state(conn: &mut PgConnection) -> Result<(Loaded, u64), StoreError> {
    let state = Loaded {
        lots: load_lots(conn).await?,
        contractors: load_contractors(conn).await?,
        stays: load_stays(conn).await?,
        cameras: load_cameras(conn).await?,
        open_alerts: load_open_alerts(conn).await?,
        open_violations: load_open_violations(conn).await?,
        gate_answers: load_gate_answers(conn).await?,
    };
    let newest: i64 = sqlx::query_scalar(NEWEST_EVENT_ID)
        .fetch_one(&mut *conn)
        .await?;
    Ok((state, newest as u64 + 1))
}

async fn load_lots(conn: &mut PgConnection) -> Result<Vec<Lot>, StoreError> {
    sqlx::query(
        "SELECT id, name, total_slots, warning_threshold, max_stay_seconds, occupied, updated_at
         FROM lots",
    )
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|row| {
        let max_stay: Option<i64> = row.try_get("max_stay_seconds")?;
        Ok(Lot {
            id: lot_id(row, "id")?,
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
    .collect()
}

async fn load_contractors(conn: &mut PgConnection) -> Result<Vec<Contractor>, StoreError> {
    let mut contractors: BTreeMap<String, Contractor> = BTreeMap::new();
    for row in sqlx::query("SELECT id, name, penalty_per_vehicle FROM contractors")
        .fetch_all(&mut *conn)
        .await?
    {
        let id: String = row.try_get("id")?;
        contractors.insert(
            id.clone(),
            Contractor {
                id: parse(&id, |s| ContractorId::parse(s).ok())?,
                name: row.try_get("name")?,
                allocations: BTreeMap::new(),
                plates: Vec::new(),
                penalty_per_vehicle: row.try_get::<i64, _>("penalty_per_vehicle")? as u64,
            },
        );
    }
    for row in
        sqlx::query("SELECT contractor_id, lot_id, allocated_capacity FROM contractor_allocations")
            .fetch_all(&mut *conn)
            .await?
    {
        let owner: String = row.try_get("contractor_id")?;
        if let Some(c) = contractors.get_mut(&owner) {
            c.allocations.insert(
                lot_id(&row, "lot_id")?,
                u32_of(row.try_get("allocated_capacity")?)?,
            );
        }
    }
    for row in sqlx::query("SELECT plate, contractor_id FROM contractor_plates ORDER BY plate")
        .fetch_all(&mut *conn)
        .await?
    {
        let owner: String = row.try_get("contractor_id")?;
        if let Some(c) = contractors.get_mut(&owner) {
            c.plates.push(plate(&row, "plate")?);
        }
    }
    Ok(contractors.into_values().collect())
}

async fn load_stays(conn: &mut PgConnection) -> Result<Vec<Stay>, StoreError> {
    sqlx::query(
        "SELECT lot_id, plate, entered_at, gate_id, contractor_id, overstay_flagged FROM stays",
    )
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|row| {
        let contractor: Option<String> = row.try_get("contractor_id")?;
        Ok(Stay {
            lot: lot_id(row, "lot_id")?,
            plate: plate(row, "plate")?,
            entered_at: timestamp_of(&row.try_get::<String, _>("entered_at")?)?,
            gate_id: row.try_get("gate_id")?,
            contractor: contractor
                .map(|c| parse(&c, |s| ContractorId::parse(s).ok()))
                .transpose()?,
            overstay_flagged: row.try_get::<i64, _>("overstay_flagged")? != 0,
        })
    })
    .collect()
}

async fn load_cameras(conn: &mut PgConnection) -> Result<Vec<Camera>, StoreError> {
    sqlx::query("SELECT lot_id, camera_id, last_seen, offline_alerted FROM cameras")
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|row| {
            Ok(Camera {
                lot: lot_id(row, "lot_id")?,
                camera_id: row.try_get("camera_id")?,
                last_seen: timestamp_of(&row.try_get::<String, _>("last_seen")?)?,
                offline_alerted: row.try_get::<i64, _>("offline_alerted")? != 0,
            })
        })
        .collect()
}

async fn load_open_alerts(conn: &mut PgConnection) -> Result<Vec<AlertRecord>, StoreError> {
    sqlx::query("SELECT subject, data FROM alerts WHERE status <> 'resolved'")
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|row| {
            let alert: Alert = json_of(&row.try_get::<String, _>("data")?)?;
            let key = AlertKey {
                lot: parse(&alert.parking_lot_id, |s| LotId::parse(s).ok())?,
                alert_type: alert.alert_type,
                subject: row.try_get("subject")?,
            };
            Ok(AlertRecord { alert, key })
        })
        .collect()
}

async fn load_open_violations(conn: &mut PgConnection) -> Result<Vec<ViolationRecord>, StoreError> {
    sqlx::query("SELECT data, breach_started_at FROM violations WHERE status <> 'resolved'")
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|row| {
            let started: Option<String> = row.try_get("breach_started_at")?;
            Ok(ViolationRecord {
                violation: json_of(&row.try_get::<String, _>("data")?)?,
                breach_started_at: started.as_deref().map(timestamp_of).transpose()?,
            })
        })
        .collect()
}

async fn load_gate_answers(
    conn: &mut PgConnection,
) -> Result<Vec<(String, parkstream_protocol::events::CapacityUpdate)>, StoreError> {
    sqlx::query("DELETE FROM gate_answers WHERE created_at < $1")
        .bind(gate_answer_horizon())
        .execute(&mut *conn)
        .await?;
    sqlx::query("SELECT event_id, data FROM gate_answers")
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|row| {
            Ok((
                row.try_get("event_id")?,
                json_of(&row.try_get::<String, _>("data")?)?,
            ))
        })
        .collect()
}

/// Writes a batch in the caller's transaction and bumps the cluster's version.
async fn write_batch(conn: &mut PgConnection, batch: &Batch<'_>) -> Result<(), StoreError> {
    // Contractors first release their plates and allocations, so a plate moving between
    // two contractors in one group never meets itself in the unique index.
    for change in batch.changes {
        if let Change::Contractor(c) = change {
            for table in ["contractor_allocations", "contractor_plates"] {
                sqlx::query(&format!("DELETE FROM {table} WHERE contractor_id = $1"))
                    .bind(c.id.as_str())
                    .execute(&mut *conn)
                    .await?;
            }
        }
    }
    for change in batch.changes {
        store_change(conn, change).await?;
    }
    for chunk in batch.events.chunks(ROWS_PER_INSERT) {
        let mut insert =
            QueryBuilder::new("INSERT INTO events (id, type, lot_id, owner, data, created_at) ");
        insert.push_values(chunk, |mut row, event| {
            row.push_bind(event.id as i64)
                .push_bind(event.event_type.as_str())
                .push_bind(event.lot_id.as_deref())
                .push_bind(event.owner.as_deref())
                .push_bind(&event.data)
                .push_bind(event.created_at.to_string());
        });
        insert.build().execute(&mut *conn).await?;
    }
    if let Some(through) = batch.trim_through {
        sqlx::query("DELETE FROM events WHERE id <= $1")
            .bind(through as i64)
            .execute(&mut *conn)
            .await?;
    }
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
            write_batch(&mut tx, batch).await?;
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
            sqlx::query(
                "SELECT id, type, lot_id, owner, data, created_at FROM events
                 WHERE id > $1 ORDER BY id",
            )
            .bind(after as i64)
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(event_of)
            .collect::<Result<Vec<_>, _>>()
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

/// The newest stored event id; before any, one less than the first id the store will give.
const NEWEST_EVENT_ID: &str = "SELECT COALESCE((SELECT max(id) FROM events),
    (SELECT CAST(value AS BIGINT) - 1 FROM meta WHERE key = 'event_id_base'))";

async fn store_change(conn: &mut PgConnection, change: &Change) -> Result<(), StoreError> {
    match change {
        Change::Lot(lot) => {
            sqlx::query(
                "INSERT INTO lots (id, name, total_slots, warning_threshold, max_stay_seconds,
                                   occupied, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
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
            .execute(&mut *conn)
            .await?;
        }
        Change::Contractor(c) => {
            sqlx::query(
                "INSERT INTO contractors (id, name, penalty_per_vehicle) VALUES ($1, $2, $3)
                 ON CONFLICT (id) DO UPDATE SET
                   name = excluded.name, penalty_per_vehicle = excluded.penalty_per_vehicle",
            )
            .bind(c.id.as_str())
            .bind(&c.name)
            .bind(c.penalty_per_vehicle as i64)
            .execute(&mut *conn)
            .await?;
            for (lot, capacity) in &c.allocations {
                sqlx::query(
                    "INSERT INTO contractor_allocations (contractor_id, lot_id, allocated_capacity)
                     VALUES ($1, $2, $3)",
                )
                .bind(c.id.as_str())
                .bind(lot.as_str())
                .bind(i64::from(*capacity))
                .execute(&mut *conn)
                .await?;
            }
            for plate in &c.plates {
                sqlx::query("INSERT INTO contractor_plates (plate, contractor_id) VALUES ($1, $2)")
                    .bind(plate.as_str())
                    .bind(c.id.as_str())
                    .execute(&mut *conn)
                    .await?;
            }
        }
        Change::Stay { lot, plate, stay } => match stay {
            Some(stay) => {
                sqlx::query(
                    "INSERT INTO stays (lot_id, plate, entered_at, gate_id, contractor_id,
                                        overstay_flagged)
                     VALUES ($1, $2, $3, $4, $5, $6)
                     ON CONFLICT (lot_id, plate) DO UPDATE SET
                       entered_at = excluded.entered_at, gate_id = excluded.gate_id,
                       contractor_id = excluded.contractor_id,
                       overstay_flagged = excluded.overstay_flagged",
                )
                .bind(lot.as_str())
                .bind(plate.as_str())
                .bind(stay.entered_at.to_string())
                .bind(stay.gate_id.as_deref())
                .bind(stay.contractor.as_ref().map(ContractorId::as_str))
                .bind(i64::from(stay.overstay_flagged))
                .execute(&mut *conn)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM stays WHERE lot_id = $1 AND plate = $2")
                    .bind(lot.as_str())
                    .bind(plate.as_str())
                    .execute(&mut *conn)
                    .await?;
            }
        },
        Change::Camera(camera) => {
            sqlx::query(
                "INSERT INTO cameras (lot_id, camera_id, last_seen, offline_alerted)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (lot_id, camera_id) DO UPDATE SET
                   last_seen = excluded.last_seen, offline_alerted = excluded.offline_alerted",
            )
            .bind(camera.lot.as_str())
            .bind(&camera.camera_id)
            .bind(camera.last_seen.to_string())
            .bind(i64::from(camera.offline_alerted))
            .execute(&mut *conn)
            .await?;
        }
        Change::Alert(record) => {
            let alert = &record.alert;
            sqlx::query(
                "INSERT INTO alerts (id, lot_id, type, subject, status, created_at, data)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (id) DO UPDATE SET status = excluded.status, data = excluded.data",
            )
            .bind(&alert.id)
            .bind(&alert.parking_lot_id)
            .bind(wire_name(&alert.alert_type))
            .bind(&record.key.subject)
            .bind(wire_name(&alert.status))
            .bind(alert.created_at.to_string())
            .bind(json_text(alert))
            .execute(&mut *conn)
            .await?;
        }
        Change::Violation(record) => {
            let violation = &record.violation;
            sqlx::query(
                "INSERT INTO violations (id, lot_id, contractor_id, type, status, timestamp,
                                         breach_started_at, data)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (id) DO UPDATE SET status = excluded.status,
                   breach_started_at = excluded.breach_started_at, data = excluded.data",
            )
            .bind(&violation.id)
            .bind(&violation.parking_lot_id)
            .bind(violation.contractor_id.as_deref())
            .bind(wire_name(&violation.violation_type))
            .bind(wire_name(&violation.status))
            .bind(violation.timestamp.to_string())
            .bind(record.breach_started_at.map(|t| t.to_string()))
            .bind(json_text(violation))
            .execute(&mut *conn)
            .await?;
        }
        Change::GateAnswer { event_id, answer } => {
            sqlx::query(
                "INSERT INTO gate_answers (event_id, data, created_at) VALUES ($1, $2, $3)",
            )
            .bind(event_id)
            .bind(json_text(answer))
            .bind(Timestamp::now().to_string())
            .execute(&mut *conn)
            .await?;
        }
    }
    Ok(())
}

fn event_of(row: &PgRow) -> Result<StoredEvent, StoreError> {
    Ok(StoredEvent {
        id: row.try_get::<i64, _>("id")? as u64,
        event_type: parse(&row.try_get::<String, _>("type")?, |s| s.parse().ok())?,
        lot_id: row.try_get("lot_id")?,
        owner: row.try_get("owner")?,
        data: row.try_get("data")?,
        created_at: timestamp_of(&row.try_get::<String, _>("created_at")?)?,
    })
}

fn lot_id(row: &PgRow, column: &str) -> Result<LotId, StoreError> {
    parse(&row.try_get::<String, _>(column)?, |s| LotId::parse(s).ok())
}

fn plate(row: &PgRow, column: &str) -> Result<Plate, StoreError> {
    parse(&row.try_get::<String, _>(column)?, |s| Plate::parse(s).ok())
}
