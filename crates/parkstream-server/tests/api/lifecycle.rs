//! Restarts, shutdown, slow and vanished clients, the connection limit.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::helpers::{count_batch, spawn_app, spawn_app_with, PATIENCE};

#[tokio::test]
async fn a_client_resumes_after_a_server_restart_on_the_same_database() {
    let app = spawn_app().await;
    app.put_lot("a", 100).await;
    let mut stream = app.subscribe("").await;
    stream.connected().await;
    app.post_capacity(&count_batch("a", 1..=3)).await;
    let first = stream.next_event().await.id.unwrap();
    drop(stream);

    let app = app.restart().await;
    let mut stream = app.subscribe_from("", Some(&first)).await;
    assert_eq!(stream.connected().await["resumed"], true);
    assert_eq!(stream.next_counts(2).await, vec![2, 3]);
    app.set_count("a", 4).await;
    let event = stream.next_event().await;
    let new_id: u64 = event.id.unwrap().parse().unwrap();
    assert!(
        new_id > first.parse::<u64>().unwrap(),
        "ids continue after a restart"
    );
    app.stop().await;
}

#[tokio::test]
async fn lot_state_survives_a_restart() {
    let app = spawn_app().await;
    app.put_lot("a", 100).await;
    app.set_count("a", 42).await;
    let app = app.restart().await;
    let lot = app.get_json("/api/lots/a").await;
    assert_eq!(lot["occupied"], 42);
    assert_eq!(lot["totalSlots"], 100);
    app.stop().await;
}

#[tokio::test]
async fn shutdown_ends_open_streams_and_the_server_stops() {
    let app = spawn_app_with(|s| s.shutdown_grace = Duration::from_secs(30)).await;
    let mut streams = Vec::new();
    for _ in 0..3 {
        let mut stream = app.subscribe("").await;
        stream.connected().await;
        streams.push(stream);
    }
    // stop() fails if the server is not gone within the patience period, far below the grace.
    let stopping = tokio::spawn(app.stop());
    for stream in &mut streams {
        stream.expect_end().await;
    }
    stopping.await.unwrap();
}

#[tokio::test]
async fn clients_that_disconnect_leave_nothing_behind() {
    let app = spawn_app().await;
    let mut streams = Vec::new();
    for _ in 0..3 {
        let mut stream = app.subscribe("lots=a").await;
        stream.connected().await;
        streams.push(stream);
    }
    assert_eq!(app.metric("parkstream_sse_clients").await, 3.0);
    drop(streams);
    app.wait_for_metric("parkstream_sse_clients", 0.0).await;
    app.stop().await;
}

#[tokio::test]
async fn above_the_connection_limit_a_stream_gets_503_with_retry_after() {
    let app = spawn_app_with(|s| s.max_clients = 2).await;
    let mut first = app.subscribe("").await;
    first.connected().await;
    let mut second = app.subscribe("").await;
    second.connected().await;

    let refused = app
        .http
        .get(app.url("/api/sse/dashboard"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 503);
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=10).contains(&retry_after));
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unavailable");
    assert_eq!(
        app.metric("parkstream_sse_clients_refused_total").await,
        1.0
    );

    drop(first);
    app.wait_for_metric("parkstream_sse_clients", 1.0).await;
    let mut third = app.subscribe("").await;
    third.connected().await;
    app.stop().await;
}

#[tokio::test]
async fn a_client_that_stops_reading_is_dropped_while_others_keep_receiving() {
    let app = spawn_app_with(|s| {
        s.client_buffer = 100;
        s.history_size = 100_000;
    })
    .await;
    // Long ids make big frames, so the stalled socket's buffers fill with fewer events.
    let lot = "l".repeat(128);
    app.put_lot(&lot, 1_000_000).await;

    // A client with a tiny receive window that reads the headers, then nothing more.
    let mut stalled = open_stalled_stream(app.addr).await;

    let mut reader = app.subscribe("").await;
    reader.connected().await;
    assert_eq!(app.metric("parkstream_sse_clients").await, 2.0);

    let lag_drops = "parkstream_sse_subscribers_dropped_total{reason=\"lag\"}";
    let mut next = 0u32;
    let deadline = tokio::time::Instant::now() + PATIENCE * 3;
    while app.metric(lag_drops).await == 0.0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the stalled client was never dropped"
        );
        let response = app
            .post_capacity(&count_batch(&lot, next + 1..=next + 1000))
            .await;
        assert_eq!(response.status(), 200);
        // The reader keeps up with every batch, in order.
        let counts = reader.next_counts(1000).await;
        assert_eq!(counts.first(), Some(&u64::from(next + 1)));
        assert_eq!(counts.last(), Some(&u64::from(next + 1000)));
        next += 1000;
    }
    assert_eq!(app.metric(lag_drops).await, 1.0);
    app.wait_for_metric("parkstream_sse_clients", 1.0).await;

    // The stalled client's connection was closed: draining it reaches the end.
    assert!(
        closed_within_patience(&mut stalled).await,
        "the stalled connection is closed"
    );

    app.set_count(&lot, 1).await;
    assert_eq!(reader.next_counts(1).await, vec![1]);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_shutdown_streams_close_spread_over_the_drain_window() {
    let app = spawn_app_with(|s| {
        s.shutdown_drain = Duration::from_millis(1500);
        s.shutdown_grace = Duration::from_secs(10);
    })
    .await;
    let mut streams = Vec::new();
    for _ in 0..20 {
        let mut stream = app.subscribe("").await;
        stream.connected().await;
        streams.push(stream);
    }
    let started = tokio::time::Instant::now();
    let stopping = tokio::spawn(app.stop());
    let ends = futures_util::future::join_all(streams.into_iter().map(|mut stream| async move {
        stream.expect_end().await;
        started.elapsed()
    }))
    .await;
    stopping.await.unwrap();
    let first = ends.iter().min().unwrap();
    let last = ends.iter().max().unwrap();
    // Twenty uniform draws over 1.5 s are this close together with a chance below 1e-9.
    assert!(
        *last - *first >= Duration::from_millis(400),
        "closes not spread: {ends:?}"
    );
    assert!(
        *last <= Duration::from_millis(2500),
        "a stream outlived the window: {ends:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_a_stalled_stream_when_the_grace_period_ends() {
    // A drain window longer than the grace period is cut to it.
    let app = spawn_app_with(|s| {
        s.shutdown_drain = Duration::from_secs(30);
        s.shutdown_grace = Duration::from_secs(1);
        s.client_buffer = 1_000_000;
        s.history_size = 100_000;
    })
    .await;
    let lot = "l".repeat(128);
    app.put_lot(&lot, 1_000_000).await;
    let mut reader = app.subscribe("").await;
    reader.connected().await;

    // Reads the headers, then nothing: 25,000 frames of about 400 bytes are far more than
    // its socket buffers hold (4 MiB to send at most here, 4 KiB to receive), so the
    // server's write to it waits for good, and only closing the connection can end it.
    let mut stalled = open_stalled_stream(app.addr).await;
    for batch in 0..25 {
        let response = app
            .post_capacity(&count_batch(&lot, batch * 1000 + 1..=batch * 1000 + 1000))
            .await;
        assert_eq!(response.status(), 200);
        assert_eq!(reader.next_counts(1000).await.len(), 1000);
    }
    let lag_drops = "parkstream_sse_subscribers_dropped_total{reason=\"lag\"}";
    assert_eq!(app.metric(lag_drops).await, 0.0);

    let started = tokio::time::Instant::now();
    let stopping = tokio::spawn(app.stop());
    reader.expect_end().await;
    // The stalled client reads nothing until the server is gone (reading would unblock the
    // server's write, and the stream would then end by itself).
    stopping.await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the server stopped {:?} after it was asked to, its grace period being 1 s",
        started.elapsed()
    );
    assert!(
        closed_within_patience(&mut stalled).await,
        "the stalled connection is closed"
    );
}

/// Opens a stream with a tiny receive window and reads its response head; the caller then
/// reads nothing, so the server's writes to it soon wait on a full socket.
async fn open_stalled_stream(addr: std::net::SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket.connect(addr).await.unwrap();
    stream
        .write_all(b"GET /api/sse/dashboard HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();
    let mut head = [0u8; 512];
    let n = stream.read(&mut head).await.unwrap();
    assert!(head[..n].starts_with(b"HTTP/1.1 200"));
    stream
}

/// Whether reading what is left on `stream` reaches its end within [`PATIENCE`].
async fn closed_within_patience(stream: &mut TcpStream) -> bool {
    let mut sink = vec![0u8; 1 << 16];
    tokio::time::timeout(PATIENCE, async {
        loop {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}
