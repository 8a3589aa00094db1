//! `/healthz`, `/readyz`, `/metrics`.

use serde_json::Value;

use crate::helpers::spawn_app;

#[tokio::test]
async fn healthz_and_readyz_answer_200_when_the_database_answers() {
    let app = spawn_app().await;
    let health = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["checks"]["database"], "ok");
    app.stop().await;
}

#[tokio::test]
async fn metrics_count_clients_events_and_deliveries() {
    let app = spawn_app().await;
    app.put_lot("a", 10).await;
    let mut stream = app.subscribe("").await;
    stream.connected().await;
    app.set_count("a", 3).await;
    stream.next_counts(1).await;

    let response = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/openmetrics-text"));
    let text = response.text().await.unwrap();
    for family in [
        "# TYPE parkstream_sse_clients gauge",
        "# TYPE parkstream_events_published counter",
        "# TYPE parkstream_sse_frames_delivered counter",
        "# TYPE parkstream_sse_subscribers_dropped counter",
        "# TYPE parkstream_sse_delivery_latency_seconds histogram",
    ] {
        assert!(text.contains(family), "missing {family}");
    }
    assert_eq!(app.metric("parkstream_sse_clients").await, 1.0);
    assert_eq!(
        app.metric("parkstream_events_published_total{type=\"capacity_update\"}")
            .await,
        2.0
    );
    assert_eq!(
        app.metric("parkstream_sse_frames_delivered_total").await,
        1.0
    );
    assert_eq!(
        app.metric("parkstream_sse_delivery_latency_seconds_count")
            .await,
        1.0
    );
    app.stop().await;
}

#[tokio::test]
async fn the_openapi_document_lists_every_endpoint_of_the_spec() {
    let app = spawn_app().await;
    let doc = app.get_json("/api/openapi.json").await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/api/sse/dashboard", "get"),
        ("/api/capacity/update", "post"),
        ("/api/monitor/lot", "post"),
        ("/api/monitor/gate", "post"),
        ("/api/lots", "get"),
        ("/api/lots/{id}", "get"),
        ("/api/lots/{id}", "put"),
        ("/api/contractors", "get"),
        ("/api/contractors/{id}", "put"),
        ("/api/alerts", "get"),
        ("/api/alerts/{id}/acknowledge", "post"),
        ("/api/alerts/{id}/resolve", "post"),
        ("/api/violations", "get"),
        ("/api/violations/{id}/acknowledge", "post"),
        ("/api/violations/{id}/resolve", "post"),
        ("/api/openapi.json", "get"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path}"
        );
    }
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for schema in [
        "CapacityUpdate",
        "Alert",
        "Violation",
        "ErrorBody",
        "GateReport",
    ] {
        assert!(schemas.contains_key(schema), "{schema}");
    }
    app.stop().await;
}

#[tokio::test]
async fn the_dashboard_forbids_inline_script_framing_and_referrers() {
    let app = spawn_app().await;
    for path in ["/", "/app.js", "/style.css", "/client/sse-client.js"] {
        let response = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let headers = response.headers();
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self';"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
    }
    app.stop().await;
}

/// A browser resolves the module's relative imports against its URL: every file it imports
/// must be served there too, or the dashboard loses its live updates.
#[tokio::test]
async fn the_browser_client_is_served_with_every_file_it_imports() {
    let app = spawn_app().await;
    let mut pending = vec![reqwest::Url::parse(&app.url("/client/sse-client.js")).unwrap()];
    let mut served = std::collections::BTreeSet::new();
    while let Some(url) = pending.pop() {
        if !served.insert(url.path().to_owned()) {
            continue;
        }
        let response = app.http.get(url.clone()).send().await.unwrap();
        assert_eq!(response.status(), 200, "{url}");
        assert_eq!(
            response.headers()["content-type"],
            "text/javascript; charset=utf-8",
            "{url}"
        );
        let source = response.text().await.unwrap();
        for rest in source.split(" from '").skip(1) {
            let specifier = rest.split('\'').next().unwrap();
            assert!(specifier.starts_with('.'), "{url} imports {specifier}");
            pending.push(url.join(specifier).unwrap());
        }
    }
    assert!(served.contains("/client/lib/client.js"), "{served:?}");
    app.stop().await;
}
