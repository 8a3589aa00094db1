//! The client against the real server in its TLS mode (`--tls-cert`/`--tls-key`).

use std::time::Duration;

use futures_util::StreamExt;
use parkstream_client::{Client, Update};
use parkstream_protocol::events::Event;
use parkstream_server::config::{AuthMode, ServeSettings};
use serde_json::json;
use tokio::net::TcpListener;

const PATIENCE: Duration = Duration::from_secs(10);

#[tokio::test]
async fn the_client_receives_events_from_an_https_server() {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.key_pair.serialize_pem()).unwrap();

    let mut settings = ServeSettings::defaults();
    settings.database_url = format!("sqlite://{}", dir.path().join("p.db").display());
    settings.auth = AuthMode::None;
    settings.tls_cert = Some(cert);
    settings.tls_key = Some(key);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(parkstream_server::run(settings, listener, async move {
        let _ = stopped.await;
    }));

    // The certificate is for "localhost" and self-signed: trust it, and send "localhost" to
    // the test's port.
    let root = reqwest::Certificate::from_pem(certified.cert.pem().as_bytes()).unwrap();
    let http = reqwest::Client::builder()
        .add_root_certificate(root)
        .resolve("localhost", addr)
        .build()
        .unwrap();
    let base = format!("https://localhost:{}", addr.port());
    let client = Client::builder(&base)
        .http_client(http.clone())
        .build()
        .unwrap();
    let mut subscription = client.subscribe();

    assert!(matches!(next(&mut subscription).await, Event::Connected(_)));

    for (method, path, body) in [
        ("PUT", "/api/lots/a", json!({"name": "A", "totalSlots": 10})),
        (
            "POST",
            "/api/capacity/update",
            json!({"parkingLotId": "a", "occupied": 3}),
        ),
    ] {
        let response = http
            .request(method.parse().unwrap(), format!("{base}{path}"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
    }
    loop {
        match next(&mut subscription).await {
            // Creating the lot announces it with 0 occupied first.
            Event::CapacityUpdate(update) if update.occupied == 0 => {}
            Event::CapacityUpdate(update) => {
                assert_eq!((update.parking_lot_id.as_str(), update.occupied), ("a", 3));
                break;
            }
            Event::Ping(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    drop(subscription);
    stop.send(()).ok();
    tokio::time::timeout(PATIENCE, server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

async fn next(subscription: &mut parkstream_client::Subscription) -> Event {
    match tokio::time::timeout(PATIENCE, subscription.next()).await {
        Ok(Some(Ok(Update::Event(received)))) => received.event,
        other => panic!("expected an event over TLS, got {other:?}"),
    }
}
