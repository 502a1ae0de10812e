-- Tables of the warehouse service.

CREATE TABLE products (
    id         TEXT    PRIMARY KEY,
    name       TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);

-- available = on_hand - reserved, never negative. version is bumped by every change and
-- published_version records the last one announced with warehouse.inventory.updated.
CREATE TABLE inventory (
    product_id          TEXT    PRIMARY KEY REFERENCES products (id),
    on_hand             INTEGER NOT NULL CHECK (on_hand >= 0),
    reserved            INTEGER NOT NULL CHECK (reserved >= 0 AND reserved <= on_hand),
    low_stock_threshold INTEGER NOT NULL CHECK (low_stock_threshold >= 0),
    version             INTEGER NOT NULL,
    published_version   INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
);
CREATE INDEX inventory_unpublished ON inventory (product_id) WHERE version <> published_version;

CREATE TABLE reservations (
    id         TEXT    PRIMARY KEY,
    order_id   TEXT    NOT NULL,
    product_id TEXT    NOT NULL REFERENCES products (id),
    quantity   INTEGER NOT NULL CHECK (quantity > 0),
    status     TEXT    NOT NULL,
    expires_at INTEGER,
    warned_at  INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (order_id, product_id)
);
CREATE INDEX reservations_active_expiry ON reservations (expires_at) WHERE status = 'active';

CREATE TABLE stock_movements (
    id         TEXT    PRIMARY KEY,
    product_id TEXT    NOT NULL REFERENCES products (id),
    delta      INTEGER NOT NULL,
    kind       TEXT    NOT NULL,
    reference  TEXT,
    at         INTEGER NOT NULL
);
CREATE INDEX stock_movements_at ON stock_movements (at);
CREATE INDEX stock_movements_product ON stock_movements (product_id, at);
CREATE INDEX stock_movements_reference ON stock_movements (reference, kind);

CREATE TABLE alerts (
    id          TEXT    PRIMARY KEY,
    product_id  TEXT    NOT NULL REFERENCES products (id),
    kind        TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    available   INTEGER NOT NULL,
    threshold   INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    resolved_at INTEGER
);
-- One open alert per product and kind at a time.
CREATE UNIQUE INDEX alerts_one_open ON alerts (product_id, kind) WHERE status = 'open';
CREATE INDEX alerts_resolved ON alerts (resolved_at) WHERE status = 'resolved';

CREATE TABLE reports (
    id           TEXT    PRIMARY KEY,
    kind         TEXT    NOT NULL,
    period_start INTEGER NOT NULL,
    period_end   INTEGER NOT NULL,
    body         TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    UNIQUE (kind, period_start)
);
