//! `parkstream backup`: a consistent copy of a live SQLite database that `serve` starts from.
//! SQLite only (PostgreSQL has its own tools), so these tests use a SQLite file whichever
//! database the rest of the suite runs on.

use std::os::unix::fs::PermissionsExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde_json::{json, Value};
use sqlx::Connection;

use crate::helpers::spawn_binary;

fn backup(database_url: &str, to: &std::path::Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_parkstream"))
        .args(["backup", "--database-url", database_url, "--to"])
        .arg(to)
        .env_remove("DATABASE_URL")
        .output()
        .expect("run parkstream backup")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_during_ingest_is_consistent_and_serve_starts_from_it() {
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}", dir.path().join("live.db").display());
    let live = spawn_binary(&["--auth", "none", "--database-url", &database_url], &[]).await;
    let http = reqwest::Client::new();
    let created = http
        .put(format!("{}/api/lots/a", live.base))
        .json(&json!({"name": "A", "totalSlots": 100_000}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);

    // Entries go on, one after another, for as long as the backup runs.
    let acknowledged = Arc::new(AtomicU64::new(0));
    let stop = tokio_util::sync::CancellationToken::new();
    let ingest = {
        let (http, base) = (http.clone(), live.base.clone());
        let (acknowledged, stop) = (acknowledged.clone(), stop.clone());
        tokio::spawn(async move {
            let mut n = 0u64;
            while !stop.is_cancelled() {
                let answer = http
                    .post(format!("{base}/api/monitor/gate"))
                    .json(&json!({"eventId": format!("e{n}"), "parkingLotId": "a",
                                  "event": "vehicle_entry", "plateNumber": format!("P{n}")}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(answer.status(), 200);
                acknowledged.fetch_add(1, Ordering::SeqCst);
                n += 1;
            }
        })
    };
    while acknowledged.load(Ordering::SeqCst) < 200 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let before = acknowledged.load(Ordering::SeqCst);
    let copy = dir.path().join("copy.db");
    let output = tokio::task::spawn_blocking({
        let (url, copy) = (database_url.clone(), copy.clone());
        move || backup(&url, &copy)
    })
    .await
    .unwrap();
    let after = acknowledged.load(Ordering::SeqCst);
    stop.cancel();
    ingest.await.unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("copy.db"));
    let mode = std::fs::metadata(&copy).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the copy holds the secret and every plate");
    assert!(!dir.path().join("copy.db.partial").exists());

    // One commit's view: the lot's count agrees with the stays, and lies between what was
    // acknowledged when the backup started and when it ended.
    let copy_url = format!("sqlite://{}", copy.display());
    {
        let mut conn = sqlx::SqliteConnection::connect(&copy_url).await.unwrap();
        let check: String = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(check, "ok");
        let (occupied, stays): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT occupied FROM lots WHERE id = 'a'), \
                    (SELECT count(*) FROM stays WHERE lot_id = 'a')",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        assert_eq!(occupied, stays);
        let occupied = u64::try_from(occupied).unwrap();
        assert!(
            (before..=after + 1).contains(&occupied),
            "{occupied} in the copy, {before}..{after} acknowledged"
        );
    }

    let restored = spawn_binary(&["--auth", "none", "--database-url", &copy_url], &[]).await;
    let lot: Value = http
        .get(format!("{}/api/lots/a", restored.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(lot["occupied"].as_u64().unwrap() >= before);
    let entry = http
        .post(format!("{}/api/monitor/gate", restored.base))
        .json(&json!({"parkingLotId": "a", "event": "vehicle_entry", "plateNumber": "NEW1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(entry.status(), 200, "the restored database takes writes");
}

#[test]
fn a_backup_never_overwrites_and_refuses_what_it_cannot_copy() {
    let dir = tempfile::tempdir().unwrap();
    let existing = dir.path().join("existing.db");
    std::fs::write(&existing, b"keep me").unwrap();
    let live = format!("sqlite://{}", dir.path().join("live.db").display());

    let output = backup(&live, &existing);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("exists already"));
    assert_eq!(std::fs::read(&existing).unwrap(), b"keep me");

    let copy = dir.path().join("copy.db");
    for (url, says) in [
        ("postgres://postgres@127.0.0.1:5432/test", "pg_dump"),
        ("sqlite::memory:", "in-memory"),
        (live.as_str(), "opening"),
    ] {
        let output = backup(url, &copy);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{url}: {stderr}");
        assert!(stderr.contains(says), "{url}: {stderr}");
        assert!(!copy.exists(), "{url}");
    }
}
