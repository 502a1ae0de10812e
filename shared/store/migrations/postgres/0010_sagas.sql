-- Orchestrated sagas: one row per saga instance (its whole state as JSON, plus the columns a
-- listing filters and sorts by), and at most one due timer per saga, which the orchestrator's
-- timer loop takes when it falls due.
CREATE TABLE conveyor.sagas (
    definition   TEXT   NOT NULL,
    saga_id      TEXT   NOT NULL,
    status       TEXT   NOT NULL,
    current_step BIGINT,
    deadline     BIGINT,
    version      BIGINT NOT NULL,
    state        TEXT   NOT NULL,
    started_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (definition, saga_id)
);
CREATE INDEX sagas_updated_at ON conveyor.sagas (updated_at);

CREATE TABLE conveyor.saga_timers (
    definition TEXT   NOT NULL,
    saga_id    TEXT   NOT NULL,
    seq        BIGINT NOT NULL,
    due_at     BIGINT NOT NULL,
    PRIMARY KEY (definition, saga_id)
);
CREATE INDEX saga_timers_due_at ON conveyor.saga_timers (due_at);
