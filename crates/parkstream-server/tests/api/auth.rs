//! Access control (docs/protocol.md, "Access"): one test per denial and per grant, over HTTP against the
//! real server.

use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use parkstream_server::auth::{mint, Claims, Role, Secret};
use parkstream_server::config::AuthMode;
use serde_json::{json, Value};

use crate::helpers::{fresh_database_url, spawn_app_with, spawn_binary, TestApp};

const SECRET: &str = "test-secret-0123456789abcdef";
const RS256_PRIVATE: &[u8] = include_bytes!("../fixtures/rs256.key.pem");
const RS256_PUBLIC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/rs256.pub.pem");
const ES256_PRIVATE: &[u8] = include_bytes!("../fixtures/es256.key.pem");
const ES256_PUBLIC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/es256.pub.pem");

async fn secured() -> TestApp {
    spawn_app_with(|s| {
        s.auth = AuthMode::Jwt;
        s.jwt_secret = Some(Secret::new(SECRET));
    })
    .await
}

fn token(role: Role) -> String {
    mint(
        SECRET.as_bytes(),
        "test",
        role,
        None,
        None,
        Duration::from_secs(600),
    )
    .unwrap()
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn claims(role: Role, exp: u64, nbf: Option<u64>) -> Claims {
    Claims {
        sub: "test".into(),
        role,
        contractor_id: None,
        lots: None,
        exp,
        nbf,
        iat: None,
    }
}

fn signed(claims: &Claims, algorithm: Algorithm, key: &EncodingKey) -> String {
    jsonwebtoken::encode(&Header::new(algorithm), claims, key).unwrap()
}

/// GET `path` with a bearer token (or none); answers the status and body.
async fn get(app: &TestApp, path: &str, token: Option<&str>) -> (u16, Value) {
    let mut request = app.http.get(app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn post(app: &TestApp, path: &str, token: &str, body: Value) -> u16 {
    app.http
        .post(app.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn without_credentials_every_protected_endpoint_answers_401() {
    let app = secured().await;
    for path in [
        "/api/lots",
        "/api/alerts",
        "/api/violations",
        "/api/contractors",
        "/api/sse/dashboard",
        "/api/history/occupancy",
    ] {
        let response = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 401, "{path}");
        assert!(response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer"));
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "unauthorized", "{path}");
    }
    let response = app
        .http
        .post(app.url("/api/monitor/gate"))
        .json(&json!({"parkingLotId": "a", "event": "vehicle_entry", "plateNumber": "P1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    for open in [
        "/healthz",
        "/readyz",
        "/api/openapi.json",
        "/",
        "/client/sse-client.js",
    ] {
        let response = app.http.get(app.url(open)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{open} is public");
    }
    app.stop().await;
}

#[tokio::test]
async fn expired_premature_forged_and_unsigned_tokens_answer_401() {
    let app = secured().await;
    let key = EncodingKey::from_secret(SECRET.as_bytes());
    let expired = signed(
        &claims(Role::Admin, now() - 120, None),
        Algorithm::HS256,
        &key,
    );
    let premature = signed(
        &claims(Role::Admin, now() + 600, Some(now() + 120)),
        Algorithm::HS256,
        &key,
    );
    let forged = signed(
        &claims(Role::Admin, now() + 600, None),
        Algorithm::HS256,
        &EncodingKey::from_secret(b"someone-elses-secret-entirely"),
    );
    // "alg": "none", no signature.
    use base64_url_free::encode;
    let unsigned = format!(
        "{}.{}.",
        encode(br#"{"alg":"none","typ":"JWT"}"#),
        encode(
            serde_json::to_string(&claims(Role::Admin, now() + 600, None))
                .unwrap()
                .as_bytes()
        )
    );
    let hs512 = signed(
        &claims(Role::Admin, now() + 600, None),
        Algorithm::HS512,
        &key,
    );
    for (what, bad) in [
        ("expired", expired),
        ("not yet valid", premature),
        ("wrong signature", forged),
        ("alg none", unsigned),
        ("other algorithm", hs512),
        ("garbage", "abc.def.ghi".into()),
    ] {
        let (status, body) = get(&app, "/api/lots", Some(&bad)).await;
        assert_eq!(status, 401, "{what}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(!message.contains(&bad), "the token is not echoed");
    }
    // Within the leeway an expiry is still accepted.
    let just_expired = signed(
        &claims(Role::Viewer, now() - 5, None),
        Algorithm::HS256,
        &key,
    );
    assert_eq!(get(&app, "/api/lots", Some(&just_expired)).await.0, 200);
    app.stop().await;
}

/// Base64url without padding, as JWT segments are (to hand-craft an unsigned token).
mod base64_url_free {
    pub fn encode(bytes: &[u8]) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b))
                << (8 * (3 - chunk.len()));
            for i in 0..=chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        out
    }
}

#[tokio::test]
async fn a_public_key_server_accepts_its_algorithm_and_refuses_hs_rs_confusion() {
    let app = spawn_app_with(|s| {
        s.auth = AuthMode::Jwt;
        s.jwt_public_key = Some(RS256_PUBLIC.into());
    })
    .await;
    let good = signed(
        &claims(Role::Viewer, now() + 600, None),
        Algorithm::RS256,
        &EncodingKey::from_rsa_pem(RS256_PRIVATE).unwrap(),
    );
    assert_eq!(get(&app, "/api/lots", Some(&good)).await.0, 200);
    // The classic confusion: HS256 "signed" with the public key as the shared secret.
    let public_pem = std::fs::read(RS256_PUBLIC).unwrap();
    let confused = signed(
        &claims(Role::Admin, now() + 600, None),
        Algorithm::HS256,
        &EncodingKey::from_secret(&public_pem),
    );
    assert_eq!(get(&app, "/api/lots", Some(&confused)).await.0, 401);
    app.stop().await;

    let app = spawn_app_with(|s| {
        s.auth = AuthMode::Jwt;
        s.jwt_public_key = Some(ES256_PUBLIC.into());
        s.jwt_algorithm = parkstream_server::auth::PublicKeyAlgorithm::Es256;
    })
    .await;
    let es = signed(
        &claims(Role::Viewer, now() + 600, None),
        Algorithm::ES256,
        &EncodingKey::from_ec_pem(ES256_PRIVATE).unwrap(),
    );
    assert_eq!(get(&app, "/api/lots", Some(&es)).await.0, 200);
    assert_eq!(
        get(&app, "/api/lots", Some(&good)).await.0,
        401,
        "RS256 on an ES256 server"
    );
    app.stop().await;
}

#[tokio::test]
async fn each_role_may_do_what_the_spec_grants_and_nothing_more() {
    let app = secured().await;
    let (admin, operator, viewer, monitor) = (
        token(Role::Admin),
        token(Role::Operator),
        token(Role::Viewer),
        token(Role::Monitor),
    );
    let lot = json!({"name": "A", "totalSlots": 10});
    let put = |token: &str| {
        app.http
            .put(app.url("/api/lots/a"))
            .bearer_auth(token)
            .json(&lot)
            .send()
    };
    assert_eq!(
        put(&operator).await.unwrap().status(),
        403,
        "only admins create lots"
    );
    assert_eq!(put(&admin).await.unwrap().status(), 201);
    let entry = json!({"parkingLotId": "a", "event": "vehicle_entry", "plateNumber": "P1"});
    assert_eq!(
        post(&app, "/api/monitor/gate", &monitor, entry.clone()).await,
        200,
        "monitors ingest"
    );
    assert_eq!(
        post(&app, "/api/monitor/gate", &viewer, entry).await,
        403,
        "viewers do not"
    );
    assert_eq!(
        get(&app, "/api/alerts", Some(&monitor)).await.0,
        403,
        "monitors cannot read alerts"
    );
    assert_eq!(get(&app, "/api/lots", Some(&monitor)).await.0, 403);
    assert_eq!(get(&app, "/api/alerts", Some(&viewer)).await.0, 200);
    let (status, body) = get(&app, "/api/contractors", Some(&operator)).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );

    // Drive the lot full so an alert exists.
    for n in 2..=9 {
        let gate =
            json!({"parkingLotId": "a", "event": "vehicle_entry", "plateNumber": format!("P{n}")});
        assert_eq!(post(&app, "/api/monitor/gate", &monitor, gate).await, 200);
    }
    let (_, alerts) = get(&app, "/api/alerts?status=active", Some(&viewer)).await;
    let id = alerts[0]["_id"].as_str().unwrap();
    let ack = format!("/api/alerts/{id}/acknowledge");
    assert_eq!(
        post(&app, &ack, &viewer, json!({})).await,
        403,
        "viewers cannot acknowledge"
    );
    assert_eq!(post(&app, &ack, &monitor, json!({})).await, 403);
    assert_eq!(post(&app, &ack, &operator, json!({})).await, 200);
    app.stop().await;
}

#[tokio::test]
async fn tokens_are_accepted_from_the_query_and_the_cookie() {
    let app = secured().await;
    let viewer = token(Role::Viewer);
    let by_query = app
        .http
        .get(app.url(&format!("/api/lots?access_token={viewer}")))
        .send()
        .await
        .unwrap();
    assert_eq!(by_query.status(), 200);
    let by_cookie = app
        .http
        .get(app.url("/api/lots"))
        .header("cookie", format!("theme=dark; parkstream_token={viewer}"))
        .send()
        .await
        .unwrap();
    assert_eq!(by_cookie.status(), 200);
    let stream = app
        .http
        .get(app.url(&format!("/api/sse/dashboard?access_token={viewer}")))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    app.stop().await;
}

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

fn contractor_token(contractor: &str) -> String {
    mint(
        SECRET.as_bytes(),
        contractor,
        Role::Contractor,
        Some(contractor),
        None,
        Duration::from_secs(600),
    )
    .unwrap()
}

#[tokio::test]
async fn a_contractor_sees_only_its_lots_and_its_own_violations_without_others_plates() {
    let app = secured().await;
    let admin = token(Role::Admin);
    for lot in ["depot", "north"] {
        app.create_lot_as(&admin, lot, 50).await;
    }
    for (id, allocated, plates) in [("acme", 1, vec!["A1", "A2"]), ("zen", 5, vec!["Z1"])] {
        let body = json!({"name": id, "allocations": [{"parkingLotId": "depot", "allocatedCapacity": allocated}], "plates": plates});
        let response = app
            .http
            .put(app.url(&format!("/api/contractors/{id}")))
            .bearer_auth(&admin)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
    }
    let (acme, zen) = (contractor_token("acme"), contractor_token("zen"));
    let mut acme_stream = app.subscribe(&format!("access_token={acme}")).await;
    let mut zen_stream = app.subscribe(&format!("access_token={zen}")).await;
    acme_stream.connected().await;
    zen_stream.connected().await;

    let gate = |lot: &str, plate: &str| json!({"parkingLotId": lot, "event": "vehicle_entry", "plateNumber": plate});
    for (lot, plate) in [
        ("north", "N1"),
        ("depot", "A1"),
        ("depot", "Z1"),
        ("depot", "A2"),
        ("depot", "X1"),
    ] {
        assert_eq!(
            post(&app, "/api/monitor/gate", &admin, gate(lot, plate)).await,
            200
        );
    }

    // Acme's stream: depot updates only, its own plates shown, others hidden; its own
    // violation and alert; nothing of the unregistered car's violation or of North.
    let mut seen = Vec::new();
    while seen.len() < 6 {
        let (kind, data) = acme_stream.next_data().await;
        let label = match kind.as_str() {
            "capacity_update" => format!(
                "update {} {}",
                data["parkingLotId"].as_str().unwrap(),
                data["plateNumber"].as_str().unwrap_or("-")
            ),
            "violation" => format!(
                "violation {} {}",
                data["violationType"].as_str().unwrap(),
                data["contractorId"].as_str().unwrap_or("-")
            ),
            "alert" => format!(
                "alert {} {}",
                data["type"].as_str().unwrap(),
                data["contractorId"].as_str().unwrap_or("-")
            ),
            other => other.to_owned(),
        };
        seen.push(label);
    }
    assert_eq!(
        seen,
        [
            "update depot A1",
            "update depot -",
            "update depot A2",
            "violation capacity_breach acme",
            "alert violation_detected acme",
            "update depot -",
        ]
    );
    acme_stream.expect_silence(Duration::from_millis(200)).await;

    // Zen's stream: the same updates with Acme's plates hidden, and nothing of Acme's breach.
    let mut zen_seen = Vec::new();
    while zen_seen.len() < 4 {
        let (kind, data) = zen_stream.next_data().await;
        assert_eq!(
            kind, "capacity_update",
            "zen sees no one else's violations: {data}"
        );
        zen_seen.push(data["plateNumber"].as_str().unwrap_or("-").to_owned());
    }
    assert_eq!(zen_seen, ["-", "Z1", "-", "-"]);
    zen_stream.expect_silence(Duration::from_millis(200)).await;

    // REST agrees.
    let (status, lots) = get(&app, "/api/lots", Some(&acme)).await;
    assert_eq!(status, 200);
    assert_eq!(lots.as_array().unwrap().len(), 1);
    assert_eq!(lots[0]["parkingLotId"], "depot");
    assert_eq!(get(&app, "/api/lots/north", Some(&acme)).await.0, 404);
    let (_, violations) = get(&app, "/api/violations", Some(&acme)).await;
    assert_eq!(violations.as_array().unwrap().len(), 1);
    assert_eq!(violations[0]["contractorId"], "acme");
    let (_, others) = get(&app, "/api/violations?contractor=acme", Some(&zen)).await;
    assert_eq!(
        others,
        json!([]),
        "asking for another contractor gives nothing"
    );
    let (_, alerts) = get(&app, "/api/alerts", Some(&acme)).await;
    assert!(alerts
        .as_array()
        .unwrap()
        .iter()
        .all(|a| a["contractorId"] == "acme"));
    let (_, admin_view) = get(&app, "/api/violations", Some(&admin)).await;
    assert_eq!(
        admin_view.as_array().unwrap().len(),
        2,
        "the admin sees both"
    );
    assert_eq!(
        post(
            &app,
            &format!(
                "/api/violations/{}/resolve",
                violations[0]["_id"].as_str().unwrap()
            ),
            &acme,
            json!({})
        )
        .await,
        403
    );
    app.stop().await;
}

#[tokio::test]
async fn a_lots_claim_narrows_the_stream_and_the_lists() {
    let app = secured().await;
    let admin = token(Role::Admin);
    for lot in ["a", "b"] {
        app.create_lot_as(&admin, lot, 10).await;
    }
    let only_b = mint(
        SECRET.as_bytes(),
        "kiosk",
        Role::Viewer,
        None,
        Some(vec!["b".into()]),
        Duration::from_secs(600),
    )
    .unwrap();
    let mut stream = app.subscribe(&format!("access_token={only_b}")).await;
    stream.connected().await;
    for (lot, n) in [("a", 1), ("b", 2), ("a", 9), ("b", 3)] {
        let body = json!({"parkingLotId": lot, "occupied": n});
        assert_eq!(post(&app, "/api/capacity/update", &admin, body).await, 200);
    }
    assert_eq!(stream.next_counts(2).await, vec![2, 3]);
    stream.expect_silence(Duration::from_millis(200)).await;
    let (_, lots) = get(&app, "/api/lots", Some(&only_b)).await;
    assert_eq!(lots.as_array().unwrap().len(), 1);
    let (_, alerts) = get(&app, "/api/alerts", Some(&only_b)).await;
    assert_eq!(alerts, json!([]), "lot a's 90 % warning is not visible");
    let (_, history) = get(&app, "/api/history/occupancy", Some(&only_b)).await;
    assert_eq!(
        history["lots"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["b"]
    );
    app.stop().await;
}

#[tokio::test]
async fn a_stream_ends_when_its_token_expires() {
    let app = secured().await;
    let short = mint(
        SECRET.as_bytes(),
        "tab",
        Role::Viewer,
        None,
        None,
        Duration::from_secs(2),
    )
    .unwrap();
    let started = tokio::time::Instant::now();
    let mut stream = app.subscribe(&format!("access_token={short}")).await;
    stream.connected().await;
    stream.expect_end().await;
    let lasted = started.elapsed();
    // exp has one-second resolution: the stream ends between 1 and 2 s after the mint.
    assert!(
        lasted <= Duration::from_millis(2500),
        "the stream outlived its token: {lasted:?}"
    );
    assert!(
        lasted >= Duration::from_millis(900),
        "it ended early: {lasted:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn an_open_contractor_stream_loses_a_lot_the_moment_its_allocation_is_removed() {
    let app = secured().await;
    let admin = token(Role::Admin);
    let put = |path: String, body: Value| {
        app.http
            .put(app.url(&path))
            .bearer_auth(&admin)
            .json(&body)
            .send()
    };
    for lot in ["depot", "north"] {
        let response = put(
            format!("/api/lots/{lot}"),
            json!({"name": lot, "totalSlots": 50}),
        );
        assert_eq!(response.await.unwrap().status(), 201);
    }
    let allocations = |lots: &[&str]| {
        let allocations: Vec<Value> = lots
            .iter()
            .map(|lot| json!({"parkingLotId": lot, "allocatedCapacity": 5}))
            .collect();
        json!({"name": "Acme", "allocations": allocations, "plates": ["A1"]})
    };
    let created = put("/api/contractors/acme".into(), allocations(&["depot"]));
    assert_eq!(created.await.unwrap().status(), 201);
    let acme = contractor_token("acme");
    let mut stream = app.subscribe(&format!("access_token={acme}")).await;
    stream.connected().await;
    let count = |lot: &str, occupied: u32| {
        post(
            &app,
            "/api/capacity/update",
            &admin,
            json!({"parkingLotId": lot, "occupied": occupied}),
        )
    };
    assert_eq!(count("depot", 1).await, 200);
    assert_eq!(stream.next_data().await.1["parkingLotId"], "depot");

    // Depot taken away, north given: the open stream follows at once.
    let moved = put("/api/contractors/acme".into(), allocations(&["north"]));
    assert_eq!(moved.await.unwrap().status(), 200);
    assert_eq!(count("depot", 2).await, 200);
    assert_eq!(count("north", 3).await, 200);
    let (kind, data) = stream.next_data().await;
    assert_eq!(
        (kind.as_str(), data["parkingLotId"].as_str()),
        ("capacity_update", Some("north")),
        "the depot update after the change is not sent"
    );
    let (status, lots) = get(&app, "/api/lots", Some(&acme)).await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = lots
        .as_array()
        .unwrap()
        .iter()
        .map(|lot| lot["parkingLotId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["north"], "REST follows too");
    app.stop().await;
}

#[tokio::test]
async fn metrics_on_the_main_address_need_an_admin_or_monitor_token_and_stay_open_on_metrics_bind()
{
    let binary = spawn_binary(
        &["--jwt-secret", SECRET, "--metrics-bind", "127.0.0.1:0"],
        &[],
    )
    .await;
    let http = reqwest::Client::new();
    let metrics = format!("{}/metrics", binary.base);
    let status = |token: Option<String>| {
        let mut request = http.get(&metrics);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move { request.send().await.unwrap().status().as_u16() }
    };
    // On the main address without --metrics-bind too: start a second server for that.
    assert_eq!(
        status(None).await,
        404,
        "--metrics-bind moves it off the main address"
    );
    let app = secured().await;
    let main = |token: Option<String>| {
        let mut request = app.http.get(app.url("/metrics"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(main(None).await, 401);
    assert_eq!(main(Some(token(Role::Viewer))).await, 403);
    assert_eq!(main(Some(token(Role::Operator))).await, 403);
    assert_eq!(main(Some(token(Role::Monitor))).await, 200);
    assert_eq!(main(Some(token(Role::Admin))).await, 200);
    app.stop().await;

    let log = binary.log.lock().unwrap().clone();
    let addr = log
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|entry| entry["message"] == "metrics listening")
        .and_then(|entry| entry["addr"].as_str().map(str::to_owned))
        .expect("the metrics address is logged");
    let open = http
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(open.status(), 200, "open on the private address");
    assert!(open
        .text()
        .await
        .unwrap()
        .contains("parkstream_sse_clients"));
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
