-- What the open occupancy feed publishes of a lot: where it is, its time zone, whether it is
-- open, and whether it is published at all. Existing lots stay unpublished.
ALTER TABLE lots ADD COLUMN latitude REAL CHECK (latitude BETWEEN -90 AND 90);
ALTER TABLE lots ADD COLUMN longitude REAL CHECK (longitude BETWEEN -180 AND 180);
ALTER TABLE lots ADD COLUMN time_zone TEXT;
ALTER TABLE lots ADD COLUMN opening_status TEXT;
ALTER TABLE lots ADD COLUMN public INTEGER NOT NULL DEFAULT 0 CHECK (public IN (0, 1));
