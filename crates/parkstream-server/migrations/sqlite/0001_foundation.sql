-- Settings of the store itself (such as the base of event ids).
CREATE TABLE meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE lots (
    id                TEXT PRIMARY KEY NOT NULL,
    name              TEXT NOT NULL,
    total_slots       INTEGER NOT NULL CHECK (total_slots >= 0),
    warning_threshold REAL NOT NULL,
    max_stay_seconds  INTEGER,
    occupied          INTEGER NOT NULL CHECK (occupied >= 0),
    updated_at        TEXT NOT NULL
) STRICT;

-- The retained history of published events, for clients resuming with Last-Event-ID.
-- Trimmed to the newest --history-size rows.
CREATE TABLE events (
    id         INTEGER PRIMARY KEY NOT NULL,
    type       TEXT NOT NULL,
    lot_id     TEXT,
    data       TEXT NOT NULL,
    created_at TEXT NOT NULL
) STRICT;
