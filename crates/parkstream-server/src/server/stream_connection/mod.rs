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

mod answer;
mod head;
mod pump;

pub use head::{parse_head, BadHead};

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::Router;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use self::pump::Pump;
use super::activity::Expiry;
use crate::http::ConnectionContext;
use crate::metrics::{Metrics, ReasonLabel};

/// How a connection that takes this path starts.
const STREAM_REQUEST: &[u8] = b"GET /api/sse/dashboard";

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
    let request = match tokio::time::timeout_at(deadline, head::read_request(&mut stream)).await {
        Ok(Ok(Ok(request))) => request,
        Ok(Ok(Err(_))) => {
            answer::refuse(stream).await;
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
        answer::write(stream, response).await;
        return None;
    }
    let mut head = answer::head(&response, None);
    stream.write_all_buf(&mut head).await.ok()?;
    Some(Pump::new(stream, response.into_body(), kill))
}
