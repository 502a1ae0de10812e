//! warehouse-return-completed against SQLite and PostgreSQL, through the inbox/outbox pipeline.

use conveyor_domain::Quantity;
use conveyor_domain::events::returns::{
    ORDER_RETURN_COMPLETED, RETURN_COMPLETED_LEGACY, ReturnCompletedEvent, ReturnLine,
};
use conveyor_domain::events::samples;
use conveyor_domain::events::warehouse::{INVENTORY_UPDATED, InventoryUpdatedEvent};
use conveyor_domain::warehouse::MovementKind;
use conveyor_runtime::HandlerError;
use conveyor_testkit::on_both_backends;
use conveyor_testkit::seed::warehouse as wh;
use warehouse_return_completed::WarehouseReturnCompleted as Handler;

fn line(sku: &str, n: u32) -> ReturnLine {
    ReturnLine {
        product_id: wh::sku(sku),
        quantity: Quantity::new(n),
    }
}

#[tokio::test]
async fn returned_units_go_back_on_hand_and_are_announced() {
    on_both_backends(|h| async move {
        wh::product(h.store(), "sku-tee", 9, 5, h.now()).await;
        let handled = h
            .deliver(&Handler, &samples::return_completed())
            .await
            .unwrap();
        assert_eq!((handled.produced.len(), handled.published), (1, 1));
        assert_eq!(h.published_topics(), vec![INVENTORY_UPDATED]);
        let updated: Vec<InventoryUpdatedEvent> = h.published_payloads(INVENTORY_UPDATED);
        assert_eq!(
            (
                updated[0].product_id.as_str(),
                updated[0].on_hand.get(),
                updated[0].available.get(),
                updated[0].reason.as_str()
            ),
            ("sku-tee", 10, 10, "returned")
        );
        let inv = wh::inventory(h.store(), "sku-tee").await;
        assert_eq!((inv.on_hand.get(), inv.is_published()), (10, true));
        let moves = wh::movements(h.store(), "sku-tee").await;
        assert_eq!((moves[0].kind, moves[0].delta), (MovementKind::Return, 1));
        assert_eq!(moves[0].reference.as_deref(), Some("ret-2001"));
        h
    })
    .await;
}

#[tokio::test]
async fn a_return_delivered_twice_or_under_both_names_restores_once() {
    on_both_backends(|h| async move {
        wh::product(h.store(), "sku-tee", 9, 5, h.now()).await;
        let event = h.event(ORDER_RETURN_COMPLETED, &samples::return_completed());
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
        let legacy = h.event(RETURN_COMPLETED_LEGACY, &samples::return_completed());
        let again = h.deliver_event(&Handler, &legacy, 1).await.unwrap();
        assert!(!again.duplicate);
        assert!(again.produced.is_empty());
        assert_eq!(h.published().len(), 1);
        assert_eq!(wh::inventory(h.store(), "sku-tee").await.on_hand.get(), 10);
        h
    })
    .await;
}

#[tokio::test]
async fn lines_are_summed_per_product_and_unknown_products_are_retried() {
    on_both_backends(|h| async move {
        wh::product(h.store(), "sku-mug", 0, 5, h.now()).await;
        let ret = ReturnCompletedEvent {
            items: vec![line("sku-mug", 1), line("sku-mug", 2)],
            ..samples::return_completed()
        };
        h.deliver(&Handler, &ret).await.unwrap();
        assert_eq!(wh::inventory(h.store(), "sku-mug").await.on_hand.get(), 3);
        assert_eq!(wh::movements(h.store(), "sku-mug").await.len(), 1);

        let unknown = ReturnCompletedEvent {
            return_id: conveyor_domain::ReturnId::parse("ret-2002").unwrap(),
            items: vec![line("sku-mug", 1), line("sku-gone", 1)],
            ..samples::return_completed()
        };
        let err = h.deliver(&Handler, &unknown).await.unwrap_err();
        assert!(matches!(err, HandlerError::Retry(_)), "{err}");
        assert_eq!(err.to_string(), "Retry: product sku-gone has no inventory");
        assert_eq!(wh::inventory(h.store(), "sku-mug").await.on_hand.get(), 3);
        assert_eq!(h.published().len(), 1);
        h
    })
    .await;
}
