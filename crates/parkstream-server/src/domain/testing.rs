//! Fixtures for the rules' unit tests: a state with lots and contractors, and commands
//! applied one transaction at a time, answering the events they emitted.

use parkstream_protocol::api::{Allocation, ContractorSpec, LotSpec};
use parkstream_protocol::events::{Alert, Event, GateEventKind, Violation};
use parkstream_protocol::Timestamp;

use super::contractor::{ContractorId, ContractorSettings, Plate};
use super::gate::GateEvent;
use super::lot::{CountReport, LotId, LotSettings};
use super::state::{State, Txn};

/// The operator who acknowledges and resolves in these tests.
pub fn operator() -> super::audit::Actor {
    super::audit::Actor::new("operator", None).expect("no note")
}

/// A fixed instant plus `seconds`, so that stays and silences have exact lengths.
pub fn at(seconds: i64) -> Timestamp {
    Timestamp::from_unix_millis(1_800_000_000_000 + seconds * 1000).expect("in range")
}

pub fn lot_id(raw: &str) -> LotId {
    LotId::parse(raw).expect("valid lot id")
}

pub fn plate(raw: &str) -> Plate {
    Plate::parse(raw).expect("valid plate")
}

/// Runs `command` in a transaction that is kept (as the writer does once it is stored), and
/// answers its result with the events it emitted.
pub fn apply<T>(state: &mut State, command: impl FnOnce(&mut Txn<'_>) -> T) -> (T, Vec<Event>) {
    let mut tx = state.begin();
    let answer = command(&mut tx);
    let events = tx.events().to_vec();
    (answer, events)
}

pub fn add_lot(state: &mut State, id: &str, total_slots: u32, threshold: Option<f64>) -> LotId {
    add_lot_with_max_stay(state, id, total_slots, threshold, None)
}

pub fn add_lot_with_max_stay(
    state: &mut State,
    id: &str,
    total_slots: u32,
    threshold: Option<f64>,
    max_stay_seconds: Option<u64>,
) -> LotId {
    let settings = LotSettings::parse(LotSpec {
        name: id.to_uppercase(),
        total_slots,
        warning_threshold: threshold,
        max_stay_seconds,
        ..LotSpec::default()
    })
    .expect("valid lot");
    let id = lot_id(id);
    apply(state, |tx| tx.put_lot(id.clone(), settings, at(0)));
    id
}

/// A contractor with `allocated` slots in `lot` (none when `None`), its plates and its rate.
pub fn add_contractor(
    state: &mut State,
    id: &str,
    lot: Option<(&LotId, u32)>,
    plates: &[&str],
    rate: u64,
) -> ContractorId {
    let settings = ContractorSettings::parse(ContractorSpec {
        name: id.to_uppercase(),
        allocations: lot
            .map(|(lot, allocated)| Allocation {
                parking_lot_id: lot.to_string(),
                allocated_capacity: allocated,
            })
            .into_iter()
            .collect(),
        plates: plates.iter().map(|p| (*p).to_owned()).collect(),
        penalty_per_vehicle: Some(rate),
    })
    .expect("valid contractor");
    let id = ContractorId::parse(id).expect("valid contractor id");
    let (answer, _) = apply(state, |tx| tx.put_contractor(id.clone(), settings, at(0)));
    answer.expect("contractor stored");
    id
}

pub fn gate_event(lot: &LotId, kind: GateEventKind, plate_number: &str) -> GateEvent {
    GateEvent {
        event_id: None,
        lot: lot.clone(),
        gate_id: Some("g1".into()),
        kind,
        plate: plate(plate_number),
        observed_at: None,
    }
}

/// One gate event at `now`, answering its events.
pub fn pass(
    state: &mut State,
    lot: &LotId,
    kind: GateEventKind,
    plate_number: &str,
    now: Timestamp,
) -> Vec<Event> {
    let event = gate_event(lot, kind, plate_number);
    let (answer, events) = apply(state, |tx| tx.gate_events(&[event], false, now));
    answer.expect("gate event applied");
    events
}

pub fn enter(state: &mut State, lot: &LotId, plate_number: &str, now: Timestamp) -> Vec<Event> {
    pass(state, lot, GateEventKind::VehicleEntry, plate_number, now)
}

pub fn exit(state: &mut State, lot: &LotId, plate_number: &str, now: Timestamp) -> Vec<Event> {
    pass(state, lot, GateEventKind::VehicleExit, plate_number, now)
}

/// A count report setting `lot` to `occupied` at `now`, answering its events.
pub fn count(state: &mut State, lot: &LotId, occupied: u32, now: Timestamp) -> Vec<Event> {
    let report = CountReport {
        lot_id: lot.clone(),
        occupied,
        total_slots: None,
        observed_at: None,
    };
    let (answer, events) = apply(state, |tx| tx.report_counts(&[report], false, now));
    answer.expect("count applied");
    events
}

pub fn alerts(events: &[Event]) -> Vec<Alert> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Alert(alert) => Some(alert.clone()),
            _ => None,
        })
        .collect()
}

pub fn violations(events: &[Event]) -> Vec<Violation> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Violation(v) => Some(v.clone()),
            _ => None,
        })
        .collect()
}
