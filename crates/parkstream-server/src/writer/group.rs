//! What one committed group is made of: its events as stored (with their redacted forms and
//! ids), and the lots and contractors it changed, for the read model.

use parkstream_protocol::events::Event;
use parkstream_protocol::Timestamp;

use crate::domain::contractor::Contractor;
use crate::domain::{Change, Lot, Txn};
use crate::store::{counts_of, RollupRetention, RollupWrite, StoredEvent};

/// Trim stored history once this many events were added since the last trim.
const TRIM_EVERY: u64 = 1_000;

/// The events of one group as they are stored, and what publishing them needs besides.
#[derive(Debug, Clone)]
pub(super) struct Group {
    /// Ids from the writer's next one, in emission order.
    pub stored: Vec<StoredEvent>,
    /// Beside each stored event: its data as other contractors see it, if different.
    pub redacted: Vec<Option<String>>,
    /// The newest id once the group is stored.
    pub last_id: u64,
    /// Delete stored history up to this id.
    pub trim_through: Option<u64>,
    /// The occupancy rollups its counts update (and, when due, old rows to delete).
    pub rollups: RollupWrite,
}

impl Group {
    pub(super) fn of(
        tx: &Txn<'_>,
        now: Timestamp,
        next_event_id: u64,
        added_since_trim: u64,
        history_size: u64,
        prune: Option<RollupRetention>,
    ) -> Self {
        let (stored, redacted) = tx
            .events()
            .iter()
            .zip(tx.routing())
            .zip(next_event_id..)
            .map(|((event, routing), id)| {
                let stored = StoredEvent {
                    id,
                    event_type: event.event_type(),
                    lot_id: event.parking_lot_id().map(str::to_owned),
                    owner: routing.owner.clone(),
                    data: event.to_json(),
                    created_at: now,
                };
                (stored, routing.redacted.as_ref().map(|r| r.to_json()))
            })
            .unzip::<_, _, Vec<_>, Vec<_>>();
        let count = stored.len() as u64;
        let last_id = next_event_id + count - 1;
        let trim_through = (count > 0 && added_since_trim + count >= TRIM_EVERY)
            .then(|| last_id.checked_sub(history_size))
            .flatten();
        // Every change of a count emits a capacity update: they are the counts, in order.
        let counts = counts_of(tx.events().iter().filter_map(|event| match event {
            Event::CapacityUpdate(update) => Some(update),
            _ => None,
        }));
        Self {
            stored,
            redacted,
            last_id,
            trim_through,
            rollups: RollupWrite {
                at: Some(now),
                counts,
                prune,
            },
        }
    }
}

/// The lots and contractors a transaction changed, as the read model shows them.
#[derive(Debug, Default)]
pub(super) struct Changed {
    pub lots: Vec<Lot>,
    pub contractors: Vec<Contractor>,
}

impl Changed {
    pub(super) fn of(tx: &Txn<'_>) -> Self {
        let mut changed = Self::default();
        for change in tx.changes() {
            match change {
                Change::Lot(lot) => changed.lots.push(lot.clone()),
                Change::Contractor(c) => changed.contractors.push(c.clone()),
                _ => {}
            }
        }
        changed
    }
}
