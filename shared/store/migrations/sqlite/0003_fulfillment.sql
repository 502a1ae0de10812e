-- Tables of the fulfillment service.

-- One fulfillment per order: the unique order_id makes opening it idempotent.
CREATE TABLE fulfillments (
    id            TEXT    PRIMARY KEY,
    order_id      TEXT    NOT NULL UNIQUE,
    status        TEXT    NOT NULL,
    cancel_reason TEXT,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX fulfillments_status ON fulfillments (status, updated_at);

CREATE TABLE picklists (
    id             TEXT    PRIMARY KEY,
    fulfillment_id TEXT    NOT NULL UNIQUE REFERENCES fulfillments (id),
    order_id       TEXT    NOT NULL,
    status         TEXT    NOT NULL,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);

CREATE TABLE picklist_items (
    picklist_id TEXT    NOT NULL REFERENCES picklists (id),
    line_no     INTEGER NOT NULL,
    product_id  TEXT    NOT NULL,
    quantity    INTEGER NOT NULL,
    PRIMARY KEY (picklist_id, line_no)
);

-- At most one package per fulfillment.
CREATE TABLE packages (
    id              TEXT    PRIMARY KEY,
    fulfillment_id  TEXT    NOT NULL UNIQUE REFERENCES fulfillments (id),
    order_id        TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    tracking_number TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
