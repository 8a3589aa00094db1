//! Lots: identity, settings, occupancy, and the count changes reported for them.

use std::fmt;
use std::sync::Arc;

use parkstream_protocol::api::{CapacityReport, LotSpec, LotView, OpeningStatus};
use parkstream_protocol::events::{CapacityUpdate, Event};
use parkstream_protocol::Timestamp;

use super::state::{Change, Txn};
use super::{check_identifier, DomainError};

/// A lot's id (see [`check_identifier`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LotId(Arc<str>);

impl LotId {
    /// # Errors
    /// When `raw` is empty, too long, or has a character outside the allowed set.
    pub fn parse(raw: &str) -> Result<Self, String> {
        check_identifier(raw, "lot id")?;
        Ok(Self(raw.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id as a shared string (cheap to clone into events and indexes).
    pub fn as_arc(&self) -> &Arc<str> {
        &self.0
    }
}

impl fmt::Display for LotId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A lot's settings, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct LotSettings {
    pub name: String,
    pub total_slots: u32,
    pub warning_threshold: f64,
    pub max_stay_seconds: Option<u64>,
    /// Where the lot is, (latitude, longitude) in WGS 84 degrees.
    pub position: Option<(f64, f64)>,
    /// An IANA time-zone name, as the time-zone database spells it.
    pub time_zone: Option<String>,
    pub opening_status: Option<OpeningStatus>,
    /// Published by the open data feed.
    pub public: bool,
}

impl LotSettings {
    pub const DEFAULT_WARNING_THRESHOLD: f64 = 0.9;
    /// Ten years: longer limits are mistakes, and larger numbers would not fit the database.
    pub const MAX_STAY_SECONDS: u64 = 10 * 365 * 24 * 3600;

    /// # Errors
    /// When the name is blank or longer than 200 characters, the threshold is not in (0, 1],
    /// `maxStaySeconds` is 0, a coordinate is out of range or comes without the other, or
    /// the time zone is not an IANA name.
    pub fn parse(spec: LotSpec) -> Result<Self, DomainError> {
        let name = spec.name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(DomainError::invalid(
                "name",
                "name must have 1 to 200 characters",
            ));
        }
        let warning_threshold = spec
            .warning_threshold
            .unwrap_or(Self::DEFAULT_WARNING_THRESHOLD);
        if !(warning_threshold > 0.0 && warning_threshold <= 1.0) {
            return Err(DomainError::invalid(
                "warningThreshold",
                "warningThreshold must be above 0 and at most 1",
            ));
        }
        if spec
            .max_stay_seconds
            .is_some_and(|s| s == 0 || s > Self::MAX_STAY_SECONDS)
        {
            return Err(DomainError::invalid(
                "maxStaySeconds",
                format!(
                    "maxStaySeconds must be 1 to {} (omit it for no limit)",
                    Self::MAX_STAY_SECONDS
                ),
            ));
        }
        Ok(Self {
            name: name.to_owned(),
            total_slots: spec.total_slots,
            warning_threshold,
            max_stay_seconds: spec.max_stay_seconds,
            position: check_position(spec.latitude, spec.longitude)?,
            time_zone: spec.time_zone.as_deref().map(check_time_zone).transpose()?,
            opening_status: spec.opening_status,
            public: spec.public,
        })
    }
}

/// Both coordinates in range, or neither.
fn check_position(
    latitude: Option<f64>,
    longitude: Option<f64>,
) -> Result<Option<(f64, f64)>, DomainError> {
    if latitude.is_some_and(|lat| !(-90.0..=90.0).contains(&lat)) {
        return Err(DomainError::invalid(
            "latitude",
            "latitude must be -90 to 90 degrees",
        ));
    }
    if longitude.is_some_and(|lon| !(-180.0..=180.0).contains(&lon)) {
        return Err(DomainError::invalid(
            "longitude",
            "longitude must be -180 to 180 degrees",
        ));
    }
    match (latitude, longitude) {
        (Some(lat), Some(lon)) => Ok(Some((lat, lon))),
        (None, None) => Ok(None),
        (Some(_), None) => Err(DomainError::invalid(
            "longitude",
            "longitude is needed with latitude",
        )),
        (None, Some(_)) => Err(DomainError::invalid(
            "latitude",
            "latitude is needed with longitude",
        )),
    }
}

/// An IANA time-zone name (`Europe/Amsterdam`), spelled as the database spells it.
fn check_time_zone(name: &str) -> Result<String, DomainError> {
    name.parse::<chrono_tz::Tz>()
        .map(|tz| tz.name().to_owned())
        .map_err(|_| {
            DomainError::invalid(
                "timeZone",
                format!("{name:?} is not an IANA time-zone name such as Europe/Amsterdam"),
            )
        })
}

/// A lot and its current occupancy.
#[derive(Debug, Clone, PartialEq)]
pub struct Lot {
    pub id: LotId,
    pub settings: LotSettings,
    pub occupied: u32,
    /// When the count or the settings last changed.
    pub updated_at: Timestamp,
}

impl Lot {
    /// The state as `GET /api/lots` shows it.
    pub fn view(&self) -> LotView {
        let (empty, occupancy_rate) =
            CapacityUpdate::derived(self.settings.total_slots, self.occupied);
        LotView {
            parking_lot_id: self.id.to_string(),
            name: self.settings.name.clone(),
            total_slots: self.settings.total_slots,
            occupied: self.occupied,
            empty,
            occupancy_rate,
            warning_threshold: self.settings.warning_threshold,
            max_stay_seconds: self.settings.max_stay_seconds,
            latitude: self.settings.position.map(|(lat, _)| lat),
            longitude: self.settings.position.map(|(_, lon)| lon),
            time_zone: self.settings.time_zone.clone(),
            opening_status: self.settings.opening_status,
            public: self.settings.public,
            timestamp: self.updated_at,
        }
    }

    /// A `capacity_update` of the current count, observed at `at`, with no gate fields.
    pub fn capacity_update(&self, at: Timestamp) -> CapacityUpdate {
        let (empty, occupancy_rate) =
            CapacityUpdate::derived(self.settings.total_slots, self.occupied);
        CapacityUpdate {
            parking_lot_id: self.id.to_string(),
            total_slots: self.settings.total_slots,
            occupied: self.occupied,
            empty,
            occupancy_rate,
            timestamp: at,
            event: None,
            plate_number: None,
            gate_id: None,
            duration: None,
        }
    }
}

/// A count report, checked: `POST /api/capacity/update` (and, with a camera, the lot monitor).
#[derive(Debug, Clone, PartialEq)]
pub struct CountReport {
    pub lot_id: LotId,
    pub occupied: u32,
    pub total_slots: Option<u32>,
    pub observed_at: Option<Timestamp>,
}

/// How far ahead of the server's clock an observation may be (clock skew of a backend).
pub const MAX_FUTURE_SKEW_MS: i64 = 5 * 60 * 1000;

/// Checks an observation time: at most [`MAX_FUTURE_SKEW_MS`] ahead of `now`.
///
/// # Errors
/// When the time is too far in the future.
pub fn check_observed_at(at: Option<Timestamp>, now: Timestamp) -> Result<(), DomainError> {
    match at {
        Some(at) if at.unix_millis() - now.unix_millis() > MAX_FUTURE_SKEW_MS => {
            Err(DomainError::invalid(
                "timestamp",
                "timestamp is more than 5 minutes ahead of the server's clock",
            ))
        }
        _ => Ok(()),
    }
}

impl CountReport {
    /// # Errors
    /// When the lot id is malformed or the timestamp is too far ahead of `now`.
    pub fn parse(report: CapacityReport, now: Timestamp) -> Result<Self, DomainError> {
        let lot_id = LotId::parse(&report.parking_lot_id)
            .map_err(|m| DomainError::invalid("parkingLotId", m))?;
        check_observed_at(report.timestamp, now)?;
        Ok(Self {
            lot_id,
            occupied: report.occupied,
            total_slots: report.total_slots,
            observed_at: report.timestamp,
        })
    }
}

impl Txn<'_> {
    pub fn lot(&self, id: &LotId) -> Option<&Lot> {
        self.state.lots.get(id)
    }

    /// The lot named by a request, or `NotFound` naming `field`.
    pub(super) fn existing_lot(&self, id: &LotId, field: &str) -> Result<&Lot, DomainError> {
        self.lot(id).ok_or_else(|| DomainError::NotFound {
            field: field.to_owned(),
            message: format!("lot {id} does not exist"),
        })
    }

    pub(super) fn save_lot(&mut self, lot: Lot) {
        self.record(Change::Lot(lot.clone()));
        self.write(|s| &mut s.lots, lot.id.clone(), Some(lot));
    }

    /// Creates or updates a lot; answers its new state and whether it was created.
    /// The count is kept on update; the change is published as a `capacity_update`, and the
    /// capacity rules run again (a new threshold may raise or resolve an alert).
    pub fn put_lot(&mut self, id: LotId, settings: LotSettings, now: Timestamp) -> (LotView, bool) {
        let (lot, created) = match self.lot(&id) {
            Some(existing) => (
                Lot {
                    settings,
                    updated_at: now,
                    ..existing.clone()
                },
                false,
            ),
            None => (
                Lot {
                    id: id.clone(),
                    settings,
                    occupied: 0,
                    updated_at: now,
                },
                true,
            ),
        };
        let view = lot.view();
        self.emit(Event::CapacityUpdate(lot.capacity_update(now)));
        self.save_lot(lot);
        self.evaluate_capacity_alerts(&id, now);
        (view, created)
    }

    /// Applies count reports in order. All are checked before any is applied: one unknown lot
    /// refuses the whole batch. A `batch` error names the item's index.
    ///
    /// # Errors
    /// `NotFound` naming the first report whose lot does not exist.
    pub fn report_counts(
        &mut self,
        reports: &[CountReport],
        batch: bool,
        now: Timestamp,
    ) -> Result<Vec<CapacityUpdate>, DomainError> {
        for (index, report) in reports.iter().enumerate() {
            if let Err(err) = self.existing_lot(&report.lot_id, "parkingLotId") {
                return Err(if batch { err.at_index(index) } else { err });
            }
        }
        Ok(reports
            .iter()
            .map(|report| self.set_count(report, now))
            .collect())
    }

    fn set_count(&mut self, report: &CountReport, now: Timestamp) -> CapacityUpdate {
        let at = report.observed_at.unwrap_or(now);
        let mut lot = self.lot(&report.lot_id).expect("checked").clone();
        lot.occupied = report.occupied;
        if let Some(total) = report.total_slots {
            lot.settings.total_slots = total;
        }
        lot.updated_at = at;
        let update = lot.capacity_update(at);
        self.save_lot(lot);
        self.emit(Event::CapacityUpdate(update.clone()));
        self.evaluate_capacity_alerts(&report.lot_id, at);
        update
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lot_ids_are_url_and_list_safe() {
        assert!(LotId::parse("lot_1").is_ok());
        assert!(LotId::parse("north.level-2:A").is_ok());
        for bad in ["", "a,b", "a b", "a/b", "ünïcode", &"x".repeat(129)] {
            assert!(LotId::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    fn spec(name: &str, threshold: Option<f64>) -> LotSpec {
        LotSpec {
            name: name.into(),
            total_slots: 10,
            warning_threshold: threshold,
            ..LotSpec::default()
        }
    }

    #[test]
    fn settings_check_position_and_time_zone() {
        let with = |lat, lon, tz: Option<&str>| {
            LotSettings::parse(LotSpec {
                latitude: lat,
                longitude: lon,
                time_zone: tz.map(str::to_owned),
                ..spec("N", None)
            })
        };
        let ok = with(Some(52.37), Some(4.89), Some("Europe/Amsterdam")).unwrap();
        assert_eq!(ok.position, Some((52.37, 4.89)));
        assert_eq!(ok.time_zone.as_deref(), Some("Europe/Amsterdam"));
        let field = |r: Result<LotSettings, DomainError>| match r {
            Err(DomainError::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(with(Some(90.5), Some(0.0), None)), "latitude");
        assert_eq!(field(with(Some(0.0), Some(-180.5), None)), "longitude");
        assert_eq!(field(with(Some(f64::NAN), Some(0.0), None)), "latitude");
        assert_eq!(field(with(Some(1.0), None, None)), "longitude");
        assert_eq!(field(with(None, Some(1.0), None)), "latitude");
        for bad in ["", "Mars/Olympus", "europe/amsterdam", "CET "] {
            assert_eq!(field(with(None, None, Some(bad))), "timeZone", "{bad:?}");
        }
    }

    #[test]
    fn settings_check_name_and_threshold() {
        let s = LotSettings::parse(spec("  North  ", None)).unwrap();
        assert_eq!(s.name, "North");
        assert_eq!(s.warning_threshold, 0.9);
        assert!(LotSettings::parse(spec("   ", None)).is_err());
        for bad in [0.0, -0.1, 1.01, f64::NAN] {
            assert!(LotSettings::parse(spec("N", Some(bad))).is_err(), "{bad}");
        }
        assert!(LotSettings::parse(spec("N", Some(1.0))).is_ok());
    }

    #[test]
    fn observations_may_not_be_far_in_the_future() {
        let now = Timestamp::now();
        let soon = Timestamp::from_unix_millis(now.unix_millis() + 60_000);
        let late = Timestamp::from_unix_millis(now.unix_millis() + 6 * 60_000);
        let past = Timestamp::from_unix_millis(now.unix_millis() - 86_400_000);
        assert!(check_observed_at(soon, now).is_ok());
        assert!(check_observed_at(past, now).is_ok());
        assert!(check_observed_at(late, now).is_err());
    }
}
