//! The Rust client crate against the real binary, through a crash: the server is killed
//! (SIGKILL) and restarted on the same address and database while the client is connected.

use std::time::Duration;

use futures_util::StreamExt;
use parkstream_client::{Backoff, Client, Update};
use parkstream_protocol::events::Event;
use serde_json::json;

use crate::helpers::{fresh_database_url, spawn_binary, PATIENCE};

async fn next(updates: &mut parkstream_client::Subscription) -> Update {
    tokio::time::timeout(PATIENCE, updates.next())
        .await
        .expect("an update in time")
        .expect("the subscription is open")
        .expect("no error")
}

async fn count(http: &reqwest::Client, base: &str, occupied: u32) {
    let response = http
        .post(format!("{base}/api/capacity/update"))
        .json(&json!({"parkingLotId": "a", "occupied": occupied}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_and_restarted_server_loses_and_duplicates_nothing_for_the_rust_client() {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_database_url(dir.path()).await;
    let mut server = spawn_binary(&["--auth", "none", "--database-url", &db], &[]).await;
    let base = server.base.clone();
    let addr = base.trim_start_matches("http://").to_owned();
    let http = reqwest::Client::new();
    http.put(format!("{base}/api/lots/a"))
        .json(&json!({"name": "A", "totalSlots": 1000}))
        .send()
        .await
        .unwrap();

    let backoff = Backoff::default()
        .base(Duration::from_millis(50))
        .jitter(0.0)
        .max_attempts(30);
    let client = Client::builder(&base).backoff(backoff).build().unwrap();
    let mut updates = client.subscribe();
    let mut counts = Vec::new();
    let mut connections = 0;
    loop {
        if let Update::Event(received) = next(&mut updates).await {
            if let Event::Connected(_) = received.event {
                connections += 1;
                break;
            }
        }
    }
    for n in 1..=5 {
        count(&http, &base, n).await;
    }
    while counts.len() < 5 {
        if let Update::Event(received) = next(&mut updates).await {
            if let Event::CapacityUpdate(u) = received.event {
                counts.push(u.occupied);
            }
        }
    }

    server.child.start_kill().unwrap(); // SIGKILL
    server.child.wait().await.unwrap();
    let server = spawn_binary(
        &["--auth", "none", "--database-url", &db, "--bind", &addr],
        &[],
    )
    .await;
    // Published before the client is back: it gets them by resuming.
    for n in 6..=10 {
        count(&http, &server.base, n).await;
    }
    let mut resumed = false;
    while counts.len() < 10 {
        match next(&mut updates).await {
            Update::Event(received) => match received.event {
                Event::Connected(c) => {
                    connections += 1;
                    resumed = c.resumed;
                }
                Event::Reset(_) => panic!("reset after a restart"),
                Event::CapacityUpdate(u) => counts.push(u.occupied),
                _ => {}
            },
            Update::Reconnecting { .. } => {}
        }
    }
    assert_eq!(counts, (1..=10).collect::<Vec<_>>(), "each once, in order");
    assert_eq!(connections, 2);
    assert!(resumed);
}
