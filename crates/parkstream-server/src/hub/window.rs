//! The in-memory window of recent events: what every stream reads from, live or replaying.
//!
//! Each event in the window has a position (`seq`), contiguous and increasing; a stream's
//! cursor is the position of the last event it has examined. Positions are internal; event
//! ids are what clients see.

use std::collections::VecDeque;
use std::sync::Arc;

use super::PublishedEvent;

#[derive(Debug)]
pub struct EventWindow {
    events: VecDeque<Arc<PublishedEvent>>,
    capacity: usize,
    /// Position of `events[0]` (or of the next event, when empty).
    first_seq: u64,
    /// The id of the newest event; before any, one less than the first id the store will give.
    newest_id: u64,
}

impl EventWindow {
    pub fn new(capacity: usize, newest_id: u64) -> Self {
        Self {
            events: VecDeque::with_capacity(capacity.min(65_536)),
            capacity: capacity.max(1),
            first_seq: 1,
            newest_id,
        }
    }

    pub fn newest_id(&self) -> u64 {
        self.newest_id
    }

    /// How many events the window keeps.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many events it holds now.
    pub fn held(&self) -> usize {
        self.events.len()
    }

    /// Position of the oldest event held (of the next event, when empty).
    pub fn first_seq(&self) -> u64 {
        self.first_seq
    }

    /// The event at position `seq`, if held.
    pub fn get(&self, seq: u64) -> Option<&Arc<PublishedEvent>> {
        let index = seq.checked_sub(self.first_seq)?;
        self.events.get(usize::try_from(index).ok()?)
    }

    /// Position of the newest event (0 before any).
    pub fn newest_seq(&self) -> u64 {
        self.first_seq + self.events.len() as u64 - 1
    }

    /// Appends an event, evicting the oldest when full; answers its position.
    pub fn push(&mut self, event: Arc<PublishedEvent>) -> u64 {
        debug_assert!(event.id > self.newest_id, "ids must increase");
        self.newest_id = event.id;
        if self.events.len() == self.capacity {
            self.events.pop_front();
            self.first_seq += 1;
        }
        self.events.push_back(event);
        self.newest_seq()
    }

    /// The cursor from which to resume after the event id `last_id`, as the client sent it;
    /// `None` when it cannot be placed (malformed, older than the window, newer than the newest).
    pub fn place(&self, last_id: &str) -> Option<u64> {
        let id = last_id.trim().parse::<u64>().ok()?;
        let oldest = self.events.front().map_or(self.newest_id + 1, |e| e.id);
        // The id just before the oldest retained event is still a valid point to resume
        // from: everything after it is here.
        if id > self.newest_id || id.saturating_add(1) < oldest {
            return None;
        }
        let retained_up_to_id = self.events.partition_point(|e| e.id <= id) as u64;
        Some(self.first_seq + retained_up_to_id - 1)
    }

    /// Whether everything after `cursor` is still in the window.
    pub fn holds_after(&self, cursor: u64) -> bool {
        cursor + 1 >= self.first_seq
    }

    /// The events after `cursor`, oldest first, each with its position.
    pub fn after(&self, cursor: u64) -> impl Iterator<Item = (u64, &Arc<PublishedEvent>)> {
        let start = (cursor + 1).saturating_sub(self.first_seq) as usize;
        self.events
            .range(start.min(self.events.len())..)
            .zip(cursor.max(self.first_seq - 1) + 1..)
            .map(|(event, seq)| (seq, event))
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

    fn ids_after(w: &EventWindow, cursor: u64) -> Vec<u64> {
        w.after(cursor).map(|(_, e)| e.id).collect()
    }

    #[test]
    fn places_retained_ids_and_the_one_before_the_oldest() {
        let w = window(11..=20, 5); // keeps 16..=20 at positions 6..=10
        assert_eq!(w.place("20"), Some(10));
        assert_eq!(ids_after(&w, w.place("17").unwrap()), vec![18, 19, 20]);
        assert_eq!(
            ids_after(&w, w.place("15").unwrap()),
            vec![16, 17, 18, 19, 20]
        );
        assert!(w.after(10).next().is_none());
    }

    #[test]
    fn refuses_evicted_future_and_malformed_ids() {
        let w = window(11..=20, 5);
        for id in ["14", "21", "", "abc", "-1", "1e3", "18446744073709551616"] {
            assert_eq!(w.place(id), None, "{id:?}");
        }
    }

    #[test]
    fn an_empty_store_accepts_only_its_starting_point() {
        let w = EventWindow::new(10, 99);
        assert_eq!(w.place("99"), Some(0));
        assert_eq!(w.place("98"), None);
        assert_eq!(w.place("100"), None);
    }

    #[test]
    fn knows_when_a_cursor_fell_out() {
        let w = window(1..=10, 4); // positions 7..=10 retained
        assert!(w.holds_after(6));
        assert!(!w.holds_after(5));
        let positions: Vec<u64> = w.after(8).map(|(seq, _)| seq).collect();
        assert_eq!(positions, vec![9, 10]);
    }
}
