//! The domain state and the transaction a command runs in.

use std::collections::HashMap;

use parkstream_protocol::events::Event;

use super::lot::{Lot, LotId};

/// Everything the rules need, held in memory by the writer (the store is its durable copy).
#[derive(Debug, Default)]
pub struct State {
    lots: HashMap<LotId, Lot>,
}

impl State {
    /// The state as loaded from the store.
    pub fn from_lots(lots: impl IntoIterator<Item = Lot>) -> Self {
        Self {
            lots: lots.into_iter().map(|lot| (lot.id.clone(), lot)).collect(),
        }
    }

    pub fn lots(&self) -> impl Iterator<Item = &Lot> {
        self.lots.values()
    }

    /// Starts a transaction: changes apply to the state at once, and are undone by
    /// [`Txn::rollback`] if they cannot be stored.
    pub fn begin(&mut self) -> Txn<'_> {
        Txn {
            state: self,
            undo: Vec::new(),
            events: Vec::new(),
        }
    }
}

/// A row that changed in a transaction, to be stored.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Lot(Lot),
}

/// Changes made by one or more commands, applied to the state, not yet stored.
#[derive(Debug)]
pub struct Txn<'a> {
    state: &'a mut State,
    /// The value of each touched key before the transaction (first touch only).
    undo: Vec<(LotId, Option<Lot>)>,
    events: Vec<Event>,
}

impl Txn<'_> {
    pub fn lot(&self, id: &LotId) -> Option<&Lot> {
        self.state.lots.get(id)
    }

    pub(super) fn put(&mut self, lot: Lot) {
        if !self.undo.iter().any(|(id, _)| *id == lot.id) {
            let before = self.state.lots.get(&lot.id).cloned();
            self.undo.push((lot.id.clone(), before));
        }
        self.state.lots.insert(lot.id.clone(), lot);
    }

    pub(super) fn emit(&mut self, event: Event) {
        self.events.push(event);
    }

    /// How many events the transaction has emitted so far.
    pub fn event_count(&self) -> usize {
        self.events.len()
    }

    /// Undoes the changes and events made since `mark` (a command that failed half-way).
    pub fn rollback_to(&mut self, mark: Savepoint) {
        while self.undo.len() > mark.undo {
            let (id, before) = self.undo.pop().expect("len checked");
            match before {
                Some(lot) => self.state.lots.insert(id, lot),
                None => self.state.lots.remove(&id),
            };
        }
        self.events.truncate(mark.events);
    }

    /// A point to [`rollback_to`](Self::rollback_to).
    pub fn savepoint(&self) -> Savepoint {
        Savepoint {
            undo: self.undo.len(),
            events: self.events.len(),
        }
    }

    /// Undoes everything: the changes could not be stored.
    pub fn rollback(mut self) {
        self.rollback_to(Savepoint::default());
    }

    /// The final value of every row changed so far.
    pub fn changes(&self) -> Vec<Change> {
        self.undo
            .iter()
            .filter_map(|(id, _)| self.state.lots.get(id).cloned().map(Change::Lot))
            .collect()
    }

    /// The events emitted so far, in order.
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }
}

/// A position in a [`Txn`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Savepoint {
    undo: usize,
    events: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::lot::{CountReport, LotSettings};
    use parkstream_protocol::Timestamp;

    fn settings() -> LotSettings {
        LotSettings {
            name: "North".into(),
            total_slots: 10,
            warning_threshold: 0.9,
            max_stay_seconds: None,
        }
    }

    #[test]
    fn rollback_restores_the_state_before_the_transaction() {
        let mut state = State::default();
        let id = LotId::parse("a").unwrap();
        let now = Timestamp::now();
        let mut tx = state.begin();
        tx.put_lot(id.clone(), settings(), now);
        drop(tx);
        let before: Vec<_> = state.lots().cloned().collect();

        let mut tx = state.begin();
        let report = CountReport {
            lot_id: id.clone(),
            occupied: 7,
            total_slots: None,
            observed_at: None,
        };
        tx.report_counts(vec![report], false, now).unwrap();
        tx.put_lot(LotId::parse("b").unwrap(), settings(), now);
        tx.rollback();
        assert_eq!(state.lots().cloned().collect::<Vec<_>>(), before);
    }

    #[test]
    fn a_batch_with_an_unknown_lot_changes_nothing() {
        let mut state = State::default();
        let now = Timestamp::now();
        let mut tx = state.begin();
        tx.put_lot(LotId::parse("a").unwrap(), settings(), now);
        let report = |lot: &str| CountReport {
            lot_id: LotId::parse(lot).unwrap(),
            occupied: 3,
            total_slots: None,
            observed_at: None,
        };
        let mark = tx.savepoint();
        let err = tx
            .report_counts(vec![report("a"), report("nope")], true, now)
            .unwrap_err();
        assert!(err.to_string().contains("item 1"), "{err}");
        assert_eq!(tx.event_count(), mark.events);
        assert_eq!(tx.take_events().len(), 1);
        let changes = tx.changes();
        let [Change::Lot(lot)] = changes.as_slice() else {
            panic!("expected one changed lot, got {changes:?}")
        };
        assert_eq!(lot.occupied, 0);
    }
}
