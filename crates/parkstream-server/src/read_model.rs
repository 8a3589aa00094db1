//! What `GET` requests read from memory: the committed lots, an hour of their occupancy, and
//! the id of the newest event they reflect.
//!
//! The writer updates it after each commit, after the commit's events reached the hub, so any
//! id a reader sees here can be resumed from on the stream.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, RwLock};

use parkstream_protocol::api::{LotView, OccupancyHistory, OccupancySample};
use parkstream_protocol::Timestamp;

use crate::domain::contractor::Contractor;
use crate::domain::Lot;
use crate::hub::ContractorLots;
use crate::sync::{read, write};

/// How long occupancy history is kept, and the width of one sample's bucket.
pub const HISTORY_MINUTES: i64 = 60;
const BUCKET_MS: i64 = 15_000;

#[derive(Debug, Default)]
struct Views {
    lots: BTreeMap<String, LotView>,
    /// Per lot, the last count known in each 15-second bucket, oldest first.
    occupancy: BTreeMap<String, VecDeque<OccupancySample>>,
    /// The lots each contractor has an allocation in (what its tokens may see), shared with
    /// its open streams.
    contractor_lots: BTreeMap<String, Arc<ContractorLots>>,
    last_event_id: u64,
}

impl Views {
    fn sample(&mut self, lot: &str, sample: OccupancySample) {
        let series = self.occupancy.entry(lot.to_owned()).or_default();
        let bucket = |s: &OccupancySample| s.t.unix_millis().div_euclid(BUCKET_MS);
        match series.back_mut() {
            Some(last) if bucket(last) == bucket(&sample) => *last = sample,
            Some(last) if last.t > sample.t => {} // older than what is known: not history's order
            _ => series.push_back(sample),
        }
        let cutoff = Timestamp::now().unix_millis() - HISTORY_MINUTES * 60_000;
        // Keep one point before the window, so the line starts at its left edge.
        while series.len() > 1 && series[1].t.unix_millis() < cutoff {
            series.pop_front();
        }
    }
}

/// A cheap handle to the read model.
#[derive(Debug, Clone, Default)]
pub struct ReadModel {
    views: Arc<RwLock<Views>>,
    /// Notified when the newest event id it reflects moves.
    moved: Arc<tokio::sync::Notify>,
}

impl ReadModel {
    pub fn new<'a>(lots: impl IntoIterator<Item = &'a Lot>, last_event_id: u64) -> Self {
        Self {
            views: Arc::new(RwLock::new(Views {
                lots: lots
                    .into_iter()
                    .map(|lot| (lot.id.to_string(), lot.view()))
                    .collect(),
                occupancy: BTreeMap::new(),
                contractor_lots: BTreeMap::new(),
                last_event_id,
            })),
            moved: Arc::default(),
        }
    }

    /// Records committed lots (and a point of their occupancy, now) and the newest event id.
    pub fn update(&self, lots: &[Lot], last_event_id: u64) {
        let now = Timestamp::now();
        let mut views = write(&self.views);
        for lot in lots {
            let sample = OccupancySample {
                t: now,
                occupied: lot.occupied,
                total_slots: lot.settings.total_slots,
            };
            views.sample(lot.id.as_str(), sample);
            views.lots.insert(lot.id.to_string(), lot.view());
        }
        views.last_event_id = views.last_event_id.max(last_event_id);
        drop(views);
        self.moved.notify_waiters();
    }

    /// Waits until the model reflects the event `id` (a cluster's instance learns of its own
    /// writes through the stream); false if it did not within `patience`.
    pub async fn wait_reflects(&self, id: u64, patience: std::time::Duration) -> bool {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            let moved = self.moved.notified();
            tokio::pin!(moved);
            moved.as_mut().enable();
            if read(&self.views).last_event_id >= id {
                return true;
            }
            if tokio::time::timeout_at(deadline, moved).await.is_err() {
                return false;
            }
        }
    }

    /// Records contractors' allocations (at start, after each commit that changed one, and
    /// from the database in a cluster).
    pub fn update_contractors<'a>(&self, contractors: impl IntoIterator<Item = &'a Contractor>) {
        let mut views = write(&self.views);
        for contractor in contractors {
            let lots = contractor
                .allocations
                .keys()
                .map(|lot| Arc::from(lot.as_str()));
            views
                .contractor_lots
                .entry(contractor.id.to_string())
                .or_default()
                .set(lots);
        }
    }

    /// The lots a contractor has allocations in (none for an unknown contractor).
    pub fn contractor_lots(&self, contractor: &str) -> Vec<String> {
        let views = read(&self.views);
        views
            .contractor_lots
            .get(contractor)
            .map(|lots| lots.get().iter().map(ToString::to_string).collect())
            .unwrap_or_default()
    }

    /// The same lots as a live set for a contractor's stream: it changes as the allocations
    /// do. (A contractor not known yet gets an empty set, filled if it is created.)
    pub fn live_contractor_lots(&self, contractor: &str) -> Arc<ContractorLots> {
        let mut views = write(&self.views);
        views
            .contractor_lots
            .entry(contractor.to_owned())
            .or_default()
            .clone()
    }

    /// Adds past points (from stored events at start), oldest first.
    pub fn record_history(&self, samples: impl IntoIterator<Item = (String, OccupancySample)>) {
        let mut views = write(&self.views);
        for (lot, sample) in samples {
            views.sample(&lot, sample);
        }
    }

    /// Every lot, by id, and the newest event id the list reflects.
    pub fn lots(&self) -> (Vec<LotView>, u64) {
        let views = read(&self.views);
        (views.lots.values().cloned().collect(), views.last_event_id)
    }

    /// One lot, and the newest event id it reflects.
    pub fn lot(&self, id: &str) -> (Option<LotView>, u64) {
        let views = read(&self.views);
        (views.lots.get(id).cloned(), views.last_event_id)
    }

    /// The occupancy of the last `minutes` (of one lot, or every lot), with the point just
    /// before the window; and the newest event id it reflects.
    pub fn occupancy(&self, minutes: i64, lot: Option<&str>) -> (OccupancyHistory, u64) {
        let cutoff = Timestamp::now().unix_millis() - minutes * 60_000;
        let views = read(&self.views);
        let lots = views
            .occupancy
            .iter()
            .filter(|(id, _)| lot.is_none_or(|wanted| wanted == id.as_str()))
            .map(|(id, series)| {
                let first = series
                    .iter()
                    .rposition(|s| s.t.unix_millis() < cutoff)
                    .unwrap_or(0);
                (id.clone(), series.range(first..).cloned().collect())
            })
            .collect();
        (OccupancyHistory { lots }, views.last_event_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(seconds_ago: i64, occupied: u32) -> OccupancySample {
        OccupancySample {
            t: Timestamp::from_unix_millis(Timestamp::now().unix_millis() - seconds_ago * 1000)
                .unwrap(),
            occupied,
            total_slots: 10,
        }
    }

    #[test]
    fn keeps_the_last_count_of_each_bucket_for_an_hour() {
        let model = ReadModel::default();
        let points = [(7200, 1), (3700, 2), (3000, 3), (100, 4), (100, 5), (30, 6)];
        model.record_history(points.map(|(ago, n)| ("a".to_owned(), sample(ago, n))));
        let (history, _) = model.occupancy(60, None);
        let counts: Vec<u32> = history.lots["a"].iter().map(|s| s.occupied).collect();
        // 7200 s ago is dropped; 3700 s ago stays as the point before the window; the two
        // points of one bucket keep the later count.
        assert_eq!(counts, vec![2, 3, 5, 6]);
        let (recent, _) = model.occupancy(1, Some("a"));
        assert_eq!(
            recent.lots["a"]
                .iter()
                .map(|s| s.occupied)
                .collect::<Vec<_>>(),
            vec![5, 6]
        );
        assert!(model.occupancy(60, Some("b")).0.lots.is_empty());
    }
}
