//! The accept loop: one task per connection, HTTP/1.1 and HTTP/2 through hyper, and a
//! per-connection token so the hub can close a connection whose client fell behind.
//!
//! axum's own `serve` gives no handle on a connection; a stalled SSE client would then hold
//! its socket until TCP gave up. Here the connection task selects on that token and drops the
//! socket at once. A plain-HTTP connection that opens with a stream request skips hyper
//! altogether ([`stream_connection`]): an idle stream then costs far less memory.
//!
//! Every socket costs a file descriptor, so none is kept for nothing: at most
//! `--max-connections` are open (others are closed as soon as they are accepted), each must
//! complete its first request head within `--header-timeout` of its accept whichever path
//! serves it, and one with no request in flight for `--idle-timeout` is closed
//! (`activity`). When descriptors run out all the same, the loop pauses instead of spinning
//! and logs one line per interval ([`accept`]).

pub mod accept;
mod activity;
pub mod stream_connection;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::Router;
use hyper::body::Incoming;
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use prometheus_client::metrics::gauge::Gauge;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use self::accept::{AcceptErrors, RateLimitedLog};
use self::activity::{Activity, Expiry, TrackedBody};
use self::stream_connection::Opening;
use crate::http::ConnectionContext;
use crate::metrics::{Metrics, ReasonLabel};

/// Limits on the connections of one listener.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Most connections open at once; the next ones are closed as soon as accepted.
    pub max_connections: usize,
    /// From the accept to the end of the first request's head (TLS handshake included).
    pub header_timeout: Duration,
    /// How long a connection may have no request in flight.
    pub idle_timeout: Duration,
}

/// How [`serve`] serves, besides the listener and the router.
pub struct Serving {
    /// Cancelled to stop accepting and shut down.
    pub shutdown: CancellationToken,
    /// How long open connections may finish after `shutdown` (streams end at once; requests
    /// in flight complete); the rest are then closed.
    pub grace: Duration,
    /// Serve HTTPS with this.
    pub tls: Option<TlsAcceptor>,
    /// Streams on connections of their own run on this runtime (see [`StreamRuntime`]).
    pub streams: tokio::runtime::Handle,
    pub limits: ConnectionLimits,
    pub metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Serving {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Serving")
            .field("grace", &self.grace)
            .field("tls", &self.tls.is_some())
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// Serves `app` on `listener` until `serving.shutdown` is cancelled, then lets open
/// connections finish for up to `serving.grace` and closes the rest.
pub async fn serve(listener: TcpListener, app: Router, serving: Serving) {
    let Serving {
        shutdown,
        grace,
        tls,
        streams,
        limits,
        metrics,
    } = serving;
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // The connection's own deadlines ([`activity`]) replace hyper's HTTP/1 header timeout,
    // which starts too late (after the version sniffing) and knows nothing of HTTP/2. hyper
    // sets it by default once it has a timer, so it is turned off explicitly.
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(None);
    let connections = TaskTracker::new();
    // Cancelled when the grace period is over: every connection still open is dropped.
    let force_close = CancellationToken::new();
    let conn = Conn {
        app,
        builder,
        shutdown: shutdown.clone(),
        force_close: force_close.clone(),
        tracker: connections.clone(),
        streams,
        tls,
        limits,
        metrics: metrics.clone(),
    };
    let places = Arc::new(Semaphore::new(limits.max_connections));
    let mut errors = AcceptErrors::default();
    let mut refusals = RateLimitedLog::default();
    loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    errors.succeeded();
                    let Ok(permit) = places.clone().try_acquire_owned() else {
                        // Closed before a byte is read: the cap holds whatever the clients do.
                        drop(stream);
                        metrics.connections_refused.inc();
                        if let Some(suppressed) = refusals.note(Instant::now()) {
                            tracing::warn!(
                                max_connections = limits.max_connections,
                                suppressed,
                                "connection limit reached; closing new connections"
                            );
                        }
                        continue;
                    };
                    let place = Place::new(permit, &metrics.connections_open);
                    connections.spawn(accept_connection(stream, peer, place, conn.clone()));
                }
                Err(err) if accept::concerns_one_connection(&err) => {
                    tracing::debug!(error = %err, "a connection was reset before its accept");
                }
                Err(err) => {
                    // Out of file descriptors, usually: the listener stays readable, so
                    // accepting again at once would spin. Connections that close free some.
                    metrics.accept_errors.inc();
                    let action = errors.failed(Instant::now());
                    if let Some(suppressed) = action.log {
                        tracing::warn!(
                            error = %err,
                            suppressed,
                            "accept failed; pausing (at most one such line every {} s)",
                            accept::LOG_EVERY.as_secs()
                        );
                    }
                    tokio::select! {
                        () = shutdown.cancelled() => break,
                        () = tokio::time::sleep(action.pause) => {}
                    }
                }
            },
        }
    }
    drop(listener);
    connections.close();
    let open = connections.len();
    if open > 0 {
        tracing::info!(open, "waiting for open connections to finish");
    }
    if tokio::time::timeout(grace, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            left = connections.len(),
            "grace period over; closing the remaining connections"
        );
        force_close.cancel();
        connections.wait().await;
    }
}

/// One of the `--max-connections` places, held by a connection's task for as long as its
/// socket is open (a stream's, on the streams' runtime, too).
struct Place {
    _permit: OwnedSemaphorePermit,
    open: Gauge,
}

impl Place {
    fn new(permit: OwnedSemaphorePermit, open: &Gauge) -> Self {
        open.inc();
        Self {
            _permit: permit,
            open: open.clone(),
        }
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        self.open.dec();
    }
}

/// What serving a connection needs besides the socket.
#[derive(Clone)]
struct Conn {
    app: Router,
    builder: auto::Builder<TokioExecutor>,
    shutdown: CancellationToken,
    /// Cancelled when the shutdown grace period is over.
    force_close: CancellationToken,
    /// Where connection tasks are spawned (and waited for on shutdown).
    tracker: TaskTracker,
    /// The runtime stream connections run on.
    streams: tokio::runtime::Handle,
    tls: Option<TlsAcceptor>,
    limits: ConnectionLimits,
    metrics: Arc<Metrics>,
}

impl Conn {
    fn timed_out(&self, expiry: Expiry) {
        self.metrics
            .connections_timed_out
            .get_or_create(&ReasonLabel {
                reason: expiry.reason(),
            })
            .inc();
    }
}

/// A runtime of its own for stream connections, so that fanning an event out to thousands of
/// streams never queues the API's requests and the writer's commits behind it: the operating
/// system shares the cores between the two sets of threads, and streams that fall behind
/// catch up with several events per write. Shut down in the background when dropped.
#[derive(Debug)]
pub struct StreamRuntime(Option<tokio::runtime::Runtime>);

impl StreamRuntime {
    /// `workers` threads (0: one per core).
    ///
    /// # Errors
    /// When the threads cannot be started.
    pub fn new(workers: usize) -> std::io::Result<Self> {
        let workers = if workers == 0 {
            std::thread::available_parallelism().map_or(2, usize::from)
        } else {
            workers
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .thread_name("parkstream-streams")
            .enable_all()
            .build()?;
        Ok(Self(Some(runtime)))
    }

    pub fn handle(&self) -> tokio::runtime::Handle {
        self.0.as_ref().expect("running").handle().clone()
    }
}

impl Drop for StreamRuntime {
    fn drop(&mut self) {
        // Dropping a runtime inside another one blocks, which tokio forbids.
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

async fn accept_connection(stream: TcpStream, peer: SocketAddr, place: Place, conn: Conn) {
    let accepted = Instant::now();
    let deadline = accepted + conn.limits.header_timeout;
    // Events are small and latency matters more than packet count.
    let _ = stream.set_nodelay(true);
    let Some(acceptor) = conn.tls.clone() else {
        let opening = tokio::select! {
            opening = stream_connection::opening(&stream, deadline) => opening,
            () = conn.shutdown.cancelled() => return,
        };
        match opening {
            Opening::Nothing => {
                if Instant::now() >= deadline {
                    conn.timed_out(Expiry::Header);
                }
            }
            Opening::Stream => {
                // A task of its own, holding only what a stream needs (this one, sized for
                // every path, ends here), on the streams' runtime and its reactor. The stream
                // ends by itself on shutdown (drain window).
                let Ok(stream) = stream.into_std() else {
                    return;
                };
                let kill = conn.force_close.child_token();
                // Moved out, so that the task holds these and not all of `conn`.
                let (app, metrics) = (conn.app, conn.metrics);
                conn.tracker.spawn_on(
                    async move {
                        let _place = place;
                        let Ok(stream) = TcpStream::from_std(stream) else {
                            return;
                        };
                        stream_connection::serve(stream, peer, app, deadline, kill, metrics).await;
                    },
                    &conn.streams,
                );
            }
            Opening::Other => {
                let force_close = conn.force_close.clone();
                tokio::select! {
                    () = serve_connection(stream, peer, false, accepted, conn) => {}
                    () = force_close.cancelled() => {}
                }
                drop(place);
            }
        }
        return;
    };
    let force_close = conn.force_close.clone();
    tokio::select! {
        () = serve_tls(stream, peer, acceptor, accepted, conn) => {}
        () = force_close.cancelled() => {}
    }
    drop(place);
}

async fn serve_tls(
    stream: TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    accepted: Instant,
    conn: Conn,
) {
    // The handshake is part of the time to the first request's head.
    let deadline = accepted + conn.limits.header_timeout;
    match tokio::time::timeout_at(deadline, acceptor.accept(stream)).await {
        Ok(Ok(stream)) => {
            let multiplexed = stream.get_ref().1.alpn_protocol() == Some(b"h2");
            serve_connection(stream, peer, multiplexed, accepted, conn).await;
        }
        Ok(Err(err)) => tracing::debug!(error = %err, "TLS handshake failed"),
        Err(_) => {
            tracing::debug!("TLS handshake timed out");
            conn.timed_out(Expiry::Header);
        }
    }
}

/// Serves one connection through hyper. On a `multiplexed` (HTTP/2) connection a stream that
/// falls behind is ended on its own instead of closing the connection its neighbours share.
async fn serve_connection<I>(
    io: I,
    peer: SocketAddr,
    multiplexed: bool,
    accepted: Instant,
    conn: Conn,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    // One token per connection, a child of the server's: the connection's loop waits on it
    // alone (the shared shutdown token would be one lock contended by every connection),
    // and the hub cancels it to close the connection of a stream that fell behind.
    let token = conn.shutdown.child_token();
    let context = ConnectionContext {
        kill: if multiplexed {
            CancellationToken::new()
        } else {
            token.clone()
        },
        peer,
    };
    let activity = Activity::new(accepted);
    let app = conn.app.clone();
    let requests = activity.clone();
    let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
        // The head is complete; the request is in flight until its response is written.
        let in_flight = requests.begin();
        req.extensions_mut().insert(context.clone());
        let response = app.clone().oneshot(req.map(Body::new));
        async move {
            let Ok(response) = response.await;
            Ok::<_, Infallible>(response.map(|body| TrackedBody::new(body, in_flight)))
        }
    });
    let connection = conn.builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(connection);
    let limits = conn.limits;
    let expired = activity.expired(limits.header_timeout, limits.idle_timeout, accepted);
    tokio::pin!(expired);
    let mut closing = false;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(err) = result {
                    tracing::debug!(error = %err, "connection ended with an error");
                }
                return;
            }
            expiry = &mut expired => {
                match expiry {
                    // Nothing was asked: nothing to answer.
                    Expiry::Header => {
                        conn.timed_out(expiry);
                        return;
                    }
                    // Lets a request that crossed the decision finish (HTTP/2 sends GOAWAY
                    // and waits for the client's answer to a ping), for as long as one is in
                    // flight; a connection that stays idle another timeout is dropped.
                    Expiry::Idle if !closing => {
                        conn.timed_out(expiry);
                        connection.as_mut().graceful_shutdown();
                        closing = true;
                        expired.set(activity.expired(
                            limits.header_timeout,
                            limits.idle_timeout,
                            Instant::now(),
                        ));
                    }
                    Expiry::Idle => return,
                }
            }
            () = token.cancelled(), if !(closing && conn.shutdown.is_cancelled()) => {
                if !conn.shutdown.is_cancelled() {
                    tracing::debug!("closing the connection of a client that fell behind");
                    return;
                }
                if !closing {
                    connection.as_mut().graceful_shutdown();
                    closing = true;
                }
            }
        }
    }
}
