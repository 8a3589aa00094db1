-- Gate answers are keyed by lot and eventId (the same id in another lot is another event),
-- are compared with a replay's request (a different event under the same id is refused, not
-- answered): `data` names its event, plate and gate, and `timestamp_sent` says whether its
-- timestamp is the request's. They are numbered in insertion order (`seq`), by which the
-- oldest are forgotten in one statement while the server runs. Answers stored before have
-- `timestamp_sent` NULL: they match any replay in their lot until they expire.
CREATE TABLE gate_answers_by_lot (
    lot_id         TEXT NOT NULL,
    event_id       TEXT NOT NULL,
    seq            BIGINT NOT NULL,
    timestamp_sent BIGINT,
    data           TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    CONSTRAINT gate_answers_key PRIMARY KEY (lot_id, event_id)
);
INSERT INTO gate_answers_by_lot (lot_id, event_id, seq, timestamp_sent, data, created_at)
    SELECT data::jsonb ->> 'parkingLotId', event_id,
           ROW_NUMBER() OVER (ORDER BY created_at, event_id), NULL, data, created_at
    FROM gate_answers
    WHERE (data::jsonb ->> 'parkingLotId') IS NOT NULL;
DROP TABLE gate_answers;
ALTER TABLE gate_answers_by_lot RENAME TO gate_answers;
CREATE INDEX gate_answers_seq ON gate_answers (seq);
