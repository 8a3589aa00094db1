//! Webhook endpoints, their outbox and their delivery log. The outbox rows are written by the
//! group commit itself ([`outbox_statement`], planned with the events), so an event stored is
//! an event that will be delivered, whatever happens to the process afterwards. Everything
//! else here is read and written through sqlx's pool, outside the writer: endpoints are
//! settings, not state the rules act on. The delivery side is in `webhook_outbox.rs`.

use sqlx::Row;

use super::statement::{statement, Statement};
use super::{Store, StoreError, StoredEvent};

/// Attempts kept per endpoint for `GET /api/webhooks/{id}/deliveries`.
pub(super) const ATTEMPTS_KEPT: i64 = 1_000;

/// Queues, in the commit's transaction, every event of the batch (ids `first ..= last`) for
/// every enabled endpoint whose filters it passes. Filters: without a row of a kind, every
/// value of that kind passes.
pub(super) fn outbox_statement(events: &[StoredEvent]) -> Option<Statement> {
    let (first, last) = (events.first()?.id as i64, events.last()?.id as i64);
    Some(statement(
        "INSERT INTO webhook_outbox (webhook_id, event_id, type, data, created_at)
         SELECT w.id, e.id, e.type, e.data, e.created_at
         FROM webhooks w JOIN events e ON e.id >= $1 AND e.id <= $2
         WHERE w.disabled_at IS NULL
           AND e.type IN ('capacity_update', 'alert', 'violation')
           AND (NOT EXISTS (SELECT 1 FROM webhook_filters f
                            WHERE f.webhook_id = w.id AND f.kind = 'type')
                OR EXISTS (SELECT 1 FROM webhook_filters f
                           WHERE f.webhook_id = w.id AND f.kind = 'type' AND f.value = e.type))
           AND (NOT EXISTS (SELECT 1 FROM webhook_filters f
                            WHERE f.webhook_id = w.id AND f.kind = 'lot')
                OR EXISTS (SELECT 1 FROM webhook_filters f
                           WHERE f.webhook_id = w.id AND f.kind = 'lot' AND f.value = e.lot_id))",
        vec![first.into(), last.into()],
    ))
}

/// An endpoint's settings, as PUT gives them.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    pub url: String,
    pub description: Option<String>,
    /// Event types (`None`: every type).
    pub types: Option<Vec<String>>,
    /// Lot ids (`None`: every lot).
    pub lots: Option<Vec<String>>,
}

/// An endpoint as stored.
#[derive(Debug, Clone)]
pub struct WebhookRow {
    pub id: String,
    pub settings: WebhookSettings,
    pub secret: String,
    pub previous_secret: Option<String>,
    /// Until when (Unix ms) `previous_secret` still signs.
    pub previous_until: Option<i64>,
    pub created_at: String,
    pub disabled_at: Option<String>,
}

/// The next event due to an endpoint.
#[derive(Debug, Clone)]
pub struct OutboxRow {
    pub event_id: i64,
    pub event_type: String,
    pub data: String,
    pub created_at: String,
    /// Attempts made so far.
    pub attempts: i64,
    /// When it is due (Unix ms).
    pub next_attempt_at: i64,
    /// When its first attempt failed (Unix ms).
    pub first_failed_at: Option<i64>,
}

/// One delivery attempt, as logged.
#[derive(Debug, Clone)]
pub struct AttemptRow {
    pub event_id: i64,
    pub attempt: i64,
    pub at: String,
    pub status: Option<i64>,
    pub error: Option<String>,
    pub latency_ms: i64,
}

/// Runs `$body` with `$pool` bound to the store's sqlx pool, whichever backend it is (the
/// statements here are the same for both; the body is type-checked once per backend).
macro_rules! on_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match $store {
            Store::Sqlite(store) => {
                let $pool = &store.pool;
                $body
            }
            Store::Postgres(store) => {
                let $pool = &store.pool;
                $body
            }
        }
    };
}
pub(super) use on_pool;

const ENDPOINT_COLUMNS: &str = "SELECT id, url, description, secret, previous_secret, \
     previous_until, created_at, disabled_at FROM webhooks";

impl Store {
    /// Creates (answers `true`, with `secret`) or updates an endpoint; an update re-enables
    /// a disabled one and keeps its secret.
    ///
    /// # Errors
    /// When the database cannot be written; nothing changed then.
    pub async fn put_webhook(
        &self,
        id: &str,
        settings: &WebhookSettings,
        secret: &str,
        now: &str,
    ) -> Result<bool, StoreError> {
        on_pool!(self, |pool| {
            // A write first: SQLite takes its write lock here, waiting for it if need be.
            let mut tx = pool.begin().await?;
            let created = sqlx::query(
                "INSERT INTO webhooks (id, url, description, secret, created_at)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING",
            )
            .bind(id)
            .bind(&settings.url)
            .bind(&settings.description)
            .bind(secret)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            if !created {
                sqlx::query(
                    "UPDATE webhooks SET url = $1, description = $2, disabled_at = NULL
                     WHERE id = $3",
                )
                .bind(&settings.url)
                .bind(&settings.description)
                .bind(id)
                .execute(&mut *tx)
                .await?;
                sqlx::query("DELETE FROM webhook_filters WHERE webhook_id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            let filters = [("type", &settings.types), ("lot", &settings.lots)];
            for (kind, values) in filters {
                for value in values.iter().flatten() {
                    sqlx::query(
                        "INSERT INTO webhook_filters (webhook_id, kind, value) VALUES ($1, $2, $3)
                         ON CONFLICT DO NOTHING",
                    )
                    .bind(id)
                    .bind(kind)
                    .bind(value)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            tx.commit().await?;
            Ok(created)
        })
    }

    /// Every endpoint, by id.
    ///
    /// # Errors
    /// When the database cannot be read.
    pub async fn webhooks(&self) -> Result<Vec<WebhookRow>, StoreError> {
        self.read_webhooks(None).await
    }

    /// One endpoint.
    ///
    /// # Errors
    /// When the database cannot be read.
    pub async fn webhook(&self, id: &str) -> Result<Option<WebhookRow>, StoreError> {
        Ok(self.read_webhooks(Some(id)).await?.pop())
    }

    async fn read_webhooks(&self, id: Option<&str>) -> Result<Vec<WebhookRow>, StoreError> {
        on_pool!(self, |pool| {
            let (rows, filters) = match id {
                Some(id) => (
                    sqlx::query(&format!("{ENDPOINT_COLUMNS} WHERE id = $1"))
                        .bind(id)
                        .fetch_all(pool)
                        .await?,
                    sqlx::query(
                        "SELECT webhook_id, kind, value FROM webhook_filters
                         WHERE webhook_id = $1 ORDER BY value",
                    )
                    .bind(id)
                    .fetch_all(pool)
                    .await?,
                ),
                None => (
                    sqlx::query(&format!("{ENDPOINT_COLUMNS} ORDER BY id"))
                        .fetch_all(pool)
                        .await?,
                    sqlx::query(
                        "SELECT webhook_id, kind, value FROM webhook_filters ORDER BY value",
                    )
                    .fetch_all(pool)
                    .await?,
                ),
            };
            let mut endpoints = Vec::with_capacity(rows.len());
            for row in &rows {
                let id: String = row.try_get("id")?;
                let mut types = None::<Vec<String>>;
                let mut lots = None::<Vec<String>>;
                for filter in &filters {
                    if filter.try_get::<String, _>("webhook_id")? != id {
                        continue;
                    }
                    let value: String = filter.try_get("value")?;
                    match filter.try_get::<String, _>("kind")?.as_str() {
                        "type" => types.get_or_insert_with(Vec::new).push(value),
                        _ => lots.get_or_insert_with(Vec::new).push(value),
                    }
                }
                endpoints.push(WebhookRow {
                    settings: WebhookSettings {
                        url: row.try_get("url")?,
                        description: row.try_get("description")?,
                        types,
                        lots,
                    },
                    id,
                    secret: row.try_get("secret")?,
                    previous_secret: row.try_get("previous_secret")?,
                    previous_until: row.try_get("previous_until")?,
                    created_at: row.try_get("created_at")?,
                    disabled_at: row.try_get("disabled_at")?,
                });
            }
            Ok(endpoints)
        })
    }

    /// Deletes an endpoint with its outbox and log; answers whether it existed.
    ///
    /// # Errors
    /// When the database cannot be written.
    pub async fn delete_webhook(&self, id: &str) -> Result<bool, StoreError> {
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let mut deleted = 0;
            for sql in [
                "DELETE FROM webhook_outbox WHERE webhook_id = $1",
                "DELETE FROM webhook_attempts WHERE webhook_id = $1",
                "DELETE FROM webhook_filters WHERE webhook_id = $1",
                "DELETE FROM webhooks WHERE id = $1",
            ] {
                deleted = sqlx::query(sql)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            }
            tx.commit().await?;
            Ok(deleted == 1)
        })
    }

    /// Replaces an endpoint's secret by `secret`; the old one keeps signing until
    /// `previous_until` (Unix ms). Answers whether the endpoint exists.
    ///
    /// # Errors
    /// When the database cannot be written.
    pub async fn rotate_webhook_secret(
        &self,
        id: &str,
        secret: &str,
        previous_until: i64,
    ) -> Result<bool, StoreError> {
        on_pool!(self, |pool| {
            Ok(sqlx::query(
                "UPDATE webhooks SET previous_secret = secret, previous_until = $1, secret = $2
                 WHERE id = $3",
            )
            .bind(previous_until)
            .bind(secret)
            .bind(id)
            .execute(pool)
            .await?
            .rows_affected()
                == 1)
        })
    }

    /// An endpoint's newest `limit` attempts, newest first.
    ///
    /// # Errors
    /// When the database cannot be read.
    pub async fn webhook_attempts(
        &self,
        id: &str,
        limit: i64,
    ) -> Result<Vec<AttemptRow>, StoreError> {
        on_pool!(self, |pool| {
            sqlx::query(
                "SELECT event_id, attempt, at, status, error, latency_ms FROM webhook_attempts
                 WHERE webhook_id = $1 ORDER BY seq DESC LIMIT $2",
            )
            .bind(id)
            .bind(limit)
            .fetch_all(pool)
            .await?
            .iter()
            .map(|row| {
                Ok(AttemptRow {
                    event_id: row.try_get("event_id")?,
                    attempt: row.try_get("attempt")?,
                    at: row.try_get("at")?,
                    status: row.try_get("status")?,
                    error: row.try_get("error")?,
                    latency_ms: row.try_get("latency_ms")?,
                })
            })
            .collect()
        })
    }
}
