//! Lot monitors: cameras counting a lot, and the alert when one falls silent.

use std::time::Duration;

use parkstream_protocol::api::LotMonitorReport;
use parkstream_protocol::events::{AlertType, CapacityUpdate, Severity};
use parkstream_protocol::Timestamp;

use super::alert::AlertKey;
use super::lot::{CountReport, LotId};
use super::state::{Change, Txn};
use super::{check_identifier, DomainError};

/// A camera that has reported at least once.
#[derive(Debug, Clone, PartialEq)]
pub struct Camera {
    pub lot: LotId,
    pub camera_id: String,
    /// When the server last received a report from it (not the report's own timestamp:
    /// silence is judged by the server's clock).
    pub last_seen: Timestamp,
    /// Whether a `camera_offline` alert was raised for the current silence. Cleared when
    /// it reports; keeps an operator's manual resolve from being undone at the next check.
    pub offline_alerted: bool,
}

/// A lot monitor report, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct CameraReport {
    pub count: CountReport,
    pub camera_id: String,
}

impl CameraReport {
    /// # Errors
    /// When an id is malformed or the timestamp is too far ahead of `now`.
    pub fn parse(report: LotMonitorReport, now: Timestamp) -> Result<Self, DomainError> {
        check_identifier(&report.camera_id, "camera id")
            .map_err(|m| DomainError::invalid("cameraId", m))?;
        let count = CountReport::parse(
            parkstream_protocol::api::CapacityReport {
                parking_lot_id: report.parking_lot_id,
                occupied: report.occupied,
                total_slots: report.total_slots,
                timestamp: report.timestamp,
            },
            now,
        )?;
        Ok(Self {
            count,
            camera_id: report.camera_id,
        })
    }
}

fn offline_key(lot: &LotId, camera_id: &str) -> AlertKey {
    AlertKey {
        lot: lot.clone(),
        alert_type: AlertType::CameraOffline,
        subject: camera_id.to_owned(),
    }
}

impl Txn<'_> {
    /// Applies lot monitor reports: each sets the count and marks its camera alive (resolving
    /// its `camera_offline` alert). All or none.
    ///
    /// # Errors
    /// `NotFound` for an unknown lot.
    pub fn report_cameras(
        &mut self,
        reports: &[CameraReport],
        batch: bool,
        now: Timestamp,
    ) -> Result<Vec<CapacityUpdate>, DomainError> {
        let counts: Vec<CountReport> = reports.iter().map(|r| r.count.clone()).collect();
        let updates = self.report_counts(&counts, batch, now)?;
        for report in reports {
            let lot = &report.count.lot_id;
            let camera = Camera {
                lot: lot.clone(),
                camera_id: report.camera_id.clone(),
                last_seen: now,
                offline_alerted: false,
            };
            self.record(Change::Camera(camera.clone()));
            self.write(
                |s| &mut s.cameras,
                (lot.clone(), report.camera_id.clone()),
                Some(camera),
            );
            self.resolve_open_alert(&offline_key(lot, &report.camera_id), now);
        }
        Ok(updates)
    }

    /// Raises `camera_offline` for every camera silent for `timeout` or more.
    pub fn check_cameras(&mut self, now: Timestamp, timeout: Duration) {
        let timeout_ms = i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX);
        let silent: Vec<_> = self
            .state
            .cameras
            .values()
            .filter(|c| {
                !c.offline_alerted && now.unix_millis() - c.last_seen.unix_millis() >= timeout_ms
            })
            .cloned()
            .collect();
        for mut camera in silent {
            let seconds = now.seconds_since(camera.last_seen);
            let message = format!(
                "Camera {} has not reported for {seconds} s",
                camera.camera_id
            );
            self.raise_alert(
                offline_key(&camera.lot, &camera.camera_id),
                Severity::High,
                None,
                message,
                now,
            );
            camera.offline_alerted = true;
            self.record(Change::Camera(camera.clone()));
            self.write(
                |s| &mut s.cameras,
                (camera.lot.clone(), camera.camera_id.clone()),
                Some(camera),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use parkstream_protocol::events::{AlertStatus, Event};

    use super::super::testing::{add_lot, alerts, apply, at, lot_id, operator};
    use super::super::State;
    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(60);

    fn report(lot: &LotId, camera: &str, occupied: u32) -> CameraReport {
        CameraReport {
            count: CountReport {
                lot_id: lot.clone(),
                occupied,
                total_slots: None,
                observed_at: None,
            },
            camera_id: camera.into(),
        }
    }

    fn seen(state: &mut State, lot: &LotId, camera: &str, now: Timestamp) -> Vec<Event> {
        let (answer, events) = apply(state, |tx| {
            tx.report_cameras(&[report(lot, camera, 1)], false, now)
        });
        answer.unwrap();
        events
    }

    fn check(state: &mut State, now: Timestamp) -> Vec<Event> {
        apply(state, |tx| tx.check_cameras(now, TIMEOUT)).1
    }

    #[test]
    fn a_silent_camera_raises_one_alert_and_its_next_report_resolves_it() {
        let mut state = State::default();
        let lot = add_lot(&mut state, "a", 10, None);
        seen(&mut state, &lot, "cam-1", at(0));
        assert!(
            check(&mut state, at(59)).is_empty(),
            "not silent long enough"
        );

        let raised = alerts(&check(&mut state, at(60)));
        assert_eq!(raised.len(), 1);
        assert_eq!(raised[0].alert_type, AlertType::CameraOffline);
        assert_eq!(raised[0].severity, Severity::High);
        assert_eq!(raised[0].message, "Camera cam-1 has not reported for 60 s");
        assert!(
            check(&mut state, at(120)).is_empty(),
            "raised once per silence"
        );

        let back = alerts(&seen(&mut state, &lot, "cam-1", at(130)));
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].id, raised[0].id);
        assert_eq!(back[0].status, AlertStatus::Resolved);
        // A new silence raises a new alert.
        assert_eq!(alerts(&check(&mut state, at(190))).len(), 1);
    }

    #[test]
    fn an_alert_resolved_by_hand_is_not_raised_again_during_the_same_silence() {
        let mut state = State::default();
        let lot = add_lot(&mut state, "a", 10, None);
        seen(&mut state, &lot, "cam-1", at(0));
        let id = alerts(&check(&mut state, at(60)))[0].id.clone();
        apply(&mut state, |tx| tx.resolve_alert(&id, &operator(), at(61)))
            .0
            .unwrap();
        assert!(check(&mut state, at(600)).is_empty());
    }

    #[test]
    fn cameras_are_judged_one_by_one() {
        let mut state = State::default();
        let lot = add_lot(&mut state, "a", 10, None);
        seen(&mut state, &lot, "cam-1", at(0));
        seen(&mut state, &lot, "cam-2", at(30));
        let raised = alerts(&check(&mut state, at(60)));
        assert_eq!(raised.len(), 1);
        assert_eq!(raised[0].message, "Camera cam-1 has not reported for 60 s");
    }

    #[test]
    fn a_report_for_an_unknown_lot_changes_nothing() {
        let mut state = State::default();
        add_lot(&mut state, "a", 10, None);
        let reports = [
            report(&lot_id("a"), "cam-1", 3),
            report(&lot_id("nope"), "cam-2", 3),
        ];
        let (answer, events) = apply(&mut state, |tx| tx.report_cameras(&reports, true, at(1)));
        assert!(
            matches!(answer, Err(DomainError::NotFound { ref field, .. }) if field == "[1].parkingLotId"),
            "{answer:?}"
        );
        assert!(events.is_empty());
        assert!(state.cameras.is_empty());
        assert_eq!(state.lots[&lot_id("a")].occupied, 0);
    }

    #[test]
    fn a_malformed_camera_id_is_refused() {
        let raw = parkstream_protocol::api::LotMonitorReport {
            parking_lot_id: "a".into(),
            camera_id: "cam 1".into(),
            occupied: 1,
            total_slots: None,
            timestamp: None,
        };
        let err = CameraReport::parse(raw, at(0)).unwrap_err();
        assert!(
            matches!(err, DomainError::Invalid { ref field, .. } if field == "cameraId"),
            "{err:?}"
        );
    }
}
