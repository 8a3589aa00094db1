//! The accept loop: one task per connection, HTTP/1.1 and HTTP/2 through hyper, and a
//! per-connection token so the hub can close a connection whose client fell behind.
//!
//! axum's own `serve` gives no handle on a connection; a stalled SSE client would then hold
//! its socket until TCP gave up. Here the connection task selects on that token and drops the
//! socket at once. A plain-HTTP connection that opens with a stream request skips hyper
//! altogether ([`stream_connection`]): an idle stream then costs far less memory.

mod stream_connection;

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::Router;
use hyper::body::Incoming;
use hyper::Request;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use crate::http::ConnectionContext;

/// Serves `app` on `listener` until `shutdown` is cancelled, then lets open connections finish
/// for up to `grace` (streams end at once; requests in flight complete) and closes the rest.
///
/// Streams on connections of their own run on `streams` (see [`StreamRuntime`]).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: CancellationToken,
    grace: Duration,
    tls: Option<TlsAcceptor>,
    streams: tokio::runtime::Handle,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // A client that opens a socket and never finishes its request headers is cut off.
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let connections = TaskTracker::new();
    // Cancelled when the grace period is over: every connection still open is dropped.
    let force_close = CancellationToken::new();
    loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    connections.spawn(accept_connection(
                        stream,
                        peer,
                        tls.clone(),
                        Conn {
                            app: app.clone(),
                            builder: builder.clone(),
                            shutdown: shutdown.clone(),
                            force_close: force_close.clone(),
                            tracker: connections.clone(),
                            streams: streams.clone(),
                        },
                    ));
                }
                Err(err) => {
                    // Out of file descriptors, usually: wait instead of spinning.
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
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

/// How long a client has to send its request's head.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Seconds a client has to finish its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

async fn accept_connection(
    stream: TcpStream,
    peer: SocketAddr,
    tls: Option<TlsAcceptor>,
    conn: Conn,
) {
    // Events are small and latency matters more than packet count.
    let _ = stream.set_nodelay(true);
    let Some(acceptor) = tls else {
        let opens_stream = tokio::select! {
            opens = stream_connection::opens_stream(&stream, HEADER_READ_TIMEOUT) => opens,
            () = conn.shutdown.cancelled() => return,
        };
        if opens_stream {
            // A task of its own, holding only what a stream needs (this one, sized for every
            // path, ends here), on the streams' runtime and its reactor. The stream ends by
            // itself on shutdown (drain window).
            let Ok(stream) = stream.into_std() else {
                return;
            };
            let kill = conn.force_close.child_token();
            conn.tracker.spawn_on(
                async move {
                    let Ok(stream) = TcpStream::from_std(stream) else {
                        return;
                    };
                    stream_connection::serve(stream, peer, conn.app, HEADER_READ_TIMEOUT, kill)
                        .await;
                },
                &conn.streams,
            );
            return;
        }
        let force_close = conn.force_close.clone();
        tokio::select! {
            () = serve_connection(stream, peer, false, conn) => {}
            () = force_close.cancelled() => {}
        }
        return;
    };
    let force_close = conn.force_close.clone();
    tokio::select! {
        () = serve_tls(stream, peer, acceptor, conn) => {}
        () = force_close.cancelled() => {}
    }
}

async fn serve_tls(stream: TcpStream, peer: SocketAddr, acceptor: TlsAcceptor, conn: Conn) {
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(stream)) => {
            let multiplexed = stream.get_ref().1.alpn_protocol() == Some(b"h2");
            serve_connection(stream, peer, multiplexed, conn).await;
        }
        Ok(Err(err)) => tracing::debug!(error = %err, "TLS handshake failed"),
        Err(_) => tracing::debug!("TLS handshake timed out"),
    }
}

/// Serves one connection. On a `multiplexed` (HTTP/2) connection a stream that falls behind
/// is ended on its own instead of closing the connection its neighbours share.
async fn serve_connection<I>(io: I, peer: SocketAddr, multiplexed: bool, conn: Conn)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    // One token per connection, a child of the server's: the connection's loop waits on it
    // alone (the shared shutdown token would be one lock contended by every connection),
    // and the hub cancels it to close the connection of a stream that fell behind.
    let Conn {
        app,
        builder,
        shutdown,
        ..
    } = conn;
    let token = shutdown.child_token();
    let context = ConnectionContext {
        kill: if multiplexed {
            CancellationToken::new()
        } else {
            token.clone()
        },
        peer,
    };
    let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
        req.extensions_mut().insert(context.clone());
        app.clone().oneshot(req.map(Body::new))
    });
    let connection = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(err) = result {
                tracing::debug!(error = %err, "connection ended with an error");
            }
        }
        () = token.cancelled() => {
            if shutdown.is_cancelled() {
                connection.as_mut().graceful_shutdown();
                let _ = connection.await;
            } else {
                tracing::debug!("closing the connection of a client that fell behind");
            }
        }
    }
}
