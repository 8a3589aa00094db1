//! Occupancy rollups: per lot, per minute and per hour, the lowest, highest and last count
//! and the mean of the counts reported. A group commit upserts the current minute's and
//! hour's rows of each lot it changed, in its own transaction, so the rollups are exactly the
//! committed counts and survive restarts; in a cluster only the writer holding the write lock
//! commits, so nothing is counted twice. Rows older than their retention are deleted along
//! with a commit (the writer decides when, see `writer::task`).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::Duration;

use parkstream_protocol::events::CapacityUpdate;
use parkstream_protocol::Timestamp;
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Row, Type};

use super::statement::{Param, Statement};
use super::StoreError;

/// Rows per multi-row upsert: 8 parameters each stays far below both backends' limits.
const ROWS_PER_UPSERT: usize = 500;

/// The width of a rollup's buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Minute,
    Hour,
}

impl Step {
    pub const ALL: [Step; 2] = [Step::Minute, Step::Hour];

    /// The bucket's width in milliseconds.
    pub fn millis(self) -> i64 {
        match self {
            Step::Minute => 60_000,
            Step::Hour => 3_600_000,
        }
    }

    /// Its name in a query (`step=1m`).
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Minute => "1m",
            Step::Hour => "1h",
        }
    }

    fn table(self) -> &'static str {
        match self {
            Step::Minute => "occupancy_minutes",
            Step::Hour => "occupancy_hours",
        }
    }

    /// The start of the bucket holding `millis`.
    pub fn bucket_of(self, millis: i64) -> i64 {
        millis.div_euclid(self.millis()) * self.millis()
    }
}

/// How long rows are kept, by step (`--history-minutes-retention`, `--history-hours-retention`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RollupRetention {
    pub minutes: Duration,
    pub hours: Duration,
}

impl Default for RollupRetention {
    fn default() -> Self {
        Self {
            minutes: Duration::from_secs(7 * 86_400),
            hours: Duration::from_secs(400 * 86_400),
        }
    }
}

impl RollupRetention {
    pub fn of(self, step: Step) -> Duration {
        match step {
            Step::Minute => self.minutes,
            Step::Hour => self.hours,
        }
    }
}

/// One lot's counts in one group: what its rollup rows take in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LotCounts {
    pub lot: String,
    pub min: u32,
    pub max: u32,
    pub last: u32,
    pub total_slots: u32,
    pub samples: u64,
    pub sum: u64,
}

/// Folds a group's capacity updates, in order, into each lot's counts.
pub fn counts_of<'a>(updates: impl IntoIterator<Item = &'a CapacityUpdate>) -> Vec<LotCounts> {
    let mut lots: BTreeMap<&str, LotCounts> = BTreeMap::new();
    for update in updates {
        let n = update.occupied;
        lots.entry(update.parking_lot_id.as_str())
            .and_modify(|c| {
                c.min = c.min.min(n);
                c.max = c.max.max(n);
                c.last = n;
                c.total_slots = update.total_slots;
                c.samples += 1;
                c.sum += u64::from(n);
            })
            .or_insert_with(|| LotCounts {
                lot: update.parking_lot_id.clone(),
                min: n,
                max: n,
                last: n,
                total_slots: update.total_slots,
                samples: 1,
                sum: u64::from(n),
            });
    }
    lots.into_values().collect()
}

/// What a group commit writes to the rollups.
#[derive(Debug, Clone, Default)]
pub struct RollupWrite {
    /// The group's clock: which buckets its counts fall in.
    pub at: Option<Timestamp>,
    pub counts: Vec<LotCounts>,
    /// Delete rows older than these, before the upserts.
    pub prune: Option<RollupRetention>,
}

/// The statements of `write`: pruning first (so a row pruned and written again in one
/// group holds only the new counts), then one upsert per step and chunk of lots.
pub(super) fn statements(write: &RollupWrite, out: &mut Vec<Statement>) {
    let Some(at) = write.at else { return };
    let now = at.unix_millis();
    if let Some(retention) = write.prune {
        for step in Step::ALL {
            let keep = i64::try_from(retention.of(step).as_millis()).unwrap_or(i64::MAX);
            out.push(Statement {
                sql: Cow::Owned(format!("DELETE FROM {} WHERE bucket < $1", step.table())),
                params: vec![now.saturating_sub(keep).into()],
            });
        }
    }
    for step in Step::ALL {
        for chunk in write.counts.chunks(ROWS_PER_UPSERT) {
            let bucket = step.bucket_of(now);
            out.push(upsert(step, chunk.iter().map(|c| (bucket, c))));
        }
    }
}

/// Upserts of rows given with their buckets (a generated history, `Store::write_rollup_rows`).
pub(super) fn rows_statements(step: Step, rows: &[(i64, LotCounts)]) -> Vec<Statement> {
    rows.chunks(ROWS_PER_UPSERT)
        .map(|chunk| upsert(step, chunk.iter().map(|(bucket, c)| (*bucket, c))))
        .collect()
}

fn upsert<'a>(
    step: Step,
    counts: impl ExactSizeIterator<Item = (i64, &'a LotCounts)>,
) -> Statement {
    let table = step.table();
    let mut sql = format!(
        "INSERT INTO {table} (lot_id, bucket, min_occupied, max_occupied, last_occupied,
                              total_slots, samples, sum_occupied) VALUES "
    );
    let mut params = Vec::with_capacity(counts.len() * 8);
    for (row, (bucket, c)) in counts.enumerate() {
        if row > 0 {
            sql.push_str(", ");
        }
        let first = row * 8;
        let numbered: Vec<String> = (1..=8).map(|n| format!("${}", first + n)).collect();
        sql.push_str(&format!("({})", numbered.join(", ")));
        params.extend([
            Param::from(c.lot.as_str()),
            bucket.into(),
            i64::from(c.min).into(),
            i64::from(c.max).into(),
            i64::from(c.last).into(),
            i64::from(c.total_slots).into(),
            i64::try_from(c.samples).unwrap_or(i64::MAX).into(),
            i64::try_from(c.sum).unwrap_or(i64::MAX).into(),
        ]);
    }
    // CASE rather than min()/LEAST(): the one spelling both backends accept.
    sql.push_str(&format!(
        " ON CONFLICT (lot_id, bucket) DO UPDATE SET
           min_occupied = CASE WHEN excluded.min_occupied < {table}.min_occupied
                          THEN excluded.min_occupied ELSE {table}.min_occupied END,
           max_occupied = CASE WHEN excluded.max_occupied > {table}.max_occupied
                          THEN excluded.max_occupied ELSE {table}.max_occupied END,
           last_occupied = excluded.last_occupied, total_slots = excluded.total_slots,
           samples = {table}.samples + excluded.samples,
           sum_occupied = {table}.sum_occupied + excluded.sum_occupied"
    ));
    Statement {
        sql: Cow::Owned(sql),
        params,
    }
}

/// One stored bucket of one lot.
#[derive(Debug, Clone, PartialEq)]
pub struct RollupRow {
    /// The bucket's start, Unix milliseconds.
    pub bucket: i64,
    pub min: u32,
    pub max: u32,
    pub last: u32,
    pub total_slots: u32,
    pub samples: u64,
    /// The mean of the counts reported in the bucket.
    pub mean: f64,
}

/// A lot's stored buckets of `step` starting in `from .. to` (Unix milliseconds), oldest first.
pub(super) async fn read<DB: Database>(
    pool: &sqlx::Pool<DB>,
    step: Step,
    lot: &str,
    from: i64,
    to: i64,
) -> Result<Vec<RollupRow>, StoreError>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> i64: Encode<'q, DB> + Decode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'a> &'a str: ColumnIndex<DB::Row>,
{
    let sql = format!(
        "SELECT bucket, min_occupied, max_occupied, last_occupied, total_slots, samples,
                sum_occupied
         FROM {} WHERE lot_id = $1 AND bucket >= $2 AND bucket < $3 ORDER BY bucket",
        step.table()
    );
    let rows = sqlx::query(&sql)
        .bind(lot.to_owned())
        .bind(from)
        .bind(to)
        .fetch_all(pool)
        .await?;
    let count = |value: i64| {
        u32::try_from(value).map_err(|_| StoreError::Corrupt(format!("count {value} out of range")))
    };
    rows.iter()
        .map(|row| {
            let samples: i64 = row.try_get("samples")?;
            let sum: i64 = row.try_get("sum_occupied")?;
            Ok(RollupRow {
                bucket: row.try_get("bucket")?,
                min: count(row.try_get("min_occupied")?)?,
                max: count(row.try_get("max_occupied")?)?,
                last: count(row.try_get("last_occupied")?)?,
                total_slots: count(row.try_get("total_slots")?)?,
                samples: samples.max(0) as u64,
                mean: if samples > 0 {
                    sum as f64 / samples as f64
                } else {
                    0.0
                },
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(lot: &str, occupied: u32) -> CapacityUpdate {
        CapacityUpdate {
            parking_lot_id: lot.into(),
            total_slots: 10,
            occupied,
            empty: 10u32.saturating_sub(occupied),
            occupancy_rate: f64::from(occupied) / 10.0,
            timestamp: Timestamp::now(),
            event: None,
            plate_number: None,
            gate_id: None,
            duration: None,
        }
    }

    #[test]
    fn a_groups_counts_fold_into_min_max_last_and_sum_per_lot() {
        let updates = [
            update("a", 5),
            update("b", 1),
            update("a", 2),
            update("a", 4),
        ];
        let counts = counts_of(&updates);
        assert_eq!(counts.len(), 2);
        assert_eq!(
            counts[0],
            LotCounts {
                lot: "a".into(),
                min: 2,
                max: 5,
                last: 4,
                total_slots: 10,
                samples: 3,
                sum: 11
            }
        );
        assert_eq!((counts[1].min, counts[1].max, counts[1].last), (1, 1, 1));
    }

    #[test]
    fn pruning_deletes_rows_older_than_each_retention_before_the_upserts() {
        let at = Timestamp::from_unix_millis(10 * 86_400_000 + 90_000).unwrap();
        let write = RollupWrite {
            at: Some(at),
            counts: counts_of(&[update("a", 3)]),
            prune: Some(RollupRetention {
                minutes: Duration::from_secs(86_400),
                hours: Duration::from_secs(5 * 86_400),
            }),
        };
        let mut out = Vec::new();
        statements(&write, &mut out);
        assert_eq!(out.len(), 4, "two deletes, two upserts");
        assert_eq!(
            out[0].sql,
            "DELETE FROM occupancy_minutes WHERE bucket < $1"
        );
        assert_eq!(
            out[0].params,
            vec![Param::Int(Some(9 * 86_400_000 + 90_000))]
        );
        assert_eq!(out[1].sql, "DELETE FROM occupancy_hours WHERE bucket < $1");
        assert_eq!(
            out[1].params,
            vec![Param::Int(Some(5 * 86_400_000 + 90_000))]
        );
        // The minute bucket starts at 1:00 past midnight of day 10, the hour one at midnight.
        assert!(out[2].sql.starts_with("INSERT INTO occupancy_minutes"));
        assert_eq!(out[2].params[1], Param::Int(Some(10 * 86_400_000 + 60_000)));
        assert!(out[3].sql.starts_with("INSERT INTO occupancy_hours"));
        assert_eq!(out[3].params[1], Param::Int(Some(10 * 86_400_000)));
    }

    #[test]
    fn without_counts_or_a_clock_nothing_is_written() {
        let mut out = Vec::new();
        statements(&RollupWrite::default(), &mut out);
        assert!(out.is_empty());
    }
}
