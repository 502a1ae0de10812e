-- Tables of the fulfillment service (schema fulfillment).
CREATE SCHEMA IF NOT EXISTS fulfillment;

-- One fulfillment per order: the unique order_id makes opening it idempotent.
CREATE TABLE fulfillment.fulfillments (
    id            TEXT   PRIMARY KEY,
    order_id      TEXT   NOT NULL UNIQUE,
    status        TEXT   NOT NULL,
    cancel_reason TEXT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX fulfillments_status ON fulfillment.fulfillments (status, updated_at);

CREATE TABLE fulfillment.picklists (
    id             TEXT   PRIMARY KEY,
    fulfillment_id TEXT   NOT NULL UNIQUE REFERENCES fulfillment.fulfillments (id),
    order_id       TEXT   NOT NULL,
    status         TEXT   NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);

CREATE TABLE fulfillment.picklist_items (
    picklist_id TEXT   NOT NULL REFERENCES fulfillment.picklists (id),
    line_no     BIGINT NOT NULL,
    product_id  TEXT   NOT NULL,
    quantity    BIGINT NOT NULL,
    PRIMARY KEY (picklist_id, line_no)
);

-- At most one package per fulfillment.
CREATE TABLE fulfillment.packages (
    id              TEXT   PRIMARY KEY,
    fulfillment_id  TEXT   NOT NULL UNIQUE REFERENCES fulfillment.fulfillments (id),
    order_id        TEXT   NOT NULL,
    status          TEXT   NOT NULL,
    tracking_number TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
