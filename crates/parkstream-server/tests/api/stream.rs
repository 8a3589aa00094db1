//! The SSE stream: framing, filters, resume, reset, pings (docs/protocol.md, "The stream").

use std::time::Duration;

use parkstream_protocol::sse::SseItem;
use parkstream_protocol::Timestamp;
use serde_json::json;

use crate::helpers::{count_batch, read_until, spawn_app, spawn_app_with};

#[tokio::test]
async fn the_stream_opens_with_its_headers_retry_and_connected() {
    let app = spawn_app().await;
    let mut stream = app.subscribe("").await;
    let h = &stream.headers;
    assert_eq!(h["content-type"], "text/event-stream");
    assert_eq!(h["cache-control"], "no-cache, no-transform");
    assert_eq!(h["x-accel-buffering"], "no");
    assert_eq!(stream.next_item().await, Some(SseItem::Retry(2000)));
    let connected = stream.connected().await;
    assert!(stream
        .raw
        .starts_with(b"retry: 2000\n\nevent: connected\ndata: {\"clientId\":\"client_"));
    assert!(connected["clientId"].as_str().unwrap().len() > 10);
    assert_eq!(connected["resumed"], false);
    let server_time = connected["serverTime"].as_str().unwrap();
    assert!(
        server_time.ends_with('Z') && server_time.len() == 24,
        "{server_time}"
    );
    server_time.parse::<Timestamp>().unwrap();
    app.stop().await;
}

#[tokio::test]
async fn live_events_have_the_spec_shape_and_strictly_increasing_ids() {
    let app = spawn_app().await;
    app.put_lot("lot_1", 100).await;
    let mut stream = app.subscribe("").await;
    stream.connected().await;
    let mut ids = Vec::new();
    for occupied in [75, 76, 10] {
        app.set_count("lot_1", occupied).await;
        let event = stream.next_event().await;
        assert_eq!(event.event, "capacity_update");
        ids.push(event.id.clone().expect("live events carry an id"));
        let data: serde_json::Value = serde_json::from_str(&event.data).unwrap();
        assert_eq!(data["parkingLotId"], "lot_1");
        assert_eq!(data["occupied"], occupied);
        assert_eq!(data["totalSlots"], 100);
        assert_eq!(data["empty"], 100 - occupied);
        assert_eq!(data["occupancyRate"], f64::from(occupied) / 100.0);
        assert!(data["timestamp"].as_str().unwrap().ends_with('Z'));
        assert!(
            data.get("plateNumber").is_none(),
            "no gate fields without a gate event"
        );
    }
    let numeric: Vec<u64> = ids.iter().map(|id| id.parse().unwrap()).collect();
    assert!(numeric.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    app.stop().await;
}

#[tokio::test]
async fn the_lots_filter_passes_only_those_lots() {
    let app = spawn_app().await;
    for lot in ["a", "b", "c"] {
        app.put_lot(lot, 10).await;
    }
    let mut only_ac = app.subscribe("lots=a,c").await;
    only_ac.connected().await;
    app.set_count("b", 1).await;
    app.set_count("a", 2).await;
    app.set_count("b", 3).await;
    app.set_count("c", 4).await;
    assert_eq!(only_ac.next_counts(2).await, vec![2, 4]);
    app.stop().await;
}

#[tokio::test]
async fn the_types_filter_passes_only_those_types() {
    let app = spawn_app().await;
    app.put_lot("a", 10).await;
    let mut alerts_only = app.subscribe("types=alert,violation").await;
    let mut updates = app.subscribe("types=capacity_update").await;
    alerts_only.connected().await;
    updates.connected().await;
    app.set_count("a", 5).await;
    assert_eq!(updates.next_counts(1).await, vec![5]);
    alerts_only.expect_silence(Duration::from_millis(300)).await;
    app.stop().await;
}

#[tokio::test]
async fn an_unknown_type_name_is_a_400_in_the_error_shape() {
    let app = spawn_app().await;
    let response = app
        .http
        .get(app.url("/api/sse/dashboard?types=alert,parking"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_query");
    assert_eq!(body["error"]["field"], "types");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("parking"));
    assert_eq!(app.metric("parkstream_sse_clients").await, 0.0);
    app.stop().await;
}

/// Publishes counts 1..=n for `lot` and answers the ids the stream saw.
async fn publish_and_collect_ids(
    app: &crate::helpers::TestApp,
    lot: &str,
    counts: std::ops::RangeInclusive<u32>,
) -> Vec<String> {
    let mut stream = app.subscribe("").await;
    stream.connected().await;
    let n = counts.clone().count();
    let response = app.post_capacity(&count_batch(lot, counts)).await;
    assert_eq!(response.status(), 200);
    let mut ids = Vec::new();
    for _ in 0..n {
        ids.push(stream.next_event().await.id.unwrap());
    }
    ids
}

#[tokio::test]
async fn resuming_with_the_header_replays_exactly_the_missed_events() {
    let app = spawn_app().await;
    app.put_lot("a", 100).await;
    let ids = publish_and_collect_ids(&app, "a", 1..=3).await;
    // The client was away while 4..=6 were published.
    app.post_capacity(&count_batch("a", 4..=6)).await;
    let mut stream = app.subscribe_from("", Some(&ids[2])).await;
    assert_eq!(stream.connected().await["resumed"], true);
    assert_eq!(stream.next_counts(3).await, vec![4, 5, 6]);
    app.set_count("a", 7).await;
    assert_eq!(stream.next_counts(1).await, vec![7]);
    app.stop().await;
}

#[tokio::test]
async fn resuming_with_the_query_parameter_replays_exactly_the_missed_events() {
    let app = spawn_app().await;
    app.put_lot("a", 100).await;
    let ids = publish_and_collect_ids(&app, "a", 1..=3).await;
    app.post_capacity(&count_batch("a", 4..=5)).await;
    let mut stream = app.subscribe(&format!("lastEventId={}", ids[1])).await;
    assert_eq!(stream.connected().await["resumed"], true);
    assert_eq!(stream.next_counts(3).await, vec![3, 4, 5]);
    app.stop().await;
}

#[tokio::test]
async fn a_replay_honours_the_filters() {
    let app = spawn_app().await;
    app.put_lot("a", 100).await;
    app.put_lot("b", 100).await;
    let ids = publish_and_collect_ids(&app, "a", 1..=1).await;
    app.set_count("b", 50).await;
    app.set_count("a", 2).await;
    let mut stream = app.subscribe_from("lots=a", Some(&ids[0])).await;
    stream.connected().await;
    assert_eq!(stream.next_counts(1).await, vec![2]);
    app.stop().await;
}

#[tokio::test]
async fn an_id_the_server_cannot_place_gets_reset_then_live_events() {
    let app = spawn_app().await;
    app.put_lot("a", 100).await;
    let ids = publish_and_collect_ids(&app, "a", 1..=2).await;
    let newest: u64 = ids[1].parse().unwrap();
    let future = (newest + 1).to_string();
    for bad in [
        "garbage",
        "-1",
        "99999999999999999999999",
        "0",
        future.as_str(),
    ] {
        let mut stream = app.subscribe_from("", Some(bad)).await;
        assert_eq!(stream.connected().await["resumed"], false, "{bad}");
        let reset = stream.next_event().await;
        assert_eq!(reset.event, "reset", "{bad}");
        assert_eq!(reset.data, r#"{"reason":"history_unavailable"}"#);
        assert_eq!(reset.id, None, "reset carries no id");
    }
    let mut stream = app.subscribe("lastEventId=forged").await;
    stream.connected().await;
    assert_eq!(stream.next_event().await.event, "reset");
    app.set_count("a", 9).await;
    assert_eq!(stream.next_counts(1).await, vec![9]);
    app.stop().await;
}

#[tokio::test]
async fn an_evicted_id_gets_reset_and_the_oldest_boundary_resumes() {
    let app = spawn_app_with(|s| s.history_size = 5).await;
    app.put_lot("a", 100).await;
    // One at a time: a single batch larger than the window would evict the reader itself.
    let mut reader = app.subscribe("").await;
    reader.connected().await;
    let mut ids = Vec::new();
    for n in 1..=10 {
        app.set_count("a", n).await;
        ids.push(reader.next_event().await.id.unwrap());
    }
    // Retained: the events of counts 6..=10. Resuming after 5 needs nothing older.
    let mut stream = app.subscribe_from("", Some(&ids[4])).await;
    assert_eq!(stream.connected().await["resumed"], true);
    assert_eq!(stream.next_counts(5).await, vec![6, 7, 8, 9, 10]);
    let mut stream = app.subscribe_from("", Some(&ids[3])).await;
    assert_eq!(stream.connected().await["resumed"], false);
    assert_eq!(stream.next_event().await.event, "reset");
    app.stop().await;
}

#[tokio::test]
async fn a_snapshot_then_subscribing_from_its_header_has_no_gap_and_no_duplicate() {
    let app = spawn_app().await;
    app.put_lot("a", 100).await;
    app.set_count("a", 1).await;
    let snapshot = app.http.get(app.url("/api/lots")).send().await.unwrap();
    let last_id = snapshot.headers()["last-event-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let lots: serde_json::Value = snapshot.json().await.unwrap();
    assert_eq!(lots[0]["occupied"], 1);
    app.set_count("a", 2).await;
    app.set_count("a", 3).await;
    let mut stream = app.subscribe(&format!("lastEventId={last_id}")).await;
    stream.connected().await;
    assert_eq!(stream.next_counts(2).await, vec![2, 3]);
    stream.expect_silence(Duration::from_millis(200)).await;
    app.stop().await;
}

#[tokio::test]
async fn pings_arrive_every_ping_interval_without_an_id() {
    let app = spawn_app_with(|s| s.ping_interval = Duration::from_millis(100)).await;
    let mut stream = app.subscribe("types=alert").await;
    stream.connected().await;
    for _ in 0..2 {
        let ping = loop {
            if let Some(SseItem::Event(event)) = stream.next_item().await {
                break event;
            }
        };
        assert_eq!(ping.event, "ping");
        assert_eq!(ping.id, None);
        let data: serde_json::Value = serde_json::from_str(&ping.data).unwrap();
        data["timestamp"]
            .as_str()
            .unwrap()
            .parse::<Timestamp>()
            .unwrap();
    }
    assert!(!stream.raw.windows(4).any(|w| w == b"id: "));
    app.stop().await;
}

#[tokio::test]
async fn a_gate_free_capacity_update_body_is_echoed_with_the_observation_time() {
    let app = spawn_app().await;
    app.put_lot("a", 100).await;
    let mut stream = app.subscribe("").await;
    stream.connected().await;
    let response = app
        .post_capacity(
            &json!({"parkingLotId": "a", "occupied": 30, "totalSlots": 120,
                               "timestamp": "2026-01-02T03:04:05.678+01:00"}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let answer: serde_json::Value = response.json().await.unwrap();
    let (_, event) = stream.next_data().await;
    assert_eq!(answer, event, "the answer is the broadcast capacity_update");
    assert_eq!(event["timestamp"], "2026-01-02T02:04:05.678Z");
    assert_eq!(event["totalSlots"], 120);
    assert_eq!(event["empty"], 90);
    app.stop().await;
}

#[tokio::test]
async fn a_connection_that_opens_with_the_stream_gets_a_close_delimited_body_and_others_chunks() {
    use tokio::io::AsyncWriteExt;
    let app = spawn_app().await;
    app.put_lot("a", 10).await;
    let request = b"GET /api/sse/dashboard?lots=a HTTP/1.1\r\nhost: x\r\n\r\n";

    // A connection of its own (how browsers and load generators open streams): no hyper, the
    // body ends with the connection, no chunk framing.
    let mut own = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    own.write_all(request).await.unwrap();
    let mut seen = Vec::new();
    read_until(&mut own, &mut seen, b"event: connected").await;
    let text = String::from_utf8_lossy(&seen).to_lowercase();
    assert!(text.starts_with("http/1.1 200 ok\r\n"), "{text}");
    assert!(text.contains("\r\nconnection: close\r\n"), "{text}");
    assert!(
        text.contains("\r\ncontent-type: text/event-stream\r\n"),
        "{text}"
    );
    assert!(!text.contains("transfer-encoding"), "{text}");
    assert!(
        text.contains("\r\n\r\nretry: 2000\n\nevent: connected\n"),
        "{text}"
    );

    // A keep-alive connection that asked something else first: served by hyper, chunked.
    let mut reused = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    reused
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut first = Vec::new();
    read_until(&mut reused, &mut first, b"\"ok\"").await;
    reused.write_all(request).await.unwrap();
    let mut second = Vec::new();
    read_until(&mut reused, &mut second, b"event: connected").await;
    let text = String::from_utf8_lossy(&second).to_lowercase();
    assert!(text.contains("transfer-encoding: chunked"), "{text}");

    // Both get the same live event.
    app.set_count("a", 7).await;
    read_until(&mut own, &mut seen, b"\"occupied\":7").await;
    read_until(&mut reused, &mut second, b"\"occupied\":7").await;
    app.stop().await;
}

#[tokio::test]
async fn a_malformed_or_refused_stream_request_on_its_own_connection_gets_an_error_and_a_close() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app().await;
    let answer = |request: &'static [u8]| {
        let addr = app.addr;
        async move {
            let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
            socket.write_all(request).await.unwrap();
            let mut all = Vec::new();
            tokio::time::timeout(crate::helpers::PATIENCE, socket.read_to_end(&mut all))
                .await
                .expect("the server closes the connection")
                .unwrap();
            String::from_utf8(all).unwrap()
        }
    };
    let garbage = answer(b"GET /api/sse/dashboard HTTP/1.1\r\nno colon here\r\n\r\n").await;
    assert!(garbage.starts_with("HTTP/1.1 400 "), "{garbage}");
    let unknown_type =
        answer(b"GET /api/sse/dashboard?types=bogus HTTP/1.1\r\nhost: x\r\n\r\n").await;
    assert!(
        unknown_type.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{unknown_type}"
    );
    assert!(
        unknown_type.to_lowercase().contains("connection: close"),
        "{unknown_type}"
    );
    let (_, body) = unknown_type.split_once("\r\n\r\n").unwrap();
    let error: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(error["error"]["field"], "types", "{body}");
    // The server is unharmed.
    let mut stream = app.subscribe("").await;
    stream.connected().await;
    app.stop().await;
}

/// Reads a gzip-compressed body until its decoded text contains `needle`.
async fn decode_until(
    body: &mut (impl futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin),
    decoder: &mut flate2::write::GzDecoder<Vec<u8>>,
    needle: &str,
) {
    use futures_util::StreamExt;
    use std::io::Write;
    tokio::time::timeout(crate::helpers::PATIENCE, async {
        while !String::from_utf8_lossy(decoder.get_ref()).contains(needle) {
            let chunk = body.next().await.expect("open").expect("bytes");
            decoder.write_all(&chunk).unwrap();
            decoder.flush().unwrap();
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{needle} decoded in time"));
}

#[tokio::test]
async fn with_stream_gzip_each_event_arrives_compressed_at_once_up_to_the_cap() {
    let app = spawn_app_with(|s| {
        s.stream_gzip = true;
        s.max_gzip_streams = 1;
    })
    .await;
    app.put_lot("a", 10).await;
    let open = |accept: &'static str| {
        app.http
            .get(app.url("/api/sse/dashboard?lots=a"))
            .header("accept-encoding", accept)
            .send()
    };
    let compressed = open("br, gzip").await.unwrap();
    assert_eq!(compressed.headers()["content-encoding"], "gzip");
    assert_eq!(compressed.headers()["vary"], "accept-encoding");
    let mut body = compressed.bytes_stream();
    let mut decoder = flate2::write::GzDecoder::new(Vec::new());
    decode_until(&mut body, &mut decoder, "event: connected\n").await;
    app.set_count("a", 3).await;
    decode_until(&mut body, &mut decoder, "\"occupied\":3").await;

    // The cap is one compressed stream: the next gets the plain stream; so does a client
    // that does not accept gzip.
    for accept in ["gzip", "identity"] {
        let plain = open(accept).await.unwrap();
        assert!(
            plain.headers().get("content-encoding").is_none(),
            "{accept}"
        );
        let mut stream = crate::helpers::EventStream::new(plain);
        stream.connected().await;
    }
    drop(body);
    app.stop().await;
}
