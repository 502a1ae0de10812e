//! Products, inventory, reservations, movements and alerts of the warehouse, written through the
//! store's repositories, and readers for what handlers left behind.
//!
//! Seeded stock is announced (its published version is current), so the stock-change detector
//! sees only what a test changes afterwards.

use conveyor_domain::warehouse::{
    Alert, AlertRepository, Inventory, InventoryRepository, MovementKind, MovementLog, Product,
    Report, ReportKind, ReportRepository, Reservation, ReservationRepository, ReservationStatus,
    StockMovement,
};
use conveyor_domain::{OrderId, ProductId, Quantity, Timestamp};
use conveyor_store::{Store, Tx};

/// A product id.
///
/// # Panics
/// On an invalid id (test data).
#[must_use]
pub fn sku(id: &str) -> ProductId {
    ProductId::parse(id).expect("valid product id")
}

/// An order id.
///
/// # Panics
/// On an invalid id (test data).
#[must_use]
pub fn order_id(id: &str) -> OrderId {
    OrderId::parse(id).expect("valid order id")
}

async fn write<T>(store: &Store, f: impl AsyncFnOnce(&mut Tx) -> T) -> T {
    let mut tx = store.begin().await.expect("begin");
    let out = f(&mut tx).await;
    tx.commit().await.expect("commit");
    out
}

/// A product with `on_hand` units and a low-stock threshold, created at `at`.
///
/// # Panics
/// On a store error or when the product exists.
pub async fn product(
    store: &Store,
    id: &str,
    on_hand: u32,
    threshold: u32,
    at: Timestamp,
) -> Inventory {
    let product = Product {
        id: sku(id),
        name: format!("Product {id}"),
        created_at: at,
    };
    let inventory = Inventory::new(
        sku(id),
        Quantity::new(on_hand),
        Quantity::new(threshold),
        at,
    );
    write(store, async |tx| {
        assert!(
            tx.insert_product(&product, &inventory)
                .await
                .expect("insert product"),
            "product {id} seeded twice"
        );
    })
    .await;
    inventory
}

/// Holds `quantity` units of `product` for `order`: an active reservation expiring at
/// `expires_at`, the units counted in `reserved`.
///
/// # Panics
/// On a store error, an unknown product or too little stock.
pub async fn hold(
    store: &Store,
    order: &str,
    product: &str,
    quantity: u32,
    expires_at: Timestamp,
    at: Timestamp,
) -> Reservation {
    let mut r = Reservation::hold(order_id(order), sku(product), Quantity::new(quantity), at);
    r.expires_at = Some(expires_at);
    write(store, async |tx| {
        let mut inventory = tx
            .inventory_for_update(&r.product_id)
            .await
            .expect("load inventory")
            .expect("seeded product");
        inventory.reserve(r.quantity, at).expect("enough stock");
        inventory.mark_published();
        tx.save_inventory(&inventory).await.expect("save inventory");
        assert!(tx.insert_reservation(&r).await.expect("insert reservation"));
    })
    .await;
    r
}

/// As [`hold`], then moved to `status` (confirmed: no expiry).
///
/// # Panics
/// As [`hold`], or for a status an active reservation cannot reach.
pub async fn held_as(
    store: &Store,
    reservation: &mut Reservation,
    status: ReservationStatus,
    at: Timestamp,
) {
    reservation
        .change_status(status, at)
        .expect("reachable status");
    write(store, async |tx| {
        tx.save_reservation(reservation)
            .await
            .expect("save reservation");
    })
    .await;
}

/// Puts units on hand without announcing it (as a delivery booked outside the handlers would).
///
/// # Panics
/// On a store error or an unknown product.
pub async fn restock_unannounced(store: &Store, product: &str, quantity: u32, at: Timestamp) {
    write(store, async |tx| {
        let mut inventory = tx
            .inventory_for_update(&sku(product))
            .await
            .expect("load inventory")
            .expect("seeded product");
        inventory
            .restock(Quantity::new(quantity), at)
            .expect("no overflow");
        tx.save_inventory(&inventory).await.expect("save inventory");
    })
    .await;
}

/// A ledger entry.
///
/// # Panics
/// On a store error.
pub async fn movement(
    store: &Store,
    product: &str,
    kind: MovementKind,
    quantity: u32,
    reference: &str,
    at: Timestamp,
) {
    let m = StockMovement::new(
        sku(product),
        kind,
        Quantity::new(quantity),
        Some(reference),
        at,
    );
    write(store, async |tx| {
        tx.record_movement(&m).await.expect("record movement");
    })
    .await;
}

/// A low-stock alert for `inventory` (which must be low), raised at `at` and resolved at
/// `resolved_at` if given.
///
/// # Panics
/// On a store error, or when the inventory is not low or already has an open alert.
pub async fn alert(
    store: &Store,
    inventory: &Inventory,
    at: Timestamp,
    resolved_at: Option<Timestamp>,
) -> Alert {
    let mut alert = Alert::low_stock(inventory, at).expect("a low inventory");
    write(store, async |tx| {
        assert!(tx.open_alert(&alert).await.expect("open alert"));
        if let Some(when) = resolved_at {
            alert.resolve(when);
            tx.save_alert(&alert).await.expect("resolve alert");
        }
    })
    .await;
    alert
}

/// A product's inventory.
///
/// # Panics
/// On a store error or an unknown product.
pub async fn inventory(store: &Store, product: &str) -> Inventory {
    write(store, async |tx| {
        tx.inventory_for_update(&sku(product)).await
    })
    .await
    .expect("load inventory")
    .expect("known product")
}

/// Whether the product exists.
///
/// # Panics
/// On a store error.
pub async fn has_product(store: &Store, product: &str) -> bool {
    write(store, async |tx| tx.product(&sku(product)).await)
        .await
        .expect("load product")
        .is_some()
}

/// An order's reservations, by product.
///
/// # Panics
/// On a store error.
pub async fn reservations(store: &Store, order: &str) -> Vec<Reservation> {
    write(store, async |tx| {
        tx.order_reservations_for_update(&order_id(order)).await
    })
    .await
    .expect("load reservations")
}

/// A product's movements, oldest first.
///
/// # Panics
/// On a store error.
pub async fn movements(store: &Store, product: &str) -> Vec<StockMovement> {
    write(store, async |tx| tx.product_movements(&sku(product)).await)
        .await
        .expect("load movements")
}

/// A product's alerts, oldest first.
///
/// # Panics
/// On a store error.
pub async fn alerts(store: &Store, product: &str) -> Vec<Alert> {
    write(store, async |tx| tx.product_alerts(&sku(product)).await)
        .await
        .expect("load alerts")
}

/// The report of a kind and period start.
///
/// # Panics
/// On a store error.
pub async fn report(store: &Store, kind: ReportKind, start: Timestamp) -> Option<Report> {
    write(store, async |tx| tx.report(kind, start).await)
        .await
        .expect("load report")
}
