//! The callbacks a client runs for the events its subscriptions receive.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use parkstream_protocol::EventType;

use crate::update::Received;

/// Identifies a callback, to remove it with [`Client::off`](crate::Client::off).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ListenerId(u64);

type Callback = Arc<dyn Fn(&Received) + Send + Sync>;

#[derive(Default)]
pub(crate) struct Listeners {
    next: AtomicU64,
    callbacks: Mutex<Vec<(ListenerId, EventType, Callback)>>,
}

impl Listeners {
    pub(crate) fn add(
        &self,
        event_type: EventType,
        callback: impl Fn(&Received) + Send + Sync + 'static,
    ) -> ListenerId {
        let id = ListenerId(self.next.fetch_add(1, Ordering::Relaxed));
        self.callbacks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((id, event_type, Arc::new(callback)));
        id
    }

    /// False if `id` was not registered.
    pub(crate) fn remove(&self, id: ListenerId) -> bool {
        let mut callbacks = self.callbacks.lock().unwrap_or_else(|p| p.into_inner());
        let before = callbacks.len();
        callbacks.retain(|(listener, _, _)| *listener != id);
        callbacks.len() != before
    }

    /// Runs every callback registered for the event's type. They run outside the lock, so a
    /// callback may call `on` or `off`.
    pub(crate) fn dispatch(&self, received: &Received) {
        let event_type = received.event.event_type();
        let matching: Vec<Callback> = self
            .callbacks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|(_, t, _)| *t == event_type)
            .map(|(_, _, callback)| callback.clone())
            .collect();
        for callback in matching {
            callback(received);
        }
    }
}
