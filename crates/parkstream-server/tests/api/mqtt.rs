//! MQTT ingest against Debian's mosquitto, started by the test on a spare port: 10,000 mixed
//! messages (valid, replayed, malformed) while parkstream is killed and restarted half-way.

use std::collections::BTreeSet;
use std::time::Duration;

use parkstream_protocol::sse::SseItem;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use serde_json::{json, Value};

use crate::helpers::{fresh_database_url, spawn_binary, Binary, EventStream, PATIENCE};

const MOSQUITTO: &str = "/usr/sbin/mosquitto";

/// Whether mosquitto is installed; CI must have it (scripts/setup.sh), elsewhere the test skips.
pub(crate) fn mosquitto_installed() -> bool {
    if std::path::Path::new(MOSQUITTO).exists() {
        return true;
    }
    assert_ne!(
        std::env::var("CI").as_deref(),
        Ok("true"),
        "{MOSQUITTO} is missing: scripts/setup.sh installs it"
    );
    eprintln!("skipping: {MOSQUITTO} is not installed (scripts/setup.sh installs it)");
    false
}

/// A broker of the test's own, which keeps every message for an absent persistent session.
pub(crate) async fn start_broker(dir: &std::path::Path) -> (tokio::process::Child, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let conf = dir.join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n\
             max_queued_messages 100000\nmax_inflight_messages 64\n"
        ),
    )
    .unwrap();
    let child = tokio::process::Command::new(MOSQUITTO)
        .arg("-c")
        .arg(&conf)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start mosquitto");
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "mosquitto did not listen"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (child, port)
}

/// A test client: publishes, and collects what arrives on `subscribe` (QoS 1).
pub(crate) async fn client(
    port: u16,
    id: &str,
    subscribe: Option<&str>,
) -> (AsyncClient, tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>) {
    let mut options = MqttOptions::new(id, "127.0.0.1", port);
    options
        .set_keep_alive(Duration::from_secs(30))
        .set_inflight(100);
    let (client, mut eventloop) = AsyncClient::new(options, 1000);
    if let Some(topic) = subscribe {
        client.subscribe(topic, QoS::AtLeastOnce).await.unwrap();
    }
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let (subscribed, ready) = tokio::sync::oneshot::channel();
    let mut subscribed = Some(subscribed);
    let wants_suback = subscribe.is_some();
    tokio::spawn(async move {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let _ = tx.send(p.payload.to_vec());
                }
                Ok(Event::Incoming(Packet::SubAck(_))) if wants_suback => {
                    if let Some(s) = subscribed.take() {
                        let _ = s.send(());
                    }
                }
                Ok(Event::Incoming(Packet::ConnAck(_))) if !wants_suback => {
                    if let Some(s) = subscribed.take() {
                        let _ = s.send(());
                    }
                }
                Ok(_) => {}
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    });
    tokio::time::timeout(PATIENCE, ready)
        .await
        .unwrap()
        .unwrap();
    (client, rx)
}

async fn start_server(database_url: &str, port: u16) -> Binary {
    let url = format!("mqtt://127.0.0.1:{port}");
    spawn_binary(
        &[
            "--auth",
            "none",
            "--database-url",
            database_url,
            "--mqtt-url",
            &url,
            "--mqtt-client-id",
            "parkstream-test",
        ],
        &[],
    )
    .await
}

async fn occupied(http: &reqwest::Client, base: &str, lot: &str) -> u64 {
    let lot: Value = http
        .get(format!("{base}/api/lots/{lot}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    lot["occupied"].as_u64().unwrap()
}

/// The `occupied` of each `capacity_update` a stream delivers, with its id, until it ends or
/// `want` arrived.
async fn collect(mut stream: EventStream, want: usize) -> Vec<(String, u64)> {
    let mut got = Vec::new();
    while got.len() < want {
        match stream.next_item().await {
            Some(SseItem::Event(event)) if event.event == "capacity_update" => {
                let data: Value = serde_json::from_str(&event.data).unwrap();
                got.push((
                    event.id.unwrap_or_default(),
                    data["occupied"].as_u64().unwrap(),
                ));
            }
            Some(_) => {}
            None => break,
        }
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_messages_across_a_kill_are_stored_once_and_the_bad_ones_dead_lettered() {
    if !mosquitto_installed() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (_broker, port) = start_broker(dir.path()).await;
    let database_url = fresh_database_url(dir.path()).await;
    let mut server = start_server(&database_url, port).await;
    let http = reqwest::Client::new();
    for (lot, total) in [("a", 100_000), ("b", 100_000)] {
        let created = http
            .put(format!("{}/api/lots/{lot}", server.base))
            .json(&json!({"name": lot, "totalSlots": total}))
            .send()
            .await
            .unwrap();
        assert_eq!(created.status(), 201);
    }
    let (_dead_client, mut dead_letters) =
        client(port, "dead-letter-reader", Some("parking/dead-letter")).await;
    let (publisher, _) = client(port, "publisher", None).await;
    let first_stream = EventStream::new(
        http.get(format!("{}/api/sse/dashboard?lots=a", server.base))
            .send()
            .await
            .unwrap(),
    );
    let first = tokio::spawn(collect(first_stream, usize::MAX));
    // The subscription is in place once the broker answers for us.
    wait_until(|| async { ready_mqtt(&http, &server.base).await }).await;

    // 10,000 messages: entries with eventIds, replays of earlier ones, camera counts, and
    // malformed ones of every kind, each of those marked so its dead letter can be found.
    let mut entries = 0u64;
    let mut last_count = 0u64;
    let mut malformed = BTreeSet::new();
    let mut messages = Vec::new();
    for n in 0..10_000u64 {
        let (topic, payload) = match n % 10 {
            0..=5 => {
                entries += 1;
                let e = entries;
                ("parking/a/gate".to_owned(), json!({"eventId": format!("e{e}"), "event": "vehicle_entry", "plateNumber": format!("P{e}")}).to_string())
            }
            6 if entries > 0 => {
                let e = 1 + n % entries;
                ("parking/a/gate".to_owned(), json!({"eventId": format!("e{e}"), "event": "vehicle_entry", "plateNumber": format!("P{e}")}).to_string())
            }
            7 => {
                last_count = n;
                (
                    "parking/b/count".to_owned(),
                    json!({"cameraId": "cam-1", "occupied": n}).to_string(),
                )
            }
            _ => {
                // Not JSON; no plate; another lot than the topic's; a lot that does not exist.
                malformed.insert(format!("bad-{n}"));
                let body = match n % 4 {
                    0 => format!("not json bad-{n}"),
                    1 => json!({"event": "vehicle_entry", "marker": format!("bad-{n}")}).to_string(),
                    2 => json!({"parkingLotId": "b", "event": "vehicle_entry", "plateNumber": format!("bad-{n}")}).to_string(),
                    _ => json!({"eventId": format!("bad-{n}"), "event": "vehicle_entry", "plateNumber": "X1"}).to_string(),
                };
                // The last kind goes to a lot that does not exist.
                let topic = if n % 4 == 3 {
                    "parking/nowhere/gate"
                } else {
                    "parking/a/gate"
                };
                (topic.to_owned(), body)
            }
        };
        messages.push((topic, payload));
    }

    let (first_half, second_half) = messages.split_at(messages.len() / 2);
    for (topic, payload) in first_half {
        publisher
            .publish(topic, QoS::AtLeastOnce, false, payload.clone())
            .await
            .unwrap();
    }
    // Killed while it works through them; the rest is published while it is away.
    // Shorter than wait_until's own minute, so a failure shows the server's log.
    let started = tokio::time::timeout(
        Duration::from_secs(50),
        wait_until(|| async { occupied(&http, &server.base, "a").await >= 500 }),
    )
    .await;
    assert!(
        started.is_ok(),
        "fewer than 500 entries stored within 50 s; the server's log:\n{}",
        server.log.lock().unwrap()
    );
    server.child.start_kill().unwrap();
    server.child.wait().await.unwrap();
    for (topic, payload) in second_half {
        publisher
            .publish(topic, QoS::AtLeastOnce, false, payload.clone())
            .await
            .unwrap();
    }
    let seen_before = first.await.unwrap();
    let last_id = seen_before.last().map(|(id, _)| id.clone());

    let server = start_server(&database_url, port).await;
    let second_stream = EventStream::new({
        let mut request = http.get(format!("{}/api/sse/dashboard?lots=a", server.base));
        if let Some(id) = &last_id {
            request = request.header("Last-Event-ID", id);
        }
        request.send().await.unwrap()
    });
    let want = usize::try_from(entries).unwrap() - seen_before.len();
    let second = tokio::spawn(collect(second_stream, want));

    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let mut dead = BTreeSet::new();
    loop {
        while let Ok(letter) = dead_letters.try_recv() {
            let letter: Value = serde_json::from_slice(&letter).unwrap();
            assert!(letter["error"]["code"].is_string(), "{letter}");
            let payload = letter["payload"].as_str().unwrap();
            let marker = payload
                .split("bad-")
                .nth(1)
                .unwrap()
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .unwrap();
            dead.insert(format!("bad-{marker}"));
        }
        let a = occupied(&http, &server.base, "a").await;
        let b = occupied(&http, &server.base, "b").await;
        if a == entries && b == last_count && dead == malformed {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "a: {a} of {entries}, b: {b} of {last_count}, dead letters: {} of {}",
            dead.len(),
            malformed.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Nothing more comes: every valid entry counted exactly once.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(occupied(&http, &server.base, "a").await, entries);

    // The open streams saw every entry once, in order, across the restart.
    let seen_after = second.await.unwrap();
    let counts: Vec<u64> = seen_before
        .iter()
        .chain(&seen_after)
        .map(|(_, n)| *n)
        .collect();
    assert_eq!(counts, (1..=entries).collect::<Vec<_>>());

    let ready: Value = http
        .get(format!("{}/readyz", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["checks"]["mqtt"], "ok", "{ready}");
    let metrics = http
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("parkstream_mqtt_connected 1"), "{metrics}");
}

pub(crate) async fn ready_mqtt(http: &reqwest::Client, base: &str) -> bool {
    let ready: Value = http
        .get(format!("{base}/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    ready["checks"]["mqtt"] == "ok"
}

pub(crate) async fn wait_until<F, Fut>(mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !condition().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "waited a minute in vain"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
