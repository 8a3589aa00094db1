//! The hub: fans every published event out to the streams that want it.
//!
//! Each event is encoded to SSE bytes once ([`PublishedEvent::frame`]) and shared by reference
//! with every subscriber. Subscribers are indexed by lot, so an event touches only the streams
//! that asked for its lot (or for every lot). Each subscriber has a bounded queue; one that
//! fills it is disconnected (its connection is closed at once) and resumes by id, so a stalled
//! client never holds more than its queue. Registering a subscriber and computing its replay
//! happen under the same lock as publishing, so no event falls between replay and live.

mod filter;
mod subscription;
mod window;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use parkstream_protocol::events::Ping;
use parkstream_protocol::{sse, EventType, Timestamp};

use crate::metrics::{Metrics, ReasonLabel, TypeLabel, TypeName};

pub use filter::{Filter, FilterError, TypeMask};
pub use subscription::{SseStream, Subscription};
use window::{EventWindow, Placement};

/// An event as the hub carries it: filter keys and the encoded frame.
#[derive(Debug)]
pub struct PublishedEvent {
    /// 0 for frames that carry no id (pings).
    pub id: u64,
    pub event_type: EventType,
    pub lot: Option<Arc<str>>,
    /// The whole SSE frame: `id:`, `event:`, `data:` and the blank line.
    pub frame: Bytes,
    pub published_at: Instant,
}

impl PublishedEvent {
    /// Encodes an event with its id.
    pub fn new(id: u64, event_type: EventType, lot: Option<Arc<str>>, data: &str) -> Self {
        let mut frame = Vec::with_capacity(data.len() + 48);
        sse::write_frame(&mut frame, Some(&id.to_string()), event_type.as_str(), data);
        Self {
            id,
            event_type,
            lot,
            frame: frame.into(),
            published_at: Instant::now(),
        }
    }
}

/// What a new subscriber gets before live events.
#[derive(Debug)]
pub enum Replay {
    /// No `Last-Event-ID`: live events only.
    None,
    /// The retained events after the client's id that pass its filter, oldest first.
    Events(Vec<Arc<PublishedEvent>>),
    /// The id cannot be placed: the client must reload its snapshot.
    Reset,
}

/// Every stream that may be open is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HubFull;

#[derive(Debug, Clone)]
struct Slot {
    tx: mpsc::Sender<Arc<PublishedEvent>>,
    types: TypeMask,
    /// Closes the subscriber's connection (used when it falls behind).
    kill: CancellationToken,
}

#[derive(Debug)]
struct HubState {
    window: EventWindow,
    next_subscriber: u64,
    /// Every subscriber, for pings and the connection limit.
    everyone: HashMap<u64, Slot>,
    /// Subscribers of every lot.
    all_lots: HashMap<u64, Slot>,
    /// Subscribers of some lots, by lot.
    by_lot: HashMap<Arc<str>, HashMap<u64, Slot>>,
}

#[derive(Debug)]
struct Inner {
    state: Mutex<HubState>,
    metrics: Arc<Metrics>,
    max_clients: usize,
    client_buffer: usize,
}

/// A cheap handle to the hub.
#[derive(Debug, Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

/// Hub settings.
#[derive(Debug, Clone, Copy)]
pub struct HubConfig {
    /// How many events the replay window keeps.
    pub history_size: usize,
    pub max_clients: usize,
    /// Events queued per subscriber before it is dropped.
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
        let mut window = EventWindow::new(config.history_size, newest);
        for event in history {
            window.push(event);
        }
        Self {
            inner: Arc::new(Inner {
                state: Mutex::new(HubState {
                    window,
                    next_subscriber: 0,
                    everyone: HashMap::new(),
                    all_lots: HashMap::new(),
                    by_lot: HashMap::new(),
                }),
                metrics,
                max_clients: config.max_clients,
                client_buffer: config.client_buffer,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HubState> {
        // A panic while holding the lock leaves plain data consistent enough to go on with.
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The id of the newest published event.
    pub fn newest_id(&self) -> u64 {
        self.lock().window.newest()
    }

    /// Streams open now.
    pub fn subscriber_count(&self) -> usize {
        self.lock().everyone.len()
    }

    /// Publishes stored events, in id order, to every subscriber that wants them.
    pub fn publish(&self, events: impl IntoIterator<Item = Arc<PublishedEvent>>) {
        let mut dropped = Vec::new();
        let mut state = self.lock();
        for event in events {
            self.inner
                .metrics
                .events_published
                .get_or_create(&TypeLabel {
                    r#type: TypeName(event.event_type),
                })
                .inc();
            state.window.push(event.clone());
            let state = &*state;
            let targets = state.all_lots.iter().chain(
                event
                    .lot
                    .as_ref()
                    .and_then(|lot| state.by_lot.get(lot))
                    .into_iter()
                    .flatten(),
            );
            for (id, slot) in targets {
                if slot.types.contains(event.event_type) {
                    offer(*id, slot, &event, &mut dropped);
                }
            }
        }
        self.remove_dropped(&mut state, dropped);
    }

    /// Sends a `ping` to every stream.
    pub fn ping(&self) {
        let data = serde_json::to_string(&Ping {
            timestamp: Timestamp::now(),
        })
        .expect("ping serializes");
        let mut frame = Vec::with_capacity(64);
        sse::write_frame(&mut frame, None, EventType::Ping.as_str(), &data);
        let ping = Arc::new(PublishedEvent {
            id: 0,
            event_type: EventType::Ping,
            lot: None,
            frame: frame.into(),
            published_at: Instant::now(),
        });
        let mut dropped = Vec::new();
        let mut state = self.lock();
        for (id, slot) in &state.everyone {
            offer(*id, slot, &ping, &mut dropped);
        }
        self.remove_dropped(&mut state, dropped);
    }

    fn remove_dropped(&self, state: &mut HubState, dropped: Vec<(u64, &'static str)>) {
        for (id, reason) in dropped {
            if remove(state, id) && reason == "lag" {
                self.inner
                    .metrics
                    .subscribers_dropped
                    .get_or_create(&ReasonLabel { reason })
                    .inc();
            }
        }
    }

    /// Registers a stream. With `last_id`, its replay is computed under the same lock, so
    /// replay and live events meet with no gap and no duplicate. `kill` closes the stream's
    /// connection if it falls behind.
    ///
    /// # Errors
    /// [`HubFull`] when `max_clients` streams are open.
    pub fn subscribe(
        &self,
        filter: Filter,
        last_id: Option<&str>,
        kill: CancellationToken,
    ) -> Result<Subscription, HubFull> {
        let (tx, rx) = mpsc::channel(self.inner.client_buffer);
        let mut state = self.lock();
        if state.everyone.len() >= self.inner.max_clients {
            self.inner.metrics.clients_refused.inc();
            return Err(HubFull);
        }
        let replay = match last_id {
            None => Replay::None,
            Some(last_id) => match state.window.place(last_id) {
                Placement::Unknown => Replay::Reset,
                Placement::After(index) => Replay::Events(
                    state
                        .window
                        .events_from(index)
                        .filter(|e| filter.accepts(e.event_type, e.lot.as_deref()))
                        .cloned()
                        .collect(),
                ),
            },
        };
        let id = state.next_subscriber;
        state.next_subscriber += 1;
        let slot = Slot {
            tx,
            types: filter.types,
            kill,
        };
        state.everyone.insert(id, slot.clone());
        match &filter.lots {
            None => {
                state.all_lots.insert(id, slot);
            }
            Some(lots) => {
                for lot in lots {
                    state
                        .by_lot
                        .entry(lot.clone())
                        .or_default()
                        .insert(id, slot.clone());
                }
            }
        }
        drop(state);
        self.inner.metrics.clients.inc();
        Ok(Subscription::new(
            replay,
            rx,
            Registration {
                hub: self.clone(),
                id,
            },
            self.inner.metrics.clone(),
        ))
    }
}

/// Queues an event for one subscriber; a full queue marks it as lagging.
fn offer(
    id: u64,
    slot: &Slot,
    event: &Arc<PublishedEvent>,
    dropped: &mut Vec<(u64, &'static str)>,
) {
    match slot.tx.try_send(event.clone()) {
        Ok(()) => {}
        Err(mpsc::error::TrySendError::Full(_)) => {
            slot.kill.cancel();
            dropped.push((id, "lag"));
        }
        Err(mpsc::error::TrySendError::Closed(_)) => dropped.push((id, "closed")),
    }
}

/// Removes a subscriber from every index; false if it was already gone.
fn remove(state: &mut HubState, id: u64) -> bool {
    if state.everyone.remove(&id).is_none() {
        return false;
    }
    if state.all_lots.remove(&id).is_none() {
        state.by_lot.retain(|_, subs| {
            subs.remove(&id);
            !subs.is_empty()
        });
    }
    true
}

/// Unregisters a subscriber when its stream is dropped.
#[derive(Debug)]
pub(crate) struct Registration {
    hub: Hub,
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        remove(&mut self.hub.lock(), self.id);
        self.hub.inner.metrics.clients.dec();
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn event(id: u64, lot: &str) -> Arc<PublishedEvent> {
        Arc::new(PublishedEvent::new(
            id,
            EventType::CapacityUpdate,
            Some(lot.into()),
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

    fn drain(sub: &mut Subscription) -> Vec<u64> {
        let mut ids = Vec::new();
        while let Ok(e) = sub.try_recv() {
            ids.push(e.id);
        }
        ids
    }

    #[test]
    fn delivers_only_to_matching_lots() {
        let hub = hub(16);
        let lots = Filter::parse(Some("a"), None).unwrap();
        let mut only_a = hub.subscribe(lots, None, CancellationToken::new()).unwrap();
        let mut all = hub
            .subscribe(Filter::EVERYTHING, None, CancellationToken::new())
            .unwrap();
        hub.publish([event(1, "a"), event(2, "b"), event(3, "a")]);
        assert_eq!(drain(&mut only_a), vec![1, 3]);
        assert_eq!(drain(&mut all), vec![1, 2, 3]);
    }

    #[test]
    fn a_full_queue_drops_the_subscriber_and_closes_its_connection() {
        let hub = hub(2);
        let kill = CancellationToken::new();
        let _slow = hub
            .subscribe(Filter::EVERYTHING, None, kill.clone())
            .unwrap();
        let mut fast = hub
            .subscribe(Filter::EVERYTHING, None, CancellationToken::new())
            .unwrap();
        hub.publish([event(1, "a"), event(2, "a")]);
        assert_eq!(drain(&mut fast), vec![1, 2]);
        assert!(!kill.is_cancelled());
        hub.publish([event(3, "a")]);
        assert!(kill.is_cancelled());
        assert_eq!(hub.subscriber_count(), 1);
        assert_eq!(drain(&mut fast), vec![3]);
    }

    #[test]
    fn resume_replays_what_follows_the_id() {
        let hub = hub(16);
        hub.publish([event(1, "a"), event(2, "b"), event(3, "a")]);
        let filter = Filter::parse(Some("a"), None).unwrap();
        let sub = hub
            .subscribe(filter, Some("1"), CancellationToken::new())
            .unwrap();
        let Replay::Events(events) = sub.replay() else {
            panic!("expected a replay")
        };
        assert_eq!(events.iter().map(|e| e.id).collect::<Vec<_>>(), vec![3]);
        let sub = hub
            .subscribe(Filter::EVERYTHING, Some("9"), CancellationToken::new())
            .unwrap();
        assert!(matches!(sub.replay(), Replay::Reset));
    }

    #[test]
    fn refuses_above_the_limit_and_frees_slots_on_drop() {
        let hub = hub(4);
        let subs: Vec<_> = (0..3)
            .map(|_| {
                hub.subscribe(Filter::EVERYTHING, None, CancellationToken::new())
                    .unwrap()
            })
            .collect();
        assert!(hub
            .subscribe(Filter::EVERYTHING, None, CancellationToken::new())
            .is_err());
        drop(subs);
        assert_eq!(hub.subscriber_count(), 0);
        assert!(hub
            .subscribe(Filter::EVERYTHING, None, CancellationToken::new())
            .is_ok());
    }
}
