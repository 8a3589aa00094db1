//! A crash (SIGKILL) in the middle of a stream of gate events: after a restart, every
//! acknowledged event is reflected, and the alerts agree with the count.

use std::process::Stdio;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::helpers::PATIENCE;

/// Starts the real binary on a free port; answers the process and its base URL.
async fn start(database_url: &str) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_parkstream"))
        .args(["serve", "--bind", "127.0.0.1:0", "--log-format", "json"])
        .args(["--database-url", database_url])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start parkstream");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = tokio::time::timeout(PATIENCE, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let Ok(log) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            if log["message"] == "parkstream listening" {
                return log["addr"].as_str().unwrap().to_owned();
            }
        }
        panic!("the server exited before listening");
    })
    .await
    .expect("the server listens");
    // Keep draining its log so it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, format!("http://{addr}"))
}

async fn get_json(http: &reqwest::Client, url: &str) -> Value {
    http.get(url).send().await.unwrap().json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_restarts_with_every_acknowledged_gate_event_and_consistent_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let database_url = format!("sqlite://{}", dir.path().join("p.db").display());
    let (mut server, base) = start(&database_url).await;
    let http = reqwest::Client::new();
    let total = 120;
    let lot = http
        .put(format!("{base}/api/lots/a"))
        .json(&json!({"name": "A", "totalSlots": total}))
        .send()
        .await
        .unwrap();
    assert_eq!(lot.status(), 201);

    // Entries one after another; the server is killed once 110 were acknowledged, while the
    // sender goes on. At most one request is in flight at the kill.
    let sender = {
        let http = http.clone();
        let base = base.clone();
        tokio::spawn(async move {
            let mut acknowledged = 0u32;
            for n in 0..10_000 {
                let sent = http
                    .post(format!("{base}/api/monitor/gate"))
                    .json(&json!({"eventId": format!("e{n}"), "parkingLotId": "a",
                                  "event": "vehicle_entry", "plateNumber": format!("P{n}")}))
                    .send()
                    .await;
                match sent {
                    Ok(response) if response.status() == 200 => acknowledged += 1,
                    _ => break,
                }
            }
            acknowledged
        })
    };
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let lot = get_json(&http, &format!("{base}/api/lots/a")).await;
        if lot["occupied"].as_u64().unwrap() >= 110 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the entries are too slow"
        );
    }
    server.start_kill().unwrap(); // SIGKILL
    server.wait().await.unwrap();
    let acknowledged = sender.await.unwrap();
    assert!(acknowledged >= 110);

    let (_server, base) = start(&database_url).await;
    let lot = get_json(&http, &format!("{base}/api/lots/a")).await;
    let occupied = lot["occupied"].as_u64().unwrap();
    assert!(
        occupied == u64::from(acknowledged) || occupied == u64::from(acknowledged) + 1,
        "{occupied} stored, {acknowledged} acknowledged"
    );
    let active = get_json(&http, &format!("{base}/api/alerts?status=active")).await;
    let active = active.as_array().expect("a list");
    let types: Vec<&str> = active.iter().map(|a| a["type"].as_str().unwrap()).collect();
    // 110+ of 120 is past the 90% threshold; full only at 120.
    assert!(types.contains(&"capacity_warning"), "{types:?}");
    assert_eq!(
        types.contains(&"capacity_breach"),
        occupied >= total,
        "{types:?}"
    );
    assert_eq!(types.len(), 1 + usize::from(occupied >= total));
}
