-- Tables of the warehouse service (schema warehouse).
CREATE SCHEMA IF NOT EXISTS warehouse;

CREATE TABLE warehouse.products (
    id         TEXT   PRIMARY KEY,
    name       TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);

-- available = on_hand - reserved, never negative. version is bumped by every change and
-- published_version records the last one announced with warehouse.inventory.updated.
CREATE TABLE warehouse.inventory (
    product_id          TEXT   PRIMARY KEY REFERENCES warehouse.products (id),
    on_hand             BIGINT NOT NULL CHECK (on_hand >= 0),
    reserved            BIGINT NOT NULL CHECK (reserved >= 0 AND reserved <= on_hand),
    low_stock_threshold BIGINT NOT NULL CHECK (low_stock_threshold >= 0),
    version             BIGINT NOT NULL,
    published_version   BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);
CREATE INDEX inventory_unpublished ON warehouse.inventory (product_id) WHERE version <> published_version;

CREATE TABLE warehouse.reservations (
    id         TEXT   PRIMARY KEY,
    order_id   TEXT   NOT NULL,
    product_id TEXT   NOT NULL REFERENCES warehouse.products (id),
    quantity   BIGINT NOT NULL CHECK (quantity > 0),
    status     TEXT   NOT NULL,
    expires_at BIGINT,
    warned_at  BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (order_id, product_id)
);
CREATE INDEX reservations_active_expiry ON warehouse.reservations (expires_at) WHERE status = 'active';

CREATE TABLE warehouse.stock_movements (
    id         TEXT   PRIMARY KEY,
    product_id TEXT   NOT NULL REFERENCES warehouse.products (id),
    delta      BIGINT NOT NULL,
    kind       TEXT   NOT NULL,
    reference  TEXT,
    at         BIGINT NOT NULL
);
CREATE INDEX stock_movements_at ON warehouse.stock_movements (at);
CREATE INDEX stock_movements_product ON warehouse.stock_movements (product_id, at);
CREATE INDEX stock_movements_reference ON warehouse.stock_movements (reference, kind);

CREATE TABLE warehouse.alerts (
    id          TEXT   PRIMARY KEY,
    product_id  TEXT   NOT NULL REFERENCES warehouse.products (id),
    kind        TEXT   NOT NULL,
    status      TEXT   NOT NULL,
    available   BIGINT NOT NULL,
    threshold   BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    resolved_at BIGINT
);
-- One open alert per product and kind at a time.
CREATE UNIQUE INDEX alerts_one_open ON warehouse.alerts (product_id, kind) WHERE status = 'open';
CREATE INDEX alerts_resolved ON warehouse.alerts (resolved_at) WHERE status = 'resolved';

CREATE TABLE warehouse.reports (
    id           TEXT   PRIMARY KEY,
    kind         TEXT   NOT NULL,
    period_start BIGINT NOT NULL,
    period_end   BIGINT NOT NULL,
    body         TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    UNIQUE (kind, period_start)
);
