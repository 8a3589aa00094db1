//! Connections whose first request opens the event stream, served without hyper.
//!
//! Idle streams are most of what a fleet of dashboards costs. Through hyper, a connection
//! keeps its read and write buffers and its dispatcher for as long as its stream lasts (about
//! 20 KiB each); a stream needs none of that once its head is written. So when a plain-HTTP
//! connection starts with `GET /api/sse/dashboard`, the accept loop reads that one request
//! itself, runs it through the same router as every request (authentication, filters, limits:
//! one code path), writes the response head, and then copies the body's chunks to the socket.
//! The body is delimited by the end of the connection (`Connection: close`, which HTTP/1.1
//! allows for a response and every SSE client expects), so no chunk framing is written either.
//! Any other answer (400, 401, 429, 503...) is written whole and the connection closed.
//!
//! The head must be complete by the connection's header deadline (`--header-timeout` from its
//! accept), or the connection is closed without an answer. [`parse_head`] is the pure part
//! (fuzzed by `fuzz/fuzz_targets/stream_head.rs`); after a whole answer the connection reads
//! what the client still sends for a moment before closing, so that the kernel does not reset
//! it under the answer.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::body::HttpBody as _;
use axum::http::{header, HeaderValue, Request, Response, StatusCode, Version};
use axum::Router;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use http_body_util::BodyExt;
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use tower::ServiceExt;

use super::activity::Expiry;
use crate::http::ConnectionContext;
use crate::metrics::{Metrics, ReasonLabel};

/// How a connection that takes this path starts.
const STREAM_REQUEST: &[u8] = b"GET /api/sse/dashboard";
/// The largest request head read (hyper's default limit is larger, but a stream request
/// carries a token, a cookie and a few parameters).
const MAX_HEAD_BYTES: usize = 16 * 1024;
const MAX_HEADERS: usize = 64;
/// The largest non-stream answer collected to be written (errors are small JSON bodies).
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// How a plain-HTTP connection opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opening {
    /// With a stream request: this module serves it.
    Stream,
    /// With anything else (also a first packet too short to tell, which only costs memory):
    /// hyper serves it.
    Other,
    /// With nothing before the deadline, or the client left: close it.
    Nothing,
}

/// How the connection's first bytes open it; waits for them until `deadline`.
pub async fn opening(stream: &TcpStream, deadline: Instant) -> Opening {
    let mut start = [0u8; STREAM_REQUEST.len()];
    match tokio::time::timeout_at(deadline, stream.peek(&mut start)).await {
        Ok(Ok(0) | Err(_)) | Err(_) => Opening::Nothing,
        Ok(Ok(n)) if n == start.len() && start == STREAM_REQUEST => Opening::Stream,
        Ok(Ok(_)) => Opening::Other,
    }
}

/// Serves the connection's one request (a stream, or the error that refused it), then
/// closes it. The request's head must be complete by `deadline` (else the connection is
/// closed without an answer). Cancelling `kill` closes it at once (the hub does, for a stream
/// that fell behind; the server, when its shutdown grace period is over).
pub async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    deadline: Instant,
    kill: CancellationToken,
    metrics: Arc<Metrics>,
) {
    // What runs only until the stream starts is boxed and freed, so that the task holds
    // nothing but the pump while the stream lasts.
    let starting = Box::pin(start(stream, peer, app, deadline, kill.clone(), metrics));
    let pump = tokio::select! {
        pump = starting => pump,
        () = kill.cancelled() => None,
    };
    if let Some(pump) = pump {
        pump.await;
    }
}

/// Reads the request, routes it, and writes the answer: whole (then `None`), or the head of
/// a stream whose body the returned pump then copies.
async fn start(
    mut stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    deadline: Instant,
    kill: CancellationToken,
    metrics: Arc<Metrics>,
) -> Option<Pump> {
    let request = match tokio::time::timeout_at(deadline, read_request(&mut stream)).await {
        Ok(Ok(Ok(request))) => request,
        Ok(Ok(Err(_))) => {
            let answer = async {
                stream.write_all(BAD_REQUEST).await?;
                close_gently(stream).await;
                std::io::Result::Ok(())
            };
            let _ = tokio::time::timeout(ANSWER_TIMEOUT, answer).await;
            return None;
        }
        // The client left before its head was complete.
        Ok(Err(_)) => return None,
        Err(_) => {
            metrics
                .connections_timed_out
                .get_or_create(&ReasonLabel {
                    reason: Expiry::Header.reason(),
                })
                .inc();
            return None;
        }
    };
    drop(metrics);
    let mut request = request.map(|()| Body::empty());
    request.extensions_mut().insert(ConnectionContext {
        kill: kill.clone(),
        peer,
    });
    let Ok(response) = app.oneshot(request).await;
    let streaming = response.status() == StatusCode::OK
        && response.headers().get(header::CONTENT_TYPE)
            == Some(&HeaderValue::from_static("text/event-stream"));
    if !streaming {
        let _ = tokio::time::timeout(ANSWER_TIMEOUT, write_answer(stream, response)).await;
        return None;
    }
    let mut head = head(&response, None);
    stream.write_all_buf(&mut head).await.ok()?;
    Some(Pump {
        stream,
        body: response.into_body(),
        kill: Box::pin(kill.cancelled_owned()),
        stalled: false,
        pending: Bytes::new(),
    })
}

const BAD_REQUEST: &[u8] =
    b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";

/// How long a whole answer (an error) may take to be written and the connection closed; a
/// client that does not read it loses it.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// How long, after a whole answer, the connection waits for the client to close it.
const LINGER: Duration = Duration::from_secs(2);
/// The most the client may still send meanwhile.
const LINGER_BYTES: usize = 64 * 1024;

/// Reads the request head; an error when the client leaves before it is complete.
async fn read_request(stream: &mut TcpStream) -> std::io::Result<Result<Request<()>, BadHead>> {
    let mut buf = BytesMut::with_capacity(1024);
    loop {
        if stream.read_buf(&mut buf).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        match parse_head(&buf) {
            Ok(Some(request)) => return Ok(Ok(request)),
            Ok(None) => {}
            Err(bad) => return Ok(Err(bad)),
        }
    }
}

/// Why a request head is refused (with 400, either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadHead {
    /// Not HTTP/1.x syntax, or a method, target or header the router cannot take.
    Malformed,
    /// Longer than 16 KiB, or more than 64 headers.
    TooLarge,
}

/// The request whose head starts `buf`, the bytes a connection sent so far: `Ok(None)` while
/// the head is incomplete (and under the size limit). Bytes after the head are not looked at:
/// a connection on this path serves one request.
///
/// # Errors
/// When the head is malformed or too large.
pub fn parse_head(buf: &[u8]) -> Result<Option<Request<()>>, BadHead> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut headers);
    match parsed.parse(buf) {
        Ok(httparse::Status::Complete(len)) if len <= MAX_HEAD_BYTES => {
            to_request(&parsed).map(Some).ok_or(BadHead::Malformed)
        }
        Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD_BYTES => Ok(None),
        Ok(httparse::Status::Complete(_) | httparse::Status::Partial)
        | Err(httparse::Error::TooManyHeaders) => Err(BadHead::TooLarge),
        Err(_) => Err(BadHead::Malformed),
    }
}

fn to_request(parsed: &httparse::Request<'_, '_>) -> Option<Request<()>> {
    let mut builder = Request::builder()
        .method(parsed.method?)
        .uri(parsed.path?)
        .version(match parsed.version? {
            0 => Version::HTTP_10,
            _ => Version::HTTP_11,
        });
    for h in parsed.headers.iter() {
        builder = builder.header(h.name, h.value);
    }
    builder.body(()).ok()
}

/// The status line and headers of `response`, with `Connection: close` (and the length of
/// a whole `body`).
fn head(response: &Response<Body>, body: Option<&Bytes>) -> BytesMut {
    let mut head = BytesMut::with_capacity(256);
    let status = response.status();
    head.put_slice(b"HTTP/1.1 ");
    head.put_slice(status.as_str().as_bytes());
    head.put_u8(b' ');
    head.put_slice(status.canonical_reason().unwrap_or("").as_bytes());
    head.put_slice(b"\r\n");
    for (name, value) in response.headers() {
        if name == header::CONNECTION || name == header::CONTENT_LENGTH {
            continue;
        }
        head.put_slice(name.as_str().as_bytes());
        head.put_slice(b": ");
        head.put_slice(value.as_bytes());
        head.put_slice(b"\r\n");
    }
    if let Some(body) = body {
        head.put_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
    }
    head.put_slice(b"connection: close\r\n\r\n");
    head
}

async fn write_answer(mut stream: TcpStream, response: Response<Body>) {
    let (parts, body) = response.into_parts();
    let body = match http_body_util::Limited::new(body, MAX_ANSWER_BYTES)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let response = Response::from_parts(parts, Body::empty());
    let head = head(&response, Some(&body));
    if stream.write_all(&head).await.is_ok() && stream.write_all(&body).await.is_ok() {
        close_gently(stream).await;
    }
}

/// Closes a connection after a whole answer: ends the writing side, then reads and drops
/// what the client still sends until it closes too (for at most [`LINGER`] and
/// [`LINGER_BYTES`]). Closing a socket with unread bytes makes the kernel reset the
/// connection, and a reset can destroy the answer before the client has read it (a client
/// that pipelined a second request, or whose head was too large and is still arriving).
async fn close_gently(mut stream: TcpStream) {
    if stream.shutdown().await.is_err() {
        return;
    }
    let drain = async {
        let mut sink = [0u8; 1024];
        let mut left = LINGER_BYTES;
        while let Ok(n @ 1..) = stream.read(&mut sink).await {
            left = left.saturating_sub(n);
            if left == 0 {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(LINGER, drain).await;
}

/// Stream polls between two offers of the stream thread's core to other threads.
const POLLS_PER_YIELD: u32 = 128;

/// Every [`POLLS_PER_YIELD`] polls on this thread, lets the kernel run another thread waiting
/// for this core. A fan-out to 10,000 streams keeps both stream threads busy for tens of
/// milliseconds, and whatever else runs on the machine (the API and commit threads, a proxy, a
/// load generator reading the streams) waited for a whole time slice. Yielding keeps the
/// stream threads' share of the CPU (unlike a lower priority, which starved them under
/// sustained ingest) and costs one cheap system call when no one is waiting. Measured at S2:
/// p99 113–124 → 93–95 ms (docs/performance.md).
fn yield_thread_now_and_then() {
    thread_local!(static POLLS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) });
    POLLS.with(|polls| {
        let n = polls.get().wrapping_add(1);
        polls.set(n);
        if n % POLLS_PER_YIELD == 0 {
            std::thread::yield_now();
        }
    });
}

/// The part of a connection that lasts as long as its stream: copies every chunk of the body
/// to the socket as it comes, until the body ends, the client goes away, or `kill` is
/// cancelled. A plain future, so that it holds only these fields (an `async` block with
/// `select!` holds every branch's state, about 1.5 KiB).
///
/// `kill` is watched only while the socket is full. Every other wait is on the body, and
/// whoever cancels `kill` ends the body too: the hub marks a stream it drops, and the server
/// closes every stream (within its drain window) before it cancels the connections. Polling
/// the token on every wake-up took a lock each time (6 % of the server's CPU in a profile of
/// S2).
struct Pump {
    stream: TcpStream,
    body: Body,
    kill: Pin<Box<WaitForCancellationFutureOwned>>,
    /// Whether the last poll ended waiting for the socket, with `kill` registered.
    stalled: bool,
    /// What is left to write of the current chunk.
    pending: Bytes,
}

impl Pump {
    /// Whether `kill` was cancelled; registers the task to hear of it otherwise.
    fn killed(&mut self, cx: &mut Context<'_>) -> bool {
        self.kill.as_mut().poll(cx).is_ready()
    }
}

impl Future for Pump {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        yield_thread_now_and_then();
        let this = &mut *self;
        if this.stalled && this.killed(cx) {
            return Poll::Ready(());
        }
        this.stalled = false;
        // A client sends nothing more; reading only tells when it has gone.
        while this.stream.poll_read_ready(cx).is_ready() {
            let mut sink = [0u8; 64];
            match this.stream.try_read(&mut sink) {
                Ok(0) => return Poll::Ready(()),
                Ok(_) => {}
                Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(_) => return Poll::Ready(()),
            }
        }
        loop {
            while !this.pending.is_empty() {
                match Pin::new(&mut this.stream).poll_write(cx, &this.pending) {
                    Poll::Ready(Ok(0) | Err(_)) => return Poll::Ready(()),
                    Poll::Ready(Ok(n)) => this.pending.advance(n),
                    Poll::Pending => {
                        // A client that stopped reading: only `kill` can end this now.
                        if this.killed(cx) {
                            return Poll::Ready(());
                        }
                        this.stalled = true;
                        return Poll::Pending;
                    }
                }
            }
            match Pin::new(&mut this.body).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        this.pending = data;
                    }
                }
                Poll::Ready(Some(Err(_)) | None) => return Poll::Ready(()),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(head: &[u8]) -> Request<()> {
        match parse_head(head) {
            Ok(Some(request)) => request,
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(head)),
        }
    }

    #[test]
    fn a_complete_head_becomes_the_request_and_what_follows_is_ignored() {
        let request = complete(
            b"GET /api/sse/dashboard?lots=a HTTP/1.1\r\nHost: x\r\nLast-Event-ID: 7\r\n\r\nGET /healthz HTTP/1.1\r\n\r\n",
        );
        assert_eq!(request.method(), "GET");
        assert_eq!(request.uri(), "/api/sse/dashboard?lots=a");
        assert_eq!(request.version(), Version::HTTP_11);
        assert_eq!(request.headers()["last-event-id"], "7");
        assert_eq!(request.headers().len(), 2);
        let old = complete(b"GET /api/sse/dashboard HTTP/1.0\r\n\r\n");
        assert_eq!(old.version(), Version::HTTP_10);
        // Other methods parse too (the router answers them).
        assert_eq!(complete(b"HEAD / HTTP/1.1\r\n\r\n").method(), "HEAD");
    }

    #[test]
    fn every_prefix_of_a_head_is_incomplete() {
        let head = b"GET /api/sse/dashboard HTTP/1.1\r\nHost: x\r\n\r\n";
        for end in 0..head.len() {
            assert_eq!(
                parse_head(&head[..end]).map(|r| r.is_some()),
                Ok(false),
                "{end}"
            );
        }
    }

    #[test]
    fn malformed_heads_are_refused() {
        for head in [
            &b"GET /api/sse/dashboard HTTP/1.1\r\nno colon here\r\n\r\n"[..],
            b"GET /api/sse/dashboard HTTP/9.1\r\n\r\n",
            b"GET /api/sse/dashboard?lots=\xff HTTP/1.1\r\n\r\n",
            b"GET /api/sse/dashboard HTTP/1.1\r\nbad\x01name: x\r\n\r\n",
            b"GET /api/sse/dashboard HTTP/1.1\r\nx: a\x00b\r\n\r\n",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
        ] {
            assert_eq!(
                parse_head(head).map(|r| r.is_some()),
                Err(BadHead::Malformed),
                "{:?}",
                String::from_utf8_lossy(head)
            );
        }
    }

    #[test]
    fn header_values_outside_ascii_are_kept_as_bytes() {
        let request = complete(b"GET /api/sse/dashboard HTTP/1.1\r\nx-junk: \xff\xfe\r\n\r\n");
        assert_eq!(request.headers()["x-junk"].as_bytes(), b"\xff\xfe");
    }

    #[test]
    fn heads_over_the_limits_are_refused() {
        let mut long = b"GET /api/sse/dashboard HTTP/1.1\r\nx-pad: ".to_vec();
        long.resize(MAX_HEAD_BYTES, b'a');
        assert_eq!(
            parse_head(&long).map(|r| r.is_some()),
            Err(BadHead::TooLarge)
        );
        // Complete, but longer than the limit.
        long.extend_from_slice(b"\r\n\r\n");
        assert_eq!(
            parse_head(&long).map(|r| r.is_some()),
            Err(BadHead::TooLarge)
        );
        // Just under it, complete: accepted.
        let mut under = b"GET /api/sse/dashboard HTTP/1.1\r\nx-pad: ".to_vec();
        under.resize(MAX_HEAD_BYTES - 4, b'a');
        under.extend_from_slice(b"\r\n\r\n");
        complete(&under);
        let mut many = b"GET /api/sse/dashboard HTTP/1.1\r\n".to_vec();
        for i in 0..=MAX_HEADERS {
            many.extend_from_slice(format!("x-{i}: y\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(
            parse_head(&many).map(|r| r.is_some()),
            Err(BadHead::TooLarge)
        );
    }

    /// Heads built from the pieces HTTP heads are made of (and some they must not contain).
    fn head_like() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        let piece = prop::sample::select(vec![
            &b"\r\n"[..],
            b"\n",
            b": ",
            b" ",
            b"\t",
            b"x-k",
            b"Host",
            b"HTTP/1.1",
            b"HTTP/1.0",
            b"/api/sse/dashboard",
            b"?lots=a",
            b"a",
            b"\xff",
            b"\x00",
            b"%",
        ]);
        let line = prop::sample::select(vec![
            &b" HTTP/1.1\r\n"[..],
            b" HTTP/1.0\r\n",
            b"?lots=a HTTP/1.1\r\n",
            b"",
        ]);
        let pieces = || prop::collection::vec(piece.clone(), 0..24);
        (line, pieces(), any::<bool>(), pieces()).prop_map(|(line, headers, end, after)| {
            let mut head = b"GET /api/sse/dashboard".to_vec();
            head.extend_from_slice(line);
            head.extend(headers.concat());
            if end {
                head.extend_from_slice(b"\r\n\r\n");
            }
            head.extend(after.concat());
            head
        })
    }

    proptest::proptest! {
        /// The fuzz target's properties (fuzz/fuzz_targets/stream_head.rs), on every run.
        #[test]
        fn bytes_after_a_complete_head_change_nothing(
            bytes in head_like(),
            cut in proptest::prelude::any::<proptest::sample::Index>(),
        ) {
            let whole = parse_head(&bytes);
            if matches!(whole, Ok(None)) {
                proptest::prop_assert!(bytes.len() < MAX_HEAD_BYTES);
            }
            let cut = cut.index(bytes.len() + 1);
            if let Ok(Some(early)) = parse_head(&bytes[..cut]) {
                let late = whole.expect("complete in a prefix").expect("complete in the whole");
                proptest::prop_assert_eq!(early.method(), late.method());
                proptest::prop_assert_eq!(early.uri(), late.uri());
                proptest::prop_assert_eq!(early.version(), late.version());
                proptest::prop_assert_eq!(early.headers(), late.headers());
            }
        }
    }
}
