-- Refund requests of the order service's compensation: at most one per payment.
CREATE TABLE orders.refund_requests (
    payment_id   TEXT   PRIMARY KEY,
    order_id     TEXT   NOT NULL,
    amount       BIGINT NOT NULL,
    currency     TEXT   NOT NULL,
    reason       TEXT   NOT NULL,
    requested_at BIGINT NOT NULL
);
CREATE INDEX refund_requests_order ON orders.refund_requests (order_id, requested_at);

-- Customer notifications: at most one per customer and business event.
CREATE TABLE orders.notifications (
    id          TEXT   PRIMARY KEY,
    customer_id TEXT   NOT NULL,
    event_key   TEXT   NOT NULL,
    event_id    TEXT   NOT NULL,
    order_id    TEXT   NOT NULL,
    channel     TEXT   NOT NULL,
    template    TEXT   NOT NULL,
    recipient   TEXT   NOT NULL,
    body        TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    CONSTRAINT notifications_customer_event UNIQUE (customer_id, event_key)
);
