-- The emulator's embedded broker: a durable per-function queue with leases (visibility
-- timeouts) and a dead-letter table, beside the outbox.
CREATE TABLE queue (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    function    TEXT    NOT NULL,
    event_id    TEXT    NOT NULL,
    topic       TEXT    NOT NULL,
    body        TEXT    NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    visible_at  INTEGER NOT NULL,
    enqueued_at INTEGER NOT NULL,
    last_error  TEXT
);
CREATE INDEX queue_ready ON queue (function, visible_at, seq);

CREATE TABLE dead_letters (
    id               TEXT    PRIMARY KEY,
    function         TEXT    NOT NULL,
    event_id         TEXT    NOT NULL,
    topic            TEXT    NOT NULL,
    body             TEXT    NOT NULL,
    error            TEXT    NOT NULL,
    attempts         INTEGER NOT NULL,
    first_attempt_at INTEGER NOT NULL,
    failed_at        INTEGER NOT NULL
);
CREATE INDEX dead_letters_function ON dead_letters (function, failed_at);
