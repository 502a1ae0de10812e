-- Tables of the order service.
CREATE TABLE orders (
    id             TEXT    PRIMARY KEY,
    customer_id    TEXT    NOT NULL,
    status         TEXT    NOT NULL,
    payment_method TEXT    NOT NULL,
    currency       TEXT    NOT NULL,
    total          INTEGER NOT NULL,
    payment_id     TEXT,
    delivered_at   INTEGER,
    -- set once by the reservation cleanup when the stock of an unpaid order was released
    reservation_expired_at INTEGER,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);
CREATE INDEX orders_status_created ON orders (status, created_at);

CREATE TABLE order_items (
    order_id   TEXT    NOT NULL REFERENCES orders (id),
    line_no    INTEGER NOT NULL,
    product_id TEXT    NOT NULL,
    quantity   INTEGER NOT NULL,
    unit_price INTEGER NOT NULL,
    PRIMARY KEY (order_id, line_no)
);

CREATE TABLE order_status_history (
    id          TEXT    PRIMARY KEY,
    order_id    TEXT    NOT NULL REFERENCES orders (id),
    from_status TEXT    NOT NULL,
    to_status   TEXT    NOT NULL,
    reason      TEXT    NOT NULL,
    payment_id  TEXT,
    changed_at  INTEGER NOT NULL
);
CREATE INDEX order_status_history_order ON order_status_history (order_id, changed_at);

-- Storefront sessions; the session cleanup deletes them 24 hours after they expire.
CREATE TABLE sessions (
    id           TEXT    PRIMARY KEY,
    customer_id  TEXT,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL
);
CREATE INDEX sessions_expires ON sessions (expires_at);

-- Shopping carts (status active or converted); the cart cleanup deletes active carts
-- untouched for 7 days.
CREATE TABLE carts (
    id          TEXT    PRIMARY KEY,
    customer_id TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX carts_status_updated ON carts (status, updated_at);

CREATE TABLE cart_items (
    cart_id    TEXT    NOT NULL REFERENCES carts (id),
    product_id TEXT    NOT NULL,
    quantity   INTEGER NOT NULL,
    PRIMARY KEY (cart_id, product_id)
);
