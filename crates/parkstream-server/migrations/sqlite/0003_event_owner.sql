-- The contractor an event belongs to (an alert's or violation's contractor, the contractor of
-- a capacity update's plate), so contractors' streams can be filtered after a restart too.
ALTER TABLE events ADD COLUMN owner TEXT;
