//! Alerts: capacity warnings and breaches with hysteresis, camera silence, violations
//! detected; their lifecycle active → acknowledged → resolved.

use parkstream_protocol::events::{Alert, AlertStatus, AlertType, Event, Severity};
use parkstream_protocol::Timestamp;

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

    /// An operator acknowledges an active alert.
    ///
    /// # Errors
    /// `NotFound` when no unresolved alert has this id; `Conflict` when it is not active.
    pub fn acknowledge_alert(&mut self, id: &str, now: Timestamp) -> Result<Alert, DomainError> {
        let mut record = self.open_alert_by_id(id)?;
        if record.alert.status != AlertStatus::Active {
            return Err(DomainError::Conflict(format!(
                "alert {id} is already acknowledged"
            )));
        }
        record.alert.status = AlertStatus::Acknowledged;
        record.alert.acknowledged_at = Some(now);
        let alert = record.alert.clone();
        self.save_alert(record);
        Ok(alert)
    }

    /// An operator resolves an active or acknowledged alert.
    ///
    /// # Errors
    /// `NotFound` when no unresolved alert has this id.
    pub fn resolve_alert(&mut self, id: &str, now: Timestamp) -> Result<Alert, DomainError> {
        let mut record = self.open_alert_by_id(id)?;
        record.alert.status = AlertStatus::Resolved;
        record.alert.resolved_at = Some(now);
        let alert = record.alert.clone();
        self.save_alert(record);
        Ok(alert)
    }
}
