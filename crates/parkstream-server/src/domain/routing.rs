//! Who an emitted event is for: the contractor it belongs to, and the form the others get.

use parkstream_protocol::events::{CapacityUpdate, Event};
use parkstream_protocol::EventType;

/// Who an emitted event is for, decided once by the rule that emits it: contractors' streams
/// are filtered by `owner`, and the others get `redacted` in its place.
#[derive(Debug, Clone, PartialEq)]
pub struct Routing {
    /// The contractor the event belongs to: an alert's or violation's, or the one whose
    /// registered plate a gate's capacity update names.
    pub owner: Option<String>,
    /// The event as other contractors see it: a capacity update without the plate it names.
    pub redacted: Option<Event>,
}

impl Routing {
    /// An event's routing; `owner` for an event whose fields do not name its contractor.
    pub(super) fn of(event: &Event, owner: Option<String>) -> Self {
        let owner = match event {
            Event::Alert(alert) => alert.contractor_id.clone(),
            Event::Violation(violation) => violation.contractor_id.clone(),
            _ => owner,
        };
        let redacted = match event {
            Event::CapacityUpdate(update) if update.plate_number.is_some() => {
                Some(Event::CapacityUpdate(CapacityUpdate {
                    plate_number: None,
                    ..update.clone()
                }))
            }
            _ => None,
        };
        Self { owner, redacted }
    }

    /// The redacted data of an event read back as `data` (from the database or the
    /// cluster's stream), by the same rule: `None` when it names no plate or does not decode.
    pub fn redacted_data(event_type: EventType, data: &str) -> Option<String> {
        if event_type != EventType::CapacityUpdate {
            return None;
        }
        let update = serde_json::from_str(data).ok()?;
        Routing::of(&Event::CapacityUpdate(update), None)
            .redacted
            .map(|event| event.to_json())
    }
}

#[cfg(test)]
mod tests {
    use parkstream_protocol::events::GateEventKind::{VehicleEntry, VehicleExit};

    use super::super::testing::{add_contractor, add_lot, at, gate_event, lot_id};
    use super::super::{CountReport, State, Txn};
    use super::*;

    /// Runs `command` and answers the routing of each event it emitted, beside the event.
    fn routed(state: &mut State, command: impl FnOnce(&mut Txn<'_>)) -> Vec<(Event, Routing)> {
        let mut tx = state.begin();
        command(&mut tx);
        assert_eq!(tx.events().len(), tx.routing().len());
        tx.events()
            .iter()
            .cloned()
            .zip(tx.routing().iter().cloned())
            .collect()
    }

    /// A lot `a` and contractor `acme` with plate `P1`.
    fn state() -> State {
        let mut state = State::default();
        let lot = add_lot(&mut state, "a", 10, None);
        add_contractor(&mut state, "acme", Some((&lot, 5)), &["P1"], 100);
        state
    }

    fn gate_update(
        state: &mut State,
        kind: parkstream_protocol::events::GateEventKind,
        plate: &str,
    ) -> Routing {
        let event = gate_event(&lot_id("a"), kind, plate);
        let routed = routed(state, |tx| {
            tx.gate_events(&[event], false, at(1)).unwrap();
        });
        routed
            .into_iter()
            .find(|(e, _)| matches!(e, Event::CapacityUpdate(_)))
            .expect("a capacity update")
            .1
    }

    #[test]
    fn a_gate_update_belongs_to_the_plates_contractor_and_others_get_it_without_the_plate() {
        let mut state = state();
        for kind in [VehicleEntry, VehicleExit] {
            let routing = gate_update(&mut state, kind, "p1");
            assert_eq!(routing.owner.as_deref(), Some("acme"));
            let Some(Event::CapacityUpdate(redacted)) = routing.redacted else {
                panic!("no redacted form");
            };
            assert_eq!(redacted.plate_number, None);
            assert_eq!(redacted.event, Some(kind), "the rest of the update is kept");
            assert_eq!(redacted.gate_id.as_deref(), Some("g1"));
        }
    }

    #[test]
    fn an_unregistered_plate_has_no_owner_and_is_still_redacted() {
        let routing = gate_update(&mut state(), VehicleEntry, "ZZ9");
        assert_eq!(routing.owner, None);
        assert!(routing.redacted.is_some());
    }

    #[test]
    fn alerts_and_violations_belong_to_the_contractor_they_name() {
        let mut state = state();
        // Six vehicles of acme in a lot where it has five slots: a breach, and its alert.
        let plates = ["P1", "P2", "P3", "P4", "P5", "P6"];
        add_contractor(&mut state, "acme", Some((&lot_id("a"), 5)), &plates, 100);
        let events: Vec<_> = plates
            .iter()
            .map(|p| gate_event(&lot_id("a"), VehicleEntry, p))
            .collect();
        let routed = routed(&mut state, |tx| {
            tx.gate_events(&events, true, at(1)).unwrap();
        });
        let mut named = 0;
        for (event, routing) in routed {
            let contractor = match &event {
                Event::Alert(a) => a.contractor_id.clone(),
                Event::Violation(v) => v.contractor_id.clone(),
                _ => continue,
            };
            assert_eq!(routing.owner, contractor, "{event:?}");
            assert_eq!(routing.redacted, None);
            named += usize::from(contractor.is_some());
        }
        assert!(named > 0, "the breach names acme");
    }

    #[test]
    fn events_naming_no_plate_are_not_redacted() {
        let mut state = state();
        let report = CountReport {
            lot_id: lot_id("a"),
            occupied: 3,
            total_slots: None,
            observed_at: None,
        };
        let routed = routed(&mut state, |tx| {
            tx.report_counts(&[report], false, at(1)).unwrap();
        });
        assert!(!routed.is_empty());
        assert!(routed
            .iter()
            .all(|(_, r)| r.owner.is_none() && r.redacted.is_none()));
    }

    #[test]
    fn stored_data_is_redacted_by_the_same_rule() {
        let mut state = state();
        let event = gate_event(&lot_id("a"), VehicleEntry, "P1");
        let routed = routed(&mut state, |tx| {
            tx.gate_events(&[event], false, at(1)).unwrap();
        });
        let (update, routing) = &routed[0];
        let data = update.to_json();
        assert!(data.contains("P1"));
        let expected = routing.redacted.as_ref().unwrap().to_json();
        assert_eq!(
            Routing::redacted_data(EventType::CapacityUpdate, &data),
            Some(expected.clone())
        );
        assert_eq!(
            Routing::redacted_data(EventType::CapacityUpdate, &expected),
            None,
            "naming no plate"
        );
        assert_eq!(Routing::redacted_data(EventType::Alert, &data), None);
        assert_eq!(
            Routing::redacted_data(EventType::CapacityUpdate, "not json"),
            None
        );
    }
}
