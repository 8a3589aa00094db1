//! SIGHUP: the server reads its settings again and applies what can change while running
//! (certificate, log level, limits, CORS, token keys) without dropping a stream; a bad config
//! keeps the running settings, and a setting that needs a restart is named.

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{spawn_binary, Binary, EventStream, PATIENCE};

/// Sends SIGHUP to the server.
fn hangup(server: &Binary) {
    let pid = server.child.id().expect("the server runs").to_string();
    let status = std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .expect("run kill");
    assert!(status.success());
}

/// The log lines (JSON) after the first `skip`, as parsed.
fn entries(server: &Binary, skip: usize) -> Vec<Value> {
    server
        .log
        .lock()
        .unwrap()
        .lines()
        .skip(skip)
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

fn log_length(server: &Binary) -> usize {
    server.log.lock().unwrap().lines().count()
}

/// Waits for a log line after the first `skip` with this message, and returns it.
async fn wait_for_line(server: &Binary, skip: usize, message: &str) -> Value {
    tokio::time::timeout(PATIENCE, async {
        loop {
            if let Some(entry) = entries(server, skip)
                .into_iter()
                .find(|entry| entry["message"] == message)
            {
                return entry;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {message:?} in the log: {}", server.log.lock().unwrap()))
}

/// Sends SIGHUP and waits for the reload's outcome: the `reloaded` line, or the error.
async fn reload(server: &Binary) -> (Value, usize) {
    let skip = log_length(server);
    hangup(server);
    let outcome = tokio::time::timeout(PATIENCE, async {
        loop {
            if let Some(entry) = entries(server, skip).into_iter().find(|entry| {
                entry["message"] == "reloaded"
                    || entry["message"] == "reload failed; the running settings stay"
            }) {
                return entry;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no reload in the log: {}", server.log.lock().unwrap()));
    (outcome, skip)
}

fn database(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("reload.db").display())
}

/// The status of a stream request filtering on `lots` lots (`--max-filter-lots` bounds it).
async fn stream_status(base: &str, lots: usize) -> u16 {
    let filter: Vec<String> = (0..lots).map(|i| format!("l{i}")).collect();
    let url = format!("{base}/api/sse/dashboard?lots={}", filter.join(","));
    reqwest::get(url).await.unwrap().status().as_u16()
}

fn write_certificate(dir: &Path) -> rcgen::CertifiedKey {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    std::fs::write(dir.join("cert.pem"), certified.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), certified.key_pair.serialize_pem()).unwrap();
    certified
}

#[tokio::test]
async fn a_replaced_certificate_is_served_to_new_connections_while_open_streams_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let first = write_certificate(dir.path());
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let db = database(dir.path());
    let server = spawn_binary(
        &[
            "--auth",
            "none",
            "--database-url",
            &db,
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    let addr: std::net::SocketAddr = server.base.trim_start_matches("http://").parse().unwrap();
    let base = format!("https://localhost:{}", addr.port());
    let second = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    // A new client is a new connection; it trusts both certificates and says which it got.
    let client = || {
        reqwest::Client::builder()
            .use_rustls_tls()
            .add_root_certificate(
                reqwest::Certificate::from_pem(first.cert.pem().as_bytes()).unwrap(),
            )
            .add_root_certificate(
                reqwest::Certificate::from_pem(second.cert.pem().as_bytes()).unwrap(),
            )
            .resolve("localhost", addr)
            .tls_info(true)
            .build()
            .unwrap()
    };
    let peer_certificate = |response: &reqwest::Response| -> Vec<u8> {
        response
            .extensions()
            .get::<reqwest::tls::TlsInfo>()
            .and_then(|info| info.peer_certificate())
            .expect("the peer's certificate")
            .to_vec()
    };

    let before = client();
    let created = before
        .put(format!("{base}/api/lots/a"))
        .json(&json!({"name": "A", "totalSlots": 10}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    assert_eq!(peer_certificate(&created), first.cert.der().to_vec());
    let response = before
        .get(format!("{base}/api/sse/dashboard"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut stream = EventStream::new(response);
    stream.connected().await;

    std::fs::write(&cert, second.cert.pem()).unwrap();
    std::fs::write(&key, second.key_pair.serialize_pem()).unwrap();
    let (reloaded, _) = reload(&server).await;
    assert_eq!(reloaded["message"], "reloaded", "{reloaded}");
    assert_eq!(reloaded["changed"], "tls-cert");

    let after = client();
    let update = after
        .post(format!("{base}/api/capacity/update"))
        .json(&json!({"parkingLotId": "a", "occupied": 4}))
        .send()
        .await
        .unwrap();
    assert_eq!(update.status(), 200);
    assert_eq!(
        peer_certificate(&update),
        second.cert.der().to_vec(),
        "a new connection gets the new certificate"
    );
    let occupied = tokio::time::timeout(PATIENCE, async {
        loop {
            let (kind, data) = stream.next_data().await;
            if kind == "capacity_update" {
                return data["occupied"].clone();
            }
        }
    })
    .await
    .expect("the stream opened before the reload goes on");
    assert_eq!(occupied, 4);
}

#[tokio::test]
async fn an_edited_config_file_changes_limits_and_the_log_level_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("parkstream.toml");
    std::fs::write(
        &file,
        "auth = \"none\"\nmax-filter-lots = 2\nlog-level = \"info\"\n",
    )
    .unwrap();
    let db = database(dir.path());
    let server = spawn_binary(
        &["--config", file.to_str().unwrap(), "--database-url", &db],
        &[],
    )
    .await;
    assert_eq!(stream_status(&server.base, 3).await, 400);

    std::fs::write(
        &file,
        "auth = \"none\"\nmax-filter-lots = 5\nlog-level = \"warn\"\n",
    )
    .unwrap();
    let (reloaded, skip) = reload(&server).await;
    assert_eq!(
        reloaded["changed"], "log-level, max-filter-lots",
        "{reloaded}"
    );
    assert_eq!(stream_status(&server.base, 5).await, 200, "the new limit");
    assert_eq!(stream_status(&server.base, 6).await, 400);
    let answered = reqwest::get(format!("{}/api/lots", server.base))
        .await
        .unwrap();
    assert_eq!(answered.status(), 200);

    // A failed reload logs an error: a marker after the requests above, which at `warn`
    // left no line.
    std::fs::write(&file, "max-filter-lots = \"many\"\n").unwrap();
    let (failed, _) = reload(&server).await;
    assert_eq!(failed["level"], "ERROR");
    let info: Vec<Value> = entries(&server, skip)
        .into_iter()
        .skip_while(|entry| entry["message"] != "reloaded")
        .skip(1)
        .filter(|entry| entry["level"] == "INFO")
        .collect();
    assert!(info.is_empty(), "logged at info after `warn`: {info:?}");
}

#[tokio::test]
async fn a_bad_config_on_reload_keeps_the_server_running_with_its_settings() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("parkstream.toml");
    std::fs::write(&file, "auth = \"none\"\nmax-filter-lots = 2\n").unwrap();
    let db = database(dir.path());
    let server = spawn_binary(
        &["--config", file.to_str().unwrap(), "--database-url", &db],
        &[],
    )
    .await;
    let mut stream = EventStream::new(
        reqwest::get(format!("{}/api/sse/dashboard", server.base))
            .await
            .unwrap(),
    );
    stream.connected().await;

    for (bad, says) in [
        ("max-filter-lots = 0\n", "--max-filter-lots"),
        ("max-filter-lots = 9\nmax-klients = 1\n", "unknown setting"),
        ("max-filter-lots = [\n", "--config"),
    ] {
        std::fs::write(&file, format!("auth = \"none\"\n{bad}")).unwrap();
        let (failed, _) = reload(&server).await;
        assert_eq!(
            failed["message"], "reload failed; the running settings stay",
            "{bad}"
        );
        assert!(
            failed["error"].as_str().unwrap().contains(says),
            "{bad}: {failed}"
        );
        assert_eq!(stream_status(&server.base, 2).await, 200, "{bad}");
        assert_eq!(
            stream_status(&server.base, 3).await,
            400,
            "{bad}: the old limit"
        );
    }
    let metrics = reqwest::get(format!("{}/metrics", server.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("parkstream_config_reloads_total{result=\"error\"} 3"),
        "{metrics}"
    );

    // Fixed, it applies; the stream opened at the start is still there.
    std::fs::write(&file, "auth = \"none\"\nmax-filter-lots = 3\n").unwrap();
    let (reloaded, _) = reload(&server).await;
    assert_eq!(reloaded["changed"], "max-filter-lots");
    assert_eq!(stream_status(&server.base, 3).await, 200);
    let created = reqwest::Client::new()
        .put(format!("{}/api/lots/a", server.base))
        .json(&json!({"name": "A", "totalSlots": 10}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let update = reqwest::Client::new()
        .post(format!("{}/api/capacity/update", server.base))
        .json(&json!({"parkingLotId": "a", "occupied": 7}))
        .send()
        .await
        .unwrap();
    assert_eq!(update.status(), 200);
    let occupied = tokio::time::timeout(PATIENCE, async {
        loop {
            let (kind, data) = stream.next_data().await;
            if kind == "capacity_update" && data["occupied"] == 7 {
                return;
            }
        }
    })
    .await;
    assert!(
        occupied.is_ok(),
        "the stream opened before the reloads goes on"
    );
}

#[tokio::test]
async fn a_changed_setting_that_needs_a_restart_is_named_and_keeps_its_value() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("parkstream.toml");
    std::fs::write(&file, "auth = \"none\"\nhistory-size = 100\n").unwrap();
    let db = database(dir.path());
    let server = spawn_binary(
        &["--config", file.to_str().unwrap(), "--database-url", &db],
        &[],
    )
    .await;
    std::fs::write(
        &file,
        "auth = \"none\"\nhistory-size = 500\nstream-gzip = true\nmax-body-bytes = 10\n",
    )
    .unwrap();
    let (reloaded, skip) = reload(&server).await;
    assert_eq!(reloaded["changed"], "max-body-bytes");
    let restart = wait_for_line(&server, skip, "changed, but needs a restart").await;
    assert_eq!(restart["level"], "WARN");
    assert_eq!(restart["settings"], "history-size, stream-gzip");
    let too_large = reqwest::Client::new()
        .put(format!("{}/api/lots/a", server.base))
        .json(&json!({"name": "A", "totalSlots": 10}))
        .send()
        .await
        .unwrap();
    assert_eq!(too_large.status(), 413, "the live setting applies");

    // Until the restart, every reload names them again.
    let (_, skip) = reload(&server).await;
    let again = wait_for_line(&server, skip, "changed, but needs a restart").await;
    assert_eq!(again["settings"], "history-size, stream-gzip");
}

#[tokio::test]
async fn a_new_jwt_secret_checks_tokens_after_the_reload() {
    use parkstream_server::auth::{mint, Role};
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("parkstream.toml");
    let (old, new) = ("old-secret-0123456789", "new-secret-0123456789");
    std::fs::write(&file, format!("jwt-secret = \"{old}\"\n")).unwrap();
    let db = database(dir.path());
    let server = spawn_binary(
        &["--config", file.to_str().unwrap(), "--database-url", &db],
        &[],
    )
    .await;
    let status = |secret: &'static str| {
        let url = format!("{}/api/lots", server.base);
        async move {
            let token = mint(
                secret.as_bytes(),
                "reload-test",
                Role::Viewer,
                None,
                None,
                Duration::from_secs(600),
            )
            .unwrap();
            reqwest::Client::new()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(status(old).await, 200);
    assert_eq!(status(new).await, 401);

    std::fs::write(&file, format!("jwt-secret = \"{new}\"\n")).unwrap();
    let (reloaded, _) = reload(&server).await;
    assert_eq!(reloaded["changed"], "jwt-secret");
    assert!(
        !server.log.lock().unwrap().contains("secret-0123456789"),
        "no secret in the log"
    );
    assert_eq!(status(new).await, 200);
    assert_eq!(status(old).await, 401);
}

#[tokio::test]
async fn cors_origins_added_by_a_reload_are_allowed_from_the_next_request() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("parkstream.toml");
    std::fs::write(&file, "auth = \"none\"\n").unwrap();
    let db = database(dir.path());
    let server = spawn_binary(
        &["--config", file.to_str().unwrap(), "--database-url", &db],
        &[],
    )
    .await;
    let allowed = || async {
        let response = reqwest::Client::new()
            .get(format!("{}/api/lots", server.base))
            .header("origin", "https://ops.example.com")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response
            .headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap().to_owned())
    };
    assert_eq!(allowed().await, None, "no CORS by default");

    std::fs::write(
        &file,
        "auth = \"none\"\ncors-origin = [\"https://ops.example.com\"]\n",
    )
    .unwrap();
    let (reloaded, _) = reload(&server).await;
    assert_eq!(reloaded["changed"], "cors-origin");
    assert_eq!(allowed().await.as_deref(), Some("https://ops.example.com"));
}
