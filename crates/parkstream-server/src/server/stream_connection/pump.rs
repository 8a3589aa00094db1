//! The part of a stream connection that lasts as long as its stream.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::body::HttpBody as _;
use bytes::{Buf, Bytes};
use tokio::io::AsyncWrite;
use tokio::net::TcpStream;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

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
pub(super) struct Pump {
    stream: TcpStream,
    body: Body,
    kill: Pin<Box<WaitForCancellationFutureOwned>>,
    /// Whether the last poll ended waiting for the socket, with `kill` registered.
    stalled: bool,
    /// What is left to write of the current chunk.
    pending: Bytes,
}

impl Pump {
    pub(super) fn new(stream: TcpStream, body: Body, kill: CancellationToken) -> Self {
        Self {
            stream,
            body,
            kill: Box::pin(kill.cancelled_owned()),
            stalled: false,
            pending: Bytes::new(),
        }
    }

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
