//! The two deadlines of a connection served by hyper: its first request's head must be
//! complete within `--header-timeout` of the accept, and a connection with no request in
//! flight is closed after `--idle-timeout`.
//!
//! hyper's own HTTP/1 `header_read_timeout` starts only once hyper reads a head: the
//! HTTP/1-or-HTTP/2 sniffing before it (hyper-util's `auto::Builder`) waits with no deadline,
//! so a socket that never sent a byte stayed open for good, and HTTP/2 has no such timeout
//! at all. Counting requests in flight here (the service sees a request once its head is
//! complete; its response body is dropped when written) serves both versions alike.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, HttpBody};
use bytes::Bytes;
use tokio::time::Instant;

/// Requests in flight on one connection, and since when it has had none.
#[derive(Debug)]
pub struct Activity {
    /// When the connection was accepted; times below are milliseconds after it.
    accepted: Instant,
    /// Request heads received.
    requests: AtomicU64,
    in_flight: AtomicUsize,
    /// When the last request in flight finished.
    idle_since_ms: AtomicU64,
}

/// Why [`Activity::expired`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// No request head was complete within the header timeout.
    Header,
    /// No request was in flight for the idle timeout.
    Idle,
}

impl Expiry {
    /// The label of `parkstream_connections_timed_out_total`.
    pub fn reason(self) -> &'static str {
        match self {
            Expiry::Header => "header",
            Expiry::Idle => "idle",
        }
    }
}

impl Activity {
    pub fn new(accepted: Instant) -> Arc<Self> {
        Arc::new(Self {
            accepted,
            requests: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            idle_since_ms: AtomicU64::new(0),
        })
    }

    /// A request's head is complete; the guard marks its end when dropped (keep it in the
    /// response body, which lives until the response is written).
    pub fn begin(self: &Arc<Self>) -> InFlight {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(self.clone())
    }

    /// Completes when the connection has been silent too long: no request head by
    /// `accepted + header_timeout`, or no request in flight for `idle_timeout` (counted from
    /// `since` at the earliest).
    pub async fn expired(
        &self,
        header_timeout: Duration,
        idle_timeout: Duration,
        since: Instant,
    ) -> Expiry {
        let header_deadline = self.accepted + header_timeout;
        // A first request may come and go before the header deadline: its idle deadline
        // can then be the earlier.
        let mut wake = (self.accepted + header_timeout.min(idle_timeout)).max(since);
        loop {
            tokio::time::sleep_until(wake).await;
            let now = Instant::now();
            if self.requests.load(Ordering::Relaxed) == 0 {
                if now >= header_deadline {
                    return Expiry::Header;
                }
                wake = header_deadline;
                continue;
            }
            if self.in_flight.load(Ordering::Acquire) > 0 {
                // Busy (a long request, a stream): look again later.
                wake = now + idle_timeout;
                continue;
            }
            let ended =
                self.accepted + Duration::from_millis(self.idle_since_ms.load(Ordering::Acquire));
            let deadline = ended.max(since) + idle_timeout;
            if now >= deadline {
                return Expiry::Idle;
            }
            wake = deadline;
        }
    }
}

/// One request in flight; its end when dropped.
#[derive(Debug)]
pub struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let activity = &self.0;
        let ms = u64::try_from(activity.accepted.elapsed().as_millis()).unwrap_or(u64::MAX);
        // The time first, so that whoever sees no request in flight sees when the last ended.
        activity.idle_since_ms.store(ms, Ordering::Release);
        activity.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that holds its request's [`InFlight`] until hyper drops it (written, or
/// the connection gone).
#[derive(Debug)]
pub struct TrackedBody {
    inner: Body,
    _in_flight: InFlight,
}

impl TrackedBody {
    pub fn new(inner: Body, in_flight: InFlight) -> Self {
        Self {
            inner,
            _in_flight: in_flight,
        }
    }
}

impl HttpBody for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: Duration = Duration::from_millis(100);
    const IDLE: Duration = Duration::from_millis(200);

    #[tokio::test]
    async fn a_connection_without_a_request_expires_at_the_header_deadline() {
        let start = Instant::now();
        let activity = Activity::new(start);
        assert_eq!(activity.expired(HEADER, IDLE, start).await, Expiry::Header);
        assert!(start.elapsed() >= HEADER);
    }

    #[tokio::test]
    async fn a_connection_expires_an_idle_timeout_after_its_last_request_ended() {
        let start = Instant::now();
        let activity = Activity::new(start);
        let request = activity.begin();
        tokio::time::sleep(Duration::from_millis(300)).await;
        drop(request);
        assert_eq!(activity.expired(HEADER, IDLE, start).await, Expiry::Idle);
        assert!(
            start.elapsed() >= Duration::from_millis(500),
            "{:?}",
            start.elapsed()
        );
    }

    #[tokio::test]
    async fn an_idle_timeout_shorter_than_the_header_timeout_applies_after_a_quick_request() {
        let start = Instant::now();
        let activity = Activity::new(start);
        drop(activity.begin());
        let header = Duration::from_secs(3600);
        assert_eq!(activity.expired(header, IDLE, start).await, Expiry::Idle);
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );
    }

    #[tokio::test]
    async fn idleness_counts_from_the_given_moment_at_the_earliest() {
        let start = Instant::now();
        let activity = Activity::new(start);
        drop(activity.begin());
        let later = start + Duration::from_millis(300);
        assert_eq!(activity.expired(HEADER, IDLE, later).await, Expiry::Idle);
        assert!(
            start.elapsed() >= Duration::from_millis(500),
            "{:?}",
            start.elapsed()
        );
    }

    #[tokio::test]
    async fn a_request_in_flight_keeps_the_connection() {
        let start = Instant::now();
        let activity = Activity::new(start);
        let _stream = activity.begin();
        let expired = tokio::time::timeout(IDLE * 4, activity.expired(HEADER, IDLE, start));
        assert!(expired.await.is_err(), "a stream outlives every deadline");
    }
}
