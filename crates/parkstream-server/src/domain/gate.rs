//! Gate monitors: entries and exits, the stays they open and close, idempotent event ids.

use std::collections::HashMap;

use parkstream_protocol::api::GateReport;
use parkstream_protocol::events::{CapacityUpdate, Event, GateEventKind};
use parkstream_protocol::Timestamp;

use super::contractor::{ContractorId, Plate};
use super::idempotency::{GateAnswer, Kept};
use super::lot::{check_observed_at, LotId};
use super::state::{Change, Txn};
use super::{check_identifier, DomainError};

/// A vehicle inside a lot.
#[derive(Debug, Clone, PartialEq)]
pub struct Stay {
    pub lot: LotId,
    pub plate: Plate,
    pub entered_at: Timestamp,
    pub gate_id: Option<String>,
    /// The contractor the plate was registered to when it entered.
    pub contractor: Option<ContractorId>,
    /// Whether an `overparking` violation was raised for this stay.
    pub overstay_flagged: bool,
}

/// A gate report, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct GateEvent {
    pub event_id: Option<String>,
    pub lot: LotId,
    pub gate_id: Option<String>,
    pub kind: GateEventKind,
    pub plate: Plate,
    pub observed_at: Option<Timestamp>,
}

impl GateEvent {
    /// # Errors
    /// When an id or the plate is malformed, or the timestamp is too far ahead of `now`.
    pub fn parse(report: GateReport, now: Timestamp) -> Result<Self, DomainError> {
        let lot = LotId::parse(&report.parking_lot_id)
            .map_err(|m| DomainError::invalid("parkingLotId", m))?;
        if let Some(event_id) = &report.event_id {
            if event_id.is_empty() || event_id.len() > 128 {
                return Err(DomainError::invalid(
                    "eventId",
                    "eventId must have 1 to 128 characters",
                ));
            }
        }
        if let Some(gate) = &report.gate_id {
            check_identifier(gate, "gate id").map_err(|m| DomainError::invalid("gateId", m))?;
        }
        let plate = Plate::parse(&report.plate_number)
            .map_err(|m| DomainError::invalid("plateNumber", m))?;
        check_observed_at(report.timestamp, now)?;
        Ok(Self {
            event_id: report.event_id,
            lot,
            gate_id: report.gate_id,
            kind: report.event,
            plate,
            observed_at: report.timestamp,
        })
    }

    /// Whether this is the same request as `other` (their lots and ids aside): the same
    /// event, plate (normalized), gate and timestamp (to the millisecond, as stored).
    fn same_request(&self, other: &GateEvent) -> bool {
        self.kind == other.kind
            && self.plate == other.plate
            && self.gate_id == other.gate_id
            && self.observed_at.map(|t| t.unix_millis())
                == other.observed_at.map(|t| t.unix_millis())
    }

    /// Whether this is the request `kept` answered (their lots and ids aside). The answer
    /// names the event, plate and gate; its timestamp is the request's when one was sent.
    fn is_answered_by(&self, kept: &Kept) -> bool {
        let answer = &kept.answer;
        let timestamp_matches = match (kept.timestamp_sent, self.observed_at) {
            (None, _) => return true, // stored before requests were compared
            (Some(true), Some(at)) => at.unix_millis() == answer.timestamp.unix_millis(),
            (Some(false), None) => true,
            (Some(_), _) => false,
        };
        timestamp_matches
            && answer.event == Some(self.kind)
            && answer.plate_number.as_deref() == Some(self.plate.as_str())
            && answer.gate_id == self.gate_id
    }
}

fn idempotency_conflict() -> DomainError {
    DomainError::IdempotencyConflict {
        field: "eventId".into(),
        // Says nothing of the stored event: the caller may not be allowed to read it.
        message: "this eventId was already used in this lot for a different gate event \
                  (event, plate, gate or timestamp differ); send a new eventId"
            .into(),
    }
}

impl Txn<'_> {
    /// Applies gate events in order; answers the resulting `capacity_update` of each. An event
    /// whose `eventId` was answered before in its lot, within the retention, changes nothing
    /// and gets the first answer again. All are checked before any is applied.
    ///
    /// # Errors
    /// `NotFound` for an unknown lot; `IdempotencyConflict` for an `eventId` answered before
    /// in its lot (or earlier in `events`) for a different request.
    pub fn gate_events(
        &mut self,
        events: &[GateEvent],
        batch: bool,
        now: Timestamp,
    ) -> Result<Vec<CapacityUpdate>, DomainError> {
        // This batch's events with an id not answered before, to catch an id used twice in it.
        let mut in_batch: HashMap<(&LotId, &str), &GateEvent> = HashMap::new();
        for (index, event) in events.iter().enumerate() {
            let mut checked = self.existing_lot(&event.lot, "parkingLotId").map(drop);
            if let (Ok(()), Some(id)) = (&checked, &event.event_id) {
                let same = match self.state.gate_answers.get(&event.lot, id, now) {
                    Some(kept) => event.is_answered_by(kept),
                    None => event.same_request(in_batch.entry((&event.lot, id)).or_insert(event)),
                };
                if !same {
                    checked = Err(idempotency_conflict());
                }
            }
            if let Err(err) = checked {
                return Err(if batch { err.at_index(index) } else { err });
            }
        }
        self.forget_gate_answers(now);
        Ok(events.iter().map(|e| self.gate_event(e, now)).collect())
    }

    /// Forgets the gate answers past the window or beyond the count, oldest first.
    pub fn forget_gate_answers(&mut self, now: Timestamp) {
        let mut through = None;
        while let Some(popped) = self.state.gate_answers.pop_oldest(now) {
            through = Some(popped.seq);
            self.on_rollback(move |s| s.gate_answers.unpop(popped));
        }
        if let Some(through) = through {
            self.record(Change::ForgetGateAnswers { through });
        }
    }

    fn gate_event(&mut self, event: &GateEvent, now: Timestamp) -> CapacityUpdate {
        if let Some(kept) = event
            .event_id
            .as_ref()
            .and_then(|id| self.state.gate_answers.get(&event.lot, id, now))
        {
            return kept.answer.clone();
        }
        let at = event.observed_at.unwrap_or(now);
        let mut lot = self.lot(&event.lot).expect("checked").clone();
        let stay_key = (event.lot.clone(), event.plate.clone());
        let mut duration = None;
        let mut entered = None;
        let mut left = None;
        match event.kind {
            GateEventKind::VehicleEntry => {
                lot.occupied = lot.occupied.saturating_add(1);
                // A second entry without an exit (a missed exit read) counts the car, but the
                // vehicle is inside once: its stay is the first one.
                if !self.state.stays.contains_key(&stay_key) {
                    let stay = Stay {
                        lot: event.lot.clone(),
                        plate: event.plate.clone(),
                        entered_at: at,
                        gate_id: event.gate_id.clone(),
                        contractor: self.state.plates.get(&event.plate).cloned(),
                        overstay_flagged: false,
                    };
                    self.put_stay(stay.clone());
                    self.record_visit(&stay, None);
                    entered = Some(stay);
                }
            }
            GateEventKind::VehicleExit => {
                lot.occupied = lot.occupied.saturating_sub(1);
                if let Some(stay) = self.state.stays.get(&stay_key).cloned() {
                    let seconds = at.seconds_since(stay.entered_at);
                    duration = Some(seconds);
                    self.remove_stay(&stay);
                    self.record_visit(&stay, Some((at, seconds)));
                    left = Some(stay);
                }
            }
        }
        lot.updated_at = at;
        let mut update = lot.capacity_update(at);
        update.event = Some(event.kind);
        update.plate_number = Some(event.plate.to_string());
        update.gate_id.clone_from(&event.gate_id);
        update.duration = duration;
        self.save_lot(lot);
        // The plate's contractor now (not the stay's, fixed at entry) owns the update.
        let owner = self.state.plates.get(&event.plate).map(ToString::to_string);
        self.emit_owned(Event::CapacityUpdate(update.clone()), owner);

        self.evaluate_capacity_alerts(&event.lot, at);
        if let Some(stay) = &entered {
            self.check_authorized(stay, at);
        }
        if let Some(stay) = &left {
            if let Some(seconds) = duration {
                self.check_stay_length(stay, seconds, at);
            }
        }
        if let Some(contractor) = entered
            .as_ref()
            .or(left.as_ref())
            .and_then(|s| s.contractor.clone())
        {
            self.evaluate_contractor(&contractor, &event.lot, at);
        }

        if let Some(event_id) = &event.event_id {
            let answer = GateAnswer {
                lot: event.lot.clone(),
                event_id: event_id.clone(),
                kept: Kept {
                    seq: self.state.gate_answers.next_seq(),
                    timestamp_sent: Some(event.observed_at.is_some()),
                    answer: update.clone(),
                    stored_at: now,
                },
            };
            self.record(Change::GateAnswer(answer.clone()));
            let replaced = self.state.gate_answers.insert(answer);
            self.on_rollback(move |s| s.gate_answers.uninsert(replaced));
            // One answer more may be one too many.
            self.forget_gate_answers(now);
        }
        update
    }

    pub(super) fn put_stay(&mut self, stay: Stay) {
        let key = (stay.lot.clone(), stay.plate.clone());
        if let Some(contractor) = &stay.contractor {
            if !self.state.stays.contains_key(&key) {
                let inside_key = (contractor.clone(), stay.lot.clone());
                let now_inside = self.state.inside.get(&inside_key).copied().unwrap_or(0) + 1;
                self.write(|s| &mut s.inside, inside_key, Some(now_inside));
            }
        }
        self.record(Change::Stay {
            lot: stay.lot.clone(),
            plate: stay.plate.clone(),
            stay: Some(stay.clone()),
        });
        self.write(|s| &mut s.stays, key, Some(stay));
    }

    fn remove_stay(&mut self, stay: &Stay) {
        if let Some(contractor) = &stay.contractor {
            let inside_key = (contractor.clone(), stay.lot.clone());
            let left = self
                .state
                .inside
                .get(&inside_key)
                .copied()
                .unwrap_or(0)
                .saturating_sub(1);
            self.write(|s| &mut s.inside, inside_key, (left > 0).then_some(left));
        }
        self.record(Change::Stay {
            lot: stay.lot.clone(),
            plate: stay.plate.clone(),
            stay: None,
        });
        self.write(
            |s| &mut s.stays,
            (stay.lot.clone(), stay.plate.clone()),
            None,
        );
    }
}

#[cfg(test)]
mod tests {
    use parkstream_protocol::events::GateEventKind::{VehicleEntry, VehicleExit};

    use super::super::idempotency::Retention;
    use super::super::testing::{
        add_contractor, add_lot, apply, at, enter, exit, gate_event, lot_id,
    };
    use super::super::State;
    use super::*;

    fn updates(events: &[Event]) -> Vec<CapacityUpdate> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::CapacityUpdate(u) => Some(u.clone()),
                _ => None,
            })
            .collect()
    }

    fn with_id(lot: &LotId, kind: GateEventKind, plate: &str, id: &str) -> GateEvent {
        GateEvent {
            event_id: Some(id.into()),
            ..gate_event(lot, kind, plate)
        }
    }

    #[test]
    fn entries_and_exits_count_the_lot_and_an_exit_answers_the_stay() {
        let mut state = State::default();
        let lot = add_lot(&mut state, "a", 10, None);
        let entry = updates(&enter(&mut state, &lot, "ka-01 ab 1234", at(0)));
        assert_eq!(entry.len(), 1);
        assert_eq!(entry[0].occupied, 1);
        assert_eq!(entry[0].event, Some(VehicleEntry));
        assert_eq!(entry[0].plate_number.as_deref(), Some("KA01AB1234"));
        assert_eq!(entry[0].gate_id.as_deref(), Some("g1"));
        assert_eq!(entry[0].duration, None);

        let left = updates(&exit(&mut state, &lot, "KA01AB1234", at(90)));
        assert_eq!(left[0].occupied, 0);
        assert_eq!(left[0].duration, Some(90));
        assert!(state.stays.is_empty());

        // An exit with nobody counted does not go below zero, and has no stay to answer.
        let stray = updates(&exit(&mut state, &lot, "ZZ9", at(100)));
        assert_eq!((stray[0].occupied, stray[0].duration), (0, None));
    }

    #[test]
    fn a_second_entry_without_an_exit_counts_the_car_but_keeps_the_first_stay() {
        let mut state = State::default();
        let lot = add_lot(&mut state, "a", 10, None);
        let acme = add_contractor(&mut state, "acme", Some((&lot, 5)), &["P1"], 100);
        enter(&mut state, &lot, "P1", at(0));
        enter(&mut state, &lot, "P1", at(30));
        assert_eq!(state.lots[&lot].occupied, 2);
        assert_eq!(state.stays.len(), 1);
        assert_eq!(state.vehicles_inside(&acme, &lot), 1);
        let left = updates(&exit(&mut state, &lot, "P1", at(50)));
        assert_eq!(left[0].duration, Some(50), "measured from the first entry");
        assert_eq!(state.vehicles_inside(&acme, &lot), 0);
    }

    #[test]
    fn a_replayed_event_id_changes_nothing_and_gets_the_first_answer() {
        let mut state = State::default();
        let lot = add_lot(&mut state, "a", 10, None);
        let event = with_id(&lot, VehicleEntry, "P1", "e-1");
        let (first, _) = apply(&mut state, |tx| {
            tx.gate_events(std::slice::from_ref(&event), false, at(1))
        });
        let (again, events) = apply(&mut state, |tx| tx.gate_events(&[event], false, at(2)));
        assert_eq!(again.unwrap(), first.unwrap());
        assert!(events.is_empty(), "a replay publishes nothing: {events:?}");
        assert_eq!(state.lots[&lot].occupied, 1);

        // The same id in another lot is another event.
        let other = add_lot(&mut state, "b", 10, None);
        let elsewhere = with_id(&other, VehicleEntry, "P1", "e-1");
        apply(&mut state, |tx| tx.gate_events(&[elsewhere], false, at(3)))
            .0
            .unwrap();
        assert_eq!(state.lots[&other].occupied, 1);
    }

    #[test]
    fn an_event_id_reused_for_another_request_is_refused_and_changes_nothing() {
        let mut state = State::default();
        let lot = add_lot(&mut state, "a", 10, None);
        let first = with_id(&lot, VehicleEntry, "P1", "e-1");
        apply(&mut state, |tx| tx.gate_events(&[first], false, at(1)))
            .0
            .unwrap();
        let different = with_id(&lot, VehicleExit, "P1", "e-1");
        let (answer, events) = apply(&mut state, |tx| tx.gate_events(&[different], false, at(2)));
        assert!(
            matches!(answer, Err(DomainError::IdempotencyConflict { ref field, .. }) if field == "eventId"),
            "{answer:?}"
        );
        assert!(events.is_empty());
        assert_eq!(state.lots[&lot].occupied, 1);
    }

    #[test]
    fn a_batch_is_checked_whole_before_anything_is_applied() {
        let mut state = State::default();
        let lot = add_lot(&mut state, "a", 10, None);
        let twice = [
            with_id(&lot, VehicleEntry, "P1", "e-1"),
            with_id(&lot, VehicleEntry, "P2", "e-1"),
        ];
        let (answer, events) = apply(&mut state, |tx| tx.gate_events(&twice, true, at(1)));
        assert!(
            matches!(answer, Err(DomainError::IdempotencyConflict { ref field, .. }) if field == "[1].eventId"),
            "{answer:?}"
        );
        assert!(events.is_empty());

        let unknown = [
            gate_event(&lot, VehicleEntry, "P1"),
            gate_event(&lot_id("nope"), VehicleEntry, "P2"),
        ];
        let (answer, events) = apply(&mut state, |tx| tx.gate_events(&unknown, true, at(2)));
        assert!(
            matches!(answer, Err(DomainError::NotFound { ref field, .. }) if field == "[1].parkingLotId"),
            "{answer:?}"
        );
        assert!(events.is_empty());
        assert_eq!(state.lots[&lot].occupied, 0);
        assert!(state.stays.is_empty());

        // The same id twice for the same request in one batch is one event.
        let same = [
            with_id(&lot, VehicleEntry, "P1", "e-2"),
            with_id(&lot, VehicleEntry, "P1", "e-2"),
        ];
        apply(&mut state, |tx| tx.gate_events(&same, true, at(3)))
            .0
            .unwrap();
        assert_eq!(state.lots[&lot].occupied, 1);
    }

    #[test]
    fn answers_are_forgotten_past_their_retention() {
        let retention = Retention {
            window: std::time::Duration::from_secs(60),
            ..Retention::default()
        };
        let mut state = State::from_loaded(Default::default(), retention, at(0));
        let lot = add_lot(&mut state, "a", 10, None);
        let event = with_id(&lot, VehicleEntry, "P1", "e-1");
        apply(&mut state, |tx| {
            tx.gate_events(std::slice::from_ref(&event), false, at(1))
        })
        .0
        .unwrap();
        assert_eq!(state.answers_kept(), 1);
        // Past the window the id is new again: the entry counts a second time.
        apply(&mut state, |tx| tx.gate_events(&[event], false, at(62)))
            .0
            .unwrap();
        assert_eq!(state.lots[&lot].occupied, 2);
        assert_eq!(state.answers_kept(), 1);
    }

    #[test]
    fn malformed_reports_name_their_field() {
        let report = |event_id: Option<String>, gate: &str, plate: &str| GateReport {
            event_id,
            parking_lot_id: "a".into(),
            gate_id: Some(gate.into()),
            event: VehicleEntry,
            plate_number: plate.into(),
            timestamp: None,
        };
        for (bad, field) in [
            (report(Some(String::new()), "g1", "P1"), "eventId"),
            (report(Some("x".repeat(129)), "g1", "P1"), "eventId"),
            (report(None, "g 1", "P1"), "gateId"),
            (report(None, "g1", "P_1"), "plateNumber"),
        ] {
            let err = GateEvent::parse(bad, at(0)).unwrap_err();
            assert!(
                matches!(err, DomainError::Invalid { field: ref f, .. } if f == field),
                "{field}: {err:?}"
            );
        }
    }
}
