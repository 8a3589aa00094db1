//! Signed webhooks: endpoints registered over the API get every matching event, in order,
//! at least once, through failures of the receiver and crashes of the server, signed in the
//! Standard Webhooks format (checked by its reference library in Node too).

use std::time::Duration;

use parkstream_server::auth::Role;
use parkstream_server::webhooks::sign;
use serde_json::{json, Value};

use crate::helpers::{fresh_database_url, spawn_app_with, spawn_binary, TestApp};
use crate::webhook_receiver::{delivered_ids, node_verifier, Answer, Receiver, RETRY_PATIENCE};

async fn put_webhook(http: &reqwest::Client, base: &str, id: &str, body: Value) -> (u16, Value) {
    let response = http
        .put(format!("{base}/api/webhooks/{id}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn with_webhooks(
    allow_private: bool,
) -> impl FnOnce(&mut parkstream_server::config::ServeSettings) {
    move |s| {
        s.webhook_allow_private = allow_private;
        s.webhook_timeout = Duration::from_secs(1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_arrives_in_order_through_errors_timeouts_and_closed_connections() {
    let receiver =
        Receiver::start(&[Answer::Error500, Answer::Hang, Answer::Close], Answer::Ok).await;
    let app = spawn_app_with(with_webhooks(true)).await;
    app.put_lot("a", 100).await;
    let (status, created) = put_webhook(
        &app.http,
        &app.url(""),
        "ops",
        json!({"url": receiver.url, "description": "on-call"}),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    assert_eq!(created["status"], "enabled");
    // Shown once: never again.
    let shown = app.get_json("/api/webhooks/ops").await;
    assert!(shown.get("secret").is_none(), "{shown}");
    assert_eq!(shown["url"], receiver.url.as_str());
    let listed = app.get_json("/api/webhooks").await;
    assert!(listed[0].get("secret").is_none());
    // An update answers 200 without the secret, and keeps it.
    let (status, updated) = put_webhook(
        &app.http,
        &app.url(""),
        "ops",
        json!({"url": receiver.url, "description": "on-call, again"}),
    )
    .await;
    assert_eq!(status, 200);
    assert!(updated.get("secret").is_none());

    for occupied in 1..=5 {
        app.set_count("a", occupied).await;
    }
    let delivered = receiver.wait_delivered(5).await;
    let ids = delivered_ids(&delivered);
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "in order: {ids:?}");
    let counts: Vec<u64> = delivered
        .iter()
        .map(|r| r.json()["data"]["occupied"].as_u64().unwrap())
        .collect();
    assert_eq!(counts, [1, 2, 3, 4, 5]);
    for r in &delivered {
        let body = r.json();
        assert_eq!(body["type"], "capacity_update");
        assert!(body["timestamp"].as_str().unwrap().ends_with('Z'));
        let timestamp: i64 = r.timestamp.parse().unwrap();
        assert_eq!(
            r.signature,
            sign::signature(&secret, &r.id, timestamp, &r.body).unwrap()
        );
    }
    // The first event took four attempts: 500, a timeout, a closed connection, 200.
    let first = ids[0];
    let attempts: Vec<Answer> = receiver
        .seen()
        .iter()
        .filter(|r| r.id == first.to_string())
        .map(|r| r.answer)
        .collect();
    assert_eq!(
        attempts,
        [Answer::Error500, Answer::Hang, Answer::Close, Answer::Ok]
    );
    // Nothing was sent out of order: every request before the first success was the first event.
    let log = app
        .get_json("/api/webhooks/ops/deliveries?limit=1000")
        .await;
    let log = log.as_array().unwrap();
    let of_first: Vec<&Value> = log.iter().rev().filter(|d| d["eventId"] == first).collect();
    assert_eq!(of_first.len(), 4, "{log:?}");
    assert_eq!(of_first[0]["statusCode"], 500);
    assert_eq!(of_first[0]["attempt"], 1);
    assert_eq!(of_first[1]["error"], "timed out");
    assert!(of_first[2]["error"].is_string());
    assert!(of_first[2].get("statusCode").is_none());
    assert_eq!(of_first[3]["statusCode"], 200);
    assert_eq!(of_first[3]["attempt"], 4);
    assert!(of_first[3]["latencyMs"].is_u64());
    let bad_limit = app
        .http
        .get(app.url("/api/webhooks/ops/deliveries?limit=0"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad_limit.status(), 400);
    let limited = app.get_json("/api/webhooks/ops/deliveries?limit=2").await;
    assert_eq!(limited.as_array().unwrap().len(), 2);
    app.wait_for_metric("parkstream_webhook_outbox_pending", 0.0)
        .await;
    assert!(
        app.metric("parkstream_webhook_deliveries_total{result=\"delivered\"}")
            .await
            >= 5.0
    );
    assert!(
        app.metric("parkstream_webhook_deliveries_total{result=\"failed\"}")
            .await
            >= 3.0
    );

    let deleted = app
        .http
        .delete(app.url("/api/webhooks/ops"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let gone = app
        .http
        .get(app.url("/api/webhooks/ops"))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_stored_before_a_sigkill_are_delivered_after_the_restart() {
    let receiver = Receiver::start(&[], Answer::Error500).await;
    let dir = tempfile::tempdir().unwrap();
    let database_url = fresh_database_url(dir.path()).await;
    let args = [
        "--auth",
        "none",
        "--database-url",
        &database_url,
        "--webhook-allow-private",
        "--webhook-timeout",
        "1s",
    ];
    let mut server = spawn_binary(&args, &[]).await;
    let http = reqwest::Client::new();
    let base = server.base.clone();
    let lot = http
        .put(format!("{base}/api/lots/a"))
        .json(&json!({"name": "A", "totalSlots": 100}))
        .send()
        .await
        .unwrap();
    assert_eq!(lot.status(), 201);
    let (status, _) = put_webhook(&http, &base, "ops", json!({"url": receiver.url})).await;
    assert_eq!(status, 201);
    for occupied in 1..=10 {
        let answer = http
            .post(format!("{base}/api/capacity/update"))
            .json(&json!({"parkingLotId": "a", "occupied": occupied}))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
    }
    server.child.start_kill().unwrap(); // SIGKILL
    server.child.wait().await.unwrap();
    receiver.set_fallback(Answer::Ok);

    let _server = spawn_binary(&args, &[]).await;
    let delivered = receiver.wait_delivered(10).await;
    let counts: Vec<u64> = delivered
        .iter()
        .map(|r| r.json()["data"]["occupied"].as_u64().unwrap())
        .collect();
    assert_eq!(
        counts,
        (1..=10).collect::<Vec<_>>(),
        "every event, in order"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_rotation_deliveries_carry_both_signatures_which_the_reference_library_accepts() {
    let receiver = Receiver::start(&[], Answer::Ok).await;
    let app = spawn_app_with(with_webhooks(true)).await;
    app.put_lot("a", 100).await;
    let (_, created) =
        put_webhook(&app.http, &app.url(""), "ops", json!({"url": receiver.url})).await;
    let old = created["secret"].as_str().unwrap().to_owned();
    let rotated = app
        .http
        .post(app.url("/api/webhooks/ops/rotate-secret"))
        .send()
        .await
        .unwrap();
    assert_eq!(rotated.status(), 200);
    let rotated: Value = rotated.json().await.unwrap();
    let new = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(old, new);
    assert!(rotated["previousSecretExpiresAt"].is_string());

    app.set_count("a", 1).await;
    let delivered = receiver.wait_delivered(1).await;
    let r = &delivered[0];
    let timestamp: i64 = r.timestamp.parse().unwrap();
    let signatures: Vec<&str> = r.signature.split(' ').collect();
    assert_eq!(signatures.len(), 2, "{}", r.signature);
    assert!(signatures.contains(
        &sign::signature(&new, &r.id, timestamp, &r.body)
            .unwrap()
            .as_str()
    ));
    assert!(signatures.contains(
        &sign::signature(&old, &r.id, timestamp, &r.body)
            .unwrap()
            .as_str()
    ));

    // The Standard Webhooks reference library verifies with either secret, not with another.
    if let Some(verifier) = node_verifier() {
        assert!(verifier.verifies(&new, r));
        assert!(verifier.verifies(&old, r));
        assert!(!verifier.verifies(&sign::new_secret(), r));
    }
    app.stop().await;
}

#[tokio::test]
async fn bad_endpoints_are_refused_with_the_field_and_private_targets_need_the_flag() {
    let app = spawn_app_with(with_webhooks(false)).await;
    let base = app.url("");
    for (body, field) in [
        (json!({"url": "http://127.0.0.1:9/hook"}), "url"),
        (json!({"url": "http://localhost:9/hook"}), "url"),
        (json!({"url": "http://[::1]:9/hook"}), "url"),
        (json!({"url": "http://169.254.169.254/latest"}), "url"),
        (json!({"url": "http://10.0.0.1/hook"}), "url"),
        (json!({"url": "ftp://hooks.example.com/"}), "url"),
        (json!({"url": "not a url"}), "url"),
        (
            json!({"url": "https://93.184.216.34/", "types": ["parking"]}),
            "types",
        ),
        (
            json!({"url": "https://93.184.216.34/", "types": []}),
            "types",
        ),
        (
            json!({"url": "https://93.184.216.34/", "lots": ["a b"]}),
            "lots",
        ),
        (
            json!({"url": "https://93.184.216.34/", "description": "a\u{0}b"}),
            "description",
        ),
        (
            json!({"url": "https://93.184.216.34/", "description": "x".repeat(501)}),
            "description",
        ),
    ] {
        let (status, answer) = put_webhook(&app.http, &base, "w", body.clone()).await;
        assert_eq!(status, 422, "{body}: {answer}");
        assert_eq!(answer["error"]["field"], field, "{body}: {answer}");
    }
    // Nothing was stored.
    assert_eq!(app.get_json("/api/webhooks").await, json!([]));
    let (status, _) = put_webhook(
        &app.http,
        &base,
        "bad id!",
        json!({"url": "https://93.184.216.34/"}),
    )
    .await;
    assert_eq!(status, 422);
    for (method, path) in [
        (reqwest::Method::GET, "/api/webhooks/nope"),
        (reqwest::Method::DELETE, "/api/webhooks/nope"),
        (reqwest::Method::POST, "/api/webhooks/nope/rotate-secret"),
        (reqwest::Method::GET, "/api/webhooks/nope/deliveries"),
    ] {
        let answer = app
            .http
            .request(method.clone(), app.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 404, "{method} {path}");
        let body: Value = answer.json().await.unwrap();
        assert_eq!(body["error"]["code"], "not_found");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_target_saved_with_the_flag_is_refused_at_delivery_without_it() {
    let receiver = Receiver::start(&[], Answer::Ok).await;
    let app = spawn_app_with(with_webhooks(true)).await;
    app.put_lot("a", 100).await;
    let (status, _) =
        put_webhook(&app.http, &app.url(""), "ops", json!({"url": receiver.url})).await;
    assert_eq!(status, 201);
    let app = app.restart_with(|s| s.webhook_allow_private = false).await;
    app.set_count("a", 1).await;
    let deadline = tokio::time::Instant::now() + RETRY_PATIENCE;
    loop {
        let log = app.get_json("/api/webhooks/ops/deliveries").await;
        if let Some(error) = log[0]["error"].as_str() {
            assert!(error.contains("private"), "{error}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no attempt logged");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(receiver.seen().is_empty(), "nothing reached the receiver");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_get_only_the_types_and_lots_they_asked_for() {
    let alerts = Receiver::start(&[], Answer::Ok).await;
    let lot_b = Receiver::start(&[], Answer::Ok).await;
    let app = spawn_app_with(with_webhooks(true)).await;
    let base = app.url("");
    app.put_lot("a", 10).await;
    app.put_lot("b", 10).await;
    let (status, _) = put_webhook(
        &app.http,
        &base,
        "alerts",
        json!({"url": alerts.url, "types": ["alert"]}),
    )
    .await;
    assert_eq!(status, 201);
    let (status, shown) = put_webhook(
        &app.http,
        &base,
        "b",
        json!({"url": lot_b.url, "lots": ["b"]}),
    )
    .await;
    assert_eq!(status, 201);
    assert_eq!(shown["lots"], json!(["b"]));
    app.set_count("a", 1).await;
    app.set_count("b", 2).await;
    app.set_count("a", 10).await; // a capacity alert in lot a
    app.set_count("b", 3).await;

    let got = lot_b.wait_delivered(2).await;
    let counts: Vec<u64> = got
        .iter()
        .map(|r| {
            let body = r.json();
            assert_eq!(body["data"]["parkingLotId"], "b", "{body}");
            body["data"]["occupied"].as_u64().unwrap()
        })
        .collect();
    assert_eq!(counts, [2, 3]);
    let got = alerts.wait_delivered(1).await;
    assert!(got.iter().all(|r| r.json()["type"] == "alert"));
    assert_eq!(got[0].json()["data"]["parkingLotId"], "a");
    // Nothing else arrives (the outbox is empty once both are through).
    app.wait_for_metric("parkstream_webhook_outbox_pending", 0.0)
        .await;
    assert!(lot_b.seen().len() == 2);
    assert!(alerts.seen().iter().all(|r| r.json()["type"] == "alert"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_failing_past_the_horizon_is_disabled_until_saved_again() {
    let receiver = Receiver::start(&[], Answer::Error500).await;
    let app = spawn_app_with(|s| {
        with_webhooks(true)(s);
        s.webhook_retry_horizon = Duration::from_secs(2);
    })
    .await;
    app.put_lot("a", 100).await;
    let (_, _) = put_webhook(&app.http, &app.url(""), "ops", json!({"url": receiver.url})).await;
    app.set_count("a", 1).await;
    app.set_count("a", 2).await;
    let deadline = tokio::time::Instant::now() + RETRY_PATIENCE;
    loop {
        let shown = app.get_json("/api/webhooks/ops").await;
        if shown["status"] == "disabled" {
            assert!(shown["disabledAt"].is_string());
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "never disabled");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        app.metric("parkstream_webhook_deliveries_total{result=\"abandoned\"}")
            .await,
        1.0
    );
    // Only the first event was ever tried: the second waited behind it.
    assert!(receiver
        .seen()
        .iter()
        .all(|r| r.json()["data"]["occupied"] == 1));
    app.wait_for_metric("parkstream_webhook_outbox_pending", 0.0)
        .await;
    // Saving it again enables it; new events flow.
    receiver.set_fallback(Answer::Ok);
    let (status, shown) =
        put_webhook(&app.http, &app.url(""), "ops", json!({"url": receiver.url})).await;
    assert_eq!(status, 200);
    assert_eq!(shown["status"], "enabled");
    app.set_count("a", 3).await;
    let delivered = receiver.wait_delivered(1).await;
    assert_eq!(delivered[0].json()["data"]["occupied"], 3);
    app.stop().await;
}

#[tokio::test]
async fn only_administrators_manage_webhooks_and_others_hear_403_before_the_body() {
    let app: TestApp = crate::auth::secured().await;
    for role in [Role::Operator, Role::Viewer, Role::Monitor] {
        let token = crate::auth::token(role);
        let (status, _) = crate::auth::get(&app, "/api/webhooks", Some(&token)).await;
        assert_eq!(status, 403, "{role:?}");
        // A body that is not even JSON: refused for the role first.
        let answer = app
            .http
            .put(app.url("/api/webhooks/w"))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 403, "{role:?}");
    }
    let admin = crate::auth::token(Role::Admin);
    let (status, _) = crate::auth::get(&app, "/api/webhooks", Some(&admin)).await;
    assert_eq!(status, 200);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_cluster_each_event_is_sent_by_one_instance_in_order() {
    let Some(meeting) = crate::cluster::Meeting::on_local_services().await else {
        return;
    };
    let receiver = Receiver::start(&[Answer::Error500, Answer::Error500], Answer::Ok).await;
    let a = meeting.instance_with(with_webhooks(true)).await;
    let b = meeting.instance_with(with_webhooks(true)).await;
    a.put_lot("a", 100).await;
    let (status, _) = put_webhook(&a.http, &a.url(""), "ops", json!({"url": receiver.url})).await;
    assert_eq!(status, 201);
    // Written through both instances; both run the delivery task.
    for occupied in 1..=20 {
        let app = if occupied % 2 == 0 { &a } else { &b };
        app.set_count("a", occupied).await;
    }
    let delivered = receiver.wait_delivered(20).await;
    let counts: Vec<u64> = delivered
        .iter()
        .map(|r| r.json()["data"]["occupied"].as_u64().unwrap())
        .collect();
    assert_eq!(
        counts,
        (1..=20).collect::<Vec<_>>(),
        "every event, in order"
    );
    // Sent once each: the only repeats are the first event's two failed attempts.
    assert_eq!(receiver.seen().len(), 22, "{:?}", receiver.seen());
    a.stop().await;
    b.stop().await;
}
