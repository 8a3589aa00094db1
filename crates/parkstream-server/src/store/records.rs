//! The record-keeping reads both backends share: the audit, a vehicle's visits and a
//! contractor's violations in a period. Apart from `sql.rs` to keep each file to one job;
//! the same SQL runs on SQLite and PostgreSQL.

use parkstream_protocol::events::Violation;
use parkstream_protocol::records::{AuditEntry, AuditTarget, Visit};
use parkstream_protocol::Timestamp;
use sqlx::{ColumnIndex, Decode, Encode, Executor, IntoArguments, Row, Type};

use super::plan::Param;
use super::sql::Backend;
use super::{json_of, timestamp_of, StoreError};

/// Which audit entries a page wants, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    pub actor: Option<String>,
    pub limit: u32,
}

/// Which visits of a plate a page wants, newest first.
#[derive(Debug, Clone)]
pub struct VisitQuery {
    pub plate: String,
    /// Only in these lots (a `lots` claim).
    pub lots: Option<Vec<String>>,
    pub limit: u32,
}

/// Appends ` AND lot_id IN ($n, ...)` for `lots` (no lot: nothing matches).
fn lots_clause(sql: &mut String, params: &mut Vec<Param>, lots: &[String]) {
    if lots.is_empty() {
        sql.push_str(" AND 1 = 0");
        return;
    }
    sql.push_str(" AND lot_id IN (");
    for (n, lot) in lots.iter().enumerate() {
        if n > 0 {
            sql.push_str(", ");
        }
        params.push(lot.as_str().into());
        sql.push_str(&format!("${}", params.len()));
    }
    sql.push(')');
}

pub(super) trait Records: Backend
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
    /// Audit entries matching `query`, newest first.
    async fn audit(
        conn: &mut Self::Connection,
        query: &AuditQuery,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let mut sql = String::from(
            "SELECT id, at, actor, action, target_kind, target_id, summary FROM audit WHERE 1 = 1",
        );
        let mut params: Vec<Param> = Vec::new();
        let mut bind = |sql: &mut String, clause: &str, value: Param| {
            params.push(value);
            sql.push_str(&format!(" AND {clause} ${}", params.len()));
        };
        if let Some(from) = query.from {
            bind(&mut sql, "at >=", from.to_string().into());
        }
        if let Some(to) = query.to {
            bind(&mut sql, "at <=", to.to_string().into());
        }
        if let Some(actor) = &query.actor {
            bind(&mut sql, "actor =", actor.as_str().into());
        }
        params.push(i64::from(query.limit).into());
        sql.push_str(&format!(
            " ORDER BY at DESC, {} DESC LIMIT ${}",
            Self::INSERTION_ORDER,
            params.len()
        ));
        Self::query_of(&sql, params)
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|row| {
                Ok(AuditEntry {
                    id: row.try_get("id")?,
                    actor: row.try_get("actor")?,
                    at: timestamp_of(&row.try_get::<String, _>("at")?)?,
                    action: row.try_get("action")?,
                    target: AuditTarget {
                        kind: row.try_get("target_kind")?,
                        id: row.try_get("target_id")?,
                    },
                    summary: row.try_get("summary")?,
                })
            })
            .collect()
    }

    /// A plate's visits matching `query`, newest entry first.
    async fn visits(
        conn: &mut Self::Connection,
        query: &VisitQuery,
    ) -> Result<Vec<Visit>, StoreError> {
        let mut sql = String::from(
            "SELECT lot_id, gate_id, entered_at, exited_at, stay_seconds FROM visits
             WHERE plate = $1",
        );
        let mut params: Vec<Param> = vec![query.plate.as_str().into()];
        if let Some(lots) = &query.lots {
            lots_clause(&mut sql, &mut params, lots);
        }
        params.push(i64::from(query.limit).into());
        sql.push_str(&format!(
            " ORDER BY entered_at DESC, lot_id LIMIT ${}",
            params.len()
        ));
        Self::query_of(&sql, params)
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|row| {
                let exit: Option<String> = row.try_get("exited_at")?;
                let seconds: Option<i64> = row.try_get("stay_seconds")?;
                Ok(Visit {
                    lot: row.try_get("lot_id")?,
                    gate: row.try_get("gate_id")?,
                    entry: timestamp_of(&row.try_get::<String, _>("entered_at")?)?,
                    exit: exit.as_deref().map(timestamp_of).transpose()?,
                    stay_seconds: seconds.map(|s| s.max(0) as u64),
                })
            })
            .collect()
    }

    /// A contractor's violations detected from `from` to `to` (both included), oldest first.
    async fn contractor_violations(
        conn: &mut Self::Connection,
        contractor: &str,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Violation>, StoreError> {
        let sql = format!(
            "SELECT data FROM violations
             WHERE contractor_id = $1 AND timestamp >= $2 AND timestamp <= $3
             ORDER BY timestamp, {}",
            Self::INSERTION_ORDER
        );
        let params = vec![
            contractor.into(),
            from.to_string().into(),
            to.to_string().into(),
        ];
        Self::query_of(&sql, params)
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|row| json_of(&row.try_get::<String, _>("data")?))
            .collect()
    }
}

impl Records for sqlx::Sqlite {}
impl Records for sqlx::Postgres {}
