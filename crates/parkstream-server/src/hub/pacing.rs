//! Backpressure from the streams to the writers: a burst of events is published no faster
//! than the streams that keep up can read it.
//!
//! A stream is ended when events it has not read leave the window, or when it has more than
//! `max_lag` of its events unread. Both are right for a client that stopped reading, and wrong
//! for one that reads as fast as the server writes but was handed a batch larger than the
//! window in one go, or that reads steadily while ingest outruns the fan-out. So before a
//! large publication, or one that would push out events published less than
//! [`EVICTION_HORIZON`] ago, the publisher looks for streams that would lose events or pass
//! their lag limit, and waits for them to read. A stream that has not caught up within
//! [`KEEP_UP_GRACE`] does not keep up: it is dropped, and the publication goes on. Writers are
//! therefore slowed by bursts and by an ingest faster than the streams read (never the
//! dashboards that read), and for at most the grace period by any one stalled client.
//!
//! The horizon keeps the look off the common path: at a steady rate the window holds far
//! more than ten seconds of events, and a publication that evicts only older ones costs no
//! look at the streams. Once ingest is fast enough for the window to turn over within the
//! horizon, every publication looks.
//!
//! Large publications go out in chunks of at most a quarter of the smaller of the window and
//! the lag limit, so there is always room for a chunk while the readers take the one before.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use super::{remove, Hub, PublishedEvent};
use crate::metrics::ReasonLabel;
use crate::sync::{lock, read};

/// How long a publication waits for the streams behind it to read. A stream still in its
/// way after this long does not keep up.
pub const KEEP_UP_GRACE: Duration = Duration::from_secs(1);

/// A publication that would evict an event younger than this looks for streams that still
/// need it (see the module's doc).
pub const EVICTION_HORIZON: Duration = Duration::from_secs(10);

/// How often a waiting publisher looks again (waiting is rare: only bursts and an ingest
/// faster than the streams read wait).
const RECHECK_EVERY: Duration = Duration::from_millis(1);

/// The most events published at once by [`Hub::publish_paced`]: a quarter of the smaller of
/// the window and the lag limit.
pub(super) fn chunk_size(history_size: usize, max_lag: u64) -> usize {
    usize::try_from(max_lag.min(history_size as u64) / 4)
        .unwrap_or(usize::MAX)
        .max(1)
}

impl Hub {
    /// The most events published at once by [`Hub::publish_paced`]; a larger publication
    /// should go through it.
    pub fn chunk_size(&self) -> usize {
        self.inner.chunk_size
    }

    /// Waits until `n` more events can be published without ending a stream that keeps up
    /// (see the module's doc). Streams still in the way after [`KEEP_UP_GRACE`] are dropped.
    pub async fn make_room(&self, n: usize) {
        self.wait_for_room(n, false).await;
    }

    /// Publishes `events` in chunks of at most [`Hub::chunk_size`], each once the streams
    /// have room for it.
    pub async fn publish_paced(&self, events: Vec<Arc<PublishedEvent>>) {
        let chunk = self.chunk_size();
        for part in events.chunks(chunk) {
            self.wait_for_room(part.len(), true).await;
            self.publish(part.iter().cloned());
        }
    }

    /// [`Hub::make_room`]; a `chunk` of a large publication always looks at the streams.
    async fn wait_for_room(&self, n: usize, chunk: bool) {
        let deadline = tokio::time::Instant::now() + KEEP_UP_GRACE;
        loop {
            let in_the_way = self.streams_in_the_way(n, chunk);
            if in_the_way.is_empty() {
                return;
            }
            if tokio::time::Instant::now() >= deadline {
                self.drop_streams(&in_the_way);
                return;
            }
            tokio::time::sleep(RECHECK_EVERY).await;
        }
    }

    /// The streams that publishing `n` more events now would end though they may be reading:
    /// their oldest unread event would leave the window, or they have more than half their lag
    /// limit unread. Empty at once (without looking at any stream) for a publication that is
    /// not a `chunk` of a larger one and pushes out only events older than the horizon.
    fn streams_in_the_way(&self, n: usize, chunk: bool) -> Vec<u64> {
        let (evict_end, burst) = {
            let window = read(&self.inner.window);
            let evicted = (window.held() + n).saturating_sub(window.capacity()) as u64;
            let evict_end = window.first_seq() + evicted;
            let young = evicted > 0
                && window
                    .get(evict_end - 1)
                    .is_some_and(|e| e.published_at.elapsed() < EVICTION_HORIZON);
            (evict_end, young || chunk)
        };
        if !burst {
            return Vec::new();
        }
        let lag_limit = self.inner.max_lag / 2;
        let registry = lock(&self.inner.registry);
        registry
            .everyone
            .iter()
            .filter(|(_, slot)| {
                let backlog = &slot.backlog;
                let from = backlog.from.load(Ordering::Relaxed);
                if slot.dropped.load(Ordering::Relaxed)
                    || from <= slot.cursor.load(Ordering::Acquire)
                {
                    return false;
                }
                let unread = backlog
                    .offered
                    .load(Ordering::Relaxed)
                    .saturating_sub(backlog.offered_at_from.load(Ordering::Relaxed));
                from < evict_end || unread > lag_limit
            })
            .map(|(id, _)| *id)
            .collect()
    }

    /// Ends streams that did not keep up and closes their connections.
    fn drop_streams(&self, ids: &[u64]) {
        let mut registry = lock(&self.inner.registry);
        for id in ids {
            if let Some(slot) = registry.everyone.get(id).cloned() {
                slot.dropped.store(true, Ordering::Release);
                slot.kill.cancel();
                slot.waker.wake();
                if remove(&mut registry, *id) {
                    self.inner
                        .metrics
                        .subscribers_dropped
                        .get_or_create(&ReasonLabel { reason: "lag" })
                        .inc();
                }
            }
        }
    }
}
