//! Scale-out (README, "Several instances"): several instances on one PostgreSQL database and one Redis Stream.
//!
//! These need the machine's PostgreSQL (`PARKSTREAM_TEST_POSTGRES`, default
//! `postgres://postgres@127.0.0.1:5432/test`) and Redis (`PARKSTREAM_TEST_REDIS`, default
//! `redis://127.0.0.1:6379`); the Redis restart test starts its own `redis-server`. Outside
//! CI a missing service skips a test with a message; in CI (`CI=true`) it fails it.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{create_postgres_database, spawn_app_with, EventStream, TestApp, PATIENCE};

const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";
const DEFAULT_REDIS: &str = "redis://127.0.0.1:6379";

/// The services a cluster needs, or `None` (outside CI) when one is missing.
pub(crate) async fn services() -> Option<(String, String)> {
    let postgres = std::env::var("PARKSTREAM_TEST_POSTGRES")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| DEFAULT_POSTGRES.to_owned());
    let redis = std::env::var("PARKSTREAM_TEST_REDIS")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| DEFAULT_REDIS.to_owned());
    let pg_up = {
        use sqlx::Connection;
        sqlx::PgConnection::connect(&postgres).await.is_ok()
    };
    let redis_up = redis_answers(&redis).await;
    if pg_up && redis_up {
        return Some((postgres, redis));
    }
    let missing = format!("PostgreSQL at {postgres} up: {pg_up}; Redis at {redis} up: {redis_up}");
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "the cluster tests need both services in CI: {missing}"
    );
    eprintln!("skipping a cluster test: {missing}");
    None
}

pub(crate) async fn redis_answers(url: &str) -> bool {
    let Ok(client) = redis::Client::open(url) else {
        return false;
    };
    let Ok(Ok(mut conn)) = tokio::time::timeout(
        Duration::from_secs(2),
        client.get_multiplexed_async_connection(),
    )
    .await
    else {
        return false;
    };
    redis::cmd("PING")
        .query_async::<String>(&mut conn)
        .await
        .is_ok()
}

/// Where a cluster's instances meet: one new database and one new stream key.
pub(crate) struct Meeting {
    database_url: String,
    redis_url: String,
    stream: String,
}

impl Meeting {
    /// A meeting on this machine's PostgreSQL and Redis, or `None` (outside CI) without them.
    pub(crate) async fn on_local_services() -> Option<Self> {
        let (postgres, redis) = services().await?;
        Some(Self::new(&postgres, &redis).await)
    }

    pub(crate) async fn new(postgres: &str, redis_url: &str) -> Self {
        Self {
            database_url: create_postgres_database(postgres).await,
            redis_url: redis_url.to_owned(),
            stream: format!("parkstream:test:{}", uuid::Uuid::new_v4().simple()),
        }
    }

    /// Three instances.
    async fn three(&self) -> [TestApp; 3] {
        [
            self.instance().await,
            self.instance().await,
            self.instance().await,
        ]
    }

    /// Starts one instance (in this process, on its own port).
    pub(crate) async fn instance(&self) -> TestApp {
        self.instance_with(|_| {}).await
    }

    pub(crate) async fn instance_with(
        &self,
        configure: impl FnOnce(&mut parkstream_server::config::ServeSettings),
    ) -> TestApp {
        spawn_app_with(|s| {
            s.database_url = self.database_url.clone();
            s.redis_url = Some(self.redis_url.clone());
            s.redis_stream = self.stream.clone();
            configure(s);
        })
        .await
    }

    /// The command-line flags of an instance started as a process.
    pub(crate) fn args(&self) -> Vec<String> {
        [
            "--auth",
            "none",
            "--database-url",
            &self.database_url,
            "--redis-url",
            &self.redis_url,
            "--redis-stream",
            &self.stream,
        ]
        .map(str::to_owned)
        .to_vec()
    }
}

/// The next `n` capacity updates' ids and `occupied` values (skipping other events).
pub(crate) async fn next_updates(stream: &mut EventStream, n: usize) -> Vec<(u64, u64)> {
    let mut updates = Vec::with_capacity(n);
    while updates.len() < n {
        let event = stream.next_event().await;
        if event.event == "capacity_update" {
            let data: Value = serde_json::from_str(&event.data).unwrap();
            let id = event
                .id
                .as_deref()
                .expect("an id")
                .parse()
                .expect("numeric");
            updates.push((id, data["occupied"].as_u64().unwrap()));
        }
    }
    updates
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_published_through_each_of_three_instances_reach_every_subscriber_once_in_one_order()
{
    let Some(meeting) = Meeting::on_local_services().await else {
        return;
    };
    let nodes = meeting.three().await;
    nodes[0].put_lot("a", 1_000).await;
    for node in &nodes {
        knows_lot(node, "a").await;
    }
    let mut streams = Vec::new();
    for node in &nodes {
        let mut stream = node.subscribe("lots=a").await;
        stream.connected().await;
        streams.push(stream);
    }

    // Ten counts through each instance, all at once.
    let per_node = 10u32;
    let mut writers = tokio::task::JoinSet::new();
    for (n, node) in nodes.iter().enumerate() {
        let (http, url) = (node.http.clone(), node.url("/api/capacity/update"));
        writers.spawn(async move {
            for i in 0..per_node {
                let occupied = (n as u32) * 100 + i + 1;
                let response = http
                    .post(&url)
                    .json(&json!({"parkingLotId": "a", "occupied": occupied}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200);
            }
        });
    }
    while let Some(done) = writers.join_next().await {
        done.unwrap();
    }

    let total = 3 * per_node as usize;
    let mut seen = Vec::new();
    for stream in &mut streams {
        seen.push(next_updates(stream, total).await);
    }
    assert_eq!(
        seen[0], seen[1],
        "instances 1 and 2 delivered the same sequence"
    );
    assert_eq!(
        seen[0], seen[2],
        "instances 1 and 3 delivered the same sequence"
    );
    let ids: Vec<u64> = seen[0].iter().map(|(id, _)| *id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids increase: {ids:?}");
    let values: BTreeSet<u64> = seen[0].iter().map(|(_, v)| *v).collect();
    assert_eq!(values.len(), total, "every published count once");
    for stream in &mut streams {
        stream.expect_silence(Duration::from_millis(300)).await;
    }
    // Each instance's own counts arrive in the order it sent them.
    for n in 0..3u64 {
        let mine: Vec<u64> = seen[0]
            .iter()
            .map(|(_, v)| *v)
            .filter(|v| v / 100 == n)
            .collect();
        assert_eq!(mine, (n * 100 + 1..=n * 100 + 10).collect::<Vec<_>>());
    }
    // Every instance comes to answer the same state, with the newest id (its read model is
    // refreshed just after its stream delivered the events).
    let last = *seen[0].last().unwrap();
    for node in &nodes {
        wait_until(|| async {
            let response = node.http.get(node.url("/api/lots/a")).send().await.unwrap();
            let id = response.headers()["last-event-id"]
                .to_str()
                .unwrap()
                .to_owned();
            let lot: Value = response.json().await.unwrap();
            id == last.0.to_string() && lot["occupied"] == last.1
        })
        .await;
    }
    stop_all(nodes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_moves_to_another_instance_with_its_last_id_misses_nothing() {
    let Some(meeting) = Meeting::on_local_services().await else {
        return;
    };
    let [a, b, c] = meeting.three().await;
    a.put_lot("a", 1_000).await;
    let mut on_a = a.subscribe("lots=a").await;
    on_a.connected().await;
    for occupied in 1..=5 {
        b.set_count("a", occupied).await;
    }
    let first = next_updates(&mut on_a, 5).await;
    let last_id = first.last().unwrap().0.to_string();
    drop(on_a);
    for occupied in 6..=10 {
        b.set_count("a", occupied).await;
    }
    let mut on_c = c.subscribe_from("lots=a", Some(&last_id)).await;
    assert_eq!(on_c.connected().await["resumed"], true);
    let rest = next_updates(&mut on_c, 5).await;
    assert_eq!(
        rest.iter().map(|(_, v)| *v).collect::<Vec<_>>(),
        vec![6, 7, 8, 9, 10]
    );
    assert!(rest[0].0 > first[4].0);
    on_c.expect_silence(Duration::from_millis(300)).await;
    stop_all([a, b, c]).await;
}

async fn gate_entry(node: &TestApp, plate: &str) -> reqwest::StatusCode {
    node.http
        .post(node.url("/api/monitor/gate"))
        .json(&json!({"parkingLotId": "a", "gateId": "north", "event": "vehicle_entry", "plateNumber": plate}))
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_gate_events_through_three_instances_count_exactly_and_raise_one_alert() {
    let Some(meeting) = Meeting::on_local_services().await else {
        return;
    };
    let nodes = meeting.three().await;
    nodes[0].put_lot("a", 40).await;
    let mut entries = tokio::task::JoinSet::new();
    for (n, node) in nodes.iter().enumerate() {
        for i in 0..20 {
            let (http, url) = (node.http.clone(), node.url("/api/monitor/gate"));
            entries.spawn(async move {
                http.post(url)
                    .json(&json!({"parkingLotId": "a", "gateId": "north",
                                  "event": "vehicle_entry", "plateNumber": format!("KA{n}X{i:04}")}))
                    .send()
                    .await
                    .unwrap()
                    .status()
            });
        }
    }
    while let Some(status) = entries.join_next().await {
        assert_eq!(status.unwrap(), 200);
    }
    for node in &nodes {
        wait_until(|| async { node.get_json("/api/lots/a").await["occupied"] == 60 }).await;
    }
    let alerts = nodes[1].get_json("/api/alerts?lot=a").await;
    let alerts = alerts.as_array().expect("a list");
    let of_type = |t: &str| alerts.iter().filter(|a| a["type"] == t).count();
    assert_eq!(of_type("capacity_breach"), 1, "{alerts:?}");
    assert_eq!(of_type("capacity_warning"), 1, "{alerts:?}");
    let breach = alerts
        .iter()
        .find(|a| a["type"] == "capacity_breach")
        .unwrap();
    assert_eq!(breach["severity"], "critical");
    assert_eq!(gate_entry(&nodes[2], "KA9Z0001").await, 200);
    // The instance that answered already shows its write; the others as soon as the event
    // reached them.
    assert_eq!(nodes[2].get_json("/api/lots/a").await["occupied"], 61);
    wait_until(|| async { nodes[0].get_json("/api/lots/a").await["occupied"] == 61 }).await;
    // Each count was rolled up once, by the instance that committed it: the creation's 0 and
    // the 61 entries.
    for step in ["1m", "1h"] {
        let rows = crate::occupancy_history::buckets(&nodes[1], "a", step).await;
        let (min, max, last, samples, _) = crate::occupancy_history::summary(&rows);
        assert_eq!(
            (min, max, last, samples),
            (0, 61, 61, 62),
            "{step}: {rows:?}"
        );
    }
    stop_all(nodes).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_camera_raises_one_alert_in_the_whole_cluster() {
    let Some(meeting) = Meeting::on_local_services().await else {
        return;
    };
    let fast = |s: &mut parkstream_server::config::ServeSettings| {
        s.camera_timeout = Duration::from_millis(300);
    };
    let nodes = [
        meeting.instance_with(fast).await,
        meeting.instance_with(fast).await,
        meeting.instance_with(fast).await,
    ];
    nodes[0].put_lot("a", 100).await;
    let mut alerts = nodes[2].subscribe("types=alert").await;
    alerts.connected().await;
    let response = nodes[1]
        .http
        .post(nodes[1].url("/api/monitor/lot"))
        .json(&json!({"parkingLotId": "a", "cameraId": "cam-1", "occupied": 10}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let (kind, offline) = alerts.next_data().await;
    assert_eq!(
        (kind.as_str(), offline["type"].as_str()),
        ("alert", Some("camera_offline"))
    );
    alerts.expect_silence(Duration::from_secs(1)).await;
    let listed = nodes[0].get_json("/api/alerts?lot=a").await;
    let offline = listed
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["type"] == "camera_offline")
        .count();
    assert_eq!(offline, 1, "{listed}");
    stop_all(nodes).await;
}

pub(crate) async fn stop_all(nodes: impl IntoIterator<Item = TestApp>) {
    for node in nodes {
        node.stop().await;
    }
}

/// Waits until `node` serves lot `id`: its creation has gone round the Redis stream, and a
/// follower publishes what it reads before it refreshes the lots it serves, so the creation
/// event is behind any stream opened from then on.
pub(crate) async fn knows_lot(node: &TestApp, id: &str) {
    let path = format!("/api/lots/{id}");
    wait_until(|| async {
        node.http
            .get(node.url(&path))
            .send()
            .await
            .unwrap()
            .status()
            == 200
    })
    .await;
}

/// Polls `condition` until it holds, failing after [`PATIENCE`].
pub(crate) async fn wait_until<F, Fut>(mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !condition().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the condition did not hold in time"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
