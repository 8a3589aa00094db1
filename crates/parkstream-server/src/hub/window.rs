//! The in-memory window of recent events: what a resuming client is replayed from.

use std::collections::VecDeque;
use std::sync::Arc;

use super::PublishedEvent;

/// The newest `capacity` published events, oldest first, and the id of the newest event ever
/// published (which outlives the window's contents).
#[derive(Debug)]
pub struct EventWindow {
    events: VecDeque<Arc<PublishedEvent>>,
    capacity: usize,
    /// The id of the newest event; before any, one less than the first id the store will give.
    newest: u64,
}

/// Where a client asking to resume after an id stands.
#[derive(Debug, PartialEq, Eq)]
pub enum Placement {
    /// The id is retained (or is the newest): replay what follows it, from this index.
    After(usize),
    /// Malformed, older than the window, or newer than the newest: the client must reset.
    Unknown,
}

impl EventWindow {
    pub fn new(capacity: usize, newest: u64) -> Self {
        Self {
            events: VecDeque::with_capacity(capacity.min(65_536)),
            capacity,
            newest,
        }
    }

    pub fn newest(&self) -> u64 {
        self.newest
    }

    pub fn push(&mut self, event: Arc<PublishedEvent>) {
        debug_assert!(event.id > self.newest, "ids must increase");
        self.newest = event.id;
        if self.events.len() == self.capacity {
            self.events.pop_front();
        }
        self.events.push_back(event);
    }

    /// Finds where to resume after `last_id`, given as the client sent it.
    pub fn place(&self, last_id: &str) -> Placement {
        let Ok(id) = last_id.trim().parse::<u64>() else {
            return Placement::Unknown;
        };
        let oldest = self.events.front().map_or(self.newest + 1, |e| e.id);
        // The event just before the oldest retained one is still a valid point to resume
        // from: everything after it is here.
        if id > self.newest || id.saturating_add(1) < oldest {
            return Placement::Unknown;
        }
        Placement::After(self.events.partition_point(|e| e.id <= id))
    }

    /// The retained events from `index` on, oldest first.
    pub fn events_from(&self, index: usize) -> impl Iterator<Item = &Arc<PublishedEvent>> {
        self.events.range(index..)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::tests::event;

    fn window(ids: std::ops::RangeInclusive<u64>, capacity: usize) -> EventWindow {
        let mut w = EventWindow::new(capacity, ids.start() - 1);
        for id in ids {
            w.push(event(id, "a"));
        }
        w
    }

    #[test]
    fn places_retained_ids_and_the_one_before_the_oldest() {
        let w = window(11..=20, 5); // keeps 16..=20
        assert_eq!(w.place("20"), Placement::After(5));
        assert_eq!(w.place("17"), Placement::After(2));
        assert_eq!(w.place("15"), Placement::After(0));
        let replay: Vec<u64> = w.events_from(2).map(|e| e.id).collect();
        assert_eq!(replay, vec![18, 19, 20]);
    }

    #[test]
    fn refuses_evicted_future_and_malformed_ids() {
        let w = window(11..=20, 5);
        for id in ["14", "21", "", "abc", "-1", "1e3", "18446744073709551616"] {
            assert_eq!(w.place(id), Placement::Unknown, "{id:?}");
        }
    }

    #[test]
    fn an_empty_store_accepts_only_its_starting_point() {
        let w = EventWindow::new(10, 99);
        assert_eq!(w.place("99"), Placement::After(0));
        assert_eq!(w.place("98"), Placement::Unknown);
        assert_eq!(w.place("100"), Placement::Unknown);
    }
}
