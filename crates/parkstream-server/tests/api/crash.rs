//! A crash (SIGKILL) in the middle of a stream of gate events: after a restart, every
//! acknowledged event is reflected, and the alerts agree with the count.

use serde_json::{json, Value};

use crate::helpers::{fresh_database_url, spawn_binary, PATIENCE};

async fn start(database_url: &str) -> (tokio::process::Child, String) {
    let binary = spawn_binary(&["--auth", "none", "--database-url", database_url], &[]).await;
    (binary.child, binary.base)
}

async fn get_json(http: &reqwest::Client, url: &str) -> Value {
    http.get(url).send().await.unwrap().json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_restarts_with_every_acknowledged_gate_event_and_consistent_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let database_url = fresh_database_url(dir.path()).await;
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

    // Entries one after another; the server is killed once 110 were stored, while the
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
    // 110 were stored before the kill; the answer to the last of them may not have reached
    // the sender before the kill did.
    assert!(acknowledged >= 109, "{acknowledged} acknowledged");

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
