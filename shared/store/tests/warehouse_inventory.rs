//! Contract tests of the warehouse's product and inventory repository on both backends.

use conveyor_domain::warehouse::{
    Alert, AlertRepository, Inventory, InventoryRepository, Product, WarehouseStorage,
};
use conveyor_domain::{ProductId, Quantity, Timestamp};
use conveyor_store::testing::{TestDb, on_both_backends};
use conveyor_store::{StoreError, Tx};

fn sku(s: &str) -> ProductId {
    ProductId::parse(s).unwrap()
}

fn at(ms: i64) -> Timestamp {
    Timestamp::from_millis(ms)
}

async fn add(tx: &mut Tx, id: &str, on_hand: u32, threshold: u32) -> Inventory {
    let product = Product {
        id: sku(id),
        name: format!("Product {id}"),
        created_at: at(1),
    };
    let inv = Inventory::new(
        sku(id),
        Quantity::new(on_hand),
        Quantity::new(threshold),
        at(2),
    );
    assert!(tx.insert_product(&product, &inv).await.unwrap());
    inv
}

fn ids(rows: &[Inventory]) -> Vec<&str> {
    rows.iter().map(|i| i.product_id.as_str()).collect()
}

#[tokio::test]
async fn products_and_inventory_round_trip_and_insert_is_idempotent() {
    on_both_backends(|store| async move {
        let mut tx = store.begin().await.unwrap();
        let inv = add(&mut tx, "sku-a", 7, 2).await;
        let other = Inventory::new(sku("sku-a"), Quantity::new(99), Quantity::ZERO, at(3));
        let product = tx.product(&sku("sku-a")).await.unwrap().unwrap();
        assert_eq!(
            (product.name.as_str(), product.created_at),
            ("Product sku-a", at(1))
        );
        assert!(
            !tx.insert_product(&product, &other).await.unwrap(),
            "second insert is a no-op"
        );
        tx.commit().await.unwrap();

        let mut tx = store.begin().await.unwrap();
        let mut loaded = tx
            .inventory_for_update(&sku("sku-a"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(loaded, inv);
        loaded.reserve(Quantity::new(3), at(10)).unwrap();
        tx.save_inventory(&loaded).await.unwrap();
        tx.commit().await.unwrap();

        let mut tx = store.begin().await.unwrap();
        let again = tx
            .inventory_for_update(&sku("sku-a"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(again, loaded);
        assert_eq!(
            (again.reserved.get(), again.version, again.published_version),
            (3, 2, 1)
        );
        assert!(
            tx.inventory_for_update(&sku("nope"))
                .await
                .unwrap()
                .is_none()
        );
        assert!(tx.product(&sku("nope")).await.unwrap().is_none());
    })
    .await;
}

#[tokio::test]
async fn the_database_refuses_negative_available_stock() {
    on_both_backends(|store| async move {
        let mut tx = store.begin().await.unwrap();
        let mut inv = add(&mut tx, "sku-a", 1, 0).await;
        inv.reserved = Quantity::new(2);
        let err: <Tx as WarehouseStorage>::Error = tx.save_inventory(&inv).await.unwrap_err();
        assert!(matches!(err, StoreError::Database(_)), "{err}");
    })
    .await;
}

#[tokio::test]
async fn claims_unpublished_inventory_in_product_order_up_to_the_limit() {
    on_both_backends(|store| async move {
        let mut tx = store.begin().await.unwrap();
        for id in ["sku-c", "sku-a", "sku-b", "sku-d"] {
            let mut inv = add(&mut tx, id, 5, 1).await;
            if id != "sku-d" {
                inv.restock(Quantity::new(1), at(5)).unwrap();
                tx.save_inventory(&inv).await.unwrap();
            }
        }
        let claimed = tx.claim_unpublished_inventory(2).await.unwrap();
        assert_eq!(ids(&claimed), vec!["sku-a", "sku-b"]);
        let all = tx.claim_unpublished_inventory(10).await.unwrap();
        assert_eq!(ids(&all), vec!["sku-a", "sku-b", "sku-c"]);
        let mut published = all[0].clone();
        published.mark_published();
        tx.save_inventory(&published).await.unwrap();
        let rest = tx.claim_unpublished_inventory(10).await.unwrap();
        assert_eq!(ids(&rest), vec!["sku-b", "sku-c"]);
    })
    .await;
}

#[tokio::test]
async fn claims_low_stock_products_without_an_open_alert() {
    on_both_backends(|store| async move {
        let mut tx = store.begin().await.unwrap();
        add(&mut tx, "sku-ok", 10, 3).await;
        let at_threshold = add(&mut tx, "sku-low", 3, 3).await;
        add(&mut tx, "sku-empty", 0, 0).await;
        let mut reserved = add(&mut tx, "sku-held", 5, 2).await;
        reserved.reserve(Quantity::new(3), at(5)).unwrap();
        tx.save_inventory(&reserved).await.unwrap();
        let low = tx.claim_low_stock_without_alert(10).await.unwrap();
        assert_eq!(ids(&low), vec!["sku-empty", "sku-held", "sku-low"]);
        assert_eq!(tx.claim_low_stock_without_alert(1).await.unwrap().len(), 1);

        let alert = Alert::low_stock(&at_threshold, at(6)).unwrap();
        assert!(tx.open_alert(&alert).await.unwrap());
        let low = tx.claim_low_stock_without_alert(10).await.unwrap();
        assert_eq!(ids(&low), vec!["sku-empty", "sku-held"]);
    })
    .await;
}

#[tokio::test]
async fn overlapping_claims_take_disjoint_rows_on_postgres() {
    let db = TestDb::postgres().await;
    let store = db.store().clone();
    let mut setup = store.begin().await.unwrap();
    for id in ["sku-a", "sku-b"] {
        let mut inv = add(&mut setup, id, 5, 0).await;
        inv.restock(Quantity::new(1), at(5)).unwrap();
        setup.save_inventory(&inv).await.unwrap();
    }
    setup.commit().await.unwrap();

    let mut first = store.begin().await.unwrap();
    let mut second = store.begin().await.unwrap();
    let a = first.claim_unpublished_inventory(1).await.unwrap();
    let b = second.claim_unpublished_inventory(5).await.unwrap();
    assert_eq!(ids(&a), vec!["sku-a"]);
    assert_eq!(
        ids(&b),
        vec!["sku-b"],
        "the row the first run holds is skipped"
    );
    first.rollback().await.unwrap();
    second.rollback().await.unwrap();
    db.close().await;
}
