//! The hub: fans every published event out to the streams that want it.
//!
//! Events are encoded to SSE bytes once ([`PublishedEvent::frame`]) and kept in one shared
//! window ([`window::EventWindow`]). A stream holds only a cursor into that window: when woken
//! it copies every frame after its cursor that passes its filter into one chunk (one write for
//! however many events arrived), so a subscriber costs a few words of memory, a burst of
//! events costs one wake-up per stream, and a replay after `Last-Event-ID` is simply a cursor
//! that starts further back.
//!
//! Subscribers are indexed by lot, so publishing touches only the streams that asked for that
//! lot (or for every lot). A stream that left more than `max_lag` of its own events unread is
//! dropped and its connection closed at once; the client resumes by id. A stalled client
//! therefore never holds more than its socket buffers. (Other lots' events do not count: a
//! stream watching a quiet lot beside a busy one just moves its cursor past the ones that left
//! the window.) Bursts are published no faster than the streams that keep up can read them
//! ([`pacing`]).

mod filter;
pub mod gzip;
mod pacing;
mod subscription;
mod window;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard};
use std::time::Instant;

use bytes::Bytes;
use futures_util::task::AtomicWaker;
use tokio_util::sync::CancellationToken;

use parkstream_protocol::events::Ping;
use parkstream_protocol::{sse, EventType, Timestamp};

use crate::metrics::{Metrics, ReasonLabel, TypeLabel, TypeName};

pub use filter::{ContractorLots, ContractorScope, Filter, FilterError, TypeMask};
pub use pacing::KEEP_UP_GRACE;
pub use subscription::{SseStream, Subscription};
use window::EventWindow;

/// An event as the hub carries it: filter keys and the encoded frame(s).
#[derive(Debug)]
pub struct PublishedEvent {
    pub id: u64,
    pub event_type: EventType,
    pub lot: Option<Arc<str>>,
    /// The contractor it belongs to: an alert's or violation's, or that of the plate a
    /// capacity update names.
    pub owner: Option<Arc<str>>,
    /// The whole SSE frame: `id:`, `event:`, `data:` and the blank line.
    pub frame: Bytes,
    /// For a capacity update naming a plate: the same frame without the plate, for the
    /// streams of contractors the plate does not belong to.
    pub redacted: Option<Bytes>,
    pub published_at: Instant,
}

impl PublishedEvent {
    /// Encodes an event with its id (and, when it names a plate, a copy without it).
    pub fn new(
        id: u64,
        event_type: EventType,
        lot: Option<Arc<str>>,
        owner: Option<Arc<str>>,
        data: &str,
    ) -> Self {
        let encode = |data: &str| {
            let mut frame = Vec::with_capacity(data.len() + 48);
            sse::write_frame(&mut frame, Some(&id.to_string()), event_type.as_str(), data);
            Bytes::from(frame)
        };
        let redacted = (event_type == EventType::CapacityUpdate)
            .then(|| serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(data).ok())
            .flatten()
            .filter(|fields| fields.contains_key("plateNumber"))
            .map(|mut fields| {
                fields.remove("plateNumber");
                encode(&serde_json::Value::Object(fields).to_string())
            });
        Self {
            id,
            event_type,
            lot,
            owner,
            frame: encode(data),
            redacted,
            published_at: Instant::now(),
        }
    }
}

/// How a new stream starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// No `Last-Event-ID`: live events only.
    Fresh,
    /// Replays the retained events after the client's id, then goes live.
    Resumed,
    /// The id cannot be placed: the client must reload its snapshot; live events follow.
    Reset,
}

/// Every stream that may be open is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HubFull;

/// What the hub and one stream share.
#[derive(Debug)]
struct Slot {
    filter: Filter,
    waker: AtomicWaker,
    /// Position of the last event the stream has examined (written by the stream).
    cursor: AtomicU64,
    backlog: Backlog,
    /// Set when the hub gave up on the stream: it ends at its next poll.
    dropped: AtomicBool,
    /// Closes the stream's connection.
    kill: CancellationToken,
}

/// A stream's unread events as the publisher counts them. Only the publisher writes here
/// (under the registry lock), on every offer, so it sits on a cache line of its own: sharing
/// the line of `cursor`, which the stream writes on every poll, moved that line between the
/// cores on every offer (measured at 2,400 ev/s to 1,000 streams, the S4 setup of
/// docs/performance.md: p99 140 ms beside the cursor, 80 ms apart).
#[derive(Debug, Default)]
#[repr(align(64))]
struct Backlog {
    /// Position of the oldest event offered to the stream and not yet examined; at or below
    /// the stream's cursor when there is none.
    from: AtomicU64,
    /// Events offered to the stream so far, and that count when `from` was set and when the
    /// current publication began: lag is counted in the stream's own events, so a stream
    /// watching one quiet lot is not dropped while a busy lot's events pass it by.
    offered: AtomicU64,
    offered_at_from: AtomicU64,
    offered_at_publication: AtomicU64,
    /// The publication `offered_at_publication` belongs to.
    publication: AtomicU64,
}

#[derive(Debug, Default)]
struct Registry {
    next_id: u64,
    /// Publications so far (numbers each for [`Backlog::publication`]).
    publications: u64,
    everyone: HashMap<u64, Arc<Slot>>,
    all_lots: HashMap<u64, Arc<Slot>>,
    by_lot: HashMap<Arc<str>, HashMap<u64, Arc<Slot>>>,
}

#[derive(Debug)]
struct Inner {
    window: RwLock<EventWindow>,
    registry: Mutex<Registry>,
    ping_frame: RwLock<Bytes>,
    ping_generation: AtomicU64,
    /// Set once the server shuts down: every stream ends (within its drain window).
    closing: AtomicBool,
    /// The window's newest position, readable without its lock: a stream polled with
    /// nothing new (every delivery ends with such a poll) returns without touching the lock,
    /// a cache line both stream threads would otherwise take turns writing.
    newest_seq: AtomicU64,
    /// The newest id of a group being committed (equal to the newest published otherwise).
    committing: AtomicU64,
    /// Notified after every publication and abandoned commit.
    published: tokio::sync::Notify,
    metrics: Arc<Metrics>,
    max_clients: usize,
    max_lag: u64,
    /// The most events published at once by [`Hub::publish_paced`].
    chunk_size: usize,
}

/// A cheap handle to the hub.
#[derive(Debug, Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

/// Hub settings.
#[derive(Debug, Clone, Copy)]
pub struct HubConfig {
    /// How many events the window keeps.
    pub history_size: usize,
    pub max_clients: usize,
    /// How far (in events) a stream may fall behind before it is dropped.
    pub client_buffer: usize,
}

// A poisoned lock still guards plain data that every writer leaves consistent.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|p| p.into_inner())
}

impl Hub {
    /// A hub whose window starts with `history` (oldest first) and whose newest id is `newest`.
    pub fn new(
        config: HubConfig,
        newest: u64,
        history: impl IntoIterator<Item = Arc<PublishedEvent>>,
        metrics: Arc<Metrics>,
    ) -> Self {
        let history: Vec<_> = history.into_iter().collect();
        let before_history = history.first().map_or(newest, |e| e.id - 1);
        let mut window = EventWindow::new(config.history_size, before_history);
        for event in history {
            window.push(event);
        }
        debug_assert_eq!(window.newest_id(), newest, "history ends at the newest id");
        let newest_seq = window.newest_seq();
        let max_lag = config.client_buffer.min(config.history_size).max(1) as u64;
        Self {
            inner: Arc::new(Inner {
                window: RwLock::new(window),
                registry: Mutex::new(Registry::default()),
                ping_frame: RwLock::new(Bytes::new()),
                ping_generation: AtomicU64::new(0),
                closing: AtomicBool::new(false),
                newest_seq: AtomicU64::new(newest_seq),
                committing: AtomicU64::new(newest),
                published: tokio::sync::Notify::new(),
                metrics,
                max_clients: config.max_clients,
                max_lag,
                chunk_size: pacing::chunk_size(config.history_size, max_lag),
            }),
        }
    }

    /// The server's metrics (the hub keeps its own up to date; others use them too).
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The id of the newest published event.
    pub fn newest_id(&self) -> u64 {
        read(&self.inner.window).newest_id()
    }

    /// Streams open now.
    pub fn subscriber_count(&self) -> usize {
        lock(&self.inner.registry).everyone.len()
    }

    /// The writer is committing events up to `last_id`: a client resuming from one of them
    /// (it may have read the id from the database already) waits for their publication
    /// instead of getting `reset`. See [`Hub::settle`].
    pub fn begin_commit(&self, last_id: u64) {
        self.inner.committing.store(last_id, Ordering::Release);
    }

    /// In a cluster: any id newer than the newest published may be on its way from another
    /// instance (the client read it there), so a client resuming from one waits for it (see
    /// [`Hub::settle`]) before an id that never arrives gets `reset`.
    pub fn expect_remote_events(&self) {
        self.inner.committing.store(u64::MAX, Ordering::Release);
    }

    /// The commit failed: its ids will never be published.
    pub fn abandon_commit(&self) {
        let newest = self.newest_id();
        self.inner.committing.store(newest, Ordering::Release);
        self.inner.published.notify_waiters();
    }

    /// Waits (briefly) until an id that is committed but not yet published is published, so
    /// that resuming from it does not get `reset`. Returns at once for any other id.
    pub async fn settle(&self, last_id: &str) {
        let Ok(id) = last_id.trim().parse::<u64>() else {
            return;
        };
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let published = self.inner.published.notified();
            tokio::pin!(published);
            published.as_mut().enable();
            if id <= self.newest_id() || id > self.inner.committing.load(Ordering::Acquire) {
                return;
            }
            if tokio::time::timeout_at(deadline, published).await.is_err() {
                return;
            }
        }
    }

    /// Publishes stored events, in id order, and wakes the streams that want them.
    pub fn publish(&self, events: impl IntoIterator<Item = Arc<PublishedEvent>>) {
        let mut positioned = Vec::new();
        {
            let mut window = self.inner.window.write().unwrap_or_else(|p| p.into_inner());
            for event in events {
                self.inner
                    .metrics
                    .events_published
                    .get_or_create(&TypeLabel {
                        r#type: TypeName(event.event_type),
                    })
                    .inc();
                positioned.push((window.push(event.clone()), event));
            }
            // Before any wake below, so a stream woken for these events sees them.
            self.inner
                .newest_seq
                .store(window.newest_seq(), Ordering::Release);
        }
        self.inner.published.notify_waiters();
        if positioned.is_empty() {
            return;
        }
        let mut registry = lock(&self.inner.registry);
        registry.publications += 1;
        let publication = registry.publications;
        let mut dropped = Vec::new();
        for (seq, event) in &positioned {
            let targets = registry.all_lots.iter().chain(
                event
                    .lot
                    .as_ref()
                    .and_then(|lot| registry.by_lot.get(lot))
                    .into_iter()
                    .flatten(),
            );
            for (id, slot) in targets {
                if slot.filter.types.contains(event.event_type)
                    && !self.offer(slot, *seq, publication)
                {
                    dropped.push(*id);
                }
            }
        }
        for id in dropped {
            if remove(&mut registry, id) {
                self.inner
                    .metrics
                    .subscribers_dropped
                    .get_or_create(&ReasonLabel { reason: "lag" })
                    .inc();
            }
        }
    }

    /// Tells a stream there is an event for it at `seq`; false when it is too far behind,
    /// in which case it is told to end and its connection is closed. Lag is how many of its
    /// events the stream left unread before this `publication`, so one large batch is not lag.
    fn offer(&self, slot: &Slot, seq: u64, publication: u64) -> bool {
        let backlog = &slot.backlog;
        let offered = backlog.offered.load(Ordering::Relaxed);
        if backlog.publication.load(Ordering::Relaxed) != publication {
            backlog.publication.store(publication, Ordering::Relaxed);
            backlog
                .offered_at_publication
                .store(offered, Ordering::Relaxed);
        }
        let cursor = slot.cursor.load(Ordering::Acquire);
        if backlog.from.load(Ordering::Relaxed) <= cursor {
            backlog.from.store(seq, Ordering::Relaxed);
            backlog.offered_at_from.store(offered, Ordering::Relaxed);
        }
        backlog.offered.store(offered + 1, Ordering::Relaxed);
        let unread = backlog
            .offered_at_publication
            .load(Ordering::Relaxed)
            .saturating_sub(backlog.offered_at_from.load(Ordering::Relaxed));
        if unread >= self.inner.max_lag {
            slot.dropped.store(true, Ordering::Release);
            slot.kill.cancel();
            slot.waker.wake();
            return false;
        }
        slot.waker.wake();
        true
    }

    /// Sends a `ping` to every stream.
    pub fn ping(&self) {
        let data = serde_json::to_string(&Ping {
            timestamp: Timestamp::now(),
        })
        .expect("ping serializes");
        let mut frame = Vec::with_capacity(64);
        sse::write_frame(&mut frame, None, EventType::Ping.as_str(), &data);
        *self
            .inner
            .ping_frame
            .write()
            .unwrap_or_else(|p| p.into_inner()) = frame.into();
        self.inner.ping_generation.fetch_add(1, Ordering::Release);
        for slot in lock(&self.inner.registry).everyone.values() {
            slot.waker.wake();
        }
    }

    /// The server is shutting down: every stream, open or opened from now on, ends (each at a
    /// random moment within its drain window, see [`SseStream::closing_over`]).
    ///
    /// A flag the streams read on every poll, where a cancellation token per stream cost a
    /// lock on a cold cache line per poll (8 % of the server's CPU in S2's profile).
    pub fn close_streams(&self) {
        self.inner.closing.store(true, Ordering::Release);
        for slot in lock(&self.inner.registry).everyone.values() {
            slot.waker.wake();
        }
    }

    /// Registers a stream. With `last_id`, it starts from that id's position in the window
    /// (taken under the registry lock, so no event falls between replay and live). `kill`
    /// closes the stream's connection if it falls behind.
    ///
    /// # Errors
    /// [`HubFull`] when `max_clients` streams are open.
    pub fn subscribe(
        &self,
        filter: Filter,
        last_id: Option<&str>,
        kill: CancellationToken,
    ) -> Result<Subscription, HubFull> {
        let mut registry = lock(&self.inner.registry);
        if registry.everyone.len() >= self.inner.max_clients {
            self.inner.metrics.clients_refused.inc();
            return Err(HubFull);
        }
        let (cursor, start) = {
            let window = read(&self.inner.window);
            match last_id.map(|id| window.place(id)) {
                None => (window.newest_seq(), Start::Fresh),
                Some(Some(cursor)) => (cursor, Start::Resumed),
                Some(None) => (window.newest_seq(), Start::Reset),
            }
        };
        let id = registry.next_id;
        registry.next_id += 1;
        let slot = Arc::new(Slot {
            filter,
            waker: AtomicWaker::new(),
            cursor: AtomicU64::new(cursor),
            backlog: Backlog::default(),
            dropped: AtomicBool::new(false),
            kill,
        });
        registry.everyone.insert(id, slot.clone());
        match slot.filter.index_lots() {
            None => {
                registry.all_lots.insert(id, slot.clone());
            }
            Some(lots) => {
                for lot in lots {
                    registry
                        .by_lot
                        .entry(lot.clone())
                        .or_default()
                        .insert(id, slot.clone());
                }
            }
        }
        drop(registry);
        self.inner.metrics.clients.inc();
        Ok(Subscription::new(self.clone(), id, slot, start))
    }

    fn unsubscribe(&self, id: u64) {
        remove(&mut lock(&self.inner.registry), id);
        self.inner.metrics.clients.dec();
    }
}

/// Removes a subscriber from every index; false if it was already gone.
fn remove(registry: &mut Registry, id: u64) -> bool {
    let Some(slot) = registry.everyone.remove(&id) else {
        return false;
    };
    match slot.filter.index_lots() {
        None => {
            registry.all_lots.remove(&id);
        }
        Some(lots) => {
            for lot in lots {
                if let Some(subs) = registry.by_lot.get_mut(lot) {
                    subs.remove(&id);
                    if subs.is_empty() {
                        registry.by_lot.remove(lot);
                    }
                }
            }
        }
    }
    true
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use futures_util::{FutureExt, StreamExt};

    pub(crate) fn event(id: u64, lot: &str) -> Arc<PublishedEvent> {
        Arc::new(PublishedEvent::new(
            id,
            EventType::CapacityUpdate,
            Some(lot.into()),
            None,
            "{}",
        ))
    }

    fn hub(client_buffer: usize) -> Hub {
        let config = HubConfig {
            history_size: 100,
            max_clients: 3,
            client_buffer,
        };
        Hub::new(config, 0, [], Arc::new(Metrics::new()))
    }

    fn subscribe(hub: &Hub, lots: Option<&str>, last_id: Option<&str>) -> SseStream {
        let filter = Filter::parse(lots, None, 100).unwrap();
        hub.subscribe(filter, last_id, CancellationToken::new())
            .unwrap()
            .into_stream(Default::default(), None)
    }

    /// The ids in what the stream has ready now.
    fn ready_ids(stream: &mut SseStream) -> Vec<u64> {
        let mut ids = Vec::new();
        while let Some(Some(Ok(chunk))) = stream.next().now_or_never() {
            let text = String::from_utf8(chunk.to_vec()).unwrap();
            ids.extend(
                text.lines()
                    .filter_map(|l| l.strip_prefix("id: "))
                    .map(|id| id.parse::<u64>().unwrap()),
            );
        }
        ids
    }

    #[test]
    fn delivers_only_to_matching_lots_in_one_chunk() {
        let hub = hub(16);
        let mut only_a = subscribe(&hub, Some("a"), None);
        let mut all = subscribe(&hub, None, None);
        let _ = ready_ids(&mut only_a); // the (empty) head
        hub.publish([event(1, "a"), event(2, "b"), event(3, "a")]);
        assert_eq!(ready_ids(&mut only_a), vec![1, 3]);
        assert_eq!(ready_ids(&mut all), vec![1, 2, 3]);
    }

    #[test]
    fn a_stream_too_far_behind_is_dropped_and_its_connection_closed() {
        let hub = hub(3);
        let kill = CancellationToken::new();
        let mut slow = hub
            .subscribe(Filter::EVERYTHING, None, kill.clone())
            .unwrap()
            .into_stream(Default::default(), None);
        let mut fast = subscribe(&hub, None, None);
        for id in 1..=3 {
            hub.publish([event(id, "a")]);
            assert_eq!(ready_ids(&mut fast), vec![id]);
        }
        assert!(!kill.is_cancelled());
        hub.publish([event(4, "a")]);
        assert!(kill.is_cancelled());
        assert_eq!(hub.subscriber_count(), 1);
        assert_eq!(ready_ids(&mut fast), vec![4]);
        let _ = slow.next().now_or_never(); // head
        assert_eq!(
            slow.next().now_or_never(),
            Some(None),
            "the dropped stream ends"
        );
    }

    #[test]
    fn a_burst_larger_than_the_lag_limit_is_not_lag_for_a_reader() {
        let hub = hub(3);
        let mut reader = subscribe(&hub, None, None);
        for base in [0, 10] {
            hub.publish((base + 1..=base + 10).map(|id| event(id, "a")));
            assert_eq!(ready_ids(&mut reader).len(), 10);
        }
        assert_eq!(hub.subscriber_count(), 1);
    }

    #[test]
    fn a_quiet_lot_filter_is_not_lag() {
        let hub = hub(2);
        let mut only_b = subscribe(&hub, Some("b"), None);
        hub.publish((1..=10).map(|id| event(id, "a")));
        hub.publish([event(11, "b")]);
        assert_eq!(ready_ids(&mut only_b), vec![11]);
        assert_eq!(hub.subscriber_count(), 1);
    }

    #[test]
    fn lag_counts_only_the_events_a_stream_wants() {
        let hub = hub(3);
        let mut only_b = subscribe(&hub, Some("b"), None);
        let _ = ready_ids(&mut only_b); // the (empty) head
        hub.publish([event(1, "b")]);
        // It reads nothing while a busy lot passes: two of its own events unread, not twelve.
        hub.publish((2..=11).map(|id| event(id, "a")));
        hub.publish([event(12, "b")]);
        hub.publish([event(13, "b")]);
        assert_eq!(hub.subscriber_count(), 1);
        assert_eq!(ready_ids(&mut only_b), vec![1, 12, 13]);
        // Three unread of its own before a publication: dropped.
        hub.publish([event(14, "b")]);
        hub.publish([event(15, "b")]);
        hub.publish([event(16, "b")]);
        hub.publish([event(17, "b")]);
        assert_eq!(hub.subscriber_count(), 0);
    }

    #[test]
    fn a_stream_on_a_quiet_lot_outlives_the_window_turning_over() {
        let hub = hub(16);
        let mut only_b = subscribe(&hub, Some("b"), None);
        let _ = ready_ids(&mut only_b); // the (empty) head
        for base in (0..300).step_by(50) {
            hub.publish((base + 1..=base + 50).map(|id| event(id, "a")));
        }
        hub.publish([event(301, "b")]);
        assert_eq!(ready_ids(&mut only_b), vec![301]);
        assert_eq!(hub.subscriber_count(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_paced_publication_waits_for_a_reader_and_drops_one_that_never_reads() {
        let hub = hub(100);
        let mut reader = subscribe(&hub, None, None);
        let kill = CancellationToken::new();
        let _stalled = hub
            .subscribe(Filter::EVERYTHING, None, kill.clone())
            .unwrap()
            .into_stream(Default::default(), None);
        let _ = ready_ids(&mut reader); // the (empty) head
        let events: Vec<_> = (1..=250).map(|id| event(id, "a")).collect();
        let publishing = tokio::spawn({
            let hub = hub.clone();
            async move { hub.publish_paced(events).await }
        });
        let mut read = Vec::new();
        let started = tokio::time::Instant::now();
        while read.len() < 250 {
            read.extend(ready_ids(&mut reader));
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        publishing.await.unwrap();
        assert_eq!(
            read,
            (1..=250).collect::<Vec<_>>(),
            "the reader got every event"
        );
        assert!(started.elapsed() >= KEEP_UP_GRACE, "the writer waited");
        assert!(
            kill.is_cancelled(),
            "the stream that never read was dropped"
        );
        assert_eq!(hub.subscriber_count(), 1);
    }

    #[test]
    fn resume_replays_what_follows_the_id() {
        let hub = hub(16);
        hub.publish([event(1, "a"), event(2, "b"), event(3, "a")]);
        let mut resumed = subscribe(&hub, Some("a"), Some("1"));
        assert_eq!(ready_ids(&mut resumed), vec![3]);
        let reset = hub
            .subscribe(Filter::EVERYTHING, Some("9"), CancellationToken::new())
            .unwrap();
        assert_eq!(reset.start(), Start::Reset);
    }

    #[test]
    fn refuses_above_the_limit_and_frees_slots_on_drop() {
        let hub = hub(4);
        let subs: Vec<_> = (0..3).map(|_| subscribe(&hub, None, None)).collect();
        assert!(hub
            .subscribe(Filter::EVERYTHING, None, CancellationToken::new())
            .is_err());
        drop(subs);
        assert_eq!(hub.subscriber_count(), 0);
        assert!(hub
            .subscribe(Filter::EVERYTHING, None, CancellationToken::new())
            .is_ok());
    }

    #[test]
    fn closing_ends_every_stream_and_every_later_one() {
        let hub = hub(4);
        let mut open = subscribe(&hub, None, None);
        let _ = open.next().now_or_never(); // the (empty) head
        assert!(open.next().now_or_never().is_none(), "open and idle");
        hub.close_streams();
        assert_eq!(open.next().now_or_never(), Some(None));
        let mut later = subscribe(&hub, Some("a"), None);
        assert_eq!(later.next().now_or_never(), Some(None));
    }

    #[test]
    fn pings_reach_every_stream() {
        let hub = hub(4);
        let mut a = subscribe(&hub, Some("a"), None);
        let _ = a.next().now_or_never();
        hub.ping();
        let Some(Some(Ok(chunk))) = a.next().now_or_never() else {
            panic!("no ping")
        };
        assert!(chunk.starts_with(b"event: ping\ndata: {\"timestamp\":"));
    }
}
