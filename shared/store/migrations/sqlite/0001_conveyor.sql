-- Runtime tables shared by every function: idempotency inbox and transactional outbox.
CREATE TABLE inbox (
    function    TEXT    NOT NULL,
    event_id    TEXT    NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (function, event_id)
);

CREATE TABLE outbox (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT    NOT NULL UNIQUE,
    topic        TEXT    NOT NULL,
    body         TEXT    NOT NULL,
    ordering_key TEXT,
    created_at   INTEGER NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX outbox_created_at ON outbox (created_at);
