//! The domain state and the transaction commands run in.

use std::collections::HashMap;
use std::hash::Hash;

use parkstream_protocol::events::Event;
use parkstream_protocol::Timestamp;

use super::alert::{AlertKey, AlertRecord};
use super::camera::Camera;
use super::contractor::{Contractor, ContractorId, Plate};
use super::gate::Stay;
use super::idempotency::{GateAnswer, GateAnswers, Retention};
use super::lot::{Lot, LotId};
use super::routing::Routing;
use super::violation::ViolationRecord;

/// Everything the rules need, held in memory by the writer; the store is its durable copy.
#[derive(Debug, Default)]
pub struct State {
    pub(super) lots: HashMap<LotId, Lot>,
    pub(super) contractors: HashMap<ContractorId, Contractor>,
    /// Which contractor registered each plate.
    pub(super) plates: HashMap<Plate, ContractorId>,
    /// Vehicles inside, by lot and plate.
    pub(super) stays: HashMap<(LotId, Plate), Stay>,
    /// How many of a contractor's vehicles are inside a lot (derived from `stays`).
    pub(super) inside: HashMap<(ContractorId, LotId), u32>,
    pub(super) cameras: HashMap<(LotId, String), Camera>,
    /// Alerts not yet resolved, by what they are about (one per key).
    pub(super) open_alerts: HashMap<AlertKey, AlertRecord>,
    /// Violations not yet resolved, by id.
    pub(super) open_violations: HashMap<String, ViolationRecord>,
    /// Answers already given to gate events with an `eventId`, within their retention.
    pub(super) gate_answers: GateAnswers,
}

/// What the store loads at start, from which the state is rebuilt.
#[derive(Debug, Default)]
pub struct Loaded {
    pub lots: Vec<Lot>,
    pub contractors: Vec<Contractor>,
    pub stays: Vec<Stay>,
    pub cameras: Vec<Camera>,
    pub open_alerts: Vec<AlertRecord>,
    pub open_violations: Vec<ViolationRecord>,
    pub gate_answers: Vec<GateAnswer>,
}

impl State {
    /// Rebuilds the state (and its derived indexes) from what the store loaded; gate answers
    /// are kept as `retention` says, from `now`.
    pub fn from_loaded(loaded: Loaded, retention: Retention, now: Timestamp) -> Self {
        let mut state = State::default();
        for lot in loaded.lots {
            state.lots.insert(lot.id.clone(), lot);
        }
        for contractor in loaded.contractors {
            for plate in &contractor.plates {
                state.plates.insert(plate.clone(), contractor.id.clone());
            }
            state.contractors.insert(contractor.id.clone(), contractor);
        }
        for stay in loaded.stays {
            if let Some(contractor) = &stay.contractor {
                *state
                    .inside
                    .entry((contractor.clone(), stay.lot.clone()))
                    .or_default() += 1;
            }
            state
                .stays
                .insert((stay.lot.clone(), stay.plate.clone()), stay);
        }
        for camera in loaded.cameras {
            state
                .cameras
                .insert((camera.lot.clone(), camera.camera_id.clone()), camera);
        }
        for alert in loaded.open_alerts {
            state.open_alerts.insert(alert.key.clone(), alert);
        }
        for violation in loaded.open_violations {
            state
                .open_violations
                .insert(violation.violation.id.clone(), violation);
        }
        state.gate_answers = GateAnswers::new(retention, loaded.gate_answers, now);
        state
    }

    /// How gate answers are kept.
    pub fn answer_retention(&self) -> Retention {
        self.gate_answers.retention()
    }

    /// How many gate answers are kept now.
    pub fn answers_kept(&self) -> usize {
        self.gate_answers.len()
    }

    /// Alerts not yet resolved.
    pub fn open_alerts(&self) -> impl Iterator<Item = &parkstream_protocol::events::Alert> {
        self.open_alerts.values().map(|record| &record.alert)
    }

    /// Violations not yet resolved.
    pub fn open_violations(&self) -> impl Iterator<Item = &parkstream_protocol::events::Violation> {
        self.open_violations
            .values()
            .map(|record| &record.violation)
    }

    pub fn lots(&self) -> impl Iterator<Item = &Lot> {
        self.lots.values()
    }

    pub fn contractors(&self) -> impl Iterator<Item = &Contractor> {
        self.contractors.values()
    }

    /// Where `plate` is inside now (a vehicle is in one lot, but missed exits can leave it
    /// in several), and the contractor that registered it.
    pub fn whereabouts(&self, plate: &Plate) -> (Vec<Stay>, Option<ContractorId>) {
        let mut stays: Vec<Stay> = self
            .stays
            .values()
            .filter(|stay| &stay.plate == plate)
            .cloned()
            .collect();
        // The newest entry first: that is where the vehicle is most likely to be.
        stays.sort_by_key(|stay| std::cmp::Reverse(stay.entered_at));
        (stays, self.plates.get(plate).cloned())
    }

    /// A contractor's vehicles inside `lot`.
    pub fn vehicles_inside(&self, contractor: &ContractorId, lot: &LotId) -> u32 {
        self.inside
            .get(&(contractor.clone(), lot.clone()))
            .copied()
            .unwrap_or(0)
    }

    /// Starts a transaction: changes apply to the state at once, and are undone by
    /// [`Txn::rollback`] if they cannot be stored.
    pub fn begin(&mut self) -> Txn<'_> {
        Txn {
            state: self,
            undo: Vec::new(),
            changes: Vec::new(),
            change_index: HashMap::new(),
            events: Vec::new(),
            routing: Vec::new(),
        }
    }
}

/// A row to store: the final value of something a transaction changed.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Lot(Lot),
    Contractor(Contractor),
    /// A vehicle entered (`Some`) or left (`None`).
    Stay {
        lot: LotId,
        plate: Plate,
        stay: Option<Stay>,
    },
    Camera(Camera),
    Alert(AlertRecord),
    Violation(ViolationRecord),
    /// The answer to a gate event with an `eventId`, kept for idempotency.
    GateAnswer(GateAnswer),
    /// Forget every gate answer with a `seq` up to this one (expired, or beyond the count).
    /// Stored after every other change of the group, so it also covers answers given in it.
    ForgetGateAnswers {
        through: u64,
    },
    /// A change made through the API, by whom (stored, never changed).
    Audit(parkstream_protocol::records::AuditEntry),
    /// A vehicle's stay began or ended.
    Visit(super::visit::Visit),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum ChangeKey {
    Lot(LotId),
    Contractor(ContractorId),
    Stay(LotId, Plate),
    Camera(LotId, String),
    Alert(String),
    Violation(String),
    GateAnswer(LotId, String),
    ForgetGateAnswers,
    Audit(String),
    Visit(LotId, Plate, Timestamp),
}

impl Change {
    fn key(&self) -> ChangeKey {
        match self {
            Change::Lot(lot) => ChangeKey::Lot(lot.id.clone()),
            Change::Contractor(c) => ChangeKey::Contractor(c.id.clone()),
            Change::Stay { lot, plate, .. } => ChangeKey::Stay(lot.clone(), plate.clone()),
            Change::Camera(c) => ChangeKey::Camera(c.lot.clone(), c.camera_id.clone()),
            Change::Alert(a) => ChangeKey::Alert(a.alert.id.clone()),
            Change::Violation(v) => ChangeKey::Violation(v.violation.id.clone()),
            Change::GateAnswer(a) => ChangeKey::GateAnswer(a.lot.clone(), a.event_id.clone()),
            Change::ForgetGateAnswers { .. } => ChangeKey::ForgetGateAnswers,
            Change::Audit(entry) => ChangeKey::Audit(entry.id.clone()),
            Change::Visit(v) => ChangeKey::Visit(v.lot.clone(), v.plate.clone(), v.entry),
        }
    }
}

type Undo = Box<dyn FnOnce(&mut State) + Send>;

/// Changes made by one or more commands: applied to the state, not yet stored.
///
/// Commands check everything before they change anything, so a refused command leaves the
/// transaction as it was; the undo log is for a group whose commit fails.
pub struct Txn<'a> {
    pub(super) state: &'a mut State,
    undo: Vec<Undo>,
    /// The final value of each changed row, in first-change order.
    changes: Vec<Change>,
    change_index: HashMap<ChangeKey, usize>,
    events: Vec<Event>,
    /// Beside each event, who it is for.
    routing: Vec<Routing>,
}

impl std::fmt::Debug for Txn<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Txn")
            .field("changes", &self.changes.len())
            .field("events", &self.events.len())
            .finish()
    }
}

impl Txn<'_> {
    /// Read access to the state as the transaction has changed it so far.
    pub fn state(&self) -> &State {
        self.state
    }

    /// Sets (`Some`) or removes (`None`) `key` in one of the state's maps, remembering how
    /// to undo it.
    pub(super) fn write<K, V>(
        &mut self,
        map: fn(&mut State) -> &mut HashMap<K, V>,
        key: K,
        value: Option<V>,
    ) where
        K: Clone + Eq + Hash + Send + 'static,
        V: Send + 'static,
    {
        let target = map(self.state);
        let before = match value {
            Some(value) => target.insert(key.clone(), value),
            None => target.remove(&key),
        };
        self.undo.push(Box::new(move |state: &mut State| {
            let target = map(state);
            match before {
                Some(value) => target.insert(key, value),
                None => target.remove(&key),
            };
        }));
    }

    /// Remembers how to undo a change made without [`Txn::write`].
    pub(super) fn on_rollback(&mut self, undo: impl FnOnce(&mut State) + Send + 'static) {
        self.undo.push(Box::new(undo));
    }

    /// Records a row to store; a later change of the same row replaces it.
    pub(super) fn record(&mut self, change: Change) {
        let key = change.key();
        match self.change_index.get(&key) {
            Some(&index) => self.changes[index] = change,
            None => {
                self.change_index.insert(key, self.changes.len());
                self.changes.push(change);
            }
        }
    }

    pub(super) fn emit(&mut self, event: Event) {
        self.emit_owned(event, None);
    }

    /// Emits an event that belongs to `owner` though its fields do not say so (a plate's
    /// contractor).
    pub(super) fn emit_owned(&mut self, event: Event, owner: Option<String>) {
        self.routing.push(Routing::of(&event, owner));
        self.events.push(event);
    }

    /// The rows to store, in the order they were first changed.
    pub fn changes(&self) -> &[Change] {
        &self.changes
    }

    /// The events emitted so far, in order.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// Who each of [`Txn::events`] is for, in the same order.
    pub fn routing(&self) -> &[Routing] {
        &self.routing
    }

    /// Undoes everything: the changes could not be stored.
    pub fn rollback(mut self) {
        while let Some(undo) = self.undo.pop() {
            undo(self.state);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::gate::GateEvent;
    use super::super::testing::{add_contractor, add_lot, at, enter, gate_event};
    use super::*;
    use parkstream_protocol::events::GateEventKind;

    /// Everything a rollback must restore, in a comparable form.
    fn snapshot(state: &State) -> String {
        let mut parts = vec![
            format!("{:?}", sorted(state.lots.iter())),
            format!("{:?}", sorted(state.contractors.iter())),
            format!("{:?}", sorted(state.plates.iter())),
            format!("{:?}", sorted(state.stays.iter())),
            format!("{:?}", sorted(state.inside.iter())),
            format!("{:?}", sorted(state.open_violations.iter())),
            format!("answers {}", state.answers_kept()),
        ];
        let mut alerts: Vec<String> = state
            .open_alerts
            .values()
            .map(|a| format!("{a:?}"))
            .collect();
        alerts.sort();
        parts.extend(alerts);
        parts.join("\n")
    }

    fn sorted<K: std::fmt::Debug, V: std::fmt::Debug>(
        items: impl Iterator<Item = (K, V)>,
    ) -> Vec<String> {
        let mut all: Vec<String> = items.map(|(k, v)| format!("{k:?}={v:?}")).collect();
        all.sort();
        all
    }

    #[test]
    fn a_rollback_restores_every_map_a_group_of_commands_changed() {
        let mut state = State::default();
        let lot = add_lot(&mut state, "a", 2, Some(0.5));
        let acme = add_contractor(&mut state, "acme", Some((&lot, 1)), &["P1", "P2"], 100);
        enter(&mut state, &lot, "P1", at(1));
        let before = snapshot(&state);

        let mut tx = state.begin();
        let events = [
            gate_event(&lot, GateEventKind::VehicleEntry, "P2"),
            gate_event(&lot, GateEventKind::VehicleEntry, "X9"),
            gate_event(&lot, GateEventKind::VehicleExit, "P1"),
            GateEvent {
                event_id: Some("e-1".into()),
                ..gate_event(&lot, GateEventKind::VehicleEntry, "P3")
            },
        ];
        tx.gate_events(&events, true, at(2)).unwrap();
        tx.check_overstays(at(3));
        assert!(!tx.changes().is_empty());
        assert!(!tx.events().is_empty());
        assert_ne!(
            snapshot(tx.state()),
            before,
            "the commands changed the state"
        );
        tx.rollback();

        assert_eq!(snapshot(&state), before);
        assert_eq!(state.vehicles_inside(&acme, &lot), 1);
    }

    #[test]
    fn a_row_changed_twice_in_a_group_is_stored_once_with_its_final_value() {
        let mut state = State::default();
        let lot = add_lot(&mut state, "a", 10, None);
        let mut tx = state.begin();
        let events = [
            gate_event(&lot, GateEventKind::VehicleEntry, "P1"),
            gate_event(&lot, GateEventKind::VehicleEntry, "P2"),
        ];
        tx.gate_events(&events, true, at(1)).unwrap();
        let lots: Vec<&Lot> = tx
            .changes()
            .iter()
            .filter_map(|c| match c {
                Change::Lot(lot) => Some(lot),
                _ => None,
            })
            .collect();
        assert_eq!(lots.len(), 1);
        assert_eq!(lots[0].occupied, 2);
        assert_eq!(tx.events().len(), 2, "every event is published");
    }
}
