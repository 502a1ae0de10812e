-- The event store: every event conveyor publishes, appended in the transaction of its outbox row
-- and kept for the retention (365 days by default; pruned by age, oldest first, through the time
-- index), and the progress of replays from it.
CREATE TABLE events (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    id             TEXT    NOT NULL,
    topic          TEXT    NOT NULL,
    time           INTEGER NOT NULL,
    correlation_id TEXT,
    causation_id   TEXT,
    order_id       TEXT,
    source         TEXT    NOT NULL,
    body           TEXT    NOT NULL,
    stored_at      INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))
);
CREATE INDEX events_time ON events (time, seq);
CREATE INDEX events_topic_time ON events (topic, time, seq);
CREATE INDEX events_correlation_time ON events (correlation_id, time, seq)
    WHERE correlation_id IS NOT NULL;
CREATE INDEX events_order_time ON events (order_id, time, seq) WHERE order_id IS NOT NULL;

-- One row per replay: what it replays and how far it got, so an interrupted replay continues
-- after the last event it delivered.
CREATE TABLE replays (
    id             TEXT    PRIMARY KEY,
    topic          TEXT    NOT NULL,
    from_time      INTEGER NOT NULL,
    to_time        INTEGER NOT NULL,
    function       TEXT,
    correlation_id TEXT,
    as_new         INTEGER NOT NULL,
    after_time     INTEGER,
    after_seq      INTEGER,
    replayed       INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    finished_at    INTEGER
);
