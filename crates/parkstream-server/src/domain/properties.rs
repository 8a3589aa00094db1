//! Property tests: random sequences of gate events against a simple model of the rules.

use std::collections::{BTreeSet, HashMap};

use parkstream_protocol::api::{Allocation, ContractorSpec, LotSpec};
use parkstream_protocol::events::{AlertStatus, Event, GateEventKind, ViolationType};
use parkstream_protocol::Timestamp;
use proptest::prelude::*;

use super::contractor::{ContractorId, ContractorSettings, Plate};
use super::gate::GateEvent;
use super::{LotId, LotSettings, State};

const PLATES: usize = 8;
/// Plates 0..4 are the contractor's.
const CONTRACTOR_PLATES: usize = 4;
const ALLOCATION: u32 = 2;
const RATE: u64 = 300;
const TOTAL_SLOTS: u32 = 5;

fn plate(i: usize) -> Plate {
    Plate::parse(&format!("P{i}")).unwrap()
}

fn setup() -> (State, LotId, ContractorId) {
    let mut state = State::default();
    let lot = LotId::parse("a").unwrap();
    let contractor = ContractorId::parse("acme").unwrap();
    let now = Timestamp::now();
    let mut tx = state.begin();
    let lot_settings = LotSettings::parse(LotSpec {
        name: "A".into(),
        total_slots: TOTAL_SLOTS,
        warning_threshold: Some(0.8),
        max_stay_seconds: None,
        ..LotSpec::default()
    })
    .unwrap();
    tx.put_lot(lot.clone(), lot_settings, now);
    let settings = ContractorSettings::parse(ContractorSpec {
        name: "Acme".into(),
        allocations: vec![Allocation {
            parking_lot_id: "a".into(),
            allocated_capacity: ALLOCATION,
        }],
        plates: (0..CONTRACTOR_PLATES).map(|i| format!("P{i}")).collect(),
        penalty_per_vehicle: Some(RATE),
    })
    .unwrap();
    tx.put_contractor(contractor.clone(), settings, now)
        .unwrap();
    drop(tx);
    (state, lot, contractor)
}

proptest! {
    #[test]
    fn gate_sequences_keep_counts_alerts_and_penalties_consistent(
        ops in proptest::collection::vec((any::<bool>(), 0..PLATES), 1..120)
    ) {
        let (mut state, lot, contractor) = setup();
        let mut occupied: u32 = 0;
        let mut inside: BTreeSet<usize> = BTreeSet::new();
        let mut alert_status: HashMap<String, (String, AlertStatus)> = HashMap::new();
        for (step, (entry, p)) in ops.into_iter().enumerate() {
            let kind = if entry { GateEventKind::VehicleEntry } else { GateEventKind::VehicleExit };
            let event = GateEvent {
                event_id: Some(format!("e{step}")),
                lot: lot.clone(),
                gate_id: None,
                kind,
                plate: plate(p),
                observed_at: None,
            };
            let mut tx = state.begin();
            tx.gate_events(&[event], false, Timestamp::now()).unwrap();
            let events = tx.events().to_vec();
            drop(tx);

            if entry {
                occupied += 1;
                inside.insert(p);
            } else {
                occupied = occupied.saturating_sub(1);
                inside.remove(&p);
            }
            // The count: entries minus exits, never below 0.
            prop_assert_eq!(state.lots[&lot].occupied, occupied);
            // The contractor's vehicles: its plates inside.
            let mine = inside.iter().filter(|p| **p < CONTRACTOR_PLATES).count() as u32;
            prop_assert_eq!(state.vehicles_inside(&contractor, &lot), mine);

            for event in events {
                match event {
                    Event::Alert(alert) => {
                        let kind = format!("{:?}/{:?}", alert.alert_type, alert.contractor_id);
                        alert_status.insert(alert.id, (kind, alert.status));
                    }
                    Event::Violation(v) if v.violation_type == ViolationType::CapacityBreach => {
                        // The penalty is the (peak) excess times the rate.
                        prop_assert_eq!(v.penalty, u64::from(v.details.excess_vehicles) * RATE);
                        prop_assert!(v.details.excess_vehicles >= 1);
                    }
                    _ => {}
                }
            }
            // Never two unresolved alerts of one type (and subject) for the lot.
            let mut open: Vec<&String> = alert_status
                .values()
                .filter(|(_, status)| *status != AlertStatus::Resolved)
                .map(|(kind, _)| kind)
                .collect();
            let before = open.len();
            open.sort();
            open.dedup();
            prop_assert_eq!(open.len(), before);
            // The breach is ongoing exactly while the contractor is above its allocation.
            let ongoing = state
                .open_violations
                .values()
                .filter(|v| v.breach_started_at.is_some())
                .count();
            prop_assert_eq!(ongoing, usize::from(mine > ALLOCATION));
        }
    }
}
