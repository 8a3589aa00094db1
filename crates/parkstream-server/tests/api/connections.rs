//! Limits on sockets: the deadline for a connection's first request head, the idle deadline,
//! the cap on open connections, and the accept loop when file descriptors run out. Driven
//! with raw sockets, since every case is about bytes a client did not send.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::helpers::{
    fresh_database_url, read_until, spawn_app_with, spawn_binary_with_file_limit, EventStream,
    PATIENCE,
};

const SECOND: Duration = Duration::from_secs(1);

/// What the server sent on `socket` until it closed it, and when it closed it; `None` when
/// it is still open after `within`.
async fn until_closed(socket: &mut TcpStream, within: Duration) -> Option<(Vec<u8>, Instant)> {
    let mut seen = Vec::new();
    tokio::time::timeout(within, async {
        let mut buf = [0u8; 4096];
        loop {
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => return (seen, Instant::now()),
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .ok()
}

/// A connection that sent `bytes` and then nothing.
async fn send_and_fall_silent(addr: SocketAddr, bytes: &[u8]) -> TcpStream {
    let mut socket = TcpStream::connect(addr).await.expect("connect");
    socket.write_all(bytes).await.expect("write");
    socket
}

/// `GET /healthz` on a connection of its own; its status line, or why there is none.
async fn healthz(addr: SocketAddr) -> Result<String, String> {
    let attempt = async {
        let mut socket = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
        socket
            .write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .await
            .map_err(|e| e.to_string())?;
        let mut answer = Vec::new();
        socket
            .read_to_end(&mut answer)
            .await
            .map_err(|e| e.to_string())?;
        let answer = String::from_utf8_lossy(&answer).into_owned();
        match answer.split_once("\r\n") {
            Some((status, _)) => Ok(status.to_owned()),
            None => Err(format!("closed with {answer:?}")),
        }
    };
    tokio::time::timeout(SECOND, attempt)
        .await
        .unwrap_or_else(|_| Err("no answer within a second".into()))
}

/// Asks `/healthz` on fresh connections until it answers 200; fails after `until`.
async fn healthz_answers_by(addr: SocketAddr, until: Instant) {
    let mut last = Err(String::new());
    while Instant::now() < until {
        last = healthz(addr).await;
        if last.as_deref() == Ok("HTTP/1.1 200 OK") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("/healthz did not answer in time; last try: {last:?}");
}

/// The HTTP/2 connection preface and an empty SETTINGS frame.
const H2_START: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";

/// A HEADERS frame on stream 1 asking `GET /healthz` (HPACK: `:method GET` and `:scheme
/// http` from the static table, `:path` and `:authority` as literals), ending the stream.
fn h2_get_healthz() -> Vec<u8> {
    let mut block = vec![0x82, 0x86, 0x04, 8];
    block.extend_from_slice(b"/healthz");
    block.extend_from_slice(&[0x01, 1, b'x']);
    let len = u8::try_from(block.len()).unwrap();
    let mut frame = vec![0, 0, len, 0x1, 0x5, 0, 0, 0, 1];
    frame.extend_from_slice(&block);
    frame
}

#[tokio::test]
async fn silent_or_unfinished_sockets_are_closed_at_the_header_deadline_on_every_path() {
    let app = spawn_app_with(|s| s.header_timeout = SECOND).await;
    let preface_and_settings = H2_START;
    let cases: [(&str, &[u8]); 6] = [
        ("sent nothing", b""),
        // hyper's HTTP/1-or-HTTP/2 sniffing used to wait for these with no deadline.
        ("sent half an HTTP/2 preface", b"PRI * HTTP/2.0\r\n"),
        (
            "sent the HTTP/2 preface and no request",
            preface_and_settings,
        ),
        ("stopped in the request line (hyper)", b"GET /api/sse/dash"),
        (
            "stopped in the head (hyper)",
            b"GET /healthz HTTP/1.1\r\nhost: x\r\n",
        ),
        (
            "stopped in a stream request's head (stream path)",
            b"GET /api/sse/dashboard HTTP/1.1\r\nhost: x\r\n",
        ),
    ];
    let opened = Instant::now();
    let mut sockets = Vec::new();
    for (_, bytes) in cases {
        sockets.push(send_and_fall_silent(app.addr, bytes).await);
    }
    for ((case, _), mut socket) in cases.into_iter().zip(sockets) {
        let (sent, closed) = until_closed(&mut socket, PATIENCE)
            .await
            .unwrap_or_else(|| panic!("{case}: still open {PATIENCE:?} after"));
        let after = closed - opened;
        assert!(
            after >= Duration::from_millis(900) && after < Duration::from_millis(2500),
            "{case}: closed {after:?} after it opened, the header timeout being 1 s"
        );
        // No answer: nothing was asked (an HTTP/2 server speaks first, with its SETTINGS).
        if !case.contains("HTTP/2 preface and") {
            assert_eq!(sent, b"", "{case}");
        }
    }
    assert_eq!(
        app.metric("parkstream_connections_timed_out_total{reason=\"header\"}")
            .await,
        6.0
    );
    app.stop().await;
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout_on_http1_and_http2() {
    let app = spawn_app_with(|s| s.idle_timeout = SECOND).await;

    let mut h1 = send_and_fall_silent(app.addr, b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n").await;
    let mut answer = Vec::new();
    while !answer.ends_with(b"{\"status\":\"ok\"}") {
        let mut buf = [0u8; 1024];
        let n = h1.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed before the answer");
        answer.extend_from_slice(&buf[..n]);
    }
    let answered = Instant::now();
    let (more, closed) = until_closed(&mut h1, PATIENCE)
        .await
        .expect("the idle HTTP/1.1 connection is closed");
    assert_eq!(more, b"");
    let idle = closed - answered;
    assert!(
        idle >= Duration::from_millis(900) && idle < Duration::from_millis(2500),
        "HTTP/1.1 closed {idle:?} after its answer, the idle timeout being 1 s"
    );

    let mut h2 = send_and_fall_silent(app.addr, H2_START).await;
    h2.write_all(&h2_get_healthz()).await.unwrap();
    // Frames until the end: the answer (HEADERS, DATA ending stream 1), then GOAWAY.
    let mut answered = None;
    let mut goaway = None;
    let mut buf = Vec::new();
    let closed = tokio::time::timeout(PATIENCE, async {
        loop {
            let mut chunk = [0u8; 4096];
            match h2.read(&mut chunk).await {
                Ok(0) | Err(_) => return Instant::now(),
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            while buf.len() >= 9 {
                let len =
                    usize::from(buf[0]) << 16 | usize::from(buf[1]) << 8 | usize::from(buf[2]);
                if buf.len() < 9 + len {
                    break;
                }
                let (kind, flags) = (buf[3], buf[4]);
                match kind {
                    // SETTINGS that are not an ACK: acknowledged, as HTTP/2 requires.
                    0x4 if flags & 0x1 == 0 => h2
                        .write_all(b"\x00\x00\x00\x04\x01\x00\x00\x00\x00")
                        .await
                        .unwrap(),
                    0x0 if flags & 0x1 != 0 => answered = Some(Instant::now()),
                    // PING: answered, as a live client does.
                    0x6 if flags & 0x1 == 0 => {
                        let mut pong = buf[..9 + len].to_vec();
                        pong[4] = 0x1;
                        h2.write_all(&pong).await.unwrap();
                    }
                    0x7 => goaway = Some(Instant::now()),
                    _ => {}
                }
                buf.drain(..9 + len);
            }
        }
    })
    .await
    .expect("the idle HTTP/2 connection is closed");
    let answered = answered.expect("the answer's last DATA frame");
    assert!(goaway.is_some(), "a GOAWAY before the close");
    let idle = closed - answered;
    assert!(
        idle >= Duration::from_millis(900) && idle < Duration::from_millis(2500),
        "HTTP/2 closed {idle:?} after its answer, the idle timeout being 1 s"
    );
    assert_eq!(
        app.metric("parkstream_connections_timed_out_total{reason=\"idle\"}")
            .await,
        2.0
    );
    app.stop().await;
}

#[tokio::test]
async fn a_stream_on_a_keep_alive_connection_outlives_the_idle_timeout() {
    let app = spawn_app_with(|s| s.idle_timeout = SECOND).await;
    app.put_lot("a", 10).await;
    // A request first, so that hyper serves the connection (not the stream path).
    let mut socket =
        send_and_fall_silent(app.addr, b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n").await;
    let mut seen = Vec::new();
    read_until(&mut socket, &mut seen, b"{\"status\":\"ok\"}").await;
    socket
        .write_all(b"GET /api/sse/dashboard?lots=a HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    read_until(&mut socket, &mut seen, b"event: connected").await;
    tokio::time::sleep(SECOND * 2).await;
    app.set_count("a", 4).await;
    read_until(&mut socket, &mut seen, b"\"occupied\":4").await;
    app.stop().await;
}

#[tokio::test]
async fn a_connection_over_max_connections_is_closed_at_once_and_counted() {
    let app = spawn_app_with(|s| {
        s.max_connections = Some(2);
        s.header_timeout = SECOND;
    })
    .await;
    // Accepted in the order they connect: the first two take both places.
    let mut first = send_and_fall_silent(app.addr, b"").await;
    let _second = send_and_fall_silent(app.addr, b"").await;
    let mut third = send_and_fall_silent(app.addr, b"").await;
    let opened = Instant::now();
    let (sent, closed) = until_closed(&mut third, PATIENCE)
        .await
        .expect("the third connection is closed");
    assert_eq!(sent, b"");
    assert!(
        closed - opened < Duration::from_millis(500),
        "closed at once, not at the header deadline: {:?}",
        closed - opened
    );
    assert!(
        until_closed(&mut first, Duration::from_millis(100))
            .await
            .is_none(),
        "the first connection keeps its place until its own deadline"
    );
    // Both places free again at the header deadline.
    healthz_answers_by(app.addr, opened + SECOND * 2).await;
    // The third, and the health checks that found no place before the deadline.
    assert!(app.metric("parkstream_connections_refused_total").await >= 1.0);
    app.stop().await;
}

#[tokio::test]
async fn with_few_file_descriptors_silent_sockets_lock_out_neither_health_checks_nor_open_streams()
{
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_database_url(dir.path()).await;
    // 256 files: 192 connections by default, the rest kept for the database and the rest.
    let server = spawn_binary_with_file_limit(
        256,
        &[
            "--auth",
            "none",
            "--database-url",
            &db,
            "--header-timeout",
            "1s",
        ],
        &[],
    )
    .await;
    let addr: SocketAddr = server.base.trim_start_matches("http://").parse().unwrap();
    let http = reqwest::Client::new();
    let put = http
        .put(format!("{}/api/lots/a", server.base))
        .json(&serde_json::json!({"name": "A", "totalSlots": 10}))
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success());
    // Two streams opened before the flood: one on a connection of its own (the stream path),
    // one through hyper.
    let mut own = send_and_fall_silent(
        addr,
        b"GET /api/sse/dashboard?lots=a HTTP/1.1\r\nhost: x\r\n\r\n",
    )
    .await;
    let mut own_seen = Vec::new();
    read_until(&mut own, &mut own_seen, b"event: connected").await;
    let response = http
        .get(format!("{}/api/sse/dashboard?lots=a", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut stream = EventStream::new(response);
    stream.connected().await;

    // More silent sockets than the process may open files.
    let mut silent = Vec::new();
    for _ in 0..300 {
        silent.push(TcpStream::connect(addr).await.expect("connect"));
    }
    let flooded = Instant::now();
    // At the header deadline the silent ones are closed; a health check gets through within
    // a second of it.
    healthz_answers_by(addr, flooded + SECOND * 2).await;

    // The streams opened before still receive.
    let fresh = reqwest::Client::new();
    let update = fresh
        .post(format!("{}/api/capacity/update", server.base))
        .json(&serde_json::json!({"parkingLotId": "a", "occupied": 3}))
        .send()
        .await
        .unwrap();
    assert_eq!(update.status(), 200);
    assert_eq!(stream.next_counts(1).await, vec![3]);
    read_until(&mut own, &mut own_seen, b"\"occupied\":3").await;

    let metrics = fresh
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let value = |series: &str| -> f64 {
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
            .map_or(0.0, |v| v.trim().parse().unwrap())
    };
    assert!(
        value("parkstream_connections_timed_out_total{reason=\"header\"}") > 0.0,
        "{metrics}"
    );
    let log = server.log.lock().unwrap().clone();
    assert!(
        !log.contains("Too many open files"),
        "the cap kept the server below its file limit: {log}"
    );
    drop(silent);
}

#[tokio::test]
async fn when_file_descriptors_run_out_the_accept_loop_pauses_and_logs_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_database_url(dir.path()).await;
    // A cap above what 128 files allow: accepts fail for want of descriptors.
    let server = spawn_binary_with_file_limit(
        128,
        &[
            "--auth",
            "none",
            "--database-url",
            &db,
            "--max-connections",
            "1000",
            "--header-timeout",
            "5s",
        ],
        &[],
    )
    .await;
    let addr: SocketAddr = server.base.trim_start_matches("http://").parse().unwrap();
    let mut silent = Vec::new();
    for _ in 0..200 {
        silent.push(TcpStream::connect(addr).await.expect("connect"));
    }
    tokio::time::sleep(SECOND * 2).await;
    let log = server.log.lock().unwrap().clone();
    let failures: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("accept failed"))
        .collect();
    assert_eq!(
        failures.len(),
        1,
        "one line per 10 s while accepts fail: {failures:#?}"
    );
    assert!(
        failures[0].contains("Too many open files"),
        "{}",
        failures[0]
    );
    assert!(
        log.contains("above what the open-file limit leaves"),
        "the cap's warning at startup: {log}"
    );
    // Descriptors freed by clients that leave: accepting resumes within the longest pause.
    drop(silent);
    healthz_answers_by(addr, Instant::now() + SECOND * 2).await;
    let metrics = reqwest::get(format!("{}/metrics", server.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("parkstream_accept_errors_total ") && !l.ends_with(" 0")),
        "{metrics}"
    );
}

#[tokio::test]
async fn zero_or_absurd_connection_limits_are_refused_at_startup() {
    for args in [
        ["--max-connections", "0"],
        ["--max-connections", "18446744073709551616"],
        ["--header-timeout", "0"],
        ["--idle-timeout", "100000h"],
    ] {
        let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_parkstream"))
            .arg("serve")
            .args(args)
            .output()
            .await
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(&format!("invalid value '{}' for '{}", args[1], args[0])),
            "{args:?}: {stderr}"
        );
    }
}
