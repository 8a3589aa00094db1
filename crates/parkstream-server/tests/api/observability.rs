//! What an operator watches: the metrics' series and their values after known traffic, the
//! shipped Prometheus rules and Grafana dashboard against the series the server really
//! exposes (checked with `promtool`), and the log's shape.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_binary, PATIENCE};

fn deploy(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy")
        .join(file)
}

/// `promtool`, from Debian's `prometheus` package (scripts/setup.sh installs it); `None` outside
/// CI when it is missing (CI fails instead).
fn promtool() -> Option<&'static str> {
    let found = std::process::Command::new("promtool")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success());
    match (found, std::env::var("CI").as_deref()) {
        (true, _) => Some("promtool"),
        (false, Ok("true")) => panic!("promtool is missing: scripts/setup.sh installs it"),
        (false, _) => {
            eprintln!("skipped: promtool is not installed (scripts/setup.sh installs it)");
            None
        }
    }
}

async fn gate(app: &crate::helpers::TestApp, plate: &str) -> reqwest::Response {
    app.http
        .post(app.url("/api/monitor/gate"))
        .json(&json!({"parkingLotId": "a", "event": "vehicle_entry", "plateNumber": plate}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn metrics_report_requests_refusals_commits_streams_parking_and_the_process() {
    let app = spawn_app().await;
    app.put_lot("a", 2).await;
    let mut stream = app.subscribe("").await;
    stream.connected().await;
    for plate in ["P1", "P2", "P3"] {
        assert_eq!(gate(&app, plate).await.status(), 200);
    }
    assert_eq!(gate(&app, "").await.status(), 422);
    let missing = app.http.get(app.url("/api/lots/nope")).send().await;
    assert_eq!(missing.unwrap().status(), 404);

    let gate_ok =
        r#"parkstream_http_requests_total{route="/api/monitor/gate",method="POST",status="200"}"#;
    assert_eq!(app.metric(gate_ok).await, 3.0);
    let gate_bad =
        r#"parkstream_http_requests_total{route="/api/monitor/gate",method="POST",status="422"}"#;
    assert_eq!(app.metric(gate_bad).await, 1.0);
    let timed = r#"parkstream_http_request_duration_seconds_count{route="/api/monitor/gate",method="POST"}"#;
    assert_eq!(app.metric(timed).await, 4.0);
    let lot = r#"parkstream_http_requests_total{route="/api/lots/{id}",method="GET",status="404"}"#;
    assert_eq!(app.metric(lot).await, 1.0, "the route, never the path");
    assert_eq!(
        app.metric(r#"parkstream_http_refusals_total{reason="invalid_value"}"#)
            .await,
        1.0
    );
    assert_eq!(
        app.metric(r#"parkstream_http_refusals_total{reason="not_found"}"#)
            .await,
        1.0
    );

    // The lot, its alerts (90 % and over capacity), the commits.
    assert_eq!(
        app.metric(r#"parkstream_lot_occupied_vehicles{lot="a"}"#)
            .await,
        3.0
    );
    assert_eq!(
        app.metric(r#"parkstream_lot_capacity_slots{lot="a"}"#)
            .await,
        2.0
    );
    let critical_active = r#"parkstream_alerts_open{severity="critical",status="active"}"#;
    let critical_acknowledged =
        r#"parkstream_alerts_open{severity="critical",status="acknowledged"}"#;
    assert_eq!(app.metric(critical_active).await, 1.0);
    assert_eq!(
        app.metric(r#"parkstream_alerts_open{severity="medium",status="active"}"#)
            .await,
        1.0
    );
    assert_eq!(
        app.metric(r#"parkstream_violations_open{status="pending"}"#)
            .await,
        0.0
    );
    assert!(app.metric("parkstream_commit_group_commands_count").await >= 4.0);
    assert!(app.metric("parkstream_commit_duration_seconds_count").await >= 4.0);
    assert_eq!(app.metric("parkstream_storage_errors_total").await, 0.0);

    let alerts = app.get_json("/api/alerts?status=active").await;
    let critical = alerts
        .as_array()
        .unwrap()
        .iter()
        .find(|alert| alert["severity"] == "critical")
        .expect("a critical alert")["_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let ack = app
        .http
        .post(app.url(&format!("/api/alerts/{critical}/acknowledge")))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(ack.status(), 200);
    assert_eq!(app.metric(critical_active).await, 0.0);
    assert_eq!(app.metric(critical_acknowledged).await, 1.0);

    // Streams by kind: this one is plain HTTP/1.1.
    assert_eq!(
        app.metric(r#"parkstream_sse_streams{kind="plain"}"#).await,
        1.0
    );
    drop(stream);
    app.wait_for_metric(r#"parkstream_sse_streams{kind="plain"}"#, 0.0)
        .await;

    // The process, under the names every exporter uses.
    assert!(app.metric("process_resident_memory_bytes").await > 1e6);
    assert!(app.metric("process_open_fds").await >= 3.0);
    assert!(app.metric("process_max_fds").await >= app.metric("process_open_fds").await);
    assert!(app.metric("process_cpu_seconds_total").await > 0.0);
    let text = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let build = text
        .lines()
        .find(|line| line.starts_with("parkstream_build_info{"))
        .expect("build_info");
    assert!(
        build.contains(&format!("version=\"{}\"", env!("CARGO_PKG_VERSION"))),
        "{build}"
    );
    app.stop().await;
}

/// The sample names an exposition declares (by its `# TYPE` lines, so a labelled family with
/// no sample yet counts), and the families' own names.
fn families(exposition: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in exposition.lines() {
        let Some(declared) = line.strip_prefix("# TYPE ") else {
            continue;
        };
        let (name, kind) = declared.split_once(' ').expect("# TYPE name kind");
        let suffixes: &[&str] = match kind {
            "counter" => &["_total"],
            "histogram" => &["_bucket", "_sum", "_count"],
            "info" => &["_info"],
            _ => &[""],
        };
        names.insert(name.to_owned());
        names.extend(suffixes.iter().map(|suffix| format!("{name}{suffix}")));
    }
    names
}

/// Every series name a PromQL text mentions (`parkstream_…` and `process_…`).
fn series_in(promql: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for prefix in ["parkstream_", "process_"] {
        let mut rest = promql;
        while let Some(at) = rest.find(prefix) {
            let name: String = rest[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            rest = &rest[at + name.len()..];
            names.insert(name);
        }
    }
    names
}

#[tokio::test]
async fn promtool_accepts_the_exposition_and_the_shipped_rules_and_dashboard_use_real_series() {
    let app = spawn_app().await;
    app.put_lot("a", 10).await;
    assert_eq!(gate(&app, "P1").await.status(), 200);
    let exposition = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let exposed = families(&exposition);

    let rules = std::fs::read_to_string(deploy("prometheus/alerts.yml")).unwrap();
    let dashboard: Value =
        serde_json::from_str(&std::fs::read_to_string(deploy("grafana/parkstream.json")).unwrap())
            .expect("the dashboard is JSON");
    let mut queries = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            queries.push(target["expr"].as_str().unwrap().to_owned());
        }
    }
    assert!(queries.len() >= 20, "{} queries", queries.len());
    for (source, text) in queries
        .iter()
        .map(|q| ("dashboard", q.as_str()))
        .chain([("alerts.yml", rules.as_str())])
    {
        for name in series_in(text) {
            assert!(
                exposed.contains(&name),
                "{source} uses {name}, which the server does not expose"
            );
        }
    }

    let Some(promtool) = promtool() else {
        app.stop().await;
        return;
    };
    let mut check = std::process::Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    check
        .stdin
        .take()
        .unwrap()
        .write_all(exposition.as_bytes())
        .unwrap();
    let checked = check.wait_with_output().unwrap();
    // promtool reads the classic text format, where a counter's HELP names the sample
    // (`x_total`); OpenMetrics, which Prometheus scrapes here, names the family (`x`). That
    // complaint aside, its lint (names, units, suffixes) must find nothing.
    let complaints = String::from_utf8_lossy(&checked.stdout).to_string()
        + &String::from_utf8_lossy(&checked.stderr);
    for complaint in complaints.lines().filter(|line| !line.trim().is_empty()) {
        let family = complaint
            .strip_suffix("_total no help text")
            .filter(|family| exposition.contains(&format!("# HELP {family} ")));
        assert!(family.is_some(), "promtool check metrics: {complaints}");
    }
    for args in [
        &["check", "rules", "alerts.yml"][..],
        &["test", "rules", "alerts.test.yml"],
    ] {
        let output = std::process::Command::new(promtool)
            .args(args)
            .current_dir(deploy("prometheus"))
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "promtool {args:?}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn each_request_is_logged_at_info_with_route_status_and_latency_and_log_level_narrows_it() {
    let binary = spawn_binary(&["--auth", "none"], &[]).await;
    let http = reqwest::Client::new();
    let lots = http
        .get(format!("{}/api/lots", binary.base))
        .send()
        .await
        .unwrap();
    assert_eq!(lots.status(), 200);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let line = loop {
        let log = binary.log.lock().unwrap().clone();
        let found = log
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .find(|entry| entry["span"]["route"] == "/api/lots" && entry["status"] == 200);
        if let Some(entry) = found {
            break entry;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no request line: {log}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(line["level"], "INFO", "{line}");
    assert_eq!(line["span"]["method"], "GET", "{line}");
    assert!(
        line["latency"].as_str().is_some_and(|l| l.ends_with("μs")),
        "{line}"
    );

    // Narrowed: the start is still logged, the requests no longer are.
    let quiet = spawn_binary(
        &["--auth", "none", "--log-level", "info,tower_http=warn"],
        &[],
    )
    .await;
    let lots = http
        .get(format!("{}/api/lots", quiet.base))
        .send()
        .await
        .unwrap();
    assert_eq!(lots.status(), 200);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let log = quiet.log.lock().unwrap().clone();
    assert!(!log.contains("\"route\":\"/api/lots\""), "{log}");
}

#[tokio::test]
async fn the_text_log_has_no_colour_codes_when_stderr_is_not_a_terminal() {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_parkstream"))
        .args(["serve", "--auth", "none", "--bind", "127.0.0.1:0"])
        .args(["--database-url", "sqlite::memory:", "--log-format", "text"])
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = String::new();
    tokio::time::timeout(PATIENCE, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            seen.push_str(&line);
            seen.push('\n');
            if line.contains("parkstream listening") {
                return;
            }
        }
        panic!("the server exited: {seen}");
    })
    .await
    .expect("the server listens");
    assert!(seen.contains(" INFO "), "{seen}");
    assert!(!seen.contains('\u{1b}'), "colour codes in a pipe: {seen:?}");
}
