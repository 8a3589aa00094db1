-- Who changed what through the API: written in the same transaction as the change. `seq`
-- orders entries of the same millisecond.
CREATE TABLE audit (
    id          TEXT PRIMARY KEY,
    seq         BIGSERIAL,
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    target_kind TEXT NOT NULL,
    target_id   TEXT NOT NULL,
    summary     TEXT NOT NULL
);
CREATE INDEX audit_newest ON audit (at);
CREATE INDEX audit_by_actor ON audit (actor, at);

-- Every stay of a vehicle: open (no exit) while it is inside, kept after it leaves.
CREATE TABLE visits (
    plate        TEXT NOT NULL,
    entered_at   TEXT NOT NULL,
    lot_id       TEXT NOT NULL,
    gate_id      TEXT,
    exited_at    TEXT,
    stay_seconds BIGINT,
    PRIMARY KEY (plate, entered_at, lot_id)
);
-- Vehicles inside when this table was added have their visit from the start.
INSERT INTO visits (plate, entered_at, lot_id, gate_id)
    SELECT plate, entered_at, lot_id, gate_id FROM stays;

-- Statements read a contractor's violations in a period.
CREATE INDEX violations_by_contractor ON violations (contractor_id, timestamp);
