-- Tables of the order service (schema orders).
CREATE SCHEMA IF NOT EXISTS orders;

CREATE TABLE orders.orders (
    id             TEXT   PRIMARY KEY,
    customer_id    TEXT   NOT NULL,
    status         TEXT   NOT NULL,
    payment_method TEXT   NOT NULL,
    currency       TEXT   NOT NULL,
    total          BIGINT NOT NULL,
    payment_id     TEXT,
    delivered_at   BIGINT,
    -- set once by the reservation cleanup when the stock of an unpaid order was released
    reservation_expired_at BIGINT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE INDEX orders_status_created ON orders.orders (status, created_at);

CREATE TABLE orders.order_items (
    order_id   TEXT   NOT NULL REFERENCES orders.orders (id),
    line_no    BIGINT NOT NULL,
    product_id TEXT   NOT NULL,
    quantity   BIGINT NOT NULL,
    unit_price BIGINT NOT NULL,
    PRIMARY KEY (order_id, line_no)
);

CREATE TABLE orders.order_status_history (
    id          TEXT   PRIMARY KEY,
    order_id    TEXT   NOT NULL REFERENCES orders.orders (id),
    from_status TEXT   NOT NULL,
    to_status   TEXT   NOT NULL,
    reason      TEXT   NOT NULL,
    payment_id  TEXT,
    changed_at  BIGINT NOT NULL
);
CREATE INDEX order_status_history_order ON orders.order_status_history (order_id, changed_at);

-- Storefront sessions; the session cleanup deletes them 24 hours after they expire.
CREATE TABLE orders.sessions (
    id           TEXT   PRIMARY KEY,
    customer_id  TEXT,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
);
CREATE INDEX sessions_expires ON orders.sessions (expires_at);

-- Shopping carts (status active or converted); the cart cleanup deletes active carts
-- untouched for 7 days.
CREATE TABLE orders.carts (
    id          TEXT   PRIMARY KEY,
    customer_id TEXT   NOT NULL,
    status      TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX carts_status_updated ON orders.carts (status, updated_at);

CREATE TABLE orders.cart_items (
    cart_id    TEXT   NOT NULL REFERENCES orders.carts (id),
    product_id TEXT   NOT NULL,
    quantity   BIGINT NOT NULL,
    PRIMARY KEY (cart_id, product_id)
);
