-- The event store: every event conveyor publishes, appended in the transaction of its outbox row
-- and kept for the retention (365 days by default), and the progress of replays from it.
--
-- Partitioned by day on the event's time (Unix milliseconds): retention drops whole partitions.
-- The maintenance loop creates each day's partition ahead of time (conveyor.events_pYYYYMMDD);
-- the DEFAULT partition takes any row no day partition covers (an event from far in the past or
-- the future, a day whose partition is not made yet), so an append never fails for want of one.
CREATE TABLE conveyor.events (
    seq            BIGSERIAL NOT NULL,
    id             TEXT   NOT NULL,
    topic          TEXT   NOT NULL,
    time           BIGINT NOT NULL,
    correlation_id TEXT,
    causation_id   TEXT,
    order_id       TEXT,
    source         TEXT   NOT NULL,
    body           TEXT   NOT NULL,
    stored_at      BIGINT NOT NULL DEFAULT ((extract(epoch FROM clock_timestamp()) * 1000)::BIGINT),
    PRIMARY KEY (time, seq)
) PARTITION BY RANGE (time);
CREATE TABLE conveyor.events_default PARTITION OF conveyor.events DEFAULT;
-- Queries page by (time, seq): by time range alone through the key, and by topic, correlation
-- id or order id through these.
CREATE INDEX events_topic_time ON conveyor.events (topic, time, seq);
CREATE INDEX events_correlation_time ON conveyor.events (correlation_id, time, seq)
    WHERE correlation_id IS NOT NULL;
CREATE INDEX events_order_time ON conveyor.events (order_id, time, seq)
    WHERE order_id IS NOT NULL;

-- One row per replay: what it replays and how far it got, so an interrupted replay continues
-- after the last event it delivered.
CREATE TABLE conveyor.replays (
    id             TEXT   PRIMARY KEY,
    topic          TEXT   NOT NULL,
    from_time      BIGINT NOT NULL,
    to_time        BIGINT NOT NULL,
    function       TEXT,
    correlation_id TEXT,
    as_new         BIGINT NOT NULL,
    after_time     BIGINT,
    after_seq      BIGINT,
    replayed       BIGINT NOT NULL DEFAULT 0,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    finished_at    BIGINT
);
