//! A cluster under failure: Redis restarting under load, an instance killed while clients
//! read from it. Needs the same services as `cluster.rs`.

use std::time::Duration;

use parkstream_protocol::sse::SseItem;
use serde_json::{json, Value};

use crate::cluster::{knows_lot, next_updates, redis_answers, services, wait_until, Meeting};
use crate::helpers::{spawn_binary, EventStream, PATIENCE};

/// A `redis-server` of the test's own, on a spare port, that it can stop and start again.
struct OwnRedis {
    port: u16,
    child: Option<tokio::process::Child>,
}

impl OwnRedis {
    async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut redis = Self { port, child: None };
        redis.restart().await;
        redis
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    async fn restart(&mut self) {
        let child = tokio::process::Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server is installed (scripts/setup.sh)");
        self.child = Some(child);
        let url = self.url();
        wait_until(|| redis_answers(&url)).await;
    }

    async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_redis_restarts_writes_fail_cleanly_and_subscribers_get_every_acknowledged_event() {
    let Some((postgres, _)) = services().await else {
        return;
    };
    let mut redis = OwnRedis::start().await;
    let meeting = Meeting::new(&postgres, &redis.url()).await;
    let (a, b) = (meeting.instance().await, meeting.instance().await);
    a.put_lot("a", 100_000).await;
    // Subscribing before the lot's creation reached b would add its count of 0 to the stream.
    knows_lot(&b, "a").await;
    let mut on_b = b.subscribe("lots=a").await;
    on_b.connected().await;

    let mut acknowledged = Vec::new();
    let mut refused = 0;
    let post = |occupied: u64| {
        let (http, url) = (a.http.clone(), a.url("/api/capacity/update"));
        async move {
            let response = http
                .post(url)
                .json(&json!({"parkingLotId": "a", "occupied": occupied}))
                .send()
                .await
                .unwrap();
            let status = response.status();
            let body: Value = response.json().await.unwrap();
            (status, body)
        }
    };
    let mut occupied = 0;
    for _ in 0..5 {
        occupied += 1;
        assert_eq!(post(occupied).await.0, 200);
        acknowledged.push(occupied);
    }

    redis.stop().await;
    // Writes are refused (once the failure is seen), never acknowledged and lost.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while refused < 3 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "writes keep succeeding without Redis"
        );
        occupied += 1;
        let (status, body) = post(occupied).await;
        match status.as_u16() {
            200 => acknowledged.push(occupied),
            503 => {
                refused += 1;
                assert!(
                    body["error"]["code"].is_string(),
                    "the API's error shape: {body}"
                );
            }
            other => panic!("unexpected status {other}: {body}"),
        }
    }
    wait_until(|| async {
        let response = a.http.get(a.url("/readyz")).send().await.unwrap();
        response.status() == 503
    })
    .await;
    let ready: Value = a
        .http
        .get(a.url("/readyz"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["checks"]["redis"], "unreachable");

    redis.restart().await;
    // The instances recover by themselves.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "writes did not recover"
        );
        occupied += 1;
        if post(occupied).await.0 == 200 {
            acknowledged.push(occupied);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for _ in 0..5 {
        occupied += 1;
        assert_eq!(post(occupied).await.0, 200);
        acknowledged.push(occupied);
    }
    wait_until(|| async { b.http.get(b.url("/readyz")).send().await.unwrap().status() == 200 })
        .await;

    // Every acknowledged count reaches the subscriber on the other instance, in order, once
    // (or the stream says `reset`: the client would reload).
    let mut received = Vec::new();
    while received.last() != acknowledged.last() {
        match on_b.next_item().await.expect("the stream stays open") {
            SseItem::Event(e) if e.event == "reset" => panic!("got a reset; nothing was lost here"),
            SseItem::Event(e) if e.event == "capacity_update" => {
                let data: Value = serde_json::from_str(&e.data).unwrap();
                received.push(data["occupied"].as_u64().unwrap());
            }
            _ => {}
        }
    }
    assert_eq!(
        received, acknowledged,
        "exactly the acknowledged counts, in order"
    );
    a.stop().await;
    b.stop().await;
    redis.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_of_a_killed_instance_resume_on_another() {
    let Some(meeting) = Meeting::on_local_services().await else {
        return;
    };
    let args = meeting.args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut doomed = spawn_binary(&args, &[]).await;
    let survivor = spawn_binary(&args, &[]).await;
    let http = reqwest::Client::new();
    let put = http
        .put(format!("{}/api/lots/a", survivor.base))
        .json(&json!({"name": "A", "totalSlots": 1000}))
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success());
    let publish = |occupied: u64| {
        let (http, url) = (
            http.clone(),
            format!("{}/api/capacity/update", survivor.base),
        );
        async move {
            let response = http
                .post(url)
                .json(&json!({"parkingLotId": "a", "occupied": occupied}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
        }
    };

    let response = http
        .get(format!("{}/api/sse/dashboard?lots=a", doomed.base))
        .send()
        .await
        .unwrap();
    let mut stream = EventStream::new(response);
    stream.connected().await;
    for occupied in 1..=3 {
        publish(occupied).await;
    }
    let seen = next_updates(&mut stream, 3).await;
    doomed.child.kill().await.unwrap();
    stream.expect_end().await;
    for occupied in 4..=6 {
        publish(occupied).await;
    }
    let last = seen.last().unwrap().0.to_string();
    let response = http
        .get(format!("{}/api/sse/dashboard?lots=a", survivor.base))
        .header("Last-Event-ID", &last)
        .send()
        .await
        .unwrap();
    let mut resumed = EventStream::new(response);
    assert_eq!(resumed.connected().await["resumed"], true);
    publish(7).await;
    let rest = next_updates(&mut resumed, 4).await;
    assert_eq!(
        rest.iter().map(|(_, v)| *v).collect::<Vec<_>>(),
        vec![4, 5, 6, 7]
    );
}
