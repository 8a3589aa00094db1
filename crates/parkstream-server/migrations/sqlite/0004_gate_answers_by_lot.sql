-- Gate answers are keyed by lot and eventId (the same id in another lot is another event),
-- are compared with a replay's request (a different event under the same id is refused, not
-- answered): `data` names its event, plate and gate, and `timestamp_sent` says whether its
-- timestamp is the request's. They are numbered in insertion order (`seq`), by which the
-- oldest are forgotten in one statement while the server runs. Answers stored before have
-- `timestamp_sent` NULL: they match any replay in their lot until they expire.
CREATE TABLE gate_answers_by_lot (
    lot_id         TEXT NOT NULL,
    event_id       TEXT NOT NULL,
    seq            INTEGER NOT NULL,
    timestamp_sent INTEGER,
    data           TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    PRIMARY KEY (lot_id, event_id)
) STRICT;
INSERT INTO gate_answers_by_lot (lot_id, event_id, seq, timestamp_sent, data, created_at)
    SELECT json_extract(data, '$.parkingLotId'), event_id, rowid, NULL, data, created_at
    FROM gate_answers
    WHERE json_extract(data, '$.parkingLotId') IS NOT NULL;
DROP TABLE gate_answers;
ALTER TABLE gate_answers_by_lot RENAME TO gate_answers;
CREATE INDEX gate_answers_seq ON gate_answers (seq);
