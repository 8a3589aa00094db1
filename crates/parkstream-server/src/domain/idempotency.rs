//! The answers kept for gate events with an `eventId`, so that a replay gets the first answer
//! instead of counting the vehicle twice.
//!
//! An answer is keyed by lot and `eventId` (an id reused in another lot is another event) and
//! is compared with the replay's request, so a different event under the same id is told apart
//! from a retry. The answer itself names the request's event, plate and gate, and its
//! timestamp is the request's when one was sent; so all an answer keeps beyond itself is
//! whether a timestamp was sent.
//!
//! Answers are kept for a window of time and up to a count ([`Retention`]): without a bound,
//! every distinct id a client ever sent would stay in memory and in the database. They are
//! kept in insertion order, so forgetting the oldest is O(1) whether by age or by count, and
//! each carries an increasing `seq` by which the store forgets the same ones in one statement.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use parkstream_protocol::events::CapacityUpdate;
use parkstream_protocol::Timestamp;

use super::lot::LotId;

/// How long and how many gate answers are kept (`--idempotency-window`, `--idempotency-max`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// An answer older than this is forgotten: the same id again is a new event.
    pub window: Duration,
    /// Most answers kept; past it the oldest are forgotten first.
    pub max: usize,
}

impl Retention {
    pub const DEFAULT: Retention = Retention {
        window: Duration::from_secs(24 * 3600),
        max: 100_000,
    };

    /// Whether an answer stored at `stored_at` is still kept at `now`.
    pub fn keeps(&self, stored_at: Timestamp, now: Timestamp) -> bool {
        now.unix_millis().saturating_sub(stored_at.unix_millis()) < self.window_millis()
    }

    /// The oldest `stored_at` still kept at `now`.
    pub fn horizon(&self, now: Timestamp) -> Timestamp {
        Timestamp::from_unix_millis(now.unix_millis().saturating_sub(self.window_millis()))
            .unwrap_or(Timestamp::from_unix_millis(0).expect("the epoch is in range"))
    }

    fn window_millis(&self) -> i64 {
        i64::try_from(self.window.as_millis()).unwrap_or(i64::MAX)
    }
}

impl Default for Retention {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The answer given to a gate event with an `eventId`, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct GateAnswer {
    pub lot: LotId,
    pub event_id: String,
    pub kept: Kept,
}

/// What is kept of an answer in memory (its lot and id are its key).
#[derive(Debug, Clone, PartialEq)]
pub struct Kept {
    /// Insertion order, increasing across restarts (and instances sharing a database).
    pub seq: u64,
    /// Whether the request carried a `timestamp`; `None` for answers stored before this was
    /// kept, which match any replay in their lot.
    pub timestamp_sent: Option<bool>,
    pub answer: CapacityUpdate,
    /// When the answer was given (the server's clock), for the window.
    pub stored_at: Timestamp,
}

/// One string for lot and id, shared by the map and the order: a lot id has no `\n`, so the
/// first one separates them.
fn key(lot: &LotId, event_id: &str) -> String {
    format!("{lot}\n{event_id}")
}

/// The kept answers, oldest first.
#[derive(Debug, Default)]
pub struct GateAnswers {
    retention: Retention,
    by_key: HashMap<Arc<str>, Kept>,
    /// Every key by `seq`, oldest first. A key answered again after its answer expired (but
    /// before it was forgotten: nothing pruned in between, or the clock was set back) stays
    /// here under its old `seq` too; that entry is skipped when it comes out.
    order: VecDeque<(u64, Arc<str>)>,
    next_seq: u64,
}

/// What [`GateAnswers::pop_oldest`] took out, to put back if the transaction is rolled back.
#[derive(Debug)]
pub struct Popped {
    pub seq: u64,
    key: Arc<str>,
    kept: Option<Kept>,
}

impl GateAnswers {
    /// The answers loaded from the store (in any order), within `retention` at `now`.
    pub fn new(retention: Retention, mut loaded: Vec<GateAnswer>, now: Timestamp) -> Self {
        loaded.sort_by_key(|a| a.kept.seq);
        let mut answers = Self {
            retention,
            next_seq: 1,
            ..Self::default()
        };
        for answer in loaded {
            answers.insert(answer);
        }
        while answers.pop_oldest(now).is_some() {}
        answers
    }

    pub fn retention(&self) -> Retention {
        self.retention
    }

    /// How many answers are kept.
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    /// The answer kept for `event_id` in `lot`, unless it is older than the window at `now`.
    pub fn get(&self, lot: &LotId, event_id: &str, now: Timestamp) -> Option<&Kept> {
        self.by_key
            .get(key(lot, event_id).as_str())
            .filter(|k| self.retention.keeps(k.stored_at, now))
    }

    /// The `seq` the next answer gets.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// Keeps an answer (its `seq` from [`GateAnswers::next_seq`]); answers the one it replaces
    /// (only an expired one not yet forgotten).
    pub fn insert(&mut self, answer: GateAnswer) -> Option<Kept> {
        let key: Arc<str> = key(&answer.lot, &answer.event_id).into();
        self.next_seq = self.next_seq.max(answer.kept.seq + 1);
        self.order.push_back((answer.kept.seq, key.clone()));
        self.by_key.insert(key, answer.kept)
    }

    /// Undoes the latest [`GateAnswers::insert`], given what it answered.
    pub fn uninsert(&mut self, replaced: Option<Kept>) {
        if let Some((_, key)) = self.order.pop_back() {
            match replaced {
                Some(kept) => self.by_key.insert(key, kept),
                None => self.by_key.remove(&key),
            };
        }
    }

    /// Takes out the oldest answer if it is due to be forgotten at `now`: past the window, or
    /// one too many.
    pub fn pop_oldest(&mut self, now: Timestamp) -> Option<Popped> {
        let (seq, key) = self.order.front()?;
        let current = self.by_key.get(key).filter(|k| k.seq == *seq);
        let due = match current {
            Some(kept) => {
                self.by_key.len() > self.retention.max || !self.retention.keeps(kept.stored_at, now)
            }
            None => true, // the stale entry of a key answered again
        };
        if !due {
            return None;
        }
        let (seq, key) = self.order.pop_front().expect("looked at");
        let kept = match self.by_key.get(&key) {
            Some(k) if k.seq == seq => self.by_key.remove(&key),
            _ => None,
        };
        Some(Popped { seq, key, kept })
    }

    /// Undoes the latest [`GateAnswers::pop_oldest`].
    pub fn unpop(&mut self, popped: Popped) {
        if let Some(kept) = popped.kept {
            self.by_key.insert(popped.key.clone(), kept);
        }
        self.order.push_front((popped.seq, popped.key));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(seq: u64, id: &str, stored_at: Timestamp) -> GateAnswer {
        GateAnswer {
            lot: LotId::parse("a").unwrap(),
            event_id: id.to_owned(),
            kept: Kept {
                seq,
                timestamp_sent: Some(false),
                answer: CapacityUpdate {
                    parking_lot_id: "a".into(),
                    total_slots: 1,
                    occupied: 1,
                    empty: 0,
                    occupancy_rate: 1.0,
                    timestamp: stored_at,
                    event: None,
                    plate_number: None,
                    gate_id: None,
                    duration: None,
                },
                stored_at,
            },
        }
    }

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_unix_millis(1_800_000_000_000 + seconds * 1000).unwrap()
    }

    #[test]
    fn the_oldest_go_first_by_count_and_by_age_and_come_back_on_undo() {
        let retention = Retention {
            window: Duration::from_secs(60),
            max: 2,
        };
        let mut answers = GateAnswers::new(retention, Vec::new(), at(0));
        let lot = LotId::parse("a").unwrap();
        for (seq, id) in [(1, "e1"), (2, "e2"), (3, "e3")] {
            assert!(answers.insert(answer(seq, id, at(seq as i64))).is_none());
        }
        let popped = answers.pop_oldest(at(3)).expect("one too many");
        assert_eq!(popped.seq, 1);
        assert!(
            answers.pop_oldest(at(3)).is_none(),
            "two left, none expired"
        );
        assert!(answers.get(&lot, "e1", at(3)).is_none());
        answers.unpop(popped);
        assert_eq!(answers.get(&lot, "e1", at(3)).unwrap().seq, 1);
        assert_eq!(answers.len(), 3);

        // At 62 s e1 and e2 are past the window; e3 stays.
        assert!(answers.get(&lot, "e2", at(62)).is_none());
        let seqs: Vec<u64> = std::iter::from_fn(|| answers.pop_oldest(at(62)))
            .map(|p| p.seq)
            .collect();
        assert_eq!(seqs, [1, 2]);
        assert_eq!(answers.len(), 1);
        assert_eq!(answers.next_seq(), 4);
    }

    #[test]
    fn an_expired_key_answered_again_is_forgotten_by_its_new_seq_only() {
        let retention = Retention {
            window: Duration::from_secs(60),
            max: 10,
        };
        let lot = LotId::parse("a").unwrap();
        let mut answers = GateAnswers::new(
            retention,
            vec![answer(2, "e1", at(100)), answer(1, "e0", at(50))],
            at(100),
        );
        assert_eq!(answers.next_seq(), 3);
        assert!(answers.pop_oldest(at(100)).is_none());
        answers.insert(answer(3, "e2", at(150)));
        // At 161 s e1 is expired but not forgotten yet, and its id comes again.
        assert!(answers.get(&lot, "e1", at(161)).is_none());
        let replaced = answers.insert(answer(4, "e1", at(161)));
        assert_eq!(replaced.map(|k| k.seq), Some(2));
        // e0 is due (111 s old); then the stale entry of e1; e2 and the new e1 stay.
        let seqs: Vec<u64> = std::iter::from_fn(|| answers.pop_oldest(at(161)))
            .map(|p| p.seq)
            .collect();
        assert_eq!(seqs, [1, 2]);
        assert_eq!(answers.get(&lot, "e1", at(161)).unwrap().seq, 4);
        assert_eq!(answers.len(), 2);
    }
}
