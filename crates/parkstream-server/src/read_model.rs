//! What `GET` requests read: the committed state and the id of the newest event it reflects.
//!
//! The writer updates it after each commit, after the commit's events reached the hub, so any
//! id a reader sees here can be resumed from on the stream.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use parkstream_protocol::api::LotView;

use crate::domain::Lot;

#[derive(Debug, Default)]
struct Views {
    lots: BTreeMap<String, LotView>,
    last_event_id: u64,
}

/// A cheap handle to the read model.
#[derive(Debug, Clone, Default)]
pub struct ReadModel {
    views: Arc<RwLock<Views>>,
}

impl ReadModel {
    pub fn new<'a>(lots: impl IntoIterator<Item = &'a Lot>, last_event_id: u64) -> Self {
        Self {
            views: Arc::new(RwLock::new(Views {
                lots: lots
                    .into_iter()
                    .map(|lot| (lot.id.to_string(), lot.view()))
                    .collect(),
                last_event_id,
            })),
        }
    }

    /// Records committed lots and the newest event id.
    pub fn update(&self, lots: &[Lot], last_event_id: u64) {
        let mut views = self.views.write().unwrap_or_else(|p| p.into_inner());
        for lot in lots {
            views.lots.insert(lot.id.to_string(), lot.view());
        }
        views.last_event_id = last_event_id;
    }

    /// Every lot, by id, and the newest event id the list reflects.
    pub fn lots(&self) -> (Vec<LotView>, u64) {
        let views = self.views.read().unwrap_or_else(|p| p.into_inner());
        (views.lots.values().cloned().collect(), views.last_event_id)
    }

    /// One lot, and the newest event id it reflects.
    pub fn lot(&self, id: &str) -> (Option<LotView>, u64) {
        let views = self.views.read().unwrap_or_else(|p| p.into_inner());
        (views.lots.get(id).cloned(), views.last_event_id)
    }
}
