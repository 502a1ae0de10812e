//! Contract tests of the warehouse's reservation repository on both backends.

use conveyor_domain::warehouse::{
    Inventory, InventoryRepository, Product, Reservation, ReservationRepository, ReservationStatus,
};
use conveyor_domain::{OrderId, ProductId, Quantity, Timestamp};
use conveyor_store::Tx;
use conveyor_store::testing::{TestDb, on_both_backends};

const MINUTE: i64 = 60_000;

fn sku(s: &str) -> ProductId {
    ProductId::parse(s).unwrap()
}

fn order(s: &str) -> OrderId {
    OrderId::parse(s).unwrap()
}

fn at(ms: i64) -> Timestamp {
    Timestamp::from_millis(ms)
}

async fn products(tx: &mut Tx, ids: &[&str]) {
    for id in ids {
        let product = Product {
            id: sku(id),
            name: (*id).to_owned(),
            created_at: at(0),
        };
        let inv = Inventory::new(sku(id), Quantity::new(100), Quantity::ZERO, at(0));
        tx.insert_product(&product, &inv).await.unwrap();
    }
}

/// An active reservation expiring at `expires` (ms).
async fn held(tx: &mut Tx, ord: &str, id: &str, expires: i64) -> Reservation {
    let mut r = Reservation::hold(order(ord), sku(id), Quantity::new(2), at(0));
    r.expires_at = Some(at(expires));
    assert!(tx.insert_reservation(&r).await.unwrap());
    r
}

fn orders(rows: &[Reservation]) -> Vec<&str> {
    rows.iter().map(|r| r.order_id.as_str()).collect()
}

#[tokio::test]
async fn reservations_round_trip_and_one_per_order_and_product() {
    on_both_backends(|store| async move {
        let mut tx = store.begin().await.unwrap();
        products(&mut tx, &["sku-a", "sku-b"]).await;
        let b = held(&mut tx, "ord-1", "sku-b", 30 * MINUTE).await;
        let a = held(&mut tx, "ord-1", "sku-a", 30 * MINUTE).await;
        let twin = Reservation::hold(order("ord-1"), sku("sku-a"), Quantity::new(9), at(5));
        assert!(
            !tx.insert_reservation(&twin).await.unwrap(),
            "unique per order and product"
        );
        held(&mut tx, "ord-2", "sku-a", 30 * MINUTE).await;
        tx.commit().await.unwrap();

        let mut tx = store.begin().await.unwrap();
        let mut loaded = tx
            .order_reservations_for_update(&order("ord-1"))
            .await
            .unwrap();
        assert_eq!(loaded, vec![a, b], "by product");
        let r = &mut loaded[0];
        assert!(
            r.change_status(ReservationStatus::Confirmed, at(7))
                .unwrap()
        );
        r.warned_at = Some(at(6));
        tx.save_reservation(r).await.unwrap();
        let saved = r.clone();
        tx.commit().await.unwrap();

        let mut tx = store.begin().await.unwrap();
        let again = tx
            .order_reservations_for_update(&order("ord-1"))
            .await
            .unwrap();
        assert_eq!(again[0], saved);
        assert_eq!(again[0].expires_at, None);
        assert!(
            tx.order_reservations_for_update(&order("ord-9"))
                .await
                .unwrap()
                .is_empty()
        );
    })
    .await;
}

#[tokio::test]
async fn claims_due_reservations_at_or_after_their_expiry() {
    on_both_backends(|store| async move {
        let mut tx = store.begin().await.unwrap();
        products(&mut tx, &["sku-a"]).await;
        held(&mut tx, "ord-late", "sku-a", 20 * MINUTE).await;
        held(&mut tx, "ord-early", "sku-a", 10 * MINUTE).await;
        held(&mut tx, "ord-future", "sku-a", 40 * MINUTE).await;
        let mut confirmed = held(&mut tx, "ord-paid", "sku-a", 5 * MINUTE).await;
        confirmed
            .change_status(ReservationStatus::Confirmed, at(1))
            .unwrap();
        confirmed.expires_at = Some(at(5 * MINUTE));
        tx.save_reservation(&confirmed).await.unwrap();

        let none = tx
            .claim_due_reservations(at(10 * MINUTE - 1), 10)
            .await
            .unwrap();
        assert!(none.is_empty());
        let due = tx
            .claim_due_reservations(at(20 * MINUTE), 10)
            .await
            .unwrap();
        assert_eq!(
            orders(&due),
            vec!["ord-early", "ord-late"],
            "exactly at expiry is due"
        );
        let one = tx.claim_due_reservations(at(20 * MINUTE), 1).await.unwrap();
        assert_eq!(orders(&one), vec!["ord-early"]);
    })
    .await;
}

#[tokio::test]
async fn claims_unwarned_reservations_inside_the_window() {
    on_both_backends(|store| async move {
        let mut tx = store.begin().await.unwrap();
        products(&mut tx, &["sku-a"]).await;
        held(&mut tx, "ord-now", "sku-a", 10 * MINUTE).await;
        held(&mut tx, "ord-edge", "sku-a", 20 * MINUTE).await;
        held(&mut tx, "ord-soon", "sku-a", 15 * MINUTE).await;
        held(&mut tx, "ord-later", "sku-a", 20 * MINUTE + 1).await;
        let mut warned = held(&mut tx, "ord-warned", "sku-a", 12 * MINUTE).await;
        warned.warn(at(1));
        tx.save_reservation(&warned).await.unwrap();

        let window = tx
            .claim_expiring_reservations(at(10 * MINUTE), at(20 * MINUTE), 10)
            .await
            .unwrap();
        assert_eq!(orders(&window), vec!["ord-soon", "ord-edge"]);
        let one = tx
            .claim_expiring_reservations(at(10 * MINUTE), at(20 * MINUTE), 1)
            .await
            .unwrap();
        assert_eq!(orders(&one), vec!["ord-soon"]);
    })
    .await;
}

#[tokio::test]
async fn overlapping_expiry_runs_claim_disjoint_reservations_on_postgres() {
    let db = TestDb::postgres().await;
    let store = db.store().clone();
    let mut setup = store.begin().await.unwrap();
    products(&mut setup, &["sku-a"]).await;
    held(&mut setup, "ord-1", "sku-a", MINUTE).await;
    held(&mut setup, "ord-2", "sku-a", 2 * MINUTE).await;
    setup.commit().await.unwrap();

    let mut first = store.begin().await.unwrap();
    let mut second = store.begin().await.unwrap();
    let a = first
        .claim_due_reservations(at(5 * MINUTE), 1)
        .await
        .unwrap();
    let b = second
        .claim_due_reservations(at(5 * MINUTE), 5)
        .await
        .unwrap();
    assert_eq!((orders(&a), orders(&b)), (vec!["ord-1"], vec!["ord-2"]));
    first.rollback().await.unwrap();
    second.rollback().await.unwrap();
    db.close().await;
}
