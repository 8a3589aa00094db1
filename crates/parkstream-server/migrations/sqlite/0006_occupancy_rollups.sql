-- Occupancy per lot and bucket (a minute, an hour), written in the same transaction as the
-- counts that change it. `bucket` is the bucket's start in Unix milliseconds. `samples` and
-- `sum_occupied` give the mean of the counts reported in the bucket.
CREATE TABLE occupancy_minutes (
    lot_id        TEXT NOT NULL,
    bucket        INTEGER NOT NULL,
    min_occupied  INTEGER NOT NULL,
    max_occupied  INTEGER NOT NULL,
    last_occupied INTEGER NOT NULL,
    total_slots   INTEGER NOT NULL,
    samples       INTEGER NOT NULL,
    sum_occupied  INTEGER NOT NULL,
    PRIMARY KEY (lot_id, bucket)
) STRICT, WITHOUT ROWID;
-- Pruning deletes by age across lots.
CREATE INDEX occupancy_minutes_by_bucket ON occupancy_minutes (bucket);

CREATE TABLE occupancy_hours (
    lot_id        TEXT NOT NULL,
    bucket        INTEGER NOT NULL,
    min_occupied  INTEGER NOT NULL,
    max_occupied  INTEGER NOT NULL,
    last_occupied INTEGER NOT NULL,
    total_slots   INTEGER NOT NULL,
    samples       INTEGER NOT NULL,
    sum_occupied  INTEGER NOT NULL,
    PRIMARY KEY (lot_id, bucket)
) STRICT, WITHOUT ROWID;
CREATE INDEX occupancy_hours_by_bucket ON occupancy_hours (bucket);
