//! One consistent view of the public lots, shared by every poller until lots change.

use std::time::{Duration, Instant};

use parkstream_protocol::api::LotView;
use parkstream_protocol::Timestamp;

use super::expected::{self, ExpectedDemand};
use super::trend::{Trend, WINDOW_MINUTES};
use super::{PublicLot, RenderedDocuments};
use crate::forecast;
use crate::read_model::ReadModel;
use crate::store::Store;

/// The public lots as they were at `published`.
#[derive(Debug)]
pub struct Snapshot {
    /// Public lots, by id.
    pub lots: Vec<PublicLot>,
    /// The documents' publication time and `Last-Modified`: when the newest public lot
    /// changed (whole seconds), so every instance of a cluster gives the same content the
    /// same time and tag. A rebuild that finds the same content keeps it; one that finds new
    /// content never goes back in time.
    pub published: Timestamp,
    /// The newest event the read model reflected when it was built.
    event_id: u64,
    built: Instant,
    pub(super) rendered: RenderedDocuments,
}

impl Snapshot {
    /// The public lots of `read_model` now, each with its forecast from `store`. When they
    /// are what `previous` holds, the publication time stays (so conditional requests keep
    /// answering 304).
    pub async fn build(read_model: &ReadModel, store: &Store, previous: Option<&Snapshot>) -> Self {
        let (views, event_id) = read_model.lots();
        let (history, _) = read_model.occupancy(WINDOW_MINUTES, None);
        let now = Timestamp::now();
        let mut lots = Vec::new();
        for view in views.into_iter().filter(|view| view.public) {
            let samples = history
                .lots
                .get(&view.parking_lot_id)
                .map_or(&[][..], Vec::as_slice);
            let trend = Trend::of(samples, now);
            let expected = match forecast::for_lot(store, &view, now).await {
                Ok(forecast) => expected::rows(&forecast),
                Err(err) => {
                    // The counts are still worth publishing without it.
                    tracing::warn!(lot = %view.parking_lot_id, error = %err, "open data: no forecast");
                    Vec::new()
                }
            };
            lots.push(public_lot(view, trend, expected));
        }
        let published = match previous {
            Some(previous) if previous.lots == lots => previous.published,
            previous => published_at(&lots, previous.map(|p| p.published), now),
        };
        Self {
            lots,
            published,
            event_id,
            built: Instant::now(),
            rendered: RenderedDocuments::default(),
        }
    }

    /// Whether lots changed since it was built and it is `interval` old or older.
    pub fn stale(&self, read_model: &ReadModel, interval: Duration) -> bool {
        self.built.elapsed() >= interval && read_model.lots().1 != self.event_id
    }

    pub fn lot(&self, id: &str) -> Option<&PublicLot> {
        self.lots.iter().find(|lot| lot.id == id)
    }
}

/// The publication time of new content: its newest change, in whole seconds (what
/// `Last-Modified` can say), after the previous publication, and never in the future.
fn published_at(lots: &[PublicLot], previous: Option<Timestamp>, now: Timestamp) -> Timestamp {
    let second = |t: i64| t.div_euclid(1000) * 1000;
    let newest = lots
        .iter()
        .map(|lot| second(lot.updated_at.unix_millis()))
        .max()
        // No public lot: nothing changed that could date it.
        .unwrap_or_else(|| second(now.unix_millis()));
    let after_previous = previous.map_or(0, |p| p.unix_millis() + 1000);
    let millis = newest.max(after_previous).min(second(now.unix_millis()));
    Timestamp::from_unix_millis(millis).unwrap_or(now)
}

/// What is published of a public lot: its settings and count, nothing else.
fn public_lot(view: LotView, trend: Trend, expected: Vec<ExpectedDemand>) -> PublicLot {
    PublicLot {
        position: view.latitude.zip(view.longitude),
        id: view.parking_lot_id,
        name: view.name,
        total_slots: view.total_slots,
        occupied: view.occupied,
        vacant: view.empty,
        occupancy_rate: view.occupancy_rate,
        warning_threshold: view.warning_threshold,
        time_zone: view.time_zone,
        opening_status: view.opening_status,
        trend,
        expected,
        updated_at: view.timestamp,
    }
}

#[cfg(test)]
impl Snapshot {
    /// A snapshot of `lots`, published now.
    pub fn for_tests(lots: Vec<PublicLot>) -> Self {
        Self {
            lots,
            published: Timestamp::now(),
            event_id: 0,
            built: Instant::now(),
            rendered: RenderedDocuments::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_content_is_published_at_its_newest_change_and_never_earlier() {
        let t = |ms| Timestamp::from_unix_millis(ms).unwrap();
        let lot = |updated: i64| PublicLot {
            id: "a".into(),
            name: "A".into(),
            total_slots: 1,
            occupied: 0,
            vacant: 1,
            occupancy_rate: 0.0,
            warning_threshold: 0.9,
            position: None,
            time_zone: None,
            opening_status: None,
            trend: Trend::Stable,
            expected: Vec::new(),
            updated_at: t(updated),
        };
        let now = t(100_000);
        assert_eq!(
            published_at(&[lot(50_700), lot(20_000)], None, now),
            t(50_000)
        );
        assert_eq!(
            published_at(&[lot(50_700)], Some(t(60_000)), now),
            t(61_000)
        );
        assert_eq!(
            published_at(&[lot(500_000)], None, now),
            now,
            "not in the future"
        );
        assert_eq!(published_at(&[], None, now), now);
    }
}
