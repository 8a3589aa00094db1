//! CORS and per-address limits.

use serde_json::{json, Value};

use crate::helpers::{spawn_app, spawn_app_with};

#[tokio::test]
async fn cors_preflights_are_allowed_for_configured_origins_only() {
    let app = spawn_app_with(|s| s.cors_origin = vec!["https://ops.example".into()]).await;
    let preflight = |origin: &'static str| {
        app.http
            .request(reqwest::Method::OPTIONS, app.url("/api/alerts"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
            .send()
    };
    let allowed = preflight("https://ops.example").await.unwrap();
    assert_eq!(allowed.status(), 200);
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://ops.example"
    );
    assert_eq!(
        allowed.headers()["access-control-allow-credentials"],
        "true"
    );
    let refused = preflight("https://evil.example").await.unwrap();
    assert!(!refused
        .headers()
        .contains_key("access-control-allow-origin"));
    let simple = app
        .http
        .get(app.url("/api/lots"))
        .header("origin", "https://ops.example")
        .send()
        .await
        .unwrap();
    assert_eq!(
        simple.headers()["access-control-expose-headers"],
        "last-event-id"
    );
    app.stop().await;

    let app = spawn_app().await;
    let response = app
        .http
        .get(app.url("/api/lots"))
        .header("origin", "https://ops.example")
        .send()
        .await
        .unwrap();
    assert!(
        !response
            .headers()
            .contains_key("access-control-allow-origin"),
        "none by default"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_burst_of_writes_beyond_the_rate_gets_429_with_retry_after() {
    let app = spawn_app_with(|s| s.write_rate_per_ip = 5).await;
    let mut statuses = Vec::new();
    let mut refused = None;
    for n in 0..12 {
        let response = app
            .http
            .put(app.url(&format!("/api/lots/l{n}")))
            .json(&json!({"name": "L", "totalSlots": 1}))
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
        if response.status() == 429 && refused.is_none() {
            let retry: u64 = response.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            let body: Value = response.json().await.unwrap();
            refused = Some((retry, body));
        }
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        5,
        "{statuses:?}"
    );
    let (retry, body) = refused.expect("a 429");
    assert!(retry >= 1);
    assert_eq!(body["error"]["code"], "too_many_requests");
    let lots: Vec<Value> = serde_json::from_value(app.get_json("/api/lots").await).unwrap();
    assert_eq!(
        lots.len(),
        5,
        "refused writes changed nothing; reads are not limited"
    );
    app.stop().await;
}

#[tokio::test]
async fn too_many_streams_from_one_address_get_429() {
    let app = spawn_app_with(|s| s.max_streams_per_ip = 2).await;
    let mut first = app.subscribe("").await;
    first.connected().await;
    let mut second = app.subscribe("").await;
    second.connected().await;
    let third = app
        .http
        .get(app.url("/api/sse/dashboard"))
        .send()
        .await
        .unwrap();
    assert_eq!(third.status(), 429);
    assert!(third.headers().contains_key("retry-after"));
    drop(first);
    app.wait_for_metric("parkstream_sse_clients", 1.0).await;
    let mut again = app.subscribe("").await;
    again.connected().await;
    app.stop().await;
}

#[tokio::test]
async fn a_lots_filter_longer_than_max_filter_lots_is_refused_with_400() {
    let app = spawn_app().await;
    let ids: Vec<String> = (0..2_000).map(|n| format!("lot{n}")).collect();
    let response = app
        .http
        .get(app.url(&format!("/api/sse/dashboard?lots={}", ids.join(","))))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["field"], "lots");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at most 100 lots"),
        "{body}"
    );
    assert_eq!(app.metric("parkstream_sse_clients").await, 0.0);
    let mut at_the_cap = app
        .subscribe(&format!("lots={}", ids[..100].join(",")))
        .await;
    at_the_cap.connected().await;
    app.stop().await;
}

/// Sends `head` (and `body`) on a fresh connection and answers the status line of the reply
/// and how long it took to come.
async fn raw_exchange(
    addr: std::net::SocketAddr,
    head: &str,
    body: &[u8],
) -> (String, std::time::Duration) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    socket.write_all(head.as_bytes()).await.unwrap();
    socket.write_all(body).await.unwrap();
    let started = tokio::time::Instant::now();
    let mut reply = vec![0u8; 4096];
    let n = tokio::time::timeout(crate::helpers::PATIENCE, socket.read(&mut reply))
        .await
        .expect("an answer within the patience period")
        .unwrap();
    let text = String::from_utf8_lossy(&reply[..n]).into_owned();
    let status = text.lines().next().unwrap_or("").to_owned();
    (status, started.elapsed())
}

#[tokio::test]
async fn a_body_slower_than_the_body_timeout_gets_408_and_changes_nothing() {
    let app = spawn_app_with(|s| s.body_timeout = std::time::Duration::from_millis(500)).await;
    app.put_lot("a", 10).await;
    let head = "POST /api/capacity/update HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n";
    let (status, took) = raw_exchange(app.addr, head, br#"{"parkingLotId": "a", "#).await;
    assert_eq!(status, "HTTP/1.1 408 Request Timeout");
    assert!(took >= std::time::Duration::from_millis(400), "{took:?}");
    assert_eq!(app.get_json("/api/lots/a").await["occupied"], 0);
    app.stop().await;
}

#[tokio::test]
async fn a_viewers_write_is_refused_403_before_its_body_is_read() {
    use parkstream_server::auth::{mint, Role, Secret};
    const SECRET: &str = "test-secret-0123456789abcdef";
    let app = spawn_app_with(|s| {
        s.auth = parkstream_server::config::AuthMode::Jwt;
        s.jwt_secret = Some(Secret::new(SECRET));
    })
    .await;
    let viewer = mint(
        SECRET.as_bytes(),
        "v",
        Role::Viewer,
        None,
        None,
        std::time::Duration::from_secs(60),
    )
    .unwrap();
    // A megabyte announced, not a byte of it sent: the answer cannot wait for the body.
    for path in [
        "/api/capacity/update",
        "/api/monitor/gate",
        "/api/monitor/lot",
    ] {
        let head = format!("POST {path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {viewer}\r\ncontent-type: application/json\r\ncontent-length: 1000000\r\n\r\n");
        let (status, _) = raw_exchange(app.addr, &head, b"").await;
        assert_eq!(status, "HTTP/1.1 403 Forbidden", "{path}");
    }
    for path in ["/api/lots/a", "/api/contractors/c"] {
        let head = format!("PUT {path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {viewer}\r\ncontent-type: application/json\r\ncontent-length: 1000000\r\n\r\n");
        let (status, _) = raw_exchange(app.addr, &head, b"").await;
        assert_eq!(status, "HTTP/1.1 403 Forbidden", "{path}");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_wildcard_cors_origin_allows_any_origin_without_credentials() {
    let app = spawn_app_with(|s| s.cors_origin = vec!["*".into()]).await;
    let response = app
        .http
        .get(app.url("/api/lots"))
        .header("origin", "https://anywhere.example")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    assert!(!response
        .headers()
        .contains_key("access-control-allow-credentials"));
    app.stop().await;
}
