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
                    entered = Some(stay);
                }
            }
            GateEventKind::VehicleExit => {
                lot.occupied = lot.occupied.saturating_sub(1);
                if let Some(stay) = self.state.stays.get(&stay_key).cloned() {
                    duration = Some(at.seconds_since(stay.entered_at));
                    self.remove_stay(&stay);
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
