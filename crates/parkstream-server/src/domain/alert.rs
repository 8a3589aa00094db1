//! Alerts: capacity warnings and breaches with hysteresis, camera silence, violations
//! detected; their lifecycle active → acknowledged → resolved.

use parkstream_protocol::events::{Alert, AlertStatus, AlertType, Event, Severity};
use parkstream_protocol::Timestamp;

use super::audit::{wire_name, Actor};
use super::contractor::ContractorId;
use super::lot::LotId;
use super::state::{Change, Txn};
use super::{new_id, DomainError};

/// How far below its threshold the rate must fall before a capacity alert resolves itself.
pub const HYSTERESIS: f64 = 0.05;
/// Float slack so that "exactly 5 points below" counts as below.
const EPSILON: f64 = 1e-9;

/// What an alert is about: at most one unresolved alert per key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AlertKey {
    pub lot: LotId,
    pub alert_type: AlertType,
    /// The camera (`camera_offline`) or contractor (`violation_detected`); empty otherwise.
    pub subject: String,
}

/// An alert and what it is about.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRecord {
    pub alert: Alert,
    pub key: AlertKey,
}

impl Txn<'_> {
    fn open_alert(&self, key: &AlertKey) -> Option<&AlertRecord> {
        self.state.open_alerts.get(key)
    }

    /// Stores and broadcasts an alert's new state; a resolved alert leaves the open set.
    fn save_alert(&mut self, record: AlertRecord) {
        self.emit(Event::Alert(record.alert.clone()));
        self.record(Change::Alert(record.clone()));
        let key = record.key.clone();
        let open = (record.alert.status != AlertStatus::Resolved).then_some(record);
        self.write(|s| &mut s.open_alerts, key, open);
    }

    /// Raises an alert unless one is open for `key` already.
    pub(super) fn raise_alert(
        &mut self,
        key: AlertKey,
        severity: Severity,
        contractor: Option<&ContractorId>,
        message: String,
        at: Timestamp,
    ) {
        if self.open_alert(&key).is_some() {
            return;
        }
        let alert = Alert {
            id: new_id("alert"),
            alert_type: key.alert_type,
            severity,
            parking_lot_id: key.lot.to_string(),
            contractor_id: contractor.map(ToString::to_string),
            message,
            status: AlertStatus::Active,
            created_at: at,
            acknowledged_at: None,
            resolved_at: None,
            acknowledged_by: None,
            resolved_by: None,
            note: None,
        };
        self.save_alert(AlertRecord { alert, key });
    }

    /// Resolves the open alert for `key`, if any.
    pub(super) fn resolve_open_alert(&mut self, key: &AlertKey, at: Timestamp) {
        if let Some(record) = self.open_alert(key) {
            let mut record = record.clone();
            record.alert.status = AlertStatus::Resolved;
            record.alert.resolved_at = Some(at);
            self.save_alert(record);
        }
    }

    /// The capacity rules of a lot after its count or settings changed: a warning at its
    /// threshold, a breach when full (critical above capacity), each resolving itself once the
    /// rate is 5 points below where it was raised.
    pub(super) fn evaluate_capacity_alerts(&mut self, lot_id: &LotId, at: Timestamp) {
        let Some(lot) = self.lot(lot_id) else { return };
        let total = lot.settings.total_slots;
        let occupied = lot.occupied;
        let threshold = lot.settings.warning_threshold;
        let rate = lot.view().occupancy_rate;
        let percent = (rate * 100.0).round();

        let warning = AlertKey {
            lot: lot_id.clone(),
            alert_type: AlertType::CapacityWarning,
            subject: String::new(),
        };
        if total > 0 && rate >= threshold {
            let message = format!("Parking lot is {percent}% full");
            self.raise_alert(warning, Severity::Medium, None, message, at);
        } else if rate <= threshold - HYSTERESIS + EPSILON {
            self.resolve_open_alert(&warning, at);
        }

        let breach = AlertKey {
            lot: lot_id.clone(),
            alert_type: AlertType::CapacityBreach,
            subject: String::new(),
        };
        let over = occupied > total;
        if occupied >= total && (total > 0 || over) {
            let (severity, message) = if over {
                (
                    Severity::Critical,
                    format!("Parking lot is over capacity: {occupied} vehicles in {total} slots"),
                )
            } else {
                (Severity::High, "Parking lot is full".to_owned())
            };
            match self.open_alert(&breach) {
                None => self.raise_alert(breach, severity, None, message, at),
                // Escalate an open breach that went over capacity; never de-escalate.
                Some(open) if open.alert.severity < severity => {
                    let mut record = open.clone();
                    record.alert.severity = severity;
                    record.alert.message = message;
                    self.save_alert(record);
                }
                Some(_) => {}
            }
        } else if (total == 0 && occupied == 0) || (total > 0 && rate <= 1.0 - HYSTERESIS + EPSILON)
        {
            self.resolve_open_alert(&breach, at);
        }
    }

    fn open_alert_by_id(&self, id: &str) -> Result<AlertRecord, DomainError> {
        self.state
            .open_alerts
            .values()
            .find(|record| record.alert.id == id)
            .cloned()
            .ok_or_else(|| DomainError::NotFound {
                field: "id".into(),
                message: format!("no unresolved alert {id:?}"),
            })
    }

    /// An operator acknowledges an active alert; `by` is recorded in it and in the audit.
    ///
    /// # Errors
    /// `NotFound` when no unresolved alert has this id; `Conflict` when it is not active.
    pub fn acknowledge_alert(
        &mut self,
        id: &str,
        by: &Actor,
        now: Timestamp,
    ) -> Result<Alert, DomainError> {
        let mut record = self.open_alert_by_id(id)?;
        if record.alert.status != AlertStatus::Active {
            return Err(DomainError::Conflict(format!(
                "alert {id} is already acknowledged"
            )));
        }
        record.alert.status = AlertStatus::Acknowledged;
        record.alert.acknowledged_at = Some(now);
        record.alert.acknowledged_by = Some(by.name.clone());
        Ok(self.save_acted_alert(record, by, "alert.acknowledge", now))
    }

    /// An operator resolves an active or acknowledged alert; `by` is recorded in it and in
    /// the audit.
    ///
    /// # Errors
    /// `NotFound` when no unresolved alert has this id.
    pub fn resolve_alert(
        &mut self,
        id: &str,
        by: &Actor,
        now: Timestamp,
    ) -> Result<Alert, DomainError> {
        let mut record = self.open_alert_by_id(id)?;
        record.alert.status = AlertStatus::Resolved;
        record.alert.resolved_at = Some(now);
        record.alert.resolved_by = Some(by.name.clone());
        Ok(self.save_acted_alert(record, by, "alert.resolve", now))
    }

    /// Saves an alert an operator acted on, with their note, and audits the act.
    fn save_acted_alert(
        &mut self,
        mut record: AlertRecord,
        by: &Actor,
        action: &str,
        now: Timestamp,
    ) -> Alert {
        if by.note.is_some() {
            record.alert.note.clone_from(&by.note);
        }
        let alert = record.alert.clone();
        let summary = format!(
            "{} alert in lot {}",
            wire_name(&alert.alert_type),
            alert.parking_lot_id
        );
        self.audit(by, action, ("alert", &alert.id), summary, now);
        self.save_alert(record);
        alert
    }
}

#[cfg(test)]
mod tests {
    use parkstream_protocol::events::{AlertStatus, AlertType, Severity};

    use super::super::testing::{add_lot, alerts, apply, at, count};
    use super::super::State;
    use super::*;

    fn ana() -> Actor {
        Actor::new("ana", Some("on it".into())).unwrap()
    }

    fn of_type(events: &[Event], alert_type: AlertType) -> Vec<Alert> {
        alerts(events)
            .into_iter()
            .filter(|a| a.alert_type == alert_type)
            .collect()
    }

    #[test]
    fn a_warning_is_raised_at_the_threshold_once_and_resolves_five_points_below() {
        let mut state = State::default();
        let lot = add_lot(&mut state, "a", 100, Some(0.8));
        assert!(of_type(
            &count(&mut state, &lot, 79, at(1)),
            AlertType::CapacityWarning
        )
        .is_empty());

        let raised = of_type(
            &count(&mut state, &lot, 80, at(2)),
            AlertType::CapacityWarning,
        );
        assert_eq!(raised.len(), 1);
        assert_eq!(raised[0].severity, Severity::Medium);
        assert_eq!(raised[0].status, AlertStatus::Active);
        assert_eq!(raised[0].message, "Parking lot is 80% full");

        // Still above, or within the hysteresis band: nothing new, nothing resolved.
        for occupied in [85, 76] {
            let events = count(&mut state, &lot, occupied, at(3));
            assert!(
                of_type(&events, AlertType::CapacityWarning).is_empty(),
                "{occupied}"
            );
        }
        let resolved = of_type(
            &count(&mut state, &lot, 75, at(4)),
            AlertType::CapacityWarning,
        );
        assert_eq!(resolved.len(), 1);
        assert_eq!(resolved[0].id, raised[0].id);
        assert_eq!(resolved[0].status, AlertStatus::Resolved);
        assert_eq!(resolved[0].resolved_at, Some(at(4)));
        assert!(state.open_alerts.is_empty());
    }

    #[test]
    fn a_full_lot_breaches_high_escalates_to_critical_over_capacity_and_never_back() {
        let mut state = State::default();
        let lot = add_lot(&mut state, "a", 10, Some(0.99));
        let full = of_type(
            &count(&mut state, &lot, 10, at(1)),
            AlertType::CapacityBreach,
        );
        assert_eq!(full.len(), 1);
        assert_eq!(full[0].severity, Severity::High);
        assert_eq!(full[0].message, "Parking lot is full");

        let over = of_type(
            &count(&mut state, &lot, 12, at(2)),
            AlertType::CapacityBreach,
        );
        assert_eq!(over.len(), 1);
        assert_eq!(
            over[0].id, full[0].id,
            "the open breach is escalated, not doubled"
        );
        assert_eq!(over[0].severity, Severity::Critical);
        assert_eq!(
            over[0].message,
            "Parking lot is over capacity: 12 vehicles in 10 slots"
        );

        let back = of_type(
            &count(&mut state, &lot, 10, at(3)),
            AlertType::CapacityBreach,
        );
        assert!(back.is_empty(), "no de-escalation: {back:?}");
        let resolved = of_type(
            &count(&mut state, &lot, 9, at(4)),
            AlertType::CapacityBreach,
        );
        assert_eq!(resolved.len(), 1);
        assert_eq!(resolved[0].status, AlertStatus::Resolved);
        assert_eq!(resolved[0].severity, Severity::Critical);
    }

    #[test]
    fn a_lot_without_slots_breaches_only_when_a_vehicle_is_counted() {
        let mut state = State::default();
        let lot = add_lot(&mut state, "a", 0, None);
        assert!(
            state.open_alerts.is_empty(),
            "an empty lot of 0 slots is not full"
        );
        let over = of_type(
            &count(&mut state, &lot, 1, at(1)),
            AlertType::CapacityBreach,
        );
        assert_eq!(over.len(), 1);
        assert_eq!(over[0].severity, Severity::Critical);
        let resolved = of_type(
            &count(&mut state, &lot, 0, at(2)),
            AlertType::CapacityBreach,
        );
        assert_eq!(resolved[0].status, AlertStatus::Resolved);
    }

    #[test]
    fn an_alert_is_acknowledged_once_then_resolved_and_leaves_the_open_set() {
        let mut state = State::default();
        let lot = add_lot(&mut state, "a", 10, Some(0.5));
        let id = alerts(&count(&mut state, &lot, 5, at(1)))[0].id.clone();

        let (acked, events) = apply(&mut state, |tx| tx.acknowledge_alert(&id, &ana(), at(2)));
        let acked = acked.unwrap();
        assert_eq!(acked.status, AlertStatus::Acknowledged);
        assert_eq!(acked.acknowledged_at, Some(at(2)));
        assert_eq!(acked.acknowledged_by.as_deref(), Some("ana"));
        assert_eq!(acked.note.as_deref(), Some("on it"));
        assert_eq!(alerts(&events), vec![acked.clone()]);

        let (again, events) = apply(&mut state, |tx| tx.acknowledge_alert(&id, &ana(), at(3)));
        assert!(matches!(again, Err(DomainError::Conflict(_))), "{again:?}");
        assert!(events.is_empty());

        let (resolved, _) = apply(&mut state, |tx| tx.resolve_alert(&id, &ana(), at(4)));
        let resolved = resolved.unwrap();
        assert_eq!(resolved.status, AlertStatus::Resolved);
        assert_eq!(resolved.acknowledged_at, Some(at(2)));
        assert!(state.open_alerts.is_empty());

        for (what, answer) in [
            (
                "resolve",
                apply(&mut state, |tx| tx.resolve_alert(&id, &ana(), at(5))).0,
            ),
            (
                "ack",
                apply(&mut state, |tx| tx.acknowledge_alert(&id, &ana(), at(5))).0,
            ),
        ] {
            assert!(
                matches!(answer, Err(DomainError::NotFound { ref field, .. }) if field == "id"),
                "{what}: {answer:?}"
            );
        }
    }

    #[test]
    fn a_resolved_capacity_alert_is_raised_anew_when_the_rate_returns() {
        let mut state = State::default();
        let lot = add_lot(&mut state, "a", 10, Some(0.5));
        let first = alerts(&count(&mut state, &lot, 5, at(1)))[0].id.clone();
        apply(&mut state, |tx| tx.resolve_alert(&first, &ana(), at(2)))
            .0
            .unwrap();
        // Still at the threshold: the next report raises a new alert, with a new id.
        let again = alerts(&count(&mut state, &lot, 5, at(3)));
        assert_eq!(again.len(), 1);
        assert_ne!(again[0].id, first);
        assert_eq!(again[0].status, AlertStatus::Active);
    }
}
