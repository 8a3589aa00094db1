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
