-- Runtime tables shared by every function: idempotency inbox and transactional outbox.
CREATE SCHEMA IF NOT EXISTS conveyor;

CREATE TABLE conveyor.inbox (
    function    TEXT   NOT NULL,
    event_id    TEXT   NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (function, event_id)
);

CREATE TABLE conveyor.outbox (
    seq          BIGSERIAL PRIMARY KEY,
    id           TEXT   NOT NULL UNIQUE,
    topic        TEXT   NOT NULL,
    body         TEXT   NOT NULL,
    ordering_key TEXT,
    created_at   BIGINT NOT NULL,
    attempts     BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX outbox_created_at ON conveyor.outbox (created_at);
