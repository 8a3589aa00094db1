//! The hub: fans every published event out to the streams that want it.
//!
//! Events are encoded to SSE bytes once ([`PublishedEvent::frame`]) and kept in one shared
//! window (`window::EventWindow`). A stream holds only a cursor into that window: when woken
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
//! (`pacing`).

mod event;
mod filter;
mod pacing;
mod registry;
mod subscription;
mod window;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use bytes::Bytes;
use futures_util::task::AtomicWaker;
use tokio_util::sync::CancellationToken;

use parkstream_protocol::events::Ping;
use parkstream_protocol::{sse, EventType, Timestamp};

use crate::metrics::{Metrics, ReasonLabel, TypeLabel, TypeName};
use crate::sync::{lock, read, write};

pub use event::{publishable, PublishedEvent};
pub use filter::{ContractorLots, ContractorScope, Filter, FilterError, TypeMask};
pub use pacing::KEEP_UP_GRACE;
use registry::{remove, Backlog, Registry, Slot};
pub use subscription::{SseStream, Subscription};
use window::EventWindow;

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
    /// `--max-clients`, which a reload may change.
    max_clients: AtomicUsize,
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
                max_clients: AtomicUsize::new(config.max_clients),
                max_lag,
                chunk_size: pacing::chunk_size(config.history_size, max_lag),
            }),
        }
    }

    /// Most streams open at once, from the next subscription on (open ones stay).
    pub fn set_max_clients(&self, max_clients: usize) {
        self.inner.max_clients.store(max_clients, Ordering::Relaxed);
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
            let mut window = write(&self.inner.window);
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
        *write(&self.inner.ping_frame) = frame.into();
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
        if registry.everyone.len() >= self.inner.max_clients.load(Ordering::Relaxed) {
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

#[cfg(test)]
pub(crate) mod tests;
