//! Contractor violations: capacity breach (with its `violation_detected` alert), unauthorized
//! vehicle, overparking; their lifecycle pending → acknowledged → resolved.

use parkstream_protocol::events::{
    AlertType, Event, Severity, Violation, ViolationDetails, ViolationStatus, ViolationType,
};
use parkstream_protocol::Timestamp;

use super::alert::AlertKey;
use super::audit::{violation_summary, Actor};
use super::contractor::ContractorId;
use super::gate::Stay;
use super::lot::LotId;
use super::state::{Change, Txn};
use super::{new_id, DomainError};

/// A violation and the state of the breach behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct ViolationRecord {
    pub violation: Violation,
    /// For a `capacity_breach`: when the ongoing breach began; `None` once it ended.
    pub breach_started_at: Option<Timestamp>,
}

impl Txn<'_> {
    /// Stores and broadcasts a violation's new state; a resolved one leaves the open set.
    fn save_violation(&mut self, record: ViolationRecord) {
        self.emit(Event::Violation(record.violation.clone()));
        self.record(Change::Violation(record.clone()));
        let id = record.violation.id.clone();
        let open = (record.violation.status != ViolationStatus::Resolved).then_some(record);
        self.write(|s| &mut s.open_violations, id, open);
    }

    /// The `capacity_breach` rule for one contractor in one lot, after its vehicles inside,
    /// its allocation or its plates changed.
    ///
    /// While a contractor is above its allocation there is exactly one pending violation for
    /// it in that lot: a new breach re-opens a still-pending violation rather than adding a
    /// second one. The violation records the peak excess (`penalty = excess × rate`) and, when
    /// the breach ends, adds its length to `details.duration`.
    pub(super) fn evaluate_contractor(
        &mut self,
        contractor: &ContractorId,
        lot: &LotId,
        at: Timestamp,
    ) {
        let Some(c) = self.state.contractors.get(contractor) else {
            return;
        };
        let allocated = c.allocations.get(lot).copied();
        let rate = c.penalty_per_vehicle;
        let name = c.name.clone();
        let inside = self.state.vehicles_inside(contractor, lot);
        let is_breach = |v: &&ViolationRecord| {
            v.violation.violation_type == ViolationType::CapacityBreach
                && v.violation.contractor_id.as_deref() == Some(contractor.as_str())
                && v.violation.parking_lot_id == lot.as_str()
        };
        let ongoing = self
            .state
            .open_violations
            .values()
            .find(|v| is_breach(v) && v.breach_started_at.is_some())
            .cloned();

        let excess = allocated.map_or(0, |a| inside.saturating_sub(a));
        if let (Some(allocated), true) = (allocated, excess > 0) {
            let mut record = match ongoing {
                Some(record) if record.violation.details.excess_vehicles >= excess => return,
                Some(record) => record,
                None => {
                    let pending = self
                        .state
                        .open_violations
                        .values()
                        .find(|v| is_breach(v) && v.violation.status == ViolationStatus::Pending)
                        .cloned();
                    match pending {
                        Some(mut record) => {
                            record.breach_started_at = Some(at);
                            record
                        }
                        None => ViolationRecord {
                            violation: Violation {
                                id: new_id("violation"),
                                contractor_id: Some(contractor.to_string()),
                                parking_lot_id: lot.to_string(),
                                violation_type: ViolationType::CapacityBreach,
                                timestamp: at,
                                details: ViolationDetails {
                                    allocated_capacity: allocated,
                                    actual_occupancy: inside,
                                    excess_vehicles: excess,
                                    duration: 0,
                                },
                                penalty: 0,
                                status: ViolationStatus::Pending,
                                plate_number: None,
                                acknowledged_by: None,
                                resolved_by: None,
                                note: None,
                            },
                            breach_started_at: Some(at),
                        },
                    }
                }
            };
            let details = &mut record.violation.details;
            if excess >= details.excess_vehicles {
                details.allocated_capacity = allocated;
                details.actual_occupancy = inside;
                details.excess_vehicles = excess;
            }
            record.violation.penalty = u64::from(details.excess_vehicles).saturating_mul(rate);
            self.save_violation(record);
            let key = AlertKey {
                lot: lot.clone(),
                alert_type: AlertType::ViolationDetected,
                subject: contractor.to_string(),
            };
            let message = format!(
                "Contractor {name} has {inside} vehicles in lot {lot}, {excess} above its allocation of {allocated}"
            );
            self.raise_alert(key, Severity::High, Some(contractor), message, at);
        } else if let Some(mut record) = ongoing {
            let started = record.breach_started_at.take().expect("ongoing");
            record.violation.details.duration += at.seconds_since(started);
            self.save_violation(record);
        }
    }

    /// The `unauthorized_vehicle` rule at an entry: in a lot with contractors, a plate no
    /// contractor allocated there registered.
    pub(super) fn check_authorized(&mut self, stay: &Stay, at: Timestamp) {
        if !self.state.lot_has_contractors(&stay.lot) {
            return;
        }
        let owner = stay
            .contractor
            .as_ref()
            .and_then(|id| self.state.contractors.get(id));
        if owner.is_some_and(|c| c.allocations.contains_key(&stay.lot)) {
            return;
        }
        // A registered contractor is billed its rate; an unregistered vehicle bills no one.
        let penalty = owner.map_or(0, |c| c.penalty_per_vehicle);
        self.vehicle_violation(stay, ViolationType::UnauthorizedVehicle, 0, penalty, at);
    }

    /// The `overparking` rule at an exit: the stay lasted longer than the lot allows.
    pub(super) fn check_stay_length(&mut self, stay: &Stay, seconds: u64, at: Timestamp) {
        let Some(max) = self
            .lot(&stay.lot)
            .and_then(|l| l.settings.max_stay_seconds)
        else {
            return;
        };
        if seconds > max && !stay.overstay_flagged {
            let penalty = self.penalty_for(stay);
            self.vehicle_violation(stay, ViolationType::Overparking, seconds, penalty, at);
        }
    }

    /// The `overparking` rule for vehicles still inside: raised once per stay, as soon as it
    /// is longer than the lot allows.
    pub fn check_overstays(&mut self, now: Timestamp) {
        let overstaying: Vec<Stay> = self
            .state
            .stays
            .values()
            .filter(|stay| !stay.overstay_flagged)
            .filter(|stay| {
                self.lot(&stay.lot)
                    .and_then(|l| l.settings.max_stay_seconds)
                    .is_some_and(|max| now.seconds_since(stay.entered_at) > max)
            })
            .cloned()
            .collect();
        for mut stay in overstaying {
            let seconds = now.seconds_since(stay.entered_at);
            let penalty = self.penalty_for(&stay);
            self.vehicle_violation(&stay, ViolationType::Overparking, seconds, penalty, now);
            stay.overstay_flagged = true;
            self.put_stay(stay);
        }
    }

    fn penalty_for(&self, stay: &Stay) -> u64 {
        stay.contractor
            .as_ref()
            .and_then(|id| self.state.contractors.get(id))
            .map_or(0, |c| c.penalty_per_vehicle)
    }

    fn vehicle_violation(
        &mut self,
        stay: &Stay,
        violation_type: ViolationType,
        duration: u64,
        penalty: u64,
        at: Timestamp,
    ) {
        let allocated = stay
            .contractor
            .as_ref()
            .and_then(|id| self.state.contractors.get(id))
            .and_then(|c| c.allocations.get(&stay.lot).copied())
            .unwrap_or(0);
        let occupied = self.lot(&stay.lot).map_or(0, |l| l.occupied);
        self.save_violation(ViolationRecord {
            violation: Violation {
                id: new_id("violation"),
                contractor_id: stay.contractor.as_ref().map(ToString::to_string),
                parking_lot_id: stay.lot.to_string(),
                violation_type,
                timestamp: at,
                details: ViolationDetails {
                    allocated_capacity: allocated,
                    actual_occupancy: occupied,
                    excess_vehicles: 1,
                    duration,
                },
                penalty,
                status: ViolationStatus::Pending,
                plate_number: Some(stay.plate.to_string()),
                acknowledged_by: None,
                resolved_by: None,
                note: None,
            },
            breach_started_at: None,
        });
    }

    fn open_violation(&self, id: &str) -> Result<ViolationRecord, DomainError> {
        self.state
            .open_violations
            .get(id)
            .cloned()
            .ok_or_else(|| DomainError::NotFound {
                field: "id".into(),
                message: format!("no unresolved violation {id:?}"),
            })
    }

    /// An operator acknowledges a pending violation; `by` is recorded in it and in the
    /// audit.
    ///
    /// # Errors
    /// `NotFound` when no unresolved violation has this id; `Conflict` when it is not pending.
    pub fn acknowledge_violation(
        &mut self,
        id: &str,
        by: &Actor,
        now: Timestamp,
    ) -> Result<Violation, DomainError> {
        let mut record = self.open_violation(id)?;
        if record.violation.status != ViolationStatus::Pending {
            return Err(DomainError::Conflict(format!(
                "violation {id} is already acknowledged"
            )));
        }
        record.violation.status = ViolationStatus::Acknowledged;
        record.violation.acknowledged_by = Some(by.name.clone());
        Ok(self.save_acted_violation(record, by, "violation.acknowledge", now))
    }

    /// An operator resolves a pending or acknowledged violation. A breach still going on
    /// keeps being tracked: its length is added when it ends.
    ///
    /// # Errors
    /// `NotFound` when no unresolved violation has this id.
    pub fn resolve_violation(
        &mut self,
        id: &str,
        by: &Actor,
        now: Timestamp,
    ) -> Result<Violation, DomainError> {
        let mut record = self.open_violation(id)?;
        record.violation.status = ViolationStatus::Resolved;
        record.violation.resolved_by = Some(by.name.clone());
        if let Some(started) = record.breach_started_at.take() {
            record.violation.details.duration += now.seconds_since(started);
        }
        Ok(self.save_acted_violation(record, by, "violation.resolve", now))
    }

    /// Saves a violation an operator acted on, with their note, and audits the act.
    fn save_acted_violation(
        &mut self,
        mut record: ViolationRecord,
        by: &Actor,
        action: &str,
        now: Timestamp,
    ) -> Violation {
        if by.note.is_some() {
            record.violation.note.clone_from(&by.note);
        }
        let violation = record.violation.clone();
        let summary = violation_summary(&violation);
        self.audit(by, action, ("violation", &violation.id), summary, now);
        self.save_violation(record);
        violation
    }
}

#[cfg(test)]
mod tests {
    use parkstream_protocol::events::AlertType;

    use super::super::testing::{
        add_contractor, add_lot, add_lot_with_max_stay, alerts, apply, at, enter, exit, operator,
        violations,
    };
    use super::super::State;
    use super::*;

    const RATE: u64 = 300;

    #[test]
    fn a_contractor_over_its_allocation_has_one_breach_that_records_the_peak_excess() {
        let mut state = State::default();
        let lot = add_lot(&mut state, "a", 50, None);
        add_contractor(
            &mut state,
            "acme",
            Some((&lot, 1)),
            &["P1", "P2", "P3"],
            RATE,
        );
        assert!(violations(&enter(&mut state, &lot, "P1", at(0))).is_empty());

        let events = enter(&mut state, &lot, "P2", at(10));
        let first = violations(&events);
        assert_eq!(first.len(), 1);
        let v = &first[0];
        assert_eq!(v.violation_type, ViolationType::CapacityBreach);
        assert_eq!(v.contractor_id.as_deref(), Some("acme"));
        assert_eq!(v.status, ViolationStatus::Pending);
        assert_eq!(
            (
                v.details.allocated_capacity,
                v.details.actual_occupancy,
                v.details.excess_vehicles
            ),
            (1, 2, 1)
        );
        assert_eq!(v.penalty, RATE);
        let alert = alerts(&events);
        assert_eq!(alert.len(), 1);
        assert_eq!(alert[0].alert_type, AlertType::ViolationDetected);
        assert_eq!(alert[0].contractor_id.as_deref(), Some("acme"));

        let peak = violations(&enter(&mut state, &lot, "P3", at(20)));
        assert_eq!(peak[0].id, v.id, "the same violation, not a second");
        assert_eq!(peak[0].details.excess_vehicles, 2);
        assert_eq!(peak[0].penalty, 2 * RATE);

        // Down by one: still a breach, the peak stays, nothing is published.
        assert!(violations(&exit(&mut state, &lot, "P3", at(30))).is_empty());
        // Back within the allocation: the breach ends and its length is added.
        let ended = violations(&exit(&mut state, &lot, "P2", at(70)));
        assert_eq!(ended.len(), 1);
        assert_eq!(ended[0].id, v.id);
        assert_eq!(ended[0].details.duration, 60);
        assert_eq!(ended[0].details.excess_vehicles, 2);
        assert_eq!(ended[0].penalty, 2 * RATE);
    }

    #[test]
    fn a_new_breach_reopens_a_pending_violation_but_not_an_acknowledged_one() {
        let mut state = State::default();
        let lot = add_lot(&mut state, "a", 50, None);
        add_contractor(&mut state, "acme", Some((&lot, 0)), &["P1"], RATE);
        let id = violations(&enter(&mut state, &lot, "P1", at(0)))[0]
            .id
            .clone();
        exit(&mut state, &lot, "P1", at(5));

        let again = violations(&enter(&mut state, &lot, "P1", at(10)));
        assert_eq!(again[0].id, id, "a still-pending violation is reopened");
        exit(&mut state, &lot, "P1", at(12));
        assert_eq!(state.open_violations[&id].violation.details.duration, 7);

        apply(&mut state, |tx| {
            tx.acknowledge_violation(&id, &operator(), at(13))
        })
        .0
        .unwrap();
        let third = violations(&enter(&mut state, &lot, "P1", at(20)));
        assert_eq!(third.len(), 1);
        assert_ne!(third[0].id, id, "an acknowledged violation is not reopened");
    }

    #[test]
    fn an_unregistered_plate_in_a_lot_with_contractors_is_unauthorized_and_bills_no_one() {
        let mut state = State::default();
        let lot = add_lot(&mut state, "a", 50, None);
        let free = add_lot(&mut state, "free", 50, None);
        add_contractor(&mut state, "acme", Some((&lot, 5)), &["P1"], RATE);
        add_contractor(&mut state, "other", None, &["Q1"], 700);

        assert!(violations(&enter(&mut state, &lot, "P1", at(0))).is_empty());
        assert!(violations(&enter(&mut state, &free, "X1", at(0))).is_empty());

        let unknown = violations(&enter(&mut state, &lot, "x-1", at(1)));
        assert_eq!(unknown.len(), 1);
        assert_eq!(
            unknown[0].violation_type,
            ViolationType::UnauthorizedVehicle
        );
        assert_eq!(unknown[0].plate_number.as_deref(), Some("X1"));
        assert_eq!(unknown[0].contractor_id, None);
        assert_eq!(unknown[0].penalty, 0);

        // A registered contractor without an allocation here is billed its own rate.
        let stray = violations(&enter(&mut state, &lot, "Q1", at(2)));
        assert_eq!(stray[0].contractor_id.as_deref(), Some("other"));
        assert_eq!(stray[0].penalty, 700);
    }

    #[test]
    fn an_overstay_is_raised_once_while_inside_and_not_again_at_the_exit() {
        let mut state = State::default();
        let lot = add_lot_with_max_stay(&mut state, "a", 50, None, Some(60));
        add_contractor(&mut state, "acme", Some((&lot, 5)), &["P1"], RATE);
        enter(&mut state, &lot, "P1", at(0));
        assert!(apply(&mut state, |tx| tx.check_overstays(at(60)))
            .1
            .is_empty());

        let raised = violations(&apply(&mut state, |tx| tx.check_overstays(at(61))).1);
        assert_eq!(raised.len(), 1);
        assert_eq!(raised[0].violation_type, ViolationType::Overparking);
        assert_eq!(raised[0].details.duration, 61);
        assert_eq!(raised[0].penalty, RATE);
        assert!(apply(&mut state, |tx| tx.check_overstays(at(62)))
            .1
            .is_empty());
        assert!(violations(&exit(&mut state, &lot, "P1", at(200))).is_empty());
    }

    #[test]
    fn an_overstay_seen_first_at_the_exit_is_raised_there() {
        let mut state = State::default();
        let lot = add_lot_with_max_stay(&mut state, "a", 50, None, Some(60));
        enter(&mut state, &lot, "P1", at(0));
        assert!(violations(&exit(&mut state, &lot, "P1", at(60))).is_empty());
        enter(&mut state, &lot, "P1", at(100));
        let late = violations(&exit(&mut state, &lot, "P1", at(200)));
        assert_eq!(late.len(), 1);
        assert_eq!(late[0].details.duration, 100);
        assert_eq!(late[0].penalty, 0, "no contractor, no one billed");
    }

    #[test]
    fn a_violation_is_acknowledged_once_and_resolving_an_ongoing_breach_counts_its_length() {
        let mut state = State::default();
        let lot = add_lot(&mut state, "a", 50, None);
        add_contractor(&mut state, "acme", Some((&lot, 0)), &["P1"], RATE);
        let id = violations(&enter(&mut state, &lot, "P1", at(0)))[0]
            .id
            .clone();

        let acked = apply(&mut state, |tx| {
            tx.acknowledge_violation(&id, &operator(), at(1))
        })
        .0;
        assert_eq!(acked.unwrap().status, ViolationStatus::Acknowledged);
        let again = apply(&mut state, |tx| {
            tx.acknowledge_violation(&id, &operator(), at(2))
        })
        .0;
        assert!(matches!(again, Err(DomainError::Conflict(_))), "{again:?}");

        let resolved = apply(&mut state, |tx| {
            tx.resolve_violation(&id, &operator(), at(45))
        })
        .0
        .unwrap();
        assert_eq!(resolved.status, ViolationStatus::Resolved);
        assert_eq!(resolved.details.duration, 45);
        assert!(state.open_violations.is_empty());
        let gone = apply(&mut state, |tx| {
            tx.resolve_violation(&id, &operator(), at(46))
        })
        .0;
        assert!(
            matches!(gone, Err(DomainError::NotFound { .. })),
            "{gone:?}"
        );
    }
}
