//! `parkstream backup`: a consistent copy of a live SQLite database, taken while the server
//! goes on writing.
//!
//! The copy is made by SQLite's `VACUUM INTO`, which reads the database inside one read
//! transaction: in WAL mode that sees one commit and never blocks the server's writer, and the
//! result is a compact, self-contained database file (no `-wal` beside it) that `serve` starts
//! from as it is. It is written under a temporary name and renamed into place once complete and
//! flushed, so a backup interrupted half-way never leaves a file that looks whole.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{bail, Context};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::Connection;

use super::sqlite::owner_only;

/// What a finished backup holds, for the command's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupReport {
    pub file: PathBuf,
    pub bytes: u64,
}

/// Copies the SQLite database at `url` to the new file `to`.
///
/// # Errors
/// When `url` is not a SQLite file database, `to` exists already, or the copy fails (nothing is
/// left under `to` then).
pub async fn backup(url: &str, to: &Path) -> anyhow::Result<BackupReport> {
    if url.starts_with("postgres") {
        bail!(
            "backup copies SQLite databases; back up PostgreSQL with its own tools \
             (pg_dump, or the provider's snapshots)"
        );
    }
    if url.contains(":memory:") || url.contains("mode=memory") {
        bail!("an in-memory database lives only inside its server and cannot be copied");
    }
    if to.exists() {
        bail!(
            "{} exists already; backup never overwrites a file",
            to.display()
        );
    }
    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(false)
        .read_only(true)
        .busy_timeout(std::time::Duration::from_secs(5));
    let mut conn = sqlx::SqliteConnection::connect_with(&options)
        .await
        .with_context(|| format!("opening {url}"))?;

    let mut partial = to.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    // A leftover of an interrupted backup is not worth keeping; VACUUM INTO needs the target
    // absent or empty. Created empty first so the copy is the owner's only from its first byte
    // (it holds the generated secret and every plate).
    let _ = std::fs::remove_file(&partial);
    owner_only(&partial).with_context(|| format!("creating {}", partial.display()))?;
    let copied = async {
        let target = partial
            .to_str()
            .context("the backup's path must be valid UTF-8")?;
        sqlx::query("VACUUM INTO ?")
            .bind(target)
            .execute(&mut conn)
            .await
            .context("copying the database")?;
        std::fs::File::open(&partial)?.sync_all()?;
        std::fs::rename(&partial, to)
            .with_context(|| format!("renaming the copy to {}", to.display()))?;
        anyhow::Ok(())
    }
    .await;
    if let Err(err) = copied {
        let _ = std::fs::remove_file(&partial);
        return Err(err);
    }
    if let Some(dir) = to.parent().filter(|d| !d.as_os_str().is_empty()) {
        // The rename is durable once the directory entry is.
        std::fs::File::open(dir)?.sync_all()?;
    }
    let bytes = std::fs::metadata(to)?.len();
    Ok(BackupReport {
        file: to.to_owned(),
        bytes,
    })
}
