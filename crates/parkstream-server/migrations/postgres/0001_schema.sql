-- The same tables as the SQLite schema (migrations/sqlite), in PostgreSQL's types. Times are
-- RFC 3339 text with milliseconds in UTC, as on the wire: they sort as they compare.

-- Settings of the store itself (such as the base of event ids).
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- What instances sharing this database coordinate through (one row). `version` changes with
-- every commit, so a writer knows whether another instance wrote since it last did;
-- `appended_through` is the newest event id known to be on the Redis stream (see cluster/).
CREATE TABLE cluster (
    singleton        BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    version          BIGINT NOT NULL,
    appended_through BIGINT NOT NULL
);
INSERT INTO cluster (version, appended_through) VALUES (0, 0);

CREATE TABLE lots (
    id                TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    total_slots       BIGINT NOT NULL CHECK (total_slots >= 0),
    warning_threshold DOUBLE PRECISION NOT NULL,
    max_stay_seconds  BIGINT,
    occupied          BIGINT NOT NULL CHECK (occupied >= 0),
    updated_at        TEXT NOT NULL
);

-- The retained history of published events, for clients resuming with Last-Event-ID.
CREATE TABLE events (
    id         BIGINT PRIMARY KEY,
    type       TEXT NOT NULL,
    lot_id     TEXT,
    owner      TEXT,
    data       TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE contractors (
    id                  TEXT PRIMARY KEY,
    name                TEXT NOT NULL,
    penalty_per_vehicle BIGINT NOT NULL CHECK (penalty_per_vehicle >= 0)
);

CREATE TABLE contractor_allocations (
    contractor_id      TEXT NOT NULL REFERENCES contractors (id),
    lot_id             TEXT NOT NULL REFERENCES lots (id),
    allocated_capacity BIGINT NOT NULL CHECK (allocated_capacity >= 0),
    PRIMARY KEY (contractor_id, lot_id)
);

-- A plate belongs to at most one contractor: the primary key says so.
CREATE TABLE contractor_plates (
    plate         TEXT PRIMARY KEY,
    contractor_id TEXT NOT NULL REFERENCES contractors (id)
);

-- Vehicles inside, one row per lot and plate.
CREATE TABLE stays (
    lot_id           TEXT NOT NULL REFERENCES lots (id),
    plate            TEXT NOT NULL,
    entered_at       TEXT NOT NULL,
    gate_id          TEXT,
    contractor_id    TEXT,
    overstay_flagged BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (lot_id, plate)
);

CREATE TABLE cameras (
    lot_id          TEXT NOT NULL REFERENCES lots (id),
    camera_id       TEXT NOT NULL,
    last_seen       TEXT NOT NULL,
    offline_alerted BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (lot_id, camera_id)
);

-- `data` is the alert as the API shows it; the other columns are what queries filter on.
-- `seq` orders alerts created in the same millisecond (SQLite's rowid).
CREATE TABLE alerts (
    id         TEXT PRIMARY KEY,
    seq        BIGSERIAL,
    lot_id     TEXT NOT NULL,
    type       TEXT NOT NULL,
    subject    TEXT NOT NULL,
    status     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    data       TEXT NOT NULL
);
-- At most one unresolved alert per lot, type and subject, whichever instance raised it.
CREATE UNIQUE INDEX alerts_one_open ON alerts (lot_id, type, subject) WHERE status <> 'resolved';
CREATE INDEX alerts_newest ON alerts (created_at);

CREATE TABLE violations (
    id                TEXT PRIMARY KEY,
    seq               BIGSERIAL,
    lot_id            TEXT NOT NULL,
    contractor_id     TEXT,
    type              TEXT NOT NULL,
    status            TEXT NOT NULL,
    timestamp         TEXT NOT NULL,
    breach_started_at TEXT,
    data              TEXT NOT NULL
);
-- At most one ongoing capacity breach per contractor and lot.
CREATE UNIQUE INDEX violations_one_breach ON violations (contractor_id, lot_id)
    WHERE breach_started_at IS NOT NULL;
CREATE INDEX violations_newest ON violations (timestamp);

-- Answers to gate events that carried an eventId, for idempotency.
CREATE TABLE gate_answers (
    event_id   TEXT PRIMARY KEY,
    data       TEXT NOT NULL,
    created_at TEXT NOT NULL
);
