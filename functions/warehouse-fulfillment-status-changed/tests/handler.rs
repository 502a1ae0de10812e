//! warehouse-fulfillment-status-changed against SQLite and PostgreSQL, through the
//! inbox/outbox pipeline.

use conveyor_domain::Quantity;
use conveyor_domain::events::fulfillment::FulfillmentStatusChangedEvent;
use conveyor_domain::events::samples;
use conveyor_domain::events::warehouse::{
    INVENTORY_UPDATED, InventoryUpdatedEvent, RESERVATION_CONFIRMED, RESERVATION_RELEASED,
    ReservationEvent,
};
use conveyor_domain::fulfillment::FulfillmentStatus;
use conveyor_domain::warehouse::{InventoryRepository, MovementKind, ReservationStatus};
use conveyor_runtime::HandlerError;
use conveyor_testkit::seed::warehouse as wh;
use conveyor_testkit::{Harness, on_both_backends};
use warehouse_fulfillment_status_changed::WarehouseFulfillmentStatusChanged as Handler;

const ORDER: &str = samples::ORDER_ID;

fn fulfillment(
    new_status: FulfillmentStatus,
    reason: Option<&str>,
) -> FulfillmentStatusChangedEvent {
    FulfillmentStatusChangedEvent {
        new_status,
        reason: reason.map(str::to_owned),
        ..samples::fulfillment_status_changed()
    }
}

/// 2 mugs (of 40) and 1 shirt (of 10) held for the sample order; the shirt's hold confirmed
/// when `paid`.
async fn held(h: &Harness, paid: bool) {
    wh::product(h.store(), "sku-mug", 40, 5, h.now()).await;
    wh::product(h.store(), "sku-tee", 10, 5, h.now()).await;
    let expiry = h.now().add_minutes(30);
    wh::hold(h.store(), ORDER, "sku-mug", 2, expiry, h.now()).await;
    let mut tee = wh::hold(h.store(), ORDER, "sku-tee", 1, expiry, h.now()).await;
    if paid {
        wh::held_as(h.store(), &mut tee, ReservationStatus::Confirmed, h.now()).await;
    }
}

async fn statuses(h: &Harness) -> Vec<ReservationStatus> {
    wh::reservations(h.store(), ORDER)
        .await
        .iter()
        .map(|r| r.status)
        .collect()
}

#[tokio::test]
async fn created_confirms_the_reservations_that_are_still_active() {
    on_both_backends(|h| async move {
        held(&h, true).await;
        let event = h.event(
            "fulfillment.status_changed",
            &samples::fulfillment_status_changed(),
        );
        let handled = h.deliver_event(&Handler, &event, 1).await.unwrap();
        assert_eq!(handled.produced.len(), 1);
        assert_eq!(h.published_topics(), vec![RESERVATION_CONFIRMED]);
        let confirmed: Vec<ReservationEvent> = h.published_payloads(RESERVATION_CONFIRMED);
        assert_eq!(
            (
                confirmed[0].product_id.as_str(),
                confirmed[0].status,
                confirmed[0].expires_at
            ),
            ("sku-mug", ReservationStatus::Confirmed, None)
        );
        assert_eq!(
            statuses(&h).await,
            vec![ReservationStatus::Confirmed, ReservationStatus::Confirmed]
        );
        assert!(
            h.deliver_event(&Handler, &event, 2)
                .await
                .unwrap()
                .duplicate
        );
        let again = h
            .deliver(&Handler, &samples::fulfillment_status_changed())
            .await
            .unwrap();
        assert!(again.produced.is_empty());
        assert_eq!(h.published().len(), 1);
        h
    })
    .await;
}

#[tokio::test]
async fn shipped_deducts_the_held_units_once() {
    on_both_backends(|h| async move {
        held(&h, true).await;
        let shipped = fulfillment(FulfillmentStatus::Shipped, None);
        let handled = h.deliver(&Handler, &shipped).await.unwrap();
        assert_eq!(handled.produced.len(), 2);
        assert_eq!(
            h.published_topics(),
            vec![INVENTORY_UPDATED, INVENTORY_UPDATED]
        );
        let updated: Vec<InventoryUpdatedEvent> = h.published_payloads(INVENTORY_UPDATED);
        let levels: Vec<_> = updated
            .iter()
            .map(|e| {
                (
                    e.product_id.as_str(),
                    e.on_hand.get(),
                    e.reserved.get(),
                    e.reason.as_str(),
                )
            })
            .collect();
        assert_eq!(
            levels,
            vec![
                ("sku-mug", 38, 0, "deducted"),
                ("sku-tee", 9, 0, "deducted")
            ]
        );
        assert_eq!(
            statuses(&h).await,
            vec![ReservationStatus::Fulfilled, ReservationStatus::Fulfilled]
        );
        let moves = wh::movements(h.store(), "sku-mug").await;
        let last = moves.last().unwrap();
        assert_eq!((last.kind, last.delta), (MovementKind::Deduct, -2));
        assert_eq!(last.reference.as_deref(), Some(ORDER));

        let again = h.deliver(&Handler, &shipped).await.unwrap();
        assert!(
            again.produced.is_empty(),
            "fulfilled reservations are final"
        );
        assert_eq!(wh::inventory(h.store(), "sku-mug").await.on_hand.get(), 38);
        h
    })
    .await;
}

#[tokio::test]
async fn cancelled_releases_with_the_fulfillment_reason() {
    on_both_backends(|h| async move {
        held(&h, false).await;
        let cancelled = fulfillment(FulfillmentStatus::Cancelled, Some("address undeliverable"));
        h.deliver(&Handler, &cancelled).await.unwrap();
        assert_eq!(
            h.published_topics(),
            vec![
                RESERVATION_RELEASED,
                RESERVATION_RELEASED,
                INVENTORY_UPDATED,
                INVENTORY_UPDATED
            ]
        );
        let released: Vec<ReservationEvent> = h.published_payloads(RESERVATION_RELEASED);
        assert!(
            released
                .iter()
                .all(|r| r.reason.as_deref() == Some("address undeliverable"))
        );
        assert_eq!(
            wh::inventory(h.store(), "sku-tee").await.available().get(),
            10
        );
        h
    })
    .await;
}

#[tokio::test]
async fn other_statuses_and_orders_without_reservations_change_nothing() {
    on_both_backends(|h| async move {
        held(&h, false).await;
        let packed = fulfillment(FulfillmentStatus::Packed, None);
        assert!(
            h.deliver(&Handler, &packed)
                .await
                .unwrap()
                .produced
                .is_empty()
        );
        let stranger = FulfillmentStatusChangedEvent {
            order_id: wh::order_id("ord-unknown"),
            ..fulfillment(FulfillmentStatus::Shipped, None)
        };
        assert!(
            h.deliver(&Handler, &stranger)
                .await
                .unwrap()
                .produced
                .is_empty()
        );
        assert_eq!(
            statuses(&h).await,
            vec![ReservationStatus::Active, ReservationStatus::Active]
        );
        assert!(h.published().is_empty());
        h
    })
    .await;
}

#[tokio::test]
async fn levels_that_cannot_cover_the_reservations_are_dropped_without_effect() {
    on_both_backends(|h| async move {
        held(&h, false).await;
        let mut tx = h.store().begin().await.unwrap();
        let mut tee = tx
            .inventory_for_update(&wh::sku("sku-tee"))
            .await
            .unwrap()
            .unwrap();
        tee.reserved = Quantity::ZERO;
        tx.save_inventory(&tee).await.unwrap();
        tx.commit().await.unwrap();

        let err = h
            .deliver(&Handler, &fulfillment(FulfillmentStatus::Shipped, None))
            .await
            .unwrap_err();
        assert!(matches!(err, HandlerError::Drop(_)), "{err}");
        assert!(
            err.to_string().contains("inconsistent stock of sku-tee"),
            "{err}"
        );
        assert_eq!(wh::inventory(h.store(), "sku-mug").await.on_hand.get(), 40);
        assert_eq!(
            statuses(&h).await,
            vec![ReservationStatus::Active, ReservationStatus::Active]
        );
        assert!(h.published().is_empty());
        h
    })
    .await;
}
