//! Visits: every stay of a vehicle, kept after it ends (stays only hold vehicles inside), so
//! `GET /api/vehicles/{plate}` can answer where a vehicle has been.

use parkstream_protocol::Timestamp;

use super::contractor::Plate;
use super::gate::Stay;
use super::lot::LotId;
use super::state::{Change, Txn};

/// One stay, open (`exit` is `None`) while the vehicle is inside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visit {
    pub lot: LotId,
    pub plate: Plate,
    /// The gate of the entry.
    pub gate: Option<String>,
    pub entry: Timestamp,
    pub exit: Option<Timestamp>,
    pub stay_seconds: Option<u64>,
}

impl Txn<'_> {
    /// Records the visit of `stay`: open at its entry, closed at `exit` after `seconds`.
    pub(super) fn record_visit(&mut self, stay: &Stay, exit: Option<(Timestamp, u64)>) {
        self.record(Change::Visit(Visit {
            lot: stay.lot.clone(),
            plate: stay.plate.clone(),
            gate: stay.gate_id.clone(),
            entry: stay.entered_at,
            exit: exit.map(|(at, _)| at),
            stay_seconds: exit.map(|(_, seconds)| seconds),
        }));
    }
}
