//! warehouse-product-created against SQLite and PostgreSQL, through the inbox/outbox pipeline.

use conveyor_domain::Quantity;
use conveyor_domain::events::catalog::ProductCreatedEvent;
use conveyor_domain::events::samples;
use conveyor_domain::events::warehouse::{INVENTORY_UPDATED, InventoryUpdatedEvent};
use conveyor_domain::warehouse::{DEFAULT_LOW_STOCK_THRESHOLD, MovementKind};
use conveyor_runtime::HandlerError;
use conveyor_testkit::seed::warehouse as wh;
use conveyor_testkit::{Harness, on_both_backends};
use warehouse_product_created::WarehouseProductCreated as Handler;

fn created(sku: &str, stock: u32, threshold: Option<u32>) -> ProductCreatedEvent {
    ProductCreatedEvent {
        product_id: wh::sku(sku),
        initial_stock: Quantity::new(stock),
        low_stock_threshold: threshold.map(Quantity::new),
        ..samples::product_created()
    }
}

fn published_levels(h: &Harness) -> Vec<(String, u32, u32, u32, String)> {
    let updated: Vec<InventoryUpdatedEvent> = h.published_payloads(INVENTORY_UPDATED);
    updated
        .into_iter()
        .map(|e| {
            (
                e.product_id.to_string(),
                e.on_hand.get(),
                e.reserved.get(),
                e.available.get(),
                e.reason,
            )
        })
        .collect()
}

#[tokio::test]
async fn initialises_inventory_with_the_initial_stock_and_announces_it() {
    on_both_backends(|h| async move {
        let handled = h
            .deliver(&Handler, &samples::product_created())
            .await
            .unwrap();
        assert_eq!((handled.produced.len(), handled.published), (1, 1));
        assert_eq!(h.published_topics(), vec![INVENTORY_UPDATED]);
        assert_eq!(
            published_levels(&h),
            vec![("sku-tee".to_owned(), 50, 0, 50, "initialised".to_owned())]
        );
        let updated: Vec<InventoryUpdatedEvent> = h.published_payloads(INVENTORY_UPDATED);
        assert_eq!(updated[0].timestamp, h.now());

        let inv = wh::inventory(h.store(), "sku-tee").await;
        assert_eq!(
            (
                inv.on_hand.get(),
                inv.reserved.get(),
                inv.low_stock_threshold.get()
            ),
            (50, 0, 5)
        );
        assert!(
            inv.is_published(),
            "the detector has nothing left to announce"
        );
        let moves = wh::movements(h.store(), "sku-tee").await;
        assert_eq!(moves.len(), 1);
        assert_eq!((moves[0].kind, moves[0].delta), (MovementKind::Init, 50));
        assert_eq!(moves[0].reference, None);
        h
    })
    .await;
}

#[tokio::test]
async fn a_product_created_twice_is_initialised_once() {
    on_both_backends(|h| async move {
        let event = h.event("product.created", &samples::product_created());
        assert!(
            !h.deliver_event(&Handler, &event, 1)
                .await
                .unwrap()
                .duplicate
        );
        assert!(
            h.deliver_event(&Handler, &event, 2)
                .await
                .unwrap()
                .duplicate
        );
        // The catalog announcing it again (new event id, other numbers) changes nothing.
        let again = h
            .deliver(&Handler, &created("sku-tee", 7, Some(1)))
            .await
            .unwrap();
        assert!(!again.duplicate);
        assert!(again.produced.is_empty());
        assert_eq!(h.published().len(), 1);
        assert_eq!(wh::inventory(h.store(), "sku-tee").await.on_hand.get(), 50);
        assert_eq!(wh::movements(h.store(), "sku-tee").await.len(), 1);
        h
    })
    .await;
}

#[tokio::test]
async fn defaults_the_threshold_and_drops_blank_names() {
    on_both_backends(|h| async move {
        h.deliver(&Handler, &created("sku-new", 0, None))
            .await
            .unwrap();
        let inv = wh::inventory(h.store(), "sku-new").await;
        assert_eq!(inv.low_stock_threshold, DEFAULT_LOW_STOCK_THRESHOLD);
        assert_eq!(inv.on_hand, Quantity::ZERO);

        let blank = ProductCreatedEvent {
            name: "  ".to_owned(),
            ..created("sku-blank", 1, None)
        };
        let err = h.deliver(&Handler, &blank).await.unwrap_err();
        assert!(matches!(err, HandlerError::Drop(_)), "{err}");
        assert!(!wh::has_product(h.store(), "sku-blank").await);
        assert_eq!(h.published().len(), 1);
        h
    })
    .await;
}
