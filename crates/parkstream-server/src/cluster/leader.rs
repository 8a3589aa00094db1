//! Which instance runs the timers: the one holding an advisory lock on a connection of its own.

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::Connection;

/// The advisory lock that makes an instance the timer leader.
const TIMER_LOCK: i64 = 0x7061_726b_0002;

/// One instance's claim to lead the timers.
#[derive(Debug)]
pub struct Leadership {
    options: PgConnectOptions,
    conn: Option<PgConnection>,
    /// Whether `conn` holds the lock.
    leading: bool,
}

impl Leadership {
    pub fn new(options: PgConnectOptions) -> Self {
        Self {
            options,
            conn: None,
            leading: false,
        }
    }

    /// Whether this instance leads now: keeps the lock while its connection is alive,
    /// otherwise tries to take it without waiting.
    pub async fn check(&mut self) -> bool {
        let result = self.try_check().await;
        if result.is_err() {
            if self.leading {
                tracing::warn!("lost the connection holding timer leadership");
            }
            // A broken connection holds no lock (PostgreSQL ends its session).
            self.conn = None;
            self.leading = false;
        }
        result.unwrap_or(false)
    }

    async fn try_check(&mut self) -> Result<bool, sqlx::Error> {
        if self.conn.is_none() {
            self.conn = Some(PgConnection::connect_with(&self.options).await?);
        }
        let conn = self.conn.as_mut().expect("connected");
        if self.leading {
            conn.ping().await?;
            return Ok(true);
        }
        let taken: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(TIMER_LOCK)
            .fetch_one(&mut *conn)
            .await?;
        if taken {
            tracing::info!("this instance now runs the cluster's timers");
            self.leading = true;
        }
        Ok(taken)
    }
}
