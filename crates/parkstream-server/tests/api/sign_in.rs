//! Signing in: the `token` command, and the dashboard URL with an admin token printed when
//! the server generated its own secret (and never a token in the log).

use std::time::Duration;

use serde_json::json;

use crate::auth::{get, secured, SECRET};
use crate::helpers::{fresh_database_url, spawn_binary};

#[tokio::test]
async fn the_token_command_mints_what_the_server_accepts() {
    let app = secured().await;
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_parkstream"))
        .args(["token", "--role", "viewer", "--ttl", "5m"])
        .env("PARKSTREAM_JWT_SECRET", SECRET)
        .output()
        .await
        .unwrap();
    assert!(output.status.success());
    let minted = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    assert_eq!(get(&app, "/api/lots", Some(&minted)).await.0, 200);
    let refused = tokio::process::Command::new(env!("CARGO_BIN_EXE_parkstream"))
        .args(["token", "--role", "contractor", "--jwt-secret", SECRET])
        .output()
        .await
        .unwrap();
    assert!(
        !refused.status.success(),
        "a contractor token needs --contractor"
    );
    app.stop().await;
}

#[tokio::test]
async fn without_a_secret_the_server_prints_a_dashboard_url_with_an_admin_token_and_never_logs_tokens(
) {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_database_url(dir.path()).await;
    let server = spawn_binary(&["--database-url", &db], &[("RUST_LOG", "debug")]).await;
    let deadline = tokio::time::Instant::now() + crate::helpers::PATIENCE;
    let url = loop {
        let printed = server.stdout.lock().unwrap().clone();
        if let Some(line) = printed.lines().find(|l| l.contains("?token=")) {
            break line.split_whitespace().last().unwrap().to_owned();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no dashboard URL printed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(url.starts_with(&server.base));
    let admin = url.split("?token=").nth(1).unwrap().to_owned();
    let http = reqwest::Client::new();
    let lot = http
        .put(format!("{}/api/lots/a", server.base))
        .bearer_auth(&admin)
        .json(&json!({"name": "A", "totalSlots": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(lot.status(), 201, "the printed token is an admin's");
    // Requests carrying tokens in every place, good and bad.
    let bad = format!("{admin}x");
    for token in [&admin, &bad] {
        http.get(format!("{}/api/lots?access_token={token}", server.base))
            .send()
            .await
            .unwrap();
        http.get(format!("{}/api/alerts", server.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        http.get(format!("{}/api/violations", server.base))
            .header("cookie", format!("parkstream_token={token}"))
            .send()
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = server.log.lock().unwrap().clone();
    assert!(
        log.contains("/api/alerts"),
        "the requests were logged (at debug)"
    );
    let signature = admin.rsplit('.').next().unwrap();
    assert!(!log.contains(signature), "a token reached the log");
}

/// Waits until the server's standard output has a line containing `needle`.
async fn printed_line(server: &crate::helpers::Binary, needle: &str) -> String {
    let deadline = tokio::time::Instant::now() + crate::helpers::PATIENCE;
    loop {
        let printed = server.stdout.lock().unwrap().clone();
        if let Some(line) = printed.lines().find(|l| l.contains(needle)) {
            return line.to_owned();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "nothing with {needle:?} printed: {printed:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn the_sign_in_url_is_printed_only_on_the_start_that_generated_the_secret() {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_database_url(dir.path()).await;
    let first = spawn_binary(&["--database-url", &db], &[]).await;
    printed_line(&first, "?token=").await;
    drop(first);

    let again = spawn_binary(&["--database-url", &db], &[]).await;
    let hint = printed_line(&again, "parkstream dashboard").await;
    assert!(
        !hint.contains("token="),
        "a restart prints no token: {hint}"
    );
    assert!(hint.contains("parkstream token --role admin --database-url"));

    // `parkstream token --database-url` mints with the secret the server keeps there.
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_parkstream"))
        .args(["token", "--role", "admin", "--database-url", &db])
        .env_remove("PARKSTREAM_JWT_SECRET")
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let minted = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    let lots = reqwest::Client::new()
        .get(format!("{}/api/lots", again.base))
        .bearer_auth(&minted)
        .send()
        .await
        .unwrap();
    assert_eq!(lots.status(), 200);
    drop(again);

    let given = spawn_binary(&["--database-url", &db, "--jwt-secret", SECRET], &[]).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let printed = given.stdout.lock().unwrap().clone();
    assert!(
        !printed.contains("token="),
        "with --jwt-secret: {printed:?}"
    );
}
