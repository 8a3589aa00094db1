//! Tokens from an identity provider (`--jwt-jwks-url`, `--jwt-issuer`, `--jwt-audience`,
//! `--jwt-role-claim`): a key set served by a small HTTP server in the test, keys made in the
//! test, and the real binary verifying against them.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use crate::helpers::{spawn_binary, Binary, EventStream, PATIENCE};

const ISSUER: &str = "https://idp.test/realms/parking";
const AUDIENCE: &str = "parkstream";
const RS256_PRIVATE: &[u8] = include_bytes!("../fixtures/rs256.key.pem");

/// A key the test signs with, and its public half as a JWK.
struct Signer {
    kid: String,
    algorithm: Algorithm,
    key: EncodingKey,
    jwk: Value,
}

impl Signer {
    /// A new P-256 key (ES256).
    fn ec(kid: &str) -> Self {
        let pem = rcgen::KeyPair::generate().unwrap().serialize_pem();
        Self::new(
            kid,
            Algorithm::ES256,
            EncodingKey::from_ec_pem(pem.as_bytes()).unwrap(),
        )
    }

    /// The fixture's RSA key (RS256; RSA keys cannot be generated quickly in a test).
    fn rsa(kid: &str) -> Self {
        Self::new(
            kid,
            Algorithm::RS256,
            EncodingKey::from_rsa_pem(RS256_PRIVATE).unwrap(),
        )
    }

    fn new(kid: &str, algorithm: Algorithm, key: EncodingKey) -> Self {
        let mut jwk =
            serde_json::to_value(Jwk::from_encoding_key(&key, algorithm).unwrap()).unwrap();
        jwk["kid"] = json!(kid);
        jwk["use"] = json!("sig");
        Self {
            kid: kid.into(),
            algorithm,
            key,
            jwk,
        }
    }

    /// A token with these claims, naming this key.
    fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.algorithm);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.key).unwrap()
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Claims as an identity provider issues them for this server, with `role`.
fn claims(role: &str) -> Value {
    json!({"sub": "u-1", "iss": ISSUER, "aud": [AUDIENCE, "account"], "exp": now() + 600,
           "iat": now(), "role": role})
}

/// The test's identity provider: serves `/certs`, counts the fetches, and can fail.
struct Idp {
    url: String,
    keys: Arc<Mutex<Vec<Value>>>,
    fetches: Arc<AtomicUsize>,
    failing: Arc<AtomicBool>,
    server: tokio::task::JoinHandle<()>,
}

impl Idp {
    async fn serving(keys: &[&Signer]) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/certs", listener.local_addr().unwrap());
        let idp_keys = Arc::new(Mutex::new(Vec::new()));
        let fetches = Arc::new(AtomicUsize::new(0));
        let failing = Arc::new(AtomicBool::new(false));
        let (k, f, fail) = (idp_keys.clone(), fetches.clone(), failing.clone());
        let app = axum::Router::new().route(
            "/certs",
            axum::routing::get(move || {
                let (k, f, fail) = (k.clone(), f.clone(), fail.clone());
                async move {
                    f.fetch_add(1, Ordering::SeqCst);
                    if fail.load(Ordering::SeqCst) {
                        return Err(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
                    }
                    Ok(axum::Json(json!({ "keys": *k.lock().unwrap() })))
                }
            }),
        );
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        let idp = Self {
            url,
            keys: idp_keys,
            fetches,
            failing,
            server,
        };
        idp.serve(keys);
        idp
    }

    /// From now on the set holds exactly these keys.
    fn serve(&self, keys: &[&Signer]) {
        *self.keys.lock().unwrap() = keys.iter().map(|s| s.jwk.clone()).collect();
    }

    fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }
}

impl Drop for Idp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// The real binary verifying with `idp`'s keys, plus `extra` flags.
async fn server(idp: &Idp, extra: &[&str]) -> (Binary, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("parkstream.db").display());
    let mut args = vec![
        "--database-url",
        &db,
        "--jwt-jwks-url",
        &idp.url,
        "--jwt-issuer",
        ISSUER,
        "--jwt-audience",
        AUDIENCE,
    ];
    args.extend_from_slice(extra);
    (spawn_binary(&args, &[]).await, dir)
}

/// `method path` with a bearer token; answers the status and the JSON body.
async fn call(binary: &Binary, method: &str, path: &str, token: &str) -> (u16, Value) {
    let http = reqwest::Client::new();
    let url = format!("{}{path}", binary.base);
    let request = match method {
        "GET" => http.get(url),
        "PUT" => http.put(url).json(&json!({"name": "A", "totalSlots": 10})),
        _ => http.post(url).json(&json!({})),
    };
    let response = request.bearer_auth(token).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_provider_token_with_the_right_issuer_and_audience_reads_and_streams() {
    let (rsa, ec) = (Signer::rsa("rsa-1"), Signer::ec("ec-1"));
    let idp = Idp::serving(&[&rsa, &ec]).await;
    let (binary, _dir) = server(&idp, &[]).await;

    for signer in [&rsa, &ec] {
        let token = signer.sign(&claims("viewer"));
        assert_eq!(
            call(&binary, "GET", "/api/lots", &token).await.0,
            200,
            "{}",
            signer.kid
        );
    }
    let token = rsa.sign(&claims("viewer"));
    let response = reqwest::Client::new()
        .get(format!("{}/api/sse/dashboard", binary.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    EventStream::new(response).connected().await;

    let refused = |mut claims: Value, change: Value| {
        for (k, v) in change.as_object().unwrap() {
            match v {
                Value::Null => claims.as_object_mut().unwrap().remove(k),
                v => claims.as_object_mut().unwrap().insert(k.clone(), v.clone()),
            };
        }
        ec.sign(&claims)
    };
    for (case, token, says) in [
        (
            "wrong issuer",
            refused(claims("admin"), json!({"iss": "https://evil.test"})),
            "issuer",
        ),
        (
            "no issuer",
            refused(claims("admin"), json!({"iss": null})),
            "`iss`",
        ),
        (
            "wrong audience",
            refused(claims("admin"), json!({"aud": "someone-else"})),
            "audience",
        ),
        (
            "no audience",
            refused(claims("admin"), json!({"aud": null})),
            "`aud`",
        ),
    ] {
        let (status, body) = call(&binary, "GET", "/api/lots", &token).await;
        assert_eq!(status, 401, "{case}");
        assert_eq!(body["error"]["code"], "unauthorized", "{case}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{case}: {message}");
    }
    // A shared-secret token naming a served key: its algorithm is not the key's.
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("rsa-1".into());
    let forged = jsonwebtoken::encode(
        &header,
        &claims("admin"),
        &EncodingKey::from_secret(rsa.jwk["n"].as_str().unwrap().as_bytes()),
    )
    .unwrap();
    assert_eq!(call(&binary, "GET", "/api/lots", &forged).await.0, 401);
    assert_eq!(
        idp.fetches(),
        1,
        "every key was known: fetched once, at start"
    );
}

#[tokio::test]
async fn a_rotated_key_is_fetched_on_first_sight_and_made_up_kids_cannot_flood_the_provider() {
    let (old, new) = (Signer::ec("2026-old"), Signer::ec("2026-new"));
    let idp = Idp::serving(&[&old]).await;
    let (binary, _dir) = server(&idp, &[]).await;
    assert_eq!(
        call(&binary, "GET", "/api/lots", &old.sign(&claims("viewer")))
            .await
            .0,
        200
    );
    assert_eq!(idp.fetches(), 1);

    // The provider rotates: the new key replaces the old one.
    idp.serve(&[&new]);
    let (status, body) = call(&binary, "GET", "/api/lots", &new.sign(&claims("viewer"))).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(idp.fetches(), 2, "the unknown kid caused one refetch");
    let (status, body) = call(&binary, "GET", "/api/lots", &old.sign(&claims("viewer"))).await;
    assert_eq!(status, 401, "the removed key no longer verifies");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("kid"),
        "{body}"
    );

    // Tokens naming keys nobody has: refused, and at most one more fetch per 10 seconds.
    let before = idp.fetches();
    let forger = Signer::ec("unused");
    let answers = futures_util::future::join_all((0..60).map(|n| {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(format!("made-up-{n}"));
        let token = jsonwebtoken::encode(&header, &claims("admin"), &forger.key).unwrap();
        let binary = &binary;
        async move { call(binary, "GET", "/api/lots", &token).await.0 }
    }))
    .await;
    assert!(answers.iter().all(|&s| s == 401), "{answers:?}");
    assert!(
        idp.fetches() - before <= 1,
        "{} fetches for 60 made-up kids",
        idp.fetches() - before
    );
    // The new key still works without another fetch.
    let fetched = idp.fetches();
    assert_eq!(
        call(&binary, "GET", "/api/lots", &new.sign(&claims("viewer")))
            .await
            .0,
        200
    );
    assert_eq!(idp.fetches(), fetched);
}

#[tokio::test]
async fn keycloak_realm_roles_grant_the_most_privileged_parkstream_role_in_them() {
    let key = Signer::ec("kc");
    let idp = Idp::serving(&[&key]).await;
    let (binary, _dir) = server(&idp, &["--jwt-role-claim", "realm_access.roles"]).await;
    let with_roles = |roles: Value| {
        let mut c = claims("ignored");
        c.as_object_mut().unwrap().remove("role");
        c["realm_access"] = json!({ "roles": roles });
        key.sign(&c)
    };
    let admin = with_roles(json!(["default-roles-parking", "admin", "viewer"]));
    let operator = with_roles(json!(["offline_access", "operator"]));
    let viewer = with_roles(json!(["offline_access", "uma_authorization", "viewer"]));

    assert_eq!(
        call(&binary, "PUT", "/api/lots/a", &operator).await.0,
        403,
        "admins only"
    );
    assert_eq!(call(&binary, "PUT", "/api/lots/a", &admin).await.0, 201);
    // Nearly fill the lot (10 slots) so that an alert exists; operators may ingest.
    for plate in (1..=9).map(|n| format!("P{n}")) {
        let gate = json!({"parkingLotId": "a", "event": "vehicle_entry", "plateNumber": plate});
        let status = reqwest::Client::new()
            .post(format!("{}/api/monitor/gate", binary.base))
            .bearer_auth(&operator)
            .json(&gate)
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 200, "{plate}");
    }
    let (status, alerts) = call(&binary, "GET", "/api/alerts?status=active", &viewer).await;
    assert_eq!(status, 200);
    let id = alerts[0]["_id"].as_str().expect("an alert").to_owned();
    let ack = format!("/api/alerts/{id}/acknowledge");
    assert_eq!(call(&binary, "POST", &ack, &viewer).await.0, 403);
    assert_eq!(call(&binary, "POST", &ack, &operator).await.0, 200);

    // No parkstream role in the list, or no list at all: 401, naming the claim.
    for token in [
        with_roles(json!(["offline_access", "uma_authorization"])),
        key.sign(&claims("admin")),
    ] {
        let (status, body) = call(&binary, "GET", "/api/lots", &token).await;
        assert_eq!(status, 401);
        assert_eq!(body["error"]["code"], "unauthorized");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("realm_access.roles"), "{message}");
    }
}

#[tokio::test]
async fn a_server_whose_provider_is_down_starts_answers_503_and_recovers() {
    let key = Signer::ec("k");
    let idp = Idp::serving(&[&key]).await;
    idp.failing.store(true, Ordering::SeqCst);
    let (binary, _dir) = server(&idp, &[]).await;
    assert!(
        binary.log.lock().unwrap().contains("could not be fetched"),
        "the log says why"
    );
    let token = key.sign(&claims("viewer"));
    let response = reqwest::Client::new()
        .get(format!("{}/api/lots", binary.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"]["message"].as_str().unwrap().contains("keys"),
        "{body}"
    );
    let readyz = || async {
        let response = reqwest::get(format!("{}/readyz", binary.base))
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json::<Value>().await.unwrap())
    };
    let (status, ready) = readyz().await;
    assert_eq!(
        (status, &ready["checks"]["jwks"]),
        (503, &json!("not_fetched")),
        "{ready}"
    );

    // The provider comes back: within the retry interval (10 s), the keys arrive.
    idp.failing.store(false, Ordering::SeqCst);
    tokio::time::timeout(Duration::from_secs(12) + PATIENCE, async {
        while call(&binary, "GET", "/api/lots", &token).await.0 != 200 {
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    })
    .await
    .expect("the keys arrive once the provider answers");
    assert_eq!(readyz().await.0, 200);
}

#[tokio::test]
async fn parkstream_token_mints_for_a_shared_secret_server_that_checks_issuer_audience_and_role_path(
) {
    const SECRET: &str = "test-secret-0123456789abcdef";
    let checks = [
        "--jwt-issuer",
        ISSUER,
        "--jwt-audience",
        AUDIENCE,
        "--jwt-role-claim",
        "realm_access.roles",
    ];
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("parkstream.db").display());
    let mut args = vec!["--database-url", db.as_str(), "--jwt-secret", SECRET];
    args.extend_from_slice(&checks);
    let binary = spawn_binary(&args, &[]).await;
    let mint = |extra: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_parkstream"))
            .args(["token", "--role", "operator", "--jwt-secret", SECRET])
            .args(extra)
            .env_remove("PARKSTREAM_JWT_ISSUER")
            .env_remove("PARKSTREAM_JWT_AUDIENCE")
            .env_remove("PARKSTREAM_JWT_ROLE_CLAIM")
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    };
    let shaped = mint(&checks);
    assert_eq!(call(&binary, "GET", "/api/lots", &shaped).await.0, 200);
    assert_eq!(
        call(&binary, "PUT", "/api/lots/a", &shaped).await.0,
        403,
        "an operator"
    );
    let (status, body) = call(&binary, "GET", "/api/lots", &mint(&[])).await;
    assert_eq!(status, 401, "a token without the issuer: {body}");
}
