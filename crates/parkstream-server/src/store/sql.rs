//! The SQL both backends share, written once: SQLite and PostgreSQL accept the same
//! statements here (`$N` parameters, `ON CONFLICT`, `CAST(... AS BIGINT)`). [`Backend`] holds
//! them as provided functions over a sqlx [`Database`]; `sqlite.rs` and `postgres.rs` implement
//! it with the two pieces that differ, and keep what else differs: how a connection is opened
//! and transactions' isolation. What a commit writes is planned in `plan.rs`; `write_batch`
//! here runs that plan through sqlx.

use std::collections::BTreeMap;

use parkstream_protocol::events::Alert;
use parkstream_protocol::Timestamp;
use sqlx::query::Query;
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Row, Type};

use super::plan::{self, Param, Statement};
use super::{
    json_of, parse, timestamp_of, u32_of, Batch, ListQuery, Page, Snapshot, StoreError,
    StoredEvent, Table,
};
use crate::domain::alert::{AlertKey, AlertRecord};
use crate::domain::camera::Camera;
use crate::domain::contractor::{Contractor, ContractorId, Plate};
use crate::domain::gate::Stay;
use crate::domain::idempotency::{GateAnswer, Kept, Retention};
use crate::domain::violation::ViolationRecord;
use crate::domain::{Loaded, Lot, LotId, LotSettings};
use parkstream_protocol::api::OpeningStatus;

/// The newest stored event id; before any, one less than the first id the store will give.
pub(super) const NEWEST_EVENT_ID: &str = "SELECT COALESCE((SELECT max(id) FROM events),
    (SELECT CAST(value AS BIGINT) - 1 FROM meta WHERE key = 'event_id_base'))";

/// A sqlx backend the shared SQL runs on. The bounds are what the functions below ask of
/// sqlx: running a query on a connection, and the column types they bind and read.
pub(super) trait Backend: Database
where
    for<'c> &'c mut Self::Connection: Executor<'c, Database = Self>,
    for<'q> Self::Arguments<'q>: IntoArguments<'q, Self>,
    for<'q> i64: Encode<'q, Self> + Decode<'q, Self> + Type<Self>,
    for<'q> f64: Encode<'q, Self> + Decode<'q, Self> + Type<Self>,
    for<'q> String: Encode<'q, Self> + Decode<'q, Self> + Type<Self>,
    for<'q> Option<i64>: Encode<'q, Self>,
    for<'q> Option<f64>: Encode<'q, Self>,
    for<'q> Option<String>: Encode<'q, Self>,
    for<'a> &'a str: ColumnIndex<Self::Row>,
    usize: ColumnIndex<Self::Row>,
{
    /// The SQL expression of an alert's contractor: alerts keep it only in the JSON (most
    /// have none).
    const ALERT_CONTRACTOR: &'static str;
    /// The column that orders rows inserted in the same millisecond.
    const INSERTION_ORDER: &'static str;

    /// How many rows a statement changed (sqlx offers it per backend only).
    fn rows_affected(result: &Self::QueryResult) -> u64;

    /// The domain state (with the gate answers `answers` keeps) and the newest `history_size`
    /// events, in the caller's transaction.
    async fn load_snapshot(
        conn: &mut Self::Connection,
        history_size: u64,
        answers: Retention,
    ) -> Result<Snapshot, StoreError> {
        let (state, next_event_id) = Self::load_state(conn, answers).await?;
        let events = Self::load_history(conn, history_size).await?;
        Ok(Snapshot {
            state,
            events,
            next_event_id,
        })
    }

    /// The domain state and the id the next event gets.
    async fn load_state(
        conn: &mut Self::Connection,
        answers: Retention,
    ) -> Result<(Loaded, u64), StoreError> {
        let state = Loaded {
            lots: Self::load_lots(conn).await?,
            contractors: Self::load_contractors(conn).await?,
            stays: Self::load_stays(conn).await?,
            cameras: Self::load_cameras(conn).await?,
            open_alerts: Self::load_open_alerts(conn).await?,
            open_violations: Self::load_open_violations(conn).await?,
            gate_answers: Self::load_gate_answers(conn, answers).await?,
        };
        Ok((state, Self::newest_event_id(conn).await? + 1))
    }

    /// See [`NEWEST_EVENT_ID`].
    async fn newest_event_id(conn: &mut Self::Connection) -> Result<u64, StoreError> {
        let newest: i64 = sqlx::query_scalar(NEWEST_EVENT_ID)
            .fetch_one(&mut *conn)
            .await?;
        Ok(newest as u64)
    }

    /// The newest `limit` stored events, oldest first.
    async fn load_history(
        conn: &mut Self::Connection,
        limit: u64,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        Self::events(
            conn,
            "SELECT id, type, lot_id, owner, data, created_at FROM
               (SELECT * FROM events ORDER BY id DESC LIMIT $1) AS newest
             ORDER BY id",
            &[i64::try_from(limit).unwrap_or(i64::MAX)],
        )
        .await
    }

    /// The stored events `sql` selects (`id, type, lot_id, owner, data, created_at`), with
    /// `params` bound to `$1`, `$2`, ...
    async fn events(
        conn: &mut Self::Connection,
        sql: &str,
        params: &[i64],
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let params = params.iter().map(|&param| param.into()).collect();
        Self::query_of(sql, params)
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(Self::event_of)
            .collect()
    }

    /// Runs a list's `SELECT data ...` and reads the newest event id after it, so in the
    /// caller's read transaction the page and the id agree.
    async fn read_page<T: serde::de::DeserializeOwned>(
        conn: &mut Self::Connection,
        select: Statement,
    ) -> Result<Page<T>, StoreError> {
        let rows = Self::query_of(&select.sql, select.params)
            .fetch_all(&mut *conn)
            .await?;
        let items = rows
            .iter()
            .map(|row| json_of(&row.try_get::<String, _>("data")?))
            .collect::<Result<_, _>>()?;
        Ok(Page {
            items,
            last_event_id: Self::newest_event_id(conn).await?,
        })
    }

    /// Whether an alert or violation with this id was ever stored.
    async fn exists(
        conn: &mut Self::Connection,
        table: Table,
        id: &str,
    ) -> Result<bool, StoreError> {
        let sql = match table {
            Table::Alerts => "SELECT count(*) FROM alerts WHERE id = $1",
            Table::Violations => "SELECT count(*) FROM violations WHERE id = $1",
        };
        let count: i64 = sqlx::query_scalar(sql)
            .bind(id.to_owned())
            .fetch_one(&mut *conn)
            .await?;
        Ok(count > 0)
    }

    /// The JWT secret the database keeps, generated on first use; and whether it was
    /// generated by this call.
    async fn generated_secret(conn: &mut Self::Connection) -> Result<(String, bool), StoreError> {
        let fresh = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let insert = sqlx::query(
            "INSERT INTO meta (key, value) VALUES ('jwt_secret', $1) ON CONFLICT DO NOTHING",
        )
        .bind(fresh)
        .execute(&mut *conn)
        .await?;
        let inserted = Self::rows_affected(&insert) == 1;
        let secret = sqlx::query_scalar("SELECT value FROM meta WHERE key = 'jwt_secret'")
            .fetch_one(&mut *conn)
            .await?;
        Ok((secret, inserted))
    }

    /// Records the base of event ids when the database is new (see docs/architecture.md).
    async fn init_event_ids(conn: &mut Self::Connection) -> Result<(), StoreError> {
        let base = Timestamp::now().unix_millis().max(1) * 1000;
        sqlx::query(
            "INSERT INTO meta (key, value) VALUES ('event_id_base', $1) ON CONFLICT DO NOTHING",
        )
        .bind(base.to_string())
        .execute(&mut *conn)
        .await?;
        Ok(())
    }

    async fn load_lots(conn: &mut Self::Connection) -> Result<Vec<Lot>, StoreError> {
        sqlx::query(
            "SELECT id, name, total_slots, warning_threshold, max_stay_seconds, occupied, updated_at,
                    latitude, longitude, time_zone, opening_status, public
             FROM lots",
        )
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|row| {
            let max_stay: Option<i64> = row.try_get("max_stay_seconds")?;
            let latitude: Option<f64> = row.try_get("latitude")?;
            let longitude: Option<f64> = row.try_get("longitude")?;
            let opening_status: Option<String> = row.try_get("opening_status")?;
            Ok(Lot {
                id: lot_id(row, "id")?,
                settings: LotSettings {
                    name: row.try_get("name")?,
                    total_slots: u32_of(row.try_get("total_slots")?)?,
                    warning_threshold: row.try_get("warning_threshold")?,
                    max_stay_seconds: max_stay.map(|s| s as u64),
                    position: latitude.zip(longitude),
                    time_zone: row.try_get("time_zone")?,
                    opening_status: opening_status
                        .map(|s| parse(&s, OpeningStatus::parse))
                        .transpose()?,
                    public: row.try_get::<i64, _>("public")? != 0,
                },
                occupied: u32_of(row.try_get("occupied")?)?,
                updated_at: timestamp_of(&row.try_get::<String, _>("updated_at")?)?,
            })
        })
        .collect()
    }

    async fn load_contractors(conn: &mut Self::Connection) -> Result<Vec<Contractor>, StoreError> {
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
        for row in sqlx::query(
            "SELECT contractor_id, lot_id, allocated_capacity FROM contractor_allocations",
        )
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

    async fn load_stays(conn: &mut Self::Connection) -> Result<Vec<Stay>, StoreError> {
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

    async fn load_cameras(conn: &mut Self::Connection) -> Result<Vec<Camera>, StoreError> {
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

    async fn load_open_alerts(conn: &mut Self::Connection) -> Result<Vec<AlertRecord>, StoreError> {
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

    async fn load_open_violations(
        conn: &mut Self::Connection,
    ) -> Result<Vec<ViolationRecord>, StoreError> {
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

    /// The gate answers `retention` keeps, oldest first; deletes the others (expired while
    /// the server was stopped, or beyond a count lowered since).
    async fn load_gate_answers(
        conn: &mut Self::Connection,
        retention: Retention,
    ) -> Result<Vec<GateAnswer>, StoreError> {
        sqlx::query("DELETE FROM gate_answers WHERE created_at < $1")
            .bind(retention.horizon(Timestamp::now()).to_string())
            .execute(&mut *conn)
            .await?;
        // Keeps the newest `max`: deletes from the (max + 1)th newest down, if there is one.
        sqlx::query(
            "DELETE FROM gate_answers WHERE seq <=
               (SELECT seq FROM gate_answers ORDER BY seq DESC LIMIT 1 OFFSET $1)",
        )
        .bind(i64::try_from(retention.max).unwrap_or(i64::MAX))
        .execute(&mut *conn)
        .await?;
        sqlx::query(
            "SELECT lot_id, event_id, seq, timestamp_sent, data, created_at FROM gate_answers
             ORDER BY seq",
        )
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|row| {
            let timestamp_sent: Option<i64> = row.try_get("timestamp_sent")?;
            Ok(GateAnswer {
                lot: lot_id(row, "lot_id")?,
                event_id: row.try_get("event_id")?,
                kept: Kept {
                    seq: row.try_get::<i64, _>("seq")? as u64,
                    timestamp_sent: timestamp_sent.map(|sent| sent != 0),
                    answer: json_of(&row.try_get::<String, _>("data")?)?,
                    stored_at: timestamp_of(&row.try_get::<String, _>("created_at")?)?,
                },
            })
        })
        .collect()
    }

    /// Writes a batch in the caller's transaction.
    async fn write_batch(conn: &mut Self::Connection, batch: &Batch<'_>) -> Result<(), StoreError> {
        for statement in plan::statements(batch) {
            Self::query_of(&statement.sql, statement.params)
                .execute(&mut *conn)
                .await?;
        }
        Ok(())
    }

    /// `sql` as a sqlx query, with `params` bound to `$1`, `$2`, ...
    fn query_of(sql: &str, params: Vec<Param>) -> Query<'_, Self, Self::Arguments<'_>> {
        let mut query = sqlx::query(sql);
        for param in params {
            query = match param {
                Param::Int(value) => query.bind(value),
                Param::Real(value) => query.bind(value),
                Param::Text(value) => query.bind(value),
            };
        }
        query
    }

    fn event_of(row: &Self::Row) -> Result<StoredEvent, StoreError> {
        Ok(StoredEvent {
            id: row.try_get::<i64, _>("id")? as u64,
            event_type: parse(&row.try_get::<String, _>("type")?, |s| s.parse().ok())?,
            lot_id: row.try_get("lot_id")?,
            owner: row.try_get("owner")?,
            data: row.try_get("data")?,
            created_at: timestamp_of(&row.try_get::<String, _>("created_at")?)?,
        })
    }

    /// `SELECT data` of the alerts or violations matching `query`, newest first.
    fn list_select(table: Table, query: &ListQuery) -> Statement {
        let (name, contractor_column, time_column) = match table {
            Table::Alerts => ("alerts", Self::ALERT_CONTRACTOR, "created_at"),
            Table::Violations => ("violations", "contractor_id", "timestamp"),
        };
        let mut sql = format!("SELECT data FROM {name} WHERE 1 = 1");
        let mut params = Vec::new();
        let mut bind = |sql: &mut String, value: Param| {
            params.push(value);
            sql.push_str(&format!("${}", params.len()));
        };
        if let Some(status) = &query.status {
            sql.push_str(" AND status = ");
            bind(&mut sql, status.as_str().into());
        }
        if let Some(lot) = &query.lot {
            sql.push_str(" AND lot_id = ");
            bind(&mut sql, lot.as_str().into());
        }
        if let Some(lots) = &query.lots {
            if lots.is_empty() {
                sql.push_str(" AND 1 = 0");
            } else {
                sql.push_str(" AND lot_id IN (");
                for (n, lot) in lots.iter().enumerate() {
                    if n > 0 {
                        sql.push_str(", ");
                    }
                    bind(&mut sql, lot.as_str().into());
                }
                sql.push(')');
            }
        }
        if let Some(contractor) = &query.contractor {
            sql.push_str(&format!(" AND {contractor_column} = "));
            bind(&mut sql, contractor.as_str().into());
        }
        sql.push_str(&format!(
            " ORDER BY {time_column} DESC, {} DESC LIMIT ",
            Self::INSERTION_ORDER
        ));
        bind(&mut sql, i64::from(query.limit).into());
        Statement {
            sql: sql.into(),
            params,
        }
    }
}

fn lot_id<R: Row>(row: &R, column: &str) -> Result<LotId, StoreError>
where
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'a> &'a str: ColumnIndex<R>,
{
    parse(&row.try_get::<String, _>(column)?, |s| LotId::parse(s).ok())
}

fn plate<R: Row>(row: &R, column: &str) -> Result<Plate, StoreError>
where
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'a> &'a str: ColumnIndex<R>,
{
    parse(&row.try_get::<String, _>(column)?, |s| Plate::parse(s).ok())
}
