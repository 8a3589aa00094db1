-- Occupancy per lot and bucket (a minute, an hour), written in the same transaction as the
-- counts that change it. `bucket` is the bucket's start in Unix milliseconds. `samples` and
-- `sum_occupied` give the mean of the counts reported in the bucket.
CREATE TABLE occupancy_minutes (
    lot_id        TEXT NOT NULL,
    bucket        BIGINT NOT NULL,
    min_occupied  BIGINT NOT NULL,
    max_occupied  BIGINT NOT NULL,
    last_occupied BIGINT NOT NULL,
    total_slots   BIGINT NOT NULL,
    samples       BIGINT NOT NULL,
    sum_occupied  BIGINT NOT NULL,
    PRIMARY KEY (lot_id, bucket)
);
-- Pruning deletes by age across lots.
CREATE INDEX occupancy_minutes_by_bucket ON occupancy_minutes (bucket);

CREATE TABLE occupancy_hours (
    lot_id        TEXT NOT NULL,
    bucket        BIGINT NOT NULL,
    min_occupied  BIGINT NOT NULL,
    max_occupied  BIGINT NOT NULL,
    last_occupied BIGINT NOT NULL,
    total_slots   BIGINT NOT NULL,
    samples       BIGINT NOT NULL,
    sum_occupied  BIGINT NOT NULL,
    PRIMARY KEY (lot_id, bucket)
);
CREATE INDEX occupancy_hours_by_bucket ON occupancy_hours (bucket);
