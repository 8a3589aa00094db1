-- Webhook endpoints: where events are also sent, signed (Standard Webhooks). `secret` signs
-- every delivery; after a rotation `previous_secret` signs too until `previous_until` (Unix
-- ms). `disabled_at` is set when deliveries failed past the retry horizon. `lease_owner`
-- and `lease_until` (Unix ms) name the instance delivering to the endpoint now, so that in a
-- cluster one instance at a time sends, in order.
CREATE TABLE webhooks (
    id              TEXT PRIMARY KEY,
    url             TEXT NOT NULL,
    description     TEXT,
    secret          TEXT NOT NULL,
    previous_secret TEXT,
    previous_until  BIGINT,
    created_at      TEXT NOT NULL,
    disabled_at     TEXT,
    lease_owner     TEXT,
    lease_until     BIGINT
);

-- An endpoint's filters: with rows of a kind (`type`, `lot`) only events matching one of
-- them are sent; without, every event of that kind.
CREATE TABLE webhook_filters (
    webhook_id TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    value      TEXT NOT NULL,
    PRIMARY KEY (webhook_id, kind, value)
);

-- The outbox: one row per event still to be delivered to an endpoint, written in the
-- transaction that stores the event (a copy of it: stored events are trimmed). Deleted once
-- delivered. `next_attempt_at` (Unix ms) is when it is due; `first_failed_at` when its first
-- attempt failed (the retry horizon counts from there).
CREATE TABLE webhook_outbox (
    webhook_id      TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id        BIGINT NOT NULL,
    type            TEXT NOT NULL,
    data            TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL DEFAULT 0,
    first_failed_at BIGINT,
    PRIMARY KEY (webhook_id, event_id)
);

-- Every delivery attempt, the newest kept per endpoint (GET /api/webhooks/{id}/deliveries).
CREATE TABLE webhook_attempts (
    seq        BIGSERIAL PRIMARY KEY,
    webhook_id TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id   BIGINT NOT NULL,
    attempt    BIGINT NOT NULL,
    at         TEXT NOT NULL,
    status     BIGINT,
    error      TEXT,
    latency_ms BIGINT NOT NULL
);
CREATE INDEX webhook_attempts_newest ON webhook_attempts (webhook_id, seq);
