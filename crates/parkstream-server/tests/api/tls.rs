//! TLS: the API and the stream over HTTP/2 (negotiated by ALPN), and HTTP/1.1 over TLS.

use futures_util::StreamExt;
use parkstream_protocol::sse::{SseItem, SseParser};
use serde_json::{json, Value};

use crate::helpers::{spawn_app_with, PATIENCE};

#[tokio::test]
async fn the_api_and_the_stream_work_over_http2_with_tls() {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.key_pair.serialize_pem()).unwrap();
    let app = spawn_app_with(|s| {
        s.tls_cert = Some(cert.clone());
        s.tls_key = Some(key.clone());
    })
    .await;
    let root = reqwest::Certificate::from_pem(certified.cert.pem().as_bytes()).unwrap();
    let client = |http1: bool| {
        let builder = reqwest::Client::builder()
            .use_rustls_tls()
            .add_root_certificate(root.clone())
            .resolve("localhost", app.addr);
        if http1 { builder.http1_only() } else { builder }
            .build()
            .unwrap()
    };
    let h2 = client(false);
    let base = format!("https://localhost:{}", app.addr.port());

    let created = h2
        .put(format!("{base}/api/lots/a"))
        .json(&json!({"name": "A", "totalSlots": 10}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    assert_eq!(
        created.version(),
        reqwest::Version::HTTP_2,
        "ALPN chose HTTP/2"
    );

    let stream = h2
        .get(format!("{base}/api/sse/dashboard"))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.version(), reqwest::Version::HTTP_2);
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    for hop_by_hop in ["connection", "keep-alive", "transfer-encoding"] {
        assert!(
            !stream.headers().contains_key(hop_by_hop),
            "{hop_by_hop} on HTTP/2"
        );
    }
    let mut body = stream.bytes_stream();
    // On the same connection, while the stream is open.
    let update = h2
        .post(format!("{base}/api/capacity/update"))
        .json(&json!({"parkingLotId": "a", "occupied": 4}))
        .send()
        .await
        .unwrap();
    assert_eq!(update.status(), 200);
    let mut parser = SseParser::new();
    let mut items = Vec::new();
    let occupied = tokio::time::timeout(PATIENCE, async {
        loop {
            let chunk = body.next().await.expect("the stream is open").unwrap();
            parser.feed(&chunk, &mut items);
            for item in items.drain(..) {
                if let SseItem::Event(event) = item {
                    if event.event == "capacity_update" {
                        let data: Value = serde_json::from_str(&event.data).unwrap();
                        return data["occupied"].clone();
                    }
                }
            }
        }
    })
    .await
    .expect("the update arrives over HTTP/2");
    assert_eq!(occupied, 4);

    let h1 = client(true);
    let lots = h1.get(format!("{base}/api/lots")).send().await.unwrap();
    assert_eq!(lots.version(), reqwest::Version::HTTP_11);
    assert_eq!(lots.status(), 200);
    drop(body);
    app.stop().await;
}
