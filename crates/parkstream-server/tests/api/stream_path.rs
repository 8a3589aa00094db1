//! The exact bytes the hand-written HTTP/1.1 stream path (a connection that opens with
//! `GET /api/sse/dashboard`) writes back for unusual heads, and that the server stays healthy
//! after each. A stream head cut short and then silent is in `connections.rs` (closed at the
//! header deadline with no answer).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{TestApp, PATIENCE};

const BAD_REQUEST: &[u8] =
    b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";

/// The head of every stream on this path, and the first bytes of its body.
const STREAM_START: &str = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\
cache-control: no-cache, no-transform\r\nx-accel-buffering: no\r\nconnection: close\r\n\r\n\
retry: 2000\n\nevent: connected\ndata: {\"clientId\":\"client_";

/// Sends `request` on a new connection and reads until the server closes it; fails if it
/// resets the connection (which can destroy an answer before it is read) or keeps it open.
async fn exchange(addr: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut socket = TcpStream::connect(addr).await.unwrap();
    socket.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(PATIENCE, socket.read_to_end(&mut answer))
        .await
        .expect("the server closes the connection")
        .unwrap_or_else(|err| {
            panic!(
                "{err} after {:?}",
                String::from_utf8_lossy(&answer).into_owned()
            )
        });
    answer
}

/// Reads what arrives on `socket` for `quiet` (or until it closes).
async fn read_for(socket: &mut TcpStream, quiet: Duration) -> Vec<u8> {
    let mut seen = Vec::new();
    let _ = tokio::time::timeout(quiet, async {
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = socket.read(&mut buf).await {
            seen.extend_from_slice(&buf[..n]);
        }
    })
    .await;
    seen
}

/// A new stream still opens and gets its `connected` event.
async fn still_healthy(app: &TestApp) {
    let mut stream = app.subscribe("").await;
    stream.connected().await;
    assert_eq!(app.get_json("/healthz").await["status"], "ok");
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn a_stream_head_over_16_kib_gets_exactly_a_400_and_a_clean_close() {
    let app = crate::helpers::spawn_app().await;
    let mut request = b"GET /api/sse/dashboard HTTP/1.1\r\nx-pad: ".to_vec();
    request.resize(request.len() + 64 * 1024, b'a');
    request.extend_from_slice(b"\r\n\r\n");
    let answer = exchange(app.addr, &request).await;
    assert_eq!(text(&answer), text(BAD_REQUEST));
    still_healthy(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn two_pipelined_requests_on_the_stream_path_get_one_answer_and_the_connection_closes() {
    let app = crate::helpers::spawn_app().await;
    // A refused stream, then a health check in the same packet: one answer, then the close
    // its `connection: close` announced.
    let answer = exchange(
        app.addr,
        b"GET /api/sse/dashboard?types=bogus HTTP/1.1\r\nhost: x\r\n\r\n\
          GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n",
    )
    .await;
    let body = r#"{"error":{"code":"invalid_query","message":"unknown event type \"bogus\"; expected a comma-separated list of capacity_update, alert, violation","field":"types"}}"#;
    assert_eq!(
        text(&answer),
        format!(
            "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\n\
             content-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
    );

    // A stream, then a health check: the stream, and nothing else.
    let mut socket = TcpStream::connect(app.addr).await.unwrap();
    socket
        .write_all(
            b"GET /api/sse/dashboard HTTP/1.1\r\nhost: x\r\n\r\nGET /healthz HTTP/1.1\r\nhost: x\r\n\r\n",
        )
        .await
        .unwrap();
    let seen = text(&read_for(&mut socket, Duration::from_millis(500)).await);
    assert!(seen.starts_with(STREAM_START), "{seen:?}");
    assert_eq!(seen.matches("HTTP/1.1").count(), 1, "{seen:?}");
    assert!(!seen.contains("\"ok\""), "{seen:?}");
    still_healthy(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn head_and_other_methods_on_the_stream_url_are_answered_without_opening_a_stream() {
    let app = crate::helpers::spawn_app().await;
    // Only `GET /api/sse/dashboard` takes the stream path; hyper answers the rest (with a
    // `date` header, left out of the comparison).
    let without_date = |answer: &str| -> String {
        answer
            .split_inclusive("\r\n")
            .filter(|line| !line.starts_with("date: "))
            .collect()
    };
    let mut socket = TcpStream::connect(app.addr).await.unwrap();
    socket
        .write_all(b"HEAD /api/sse/dashboard HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let head = text(&read_for(&mut socket, Duration::from_millis(500)).await);
    assert_eq!(
        without_date(&head),
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\
         cache-control: no-cache, no-transform\r\nx-accel-buffering: no\r\n\r\n"
    );
    assert_eq!(app.metric("parkstream_sse_clients").await, 0.0);
    // The connection goes on.
    socket
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let next = text(&read_for(&mut socket, Duration::from_millis(500)).await);
    assert!(next.starts_with("HTTP/1.1 200 OK\r\n"), "{next:?}");

    let answer = exchange(
        app.addr,
        b"POST /api/sse/dashboard HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
    )
    .await;
    let body = r#"{"error":{"code":"method_not_allowed","message":"method not allowed"}}"#;
    assert_eq!(
        without_date(&text(&answer)),
        format!(
            "HTTP/1.1 405 Method Not Allowed\r\ncontent-type: application/json\r\n\
             allow: GET,HEAD\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
    );
    still_healthy(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn a_client_gone_mid_head_is_closed_at_once_and_frees_its_place() {
    let app = crate::helpers::spawn_app().await;
    let mut socket = TcpStream::connect(app.addr).await.unwrap();
    socket
        .write_all(b"GET /api/sse/dashboard HTTP/1.1\r\nhost: x\r\nlast-eve")
        .await
        .unwrap();
    socket.shutdown().await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_millis(500), socket.read_to_end(&mut answer))
        .await
        .expect("closed at once, not at the header deadline")
        .unwrap();
    assert_eq!(text(&answer), "");
    drop(socket);
    // Only the connection asking for the metrics is left.
    app.wait_for_metric("parkstream_connections_open", 1.0)
        .await;
    still_healthy(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn bytes_outside_utf8_in_a_stream_head_are_refused_where_http_forbids_them() {
    let app = crate::helpers::spawn_app().await;
    // In the target: not a URI.
    let answer = exchange(
        app.addr,
        b"GET /api/sse/dashboard?lots=\xff HTTP/1.1\r\n\r\n",
    )
    .await;
    assert_eq!(text(&answer), text(BAD_REQUEST));
    // In a header's name: not a token.
    let answer = exchange(
        app.addr,
        b"GET /api/sse/dashboard HTTP/1.1\r\nx-\xff: 1\r\n\r\n",
    )
    .await;
    assert_eq!(text(&answer), text(BAD_REQUEST));
    // In a header's value: allowed (obs-text), and ignored by a header the server does not read.
    let mut socket = TcpStream::connect(app.addr).await.unwrap();
    socket
        .write_all(b"GET /api/sse/dashboard HTTP/1.1\r\nx-junk: \xff\xfe\r\n\r\n")
        .await
        .unwrap();
    let seen = text(&read_for(&mut socket, Duration::from_millis(500)).await);
    assert!(seen.starts_with(STREAM_START), "{seen:?}");
    // In a header the server reads: treated like any malformed value (a resume id it cannot
    // read gets `reset`, as documented).
    let mut socket = TcpStream::connect(app.addr).await.unwrap();
    socket
        .write_all(b"GET /api/sse/dashboard HTTP/1.1\r\nlast-event-id: \xff\r\n\r\n")
        .await
        .unwrap();
    let seen = text(&read_for(&mut socket, Duration::from_millis(500)).await);
    assert!(seen.starts_with(STREAM_START), "{seen:?}");
    assert!(
        seen.ends_with("\n\nevent: reset\ndata: {\"reason\":\"history_unavailable\"}\n\n"),
        "{seen:?}"
    );
    still_healthy(&app).await;
    app.stop().await;
}
