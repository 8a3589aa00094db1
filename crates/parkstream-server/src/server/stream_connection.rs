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

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
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
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use tower::ServiceExt;

use crate::http::ConnectionContext;

/// How a connection that takes this path starts.
const STREAM_REQUEST: &[u8] = b"GET /api/sse/dashboard";
/// The largest request head read (hyper's default limit is larger, but a stream request
/// carries a token, a cookie and a few parameters).
const MAX_HEAD_BYTES: usize = 16 * 1024;
const MAX_HEADERS: usize = 64;
/// The largest non-stream answer collected to be written (errors are small JSON bodies).
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Whether the connection's first bytes are a stream request; waits up to `patience` for
/// them. `false` hands the connection to hyper (also when the first packet is too short to
/// tell, which only costs memory).
pub async fn opens_stream(stream: &TcpStream, patience: Duration) -> bool {
    let mut start = [0u8; STREAM_REQUEST.len()];
    match tokio::time::timeout(patience, stream.peek(&mut start)).await {
        Ok(Ok(n)) => n == start.len() && start == STREAM_REQUEST,
        _ => false,
    }
}

/// Serves the connection's one request (a stream, or the error that refused it), then
/// closes it. Cancelling `kill` closes it at once (the hub does, for a stream that fell
/// behind; the server, when its shutdown grace period is over).
pub async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    patience: Duration,
    kill: CancellationToken,
) {
    // What runs only until the stream starts is boxed and freed, so that the task holds
    // nothing but the pump while the stream lasts.
    let pump = Box::pin(start(stream, peer, app, patience, kill)).await;
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
    patience: Duration,
    kill: CancellationToken,
) -> Option<Pump> {
    let mut request = match tokio::time::timeout(patience, read_request(&mut stream)).await {
        Ok(Ok(Some(request))) => request,
        Ok(Ok(None)) => {
            let _ = stream.write_all(BAD_REQUEST).await;
            return None;
        }
        Ok(Err(_)) | Err(_) => return None,
    };
    request.extensions_mut().insert(ConnectionContext {
        kill: kill.clone(),
        peer,
    });
    let Ok(response) = app.oneshot(request).await;
    let streaming = response.status() == StatusCode::OK
        && response.headers().get(header::CONTENT_TYPE)
            == Some(&HeaderValue::from_static("text/event-stream"));
    if !streaming {
        write_answer(stream, response).await;
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

/// Reads and parses the request head; `None` when it is malformed or too large.
async fn read_request(stream: &mut TcpStream) -> std::io::Result<Option<Request<Body>>> {
    let mut buf = BytesMut::with_capacity(1024);
    loop {
        if stream.read_buf(&mut buf).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut parsed = httparse::Request::new(&mut headers);
        match parsed.parse(&buf) {
            Ok(httparse::Status::Complete(_)) => return Ok(to_request(&parsed)),
            Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD_BYTES => {}
            Ok(httparse::Status::Partial) | Err(_) => return Ok(None),
        }
    }
}

fn to_request(parsed: &httparse::Request<'_, '_>) -> Option<Request<Body>> {
    let mut builder = Request::builder()
        .method(parsed.method?)
        .uri(parsed.path?)
        .version(if parsed.version? == 0 {
            Version::HTTP_10
        } else {
            Version::HTTP_11
        });
    for h in parsed.headers.iter() {
        builder = builder.header(h.name, h.value);
    }
    builder.body(Body::empty()).ok()
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
    let _ = stream.write_all(&head).await;
    let _ = stream.write_all(&body).await;
    let _ = stream.shutdown().await;
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
