//! The delivery side of the webhook outbox: which endpoints are due, the lease that lets one
//! instance at a time deliver to an endpoint, the next event of an endpoint, and what an
//! attempt leaves behind (its log row, and the event delivered, rescheduled or dropped).

use sqlx::Row;

use super::webhooks::{on_pool, AttemptRow, OutboxRow, ATTEMPTS_KEPT};
use super::{Store, StoreError};

impl Store {
    /// Enabled endpoints whose next event is due at `now` (Unix ms) and that no other
    /// instance holds (`owner` is this one).
    ///
    /// # Errors
    /// When the database cannot be read.
    pub async fn due_webhooks(&self, now: i64, owner: &str) -> Result<Vec<String>, StoreError> {
        on_pool!(self, |pool| {
            Ok(sqlx::query_scalar(
                "SELECT w.id FROM webhooks w
                 WHERE (SELECT o.next_attempt_at FROM webhook_outbox o WHERE o.webhook_id = w.id
                        ORDER BY o.event_id LIMIT 1) <= $1
                   AND w.disabled_at IS NULL
                   AND (w.lease_until IS NULL OR w.lease_until < $1 OR w.lease_owner = $2)",
            )
            .bind(now)
            .bind(owner)
            .fetch_all(pool)
            .await?)
        })
    }

    /// Takes (or extends) the lease on delivering to endpoint `id` until `until` (Unix ms);
    /// answers whether this instance (`owner`) holds it.
    ///
    /// # Errors
    /// When the database cannot be written.
    pub async fn lease_webhook(
        &self,
        id: &str,
        owner: &str,
        now: i64,
        until: i64,
    ) -> Result<bool, StoreError> {
        on_pool!(self, |pool| {
            Ok(sqlx::query(
                "UPDATE webhooks SET lease_owner = $1, lease_until = $2
                 WHERE id = $3 AND disabled_at IS NULL
                   AND (lease_until IS NULL OR lease_until < $4 OR lease_owner = $1)",
            )
            .bind(owner)
            .bind(until)
            .bind(id)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected()
                == 1)
        })
    }

    /// Gives the lease up, if this instance holds it.
    ///
    /// # Errors
    /// When the database cannot be written (the lease then runs out by itself).
    pub async fn release_webhook(&self, id: &str, owner: &str) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            sqlx::query(
                "UPDATE webhooks SET lease_owner = NULL, lease_until = NULL
                 WHERE id = $1 AND lease_owner = $2",
            )
            .bind(id)
            .bind(owner)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// The oldest event still to be delivered to endpoint `id`.
    ///
    /// # Errors
    /// When the database cannot be read.
    pub async fn webhook_head(&self, id: &str) -> Result<Option<OutboxRow>, StoreError> {
        on_pool!(self, |pool| {
            let row = sqlx::query(
                "SELECT event_id, type, data, created_at, attempts, next_attempt_at,
                        first_failed_at
                 FROM webhook_outbox WHERE webhook_id = $1 ORDER BY event_id LIMIT 1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await?;
            row.map(|row| {
                Ok(OutboxRow {
                    event_id: row.try_get("event_id")?,
                    event_type: row.try_get("type")?,
                    data: row.try_get("data")?,
                    created_at: row.try_get("created_at")?,
                    attempts: row.try_get("attempts")?,
                    next_attempt_at: row.try_get("next_attempt_at")?,
                    first_failed_at: row.try_get("first_failed_at")?,
                })
            })
            .transpose()
        })
    }

    /// Records an attempt at endpoint `id`'s event, and what follows from it: `Delivered`
    /// removes the event from the outbox, `Retry` sets when it is next due, `GiveUp`
    /// disables the endpoint and empties its outbox.
    ///
    /// # Errors
    /// When the database cannot be written; nothing changed then (the event is sent again).
    pub async fn record_webhook_attempt(
        &self,
        id: &str,
        attempt: &AttemptRow,
        then: AttemptOutcome,
    ) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO webhook_attempts
                   (webhook_id, event_id, attempt, at, status, error, latency_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(id)
            .bind(attempt.event_id)
            .bind(attempt.attempt)
            .bind(&attempt.at)
            .bind(attempt.status)
            .bind(&attempt.error)
            .bind(attempt.latency_ms)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "DELETE FROM webhook_attempts WHERE webhook_id = $1 AND seq <=
                   (SELECT seq FROM webhook_attempts WHERE webhook_id = $1
                    ORDER BY seq DESC LIMIT 1 OFFSET $2)",
            )
            .bind(id)
            .bind(ATTEMPTS_KEPT)
            .execute(&mut *tx)
            .await?;
            match then {
                AttemptOutcome::Delivered => {
                    sqlx::query(
                        "DELETE FROM webhook_outbox WHERE webhook_id = $1 AND event_id = $2",
                    )
                    .bind(id)
                    .bind(attempt.event_id)
                    .execute(&mut *tx)
                    .await?;
                }
                AttemptOutcome::Retry {
                    next_attempt_at,
                    first_failed_at,
                } => {
                    sqlx::query(
                        "UPDATE webhook_outbox
                         SET attempts = $1, next_attempt_at = $2, first_failed_at = $3
                         WHERE webhook_id = $4 AND event_id = $5",
                    )
                    .bind(attempt.attempt)
                    .bind(next_attempt_at)
                    .bind(first_failed_at)
                    .bind(id)
                    .bind(attempt.event_id)
                    .execute(&mut *tx)
                    .await?;
                }
                AttemptOutcome::GiveUp => {
                    sqlx::query("UPDATE webhooks SET disabled_at = $1 WHERE id = $2")
                        .bind(&attempt.at)
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query("DELETE FROM webhook_outbox WHERE webhook_id = $1")
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// Events waiting in the outbox, over every endpoint.
    ///
    /// # Errors
    /// When the database cannot be read.
    pub async fn webhook_outbox_pending(&self) -> Result<i64, StoreError> {
        on_pool!(self, |pool| {
            Ok(sqlx::query_scalar("SELECT count(*) FROM webhook_outbox")
                .fetch_one(pool)
                .await?)
        })
    }
}

/// What an attempt leads to (see [`Store::record_webhook_attempt`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    Delivered,
    /// Due again at `next_attempt_at` (Unix ms).
    Retry {
        next_attempt_at: i64,
        first_failed_at: i64,
    },
    /// Failing past the retry horizon: the endpoint is disabled.
    GiveUp,
}
