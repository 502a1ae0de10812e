//! Fulfillments, picklists, packages.

use conveyor_domain::events::order::OrderStatusChangedEvent;
use conveyor_domain::events::samples;
use conveyor_domain::fulfillment::{
    Fulfillment, FulfillmentRepository, NewFulfillment, Package, PackageRepository, Picklist,
    PicklistRepository,
};
use conveyor_domain::{FulfillmentId, OrderId, PicklistId, Timestamp};
use conveyor_store::Store;

/// The sample order (`ord-1001`, two mugs and a tee) opened as fulfillment `ful-5001` with
/// picklist `pick-7001`: the ids of the sample picklist reports.
///
/// # Panics
/// On invalid test ids.
#[must_use]
pub fn sample(at: Timestamp) -> NewFulfillment {
    opened("ful-5001", "pick-7001", samples::ORDER_ID, at)
}

/// The sample order's lines opened for `order` as fulfillment `fulfillment` with picklist
/// `picklist`.
///
/// # Panics
/// On invalid test ids.
#[must_use]
pub fn opened(fulfillment: &str, picklist: &str, order: &str, at: Timestamp) -> NewFulfillment {
    let event = OrderStatusChangedEvent {
        order_id: OrderId::parse(order).expect("valid order id"),
        ..samples::order_status_changed()
    };
    Fulfillment::open(
        FulfillmentId::parse(fulfillment).expect("valid fulfillment id"),
        PicklistId::parse(picklist).expect("valid picklist id"),
        &event,
        at,
    )
}

/// Inserts a fulfillment with its picklist in its own transaction.
///
/// # Panics
/// On a store error, or when the order already has a fulfillment.
pub async fn insert(store: &Store, new: &NewFulfillment) {
    let mut tx = store.begin().await.expect("begin");
    let inserted = tx
        .insert_fulfillment(&new.fulfillment, &new.picklist)
        .await
        .expect("insert fulfillment");
    assert!(
        inserted,
        "order {} already has a fulfillment",
        new.fulfillment.order_id
    );
    tx.commit().await.expect("commit");
}

/// Loads the fulfillment of an order outside any handler.
///
/// # Panics
/// On a store error.
pub async fn of_order(store: &Store, order: &OrderId) -> Option<Fulfillment> {
    let mut tx = store.begin().await.expect("begin");
    let found = tx
        .get_fulfillment_of_order_for_update(order)
        .await
        .expect("load fulfillment");
    tx.commit().await.expect("commit");
    found
}

/// Loads a picklist outside any handler.
///
/// # Panics
/// On a store error.
pub async fn picklist(store: &Store, id: &PicklistId) -> Option<Picklist> {
    let mut tx = store.begin().await.expect("begin");
    let found = tx.get_picklist_for_update(id).await.expect("load picklist");
    tx.commit().await.expect("commit");
    found
}

/// Loads the picklist of a fulfillment outside any handler.
///
/// # Panics
/// On a store error.
pub async fn picklist_of(store: &Store, fulfillment: &FulfillmentId) -> Option<Picklist> {
    let mut tx = store.begin().await.expect("begin");
    let found = tx
        .get_picklist_of_fulfillment_for_update(fulfillment)
        .await
        .expect("load picklist");
    tx.commit().await.expect("commit");
    found
}

/// Loads the package of a fulfillment outside any handler.
///
/// # Panics
/// On a store error.
pub async fn package_of(store: &Store, fulfillment: &FulfillmentId) -> Option<Package> {
    let mut tx = store.begin().await.expect("begin");
    let found = tx
        .get_package_of_fulfillment_for_update(fulfillment)
        .await
        .expect("load package");
    tx.commit().await.expect("commit");
    found
}

/// Row counts of the fulfillment tables: `(fulfillments, picklists, picklist_items, packages)`.
///
/// # Panics
/// On a store error.
pub async fn counts(store: &Store) -> (i64, i64, i64, i64) {
    let mut n = [0_i64; 4];
    for (slot, table) in
        n.iter_mut()
            .zip(["fulfillments", "picklists", "picklist_items", "packages"])
    {
        *slot = conveyor_store::sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(store.pool())
            .await
            .unwrap_or_else(|e| panic!("count {table}: {e}"));
    }
    (n[0], n[1], n[2], n[3])
}
