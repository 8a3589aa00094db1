CREATE TABLE contractors (
    id                  TEXT PRIMARY KEY NOT NULL,
    name                TEXT NOT NULL,
    penalty_per_vehicle INTEGER NOT NULL CHECK (penalty_per_vehicle >= 0)
) STRICT;

CREATE TABLE contractor_allocations (
    contractor_id      TEXT NOT NULL REFERENCES contractors (id),
    lot_id             TEXT NOT NULL REFERENCES lots (id),
    allocated_capacity INTEGER NOT NULL CHECK (allocated_capacity >= 0),
    PRIMARY KEY (contractor_id, lot_id)
) STRICT;

-- A plate belongs to at most one contractor: the primary key says so.
CREATE TABLE contractor_plates (
    plate         TEXT PRIMARY KEY NOT NULL,
    contractor_id TEXT NOT NULL REFERENCES contractors (id)
) STRICT;

-- Vehicles inside, one row per lot and plate.
CREATE TABLE stays (
    lot_id           TEXT NOT NULL REFERENCES lots (id),
    plate            TEXT NOT NULL,
    entered_at       TEXT NOT NULL,
    gate_id          TEXT,
    contractor_id    TEXT,
    overstay_flagged INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (lot_id, plate)
) STRICT;

CREATE TABLE cameras (
    lot_id          TEXT NOT NULL REFERENCES lots (id),
    camera_id       TEXT NOT NULL,
    last_seen       TEXT NOT NULL,
    offline_alerted INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (lot_id, camera_id)
) STRICT;

-- `data` is the alert as the API shows it; the other columns are what queries filter on.
CREATE TABLE alerts (
    id         TEXT PRIMARY KEY NOT NULL,
    lot_id     TEXT NOT NULL,
    type       TEXT NOT NULL,
    subject    TEXT NOT NULL,
    status     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    data       TEXT NOT NULL
) STRICT;
-- At most one unresolved alert per lot, type and subject.
CREATE UNIQUE INDEX alerts_one_open ON alerts (lot_id, type, subject) WHERE status <> 'resolved';
CREATE INDEX alerts_newest ON alerts (created_at);

CREATE TABLE violations (
    id                TEXT PRIMARY KEY NOT NULL,
    lot_id            TEXT NOT NULL,
    contractor_id     TEXT,
    type              TEXT NOT NULL,
    status            TEXT NOT NULL,
    timestamp         TEXT NOT NULL,
    breach_started_at TEXT,
    data              TEXT NOT NULL
) STRICT;
-- At most one ongoing capacity breach per contractor and lot.
CREATE UNIQUE INDEX violations_one_breach ON violations (contractor_id, lot_id)
    WHERE breach_started_at IS NOT NULL;
CREATE INDEX violations_newest ON violations (timestamp);

-- Answers to gate events that carried an eventId, for idempotency.
CREATE TABLE gate_answers (
    event_id   TEXT PRIMARY KEY NOT NULL,
    data       TEXT NOT NULL,
    created_at TEXT NOT NULL
) STRICT;
