//! SQLite specifics: commits run on a thread of their own (rusqlite) and checkpoints on
//! another; an in-memory database commits through sqlx instead. These tests use SQLite even
//! when the rest of the suite runs on PostgreSQL.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, TestApp};

/// The server on a SQLite file in `dir`, and that file's path.
async fn sqlite_app(dir: &tempfile::TempDir) -> (TestApp, std::path::PathBuf) {
    let file = dir.path().join("parkstream.db");
    let url = format!("sqlite://{}", file.display());
    let app = spawn_app_with(move |settings| settings.database_url = url).await;
    (app, file)
}

fn lot_count_in(file: &std::path::Path, lot: &str) -> rusqlite::Result<i64> {
    let conn = rusqlite::Connection::open(file)?;
    conn.query_row("SELECT occupied FROM lots WHERE id = ?1", [lot], |row| {
        row.get(0)
    })
}

#[tokio::test]
async fn a_refused_commit_answers_503_stores_nothing_and_the_next_write_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let (app, file) = sqlite_app(&dir).await;
    app.put_lot("a", 100).await;
    app.set_count("a", 10).await;
    let mut stream = app.subscribe("lots=a").await;
    stream.connected().await;

    // The database refuses every new event (as a full disk or a broken file would).
    let admin = rusqlite::Connection::open(&file).unwrap();
    admin
        .execute_batch(
            "CREATE TRIGGER refuse BEFORE INSERT ON events BEGIN SELECT RAISE(ABORT, 'refused'); END;",
        )
        .unwrap();
    let refused = app
        .post_capacity(&json!({"parkingLotId": "a", "occupied": 11}))
        .await;
    assert_eq!(refused.status(), 503);
    assert!(refused.headers().contains_key("retry-after"));
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unavailable", "{body}");
    assert_eq!(app.get_json("/api/lots/a").await["occupied"], 10);
    assert_eq!(lot_count_in(&file, "a").unwrap(), 10);
    stream.expect_silence(Duration::from_millis(300)).await;

    admin.execute_batch("DROP TRIGGER refuse;").unwrap();
    app.set_count("a", 12).await;
    assert_eq!(stream.next_counts(1).await, vec![12]);
    assert_eq!(app.get_json("/api/lots/a").await["occupied"], 12);
}

#[tokio::test]
async fn commits_reach_the_database_file_within_seconds_not_only_the_wal() {
    let dir = tempfile::tempdir().unwrap();
    let (app, file) = sqlite_app(&dir).await;
    app.put_lot("a", 1_000).await;
    for n in 1..=20 {
        app.set_count("a", n).await;
    }
    // The main file alone, without its WAL, holds the last count once a checkpoint ran.
    let copy = file.with_file_name("copy.db");
    let mut seen = None;
    for _ in 0..50 {
        std::fs::copy(&file, &copy).unwrap();
        seen = lot_count_in(&copy, "a").ok();
        if seen == Some(20) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen, Some(20), "the WAL was not checkpointed into the file");
}

#[tokio::test]
async fn an_in_memory_database_stores_and_serves_writes() {
    let app = spawn_app_with(|settings| settings.database_url = "sqlite::memory:".into()).await;
    app.put_lot("a", 100).await;
    let mut stream = app.subscribe("lots=a").await;
    stream.connected().await;
    app.set_count("a", 7).await;
    assert_eq!(stream.next_counts(1).await, vec![7]);
    assert_eq!(app.get_json("/api/lots/a").await["occupied"], 7);
}

#[cfg(unix)]
#[tokio::test]
async fn the_sqlite_files_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("parkstream.db");
    // A file left world-readable by an earlier version is narrowed too.
    std::fs::write(&path, b"").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let url = format!("sqlite://{}", path.display());
    let app = crate::helpers::spawn_app_with(|s| {
        s.database_url = url;
        s.auth = parkstream_server::config::AuthMode::Jwt;
    })
    .await;
    app.http.get(app.url("/healthz")).send().await.unwrap();
    let mut seen = 0;
    for suffix in ["", "-wal", "-shm"] {
        let file = dir.path().join(format!("parkstream.db{suffix}"));
        if let Ok(meta) = std::fs::metadata(&file) {
            seen += 1;
            assert_eq!(
                meta.permissions().mode() & 0o777,
                0o600,
                "{}",
                file.display()
            );
        }
    }
    assert_eq!(seen, 3, "the database, its WAL and its shared memory exist");
    app.stop().await;
}
