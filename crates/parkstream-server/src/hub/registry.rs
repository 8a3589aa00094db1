//! The streams the hub knows: what each shares with the hub, indexed by lot.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::Arc;

use futures_util::task::AtomicWaker;
use tokio_util::sync::CancellationToken;

use super::Filter;

/// What the hub and one stream share.
#[derive(Debug)]
pub(super) struct Slot {
    pub(super) filter: Filter,
    pub(super) waker: AtomicWaker,
    /// Position of the last event the stream has examined (written by the stream).
    pub(super) cursor: AtomicU64,
    pub(super) backlog: Backlog,
    /// Set when the hub gave up on the stream: it ends at its next poll.
    pub(super) dropped: AtomicBool,
    /// Closes the stream's connection.
    pub(super) kill: CancellationToken,
}

/// A stream's unread events as the publisher counts them. Only the publisher writes here
/// (under the registry lock), on every offer, so it sits on a cache line of its own: sharing
/// the line of `cursor`, which the stream writes on every poll, moved that line between the
/// cores on every offer (measured at 2,400 ev/s to 1,000 streams, the S4 setup of
/// docs/performance.md: p99 140 ms beside the cursor, 80 ms apart).
#[derive(Debug, Default)]
#[repr(align(64))]
pub(super) struct Backlog {
    /// Position of the oldest event offered to the stream and not yet examined; at or below
    /// the stream's cursor when there is none.
    pub(super) from: AtomicU64,
    /// Events offered to the stream so far, and that count when `from` was set and when the
    /// current publication began: lag is counted in the stream's own events, so a stream
    /// watching one quiet lot is not dropped while a busy lot's events pass it by.
    pub(super) offered: AtomicU64,
    pub(super) offered_at_from: AtomicU64,
    pub(super) offered_at_publication: AtomicU64,
    /// The publication `offered_at_publication` belongs to.
    pub(super) publication: AtomicU64,
}

#[derive(Debug, Default)]
pub(super) struct Registry {
    pub(super) next_id: u64,
    /// Publications so far (numbers each for [`Backlog::publication`]).
    pub(super) publications: u64,
    pub(super) everyone: HashMap<u64, Arc<Slot>>,
    pub(super) all_lots: HashMap<u64, Arc<Slot>>,
    pub(super) by_lot: HashMap<Arc<str>, HashMap<u64, Arc<Slot>>>,
}

/// Removes a subscriber from every index; false if it was already gone.
pub(super) fn remove(registry: &mut Registry, id: u64) -> bool {
    let Some(slot) = registry.everyone.remove(&id) else {
        return false;
    };
    match slot.filter.index_lots() {
        None => {
            registry.all_lots.remove(&id);
        }
        Some(lots) => {
            for lot in lots {
                if let Some(subs) = registry.by_lot.get_mut(lot) {
                    subs.remove(&id);
                    if subs.is_empty() {
                        registry.by_lot.remove(lot);
                    }
                }
            }
        }
    }
    true
}
