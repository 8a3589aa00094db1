//! Access control (docs/protocol.md, "Access"): one test per denial and per grant, over HTTP against the
//! real server.

use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use parkstream_server::auth::{mint, Claims, Role, Secret};
use parkstream_server::config::AuthMode;
use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, spawn_binary, TestApp};

pub(crate) const SECRET: &str = "test-secret-0123456789abcdef";
const RS256_PRIVATE: &[u8] = include_bytes!("../fixtures/rs256.key.pem");
const RS256_PUBLIC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/rs256.pub.pem");
const ES256_PRIVATE: &[u8] = include_bytes!("../fixtures/es256.key.pem");
const ES256_PUBLIC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/es256.pub.pem");

pub(crate) async fn secured() -> TestApp {
    spawn_app_with(|s| {
        s.auth = AuthMode::Jwt;
        s.jwt_secret = Some(Secret::new(SECRET));
    })
    .await
}

pub(crate) fn token(role: Role) -> String {
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
pub(crate) async fn get(app: &TestApp, path: &str, token: Option<&str>) -> (u16, Value) {
    let mut request = app.http.get(app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

pub(crate) async fn post(app: &TestApp, path: &str, token: &str, body: Value) -> u16 {
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
