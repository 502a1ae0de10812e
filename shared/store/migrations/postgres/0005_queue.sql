-- The emulator's embedded broker: a durable per-function queue with leases (visibility
-- timeouts) and a dead-letter table, beside the outbox.
CREATE TABLE conveyor.queue (
    seq         BIGSERIAL PRIMARY KEY,
    function    TEXT   NOT NULL,
    event_id    TEXT   NOT NULL,
    topic       TEXT   NOT NULL,
    body        TEXT   NOT NULL,
    attempts    BIGINT NOT NULL DEFAULT 0,
    visible_at  BIGINT NOT NULL,
    enqueued_at BIGINT NOT NULL,
    last_error  TEXT
);
CREATE INDEX queue_ready ON conveyor.queue (function, visible_at, seq);

CREATE TABLE conveyor.dead_letters (
    id               TEXT   PRIMARY KEY,
    function         TEXT   NOT NULL,
    event_id         TEXT   NOT NULL,
    topic            TEXT   NOT NULL,
    body             TEXT   NOT NULL,
    error            TEXT   NOT NULL,
    attempts         BIGINT NOT NULL,
    first_attempt_at BIGINT NOT NULL,
    failed_at        BIGINT NOT NULL
);
CREATE INDEX dead_letters_function ON conveyor.dead_letters (function, failed_at);
