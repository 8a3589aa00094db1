-- What the open occupancy feed publishes of a lot: where it is, its time zone, whether it is
-- open, and whether it is published at all. Existing lots stay unpublished.
ALTER TABLE lots
    ADD COLUMN latitude DOUBLE PRECISION CHECK (latitude BETWEEN -90 AND 90),
    ADD COLUMN longitude DOUBLE PRECISION CHECK (longitude BETWEEN -180 AND 180),
    ADD COLUMN time_zone TEXT,
    ADD COLUMN opening_status TEXT,
    ADD COLUMN public BIGINT NOT NULL DEFAULT 0 CHECK (public IN (0, 1));
