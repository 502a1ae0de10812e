//! Orders, sessions and carts of the order service.

use conveyor_domain::events::checkout::CheckoutRequestedEvent;
use conveyor_domain::events::order::OrderLine;
use conveyor_domain::order::{
    Cart, CartItem, CartRepository, Order, OrderRepository, OrderStatus, PaymentMethod, Session,
    SessionRepository, StatusChange,
};
use conveyor_domain::{
    CartId, Currency, CustomerId, Money, OrderId, ProductId, Quantity, SessionId, Timestamp,
};
use conveyor_store::{Store, sqlx};

/// `n` units of `sku` at `cents` each.
///
/// # Panics
/// On an invalid sku or price (test data).
#[must_use]
pub fn line(sku: &str, n: u32, cents: i64) -> OrderLine {
    OrderLine {
        product_id: ProductId::parse(sku).expect("valid sku"),
        quantity: Quantity::new(n),
        unit_price: Money::from_minor(cents).expect("valid price"),
    }
}

/// A pending USD order of customer `cus-42` with two mugs (12.50) and a tee (24.99): 49.99, as in the samples.
///
/// # Panics
/// On invalid test data.
#[must_use]
pub fn order(id: &str, method: PaymentMethod, at: Timestamp) -> Order {
    Order::place(
        OrderId::parse(id).expect("valid order id"),
        CustomerId::parse("cus-42").expect("valid customer id"),
        method,
        Currency::parse("USD").expect("valid currency"),
        vec![line("sku-mug", 2, 1250), line("sku-tee", 1, 2499)],
        at,
    )
    .expect("valid order")
}

/// Inserts `order` in its own transaction.
///
/// # Panics
/// On a store error (the test environment is broken).
pub async fn insert(store: &Store, order: &Order) {
    let mut tx = store.begin().await.expect("begin");
    tx.insert_order(order).await.expect("insert order");
    tx.commit().await.expect("commit");
}

/// Loads an order outside any handler.
///
/// # Panics
/// On a store error.
pub async fn load(store: &Store, id: &OrderId) -> Option<Order> {
    let mut tx = store.begin().await.expect("begin");
    let order = tx.get_order_for_update(id).await.expect("load order");
    tx.commit().await.expect("commit");
    order
}

/// Inserts many orders in one transaction (batch-limit scenarios).
///
/// # Panics
/// On a store error.
pub async fn insert_all(store: &Store, orders: &[Order]) {
    let mut tx = store.begin().await.expect("begin");
    for order in orders {
        tx.insert_order(order).await.expect("insert order");
    }
    tx.commit().await.expect("commit");
}

/// The pending prepaid order a checkout request announces, as the order service holds it
/// when it publishes the request.
///
/// # Panics
/// On a request the order cannot be placed from (test data).
#[must_use]
pub fn of_checkout(request: &CheckoutRequestedEvent) -> Order {
    Order::place(
        request.order_id.clone(),
        request.customer_id.clone(),
        PaymentMethod::Prepaid,
        request.currency.clone(),
        request.items.clone(),
        request.timestamp,
    )
    .expect("a checkout request places a valid order")
}

/// A prepaid order placed `minutes_ago` before `now`, still pending (unpaid).
#[must_use]
pub fn prepaid_placed(id: &str, now: Timestamp, minutes_ago: i64) -> Order {
    order(id, PaymentMethod::Prepaid, now.add_minutes(-minutes_ago))
}

/// A pending cash-on-delivery order placed `minutes_ago` before `now`; `delivered_minutes_ago`
/// set means the carrier reported it delivered (cash collected) that long before `now`.
#[must_use]
pub fn cod_placed(
    id: &str,
    now: Timestamp,
    minutes_ago: i64,
    delivered_minutes_ago: Option<i64>,
) -> Order {
    let mut order = order(id, PaymentMethod::Cod, now.add_minutes(-minutes_ago));
    order.delivered_at = delivered_minutes_ago.map(|m| now.add_minutes(-m));
    order
}

/// Records that the carrier delivered order `id` at `at` (for cash on delivery: the cash was
/// collected), as the order service does when the carrier reports it.
///
/// # Panics
/// On a store error or when the order does not exist.
pub async fn mark_delivered(store: &Store, id: &OrderId, at: Timestamp) {
    let done = sqlx::query("UPDATE orders SET delivered_at = $1 WHERE id = $2")
        .bind(at.millis())
        .bind(id.as_str())
        .execute(store.pool())
        .await
        .expect("mark delivered");
    assert_eq!(done.rows_affected(), 1, "order {id} exists");
}

/// `order` in another status (rows a scenario starts from; no history is written).
#[must_use]
pub fn in_status(mut order: Order, status: OrderStatus) -> Order {
    order.status = status;
    order
}

/// The order's status history, oldest first.
///
/// # Panics
/// On a store error.
pub async fn history(store: &Store, id: &OrderId) -> Vec<StatusChange> {
    let mut tx = store.begin().await.expect("begin");
    let history = tx.status_history(id).await.expect("load history");
    tx.commit().await.expect("commit");
    history
}

/// How many orders are in `status`.
///
/// # Panics
/// On a store error.
pub async fn count_in_status(store: &Store, status: OrderStatus) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM orders WHERE status = $1")
        .bind(status.as_str())
        .fetch_one(store.pool())
        .await
        .expect("count orders")
}

/// How many rows one of the order service's tables holds (`sessions`, `carts`, `cart_items`,
/// `orders`, ...).
///
/// # Panics
/// On a store error or an unknown table.
pub async fn count_rows(store: &Store, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(store.pool())
        .await
        .expect("count rows")
}

/// A signed-in 30-minute session of `cus-42` that expired `minutes_ago` before `now`
/// (negative: still valid).
///
/// # Panics
/// On an invalid id (test data).
#[must_use]
pub fn session(id: &str, now: Timestamp, minutes_ago: i64) -> Session {
    Session::start(
        SessionId::parse(id).expect("valid session id"),
        Some(CustomerId::parse("cus-42").expect("valid customer id")),
        now.add_minutes(-minutes_ago - 30),
        30,
    )
}

/// Inserts sessions in one transaction.
///
/// # Panics
/// On a store error.
pub async fn insert_sessions(store: &Store, sessions: &[Session]) {
    let mut tx = store.begin().await.expect("begin");
    for session in sessions {
        tx.insert_session(session).await.expect("insert session");
    }
    tx.commit().await.expect("commit");
}

/// Loads a session.
///
/// # Panics
/// On a store error or an invalid id.
pub async fn load_session(store: &Store, id: &str) -> Option<Session> {
    let mut tx = store.begin().await.expect("begin");
    let session = tx
        .get_session(&SessionId::parse(id).expect("valid session id"))
        .await
        .expect("load session");
    tx.commit().await.expect("commit");
    session
}

/// A cart of `cus-42` with two mugs and a tee, last touched `untouched_minutes` before `now`;
/// `converted` means it was checked out then.
///
/// # Panics
/// On an invalid id (test data).
#[must_use]
pub fn cart(id: &str, now: Timestamp, untouched_minutes: i64, converted: bool) -> Cart {
    let touched = now.add_minutes(-untouched_minutes);
    let mut cart = Cart::open(
        CartId::parse(id).expect("valid cart id"),
        CustomerId::parse("cus-42").expect("valid customer id"),
        touched,
    );
    cart.items = ["sku-mug", "sku-tee"]
        .into_iter()
        .zip([2, 1])
        .map(|(sku, n)| CartItem {
            product_id: ProductId::parse(sku).expect("valid sku"),
            quantity: Quantity::new(n),
        })
        .collect();
    if converted {
        cart.convert(touched);
    }
    cart
}

/// Inserts carts (with their items) in one transaction.
///
/// # Panics
/// On a store error.
pub async fn insert_carts(store: &Store, carts: &[Cart]) {
    let mut tx = store.begin().await.expect("begin");
    for cart in carts {
        tx.insert_cart(cart).await.expect("insert cart");
    }
    tx.commit().await.expect("commit");
}

/// Loads a cart with its items.
///
/// # Panics
/// On a store error or an invalid id.
pub async fn load_cart(store: &Store, id: &str) -> Option<Cart> {
    let mut tx = store.begin().await.expect("begin");
    let cart = tx
        .get_cart(&CartId::parse(id).expect("valid cart id"))
        .await
        .expect("load cart");
    tx.commit().await.expect("commit");
    cart
}
