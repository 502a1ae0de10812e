//! warehouse-order-status-changed against SQLite and PostgreSQL, through the inbox/outbox
//! pipeline.

use conveyor_domain::Quantity;
use conveyor_domain::events::order::{
    ORDER_RESERVATION_EXPIRED, OrderReservationExpiredEvent, OrderStatusChangedEvent,
};
use conveyor_domain::events::samples;
use conveyor_domain::events::warehouse::{
    INVENTORY_UPDATED, InventoryUpdatedEvent, RESERVATION_CONFIRMED, RESERVATION_CREATED,
    RESERVATION_RELEASED, ReservationEvent, ReservationEventKind, ReservationFailedEvent,
};
use conveyor_domain::order::OrderStatus;
use conveyor_domain::warehouse::{MovementKind, ReservationStatus};
use conveyor_runtime::HandlerError;
use conveyor_testkit::seed::warehouse as wh;
use conveyor_testkit::{Harness, on_both_backends};
use warehouse_order_status_changed::WarehouseOrderStatusChanged as Handler;

const ORDER: &str = samples::ORDER_ID;

fn status(old: Option<OrderStatus>, new: OrderStatus, reason: &str) -> OrderStatusChangedEvent {
    OrderStatusChangedEvent {
        old_status: old,
        new_status: new,
        reason: reason.to_owned(),
        ..samples::order_status_changed()
    }
}

fn placed() -> OrderStatusChangedEvent {
    status(None, OrderStatus::Pending, "order placed")
}

/// 40 mugs and 10 shirts; the sample order wants 2 mugs and 1 shirt.
async fn stocked(h: &Harness, mugs: u32, shirts: u32) {
    wh::product(h.store(), "sku-mug", mugs, 5, h.now()).await;
    wh::product(h.store(), "sku-tee", shirts, 5, h.now()).await;
}

fn levels(e: &InventoryUpdatedEvent) -> (&str, u32, u32, u32) {
    (
        e.product_id.as_str(),
        e.on_hand.get(),
        e.reserved.get(),
        e.available.get(),
    )
}

#[tokio::test]
async fn a_placed_order_reserves_every_line_for_thirty_minutes() {
    on_both_backends(|h| async move {
        stocked(&h, 40, 10).await;
        let handled = h.deliver(&Handler, &placed()).await.unwrap();
        assert_eq!((handled.produced.len(), handled.published), (4, 4));
        assert_eq!(
            h.published_topics(),
            vec![
                RESERVATION_CREATED,
                RESERVATION_CREATED,
                INVENTORY_UPDATED,
                INVENTORY_UPDATED
            ]
        );
        assert!(h.published().iter().all(|e| e.source == "warehouse-worker"));
        let created: Vec<ReservationEvent> = h.published_payloads(RESERVATION_CREATED);
        let expires = h.now().add_minutes(30);
        let summary: Vec<_> = created
            .iter()
            .map(|r| {
                (
                    r.product_id.as_str(),
                    r.quantity.get(),
                    r.status,
                    r.expires_at,
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                ("sku-mug", 2, ReservationStatus::Active, Some(expires)),
                ("sku-tee", 1, ReservationStatus::Active, Some(expires))
            ]
        );
        assert!(
            created
                .iter()
                .all(|r| r.event_type == ReservationEventKind::Created)
        );
        let updated: Vec<InventoryUpdatedEvent> = h.published_payloads(INVENTORY_UPDATED);
        let updated: Vec<_> = updated.iter().map(levels).collect();
        assert_eq!(updated, vec![("sku-mug", 40, 2, 38), ("sku-tee", 10, 1, 9)]);

        let rows = wh::reservations(h.store(), ORDER).await;
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].id, created[0].reservation_id);
        assert_eq!(rows[0].expires_at, Some(expires));
        let mug = wh::inventory(h.store(), "sku-mug").await;
        assert_eq!((mug.reserved.get(), mug.is_published()), (2, true));
        let moves = wh::movements(h.store(), "sku-mug").await;
        assert_eq!((moves[0].kind, moves[0].delta), (MovementKind::Reserve, -2));
        assert_eq!(moves[0].reference.as_deref(), Some(ORDER));
        h
    })
    .await;
}

#[tokio::test]
async fn the_same_order_placed_twice_reserves_once_and_publishes_once() {
    on_both_backends(|h| async move {
        stocked(&h, 40, 10).await;
        let event = h.event("orders.order.status_changed", &placed());
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
        let again = h.deliver(&Handler, &placed()).await.unwrap();
        assert!(!again.duplicate);
        assert!(again.produced.is_empty(), "already reserved");
        assert_eq!(h.published().len(), 4);
        assert_eq!(wh::inventory(h.store(), "sku-mug").await.reserved.get(), 2);
        assert_eq!(wh::movements(h.store(), "sku-mug").await.len(), 1);
        h
    })
    .await;
}

#[tokio::test]
async fn not_enough_stock_for_one_line_reserves_nothing_announces_the_failure_once_and_refuses_the_lines()
 {
    on_both_backends(|h| async move {
        stocked(&h, 40, 0).await;
        let event = h.event("orders.order.status_changed", &placed());
        let handled = h.deliver_event(&Handler, &event, 1).await.unwrap();
        assert_eq!(handled.produced.len(), 1);
        assert_eq!(h.published_topics(), ["warehouse.reservation.failed"]);
        let failed: Vec<ReservationFailedEvent> =
            h.published_payloads("warehouse.reservation.failed");
        assert_eq!(
            failed,
            [ReservationFailedEvent {
                order_id: wh::order_id(ORDER),
                product_id: wh::sku("sku-tee"),
                requested: Quantity::new(1),
                available: Quantity::new(0),
                reason: "insufficient stock of sku-tee: requested 1, available 0".to_owned(),
                timestamp: h.now(),
            }]
        );
        assert!(
            h.deliver_event(&Handler, &event, 2)
                .await
                .unwrap()
                .duplicate
        );
        assert_eq!(h.published().len(), 1, "a duplicate announces nothing");
        // The lines are recorded as refused: released, never holding a unit.
        let refused = wh::reservations(h.store(), ORDER).await;
        assert_eq!(refused.len(), 2);
        assert!(
            refused
                .iter()
                .all(|r| r.status == ReservationStatus::Released && r.expires_at.is_none())
        );
        assert_eq!(wh::inventory(h.store(), "sku-mug").await.reserved.get(), 0);
        assert!(wh::movements(h.store(), "sku-mug").await.is_empty());
        // The same placement under a new id, once stock arrived, reserves nothing for it.
        wh::restock_unannounced(h.store(), "sku-tee", 5, h.now()).await;
        let again = h.deliver(&Handler, &placed()).await.unwrap();
        assert!(again.produced.is_empty());
        assert_eq!(wh::inventory(h.store(), "sku-mug").await.reserved.get(), 0);
        assert_eq!(wh::inventory(h.store(), "sku-tee").await.reserved.get(), 0);
        h
    })
    .await;
}

#[tokio::test]
async fn an_unknown_product_is_retried_without_effect() {
    on_both_backends(|h| async move {
        wh::product(h.store(), "sku-mug", 40, 5, h.now()).await;
        let err = h.deliver(&Handler, &placed()).await.unwrap_err();
        assert!(matches!(err, HandlerError::Retry(_)), "{err}");
        assert_eq!(err.to_string(), "Retry: product sku-tee has no inventory");
        assert!(wh::reservations(h.store(), ORDER).await.is_empty());
        assert!(h.published().is_empty());
        h
    })
    .await;
}

#[tokio::test]
async fn payment_confirms_the_reservations_once() {
    on_both_backends(|h| async move {
        stocked(&h, 40, 10).await;
        h.deliver(&Handler, &placed()).await.unwrap();
        h.publisher.take();
        h.advance_minutes(5);
        h.deliver(&Handler, &samples::order_status_changed())
            .await
            .unwrap();
        assert_eq!(
            h.published_topics(),
            vec![RESERVATION_CONFIRMED, RESERVATION_CONFIRMED]
        );
        let confirmed: Vec<ReservationEvent> = h.published_payloads(RESERVATION_CONFIRMED);
        assert!(
            confirmed
                .iter()
                .all(|r| r.status == ReservationStatus::Confirmed
                    && r.expires_at.is_none()
                    && r.timestamp == h.now())
        );
        let rows = wh::reservations(h.store(), ORDER).await;
        assert!(
            rows.iter()
                .all(|r| r.status == ReservationStatus::Confirmed)
        );
        assert!(rows.iter().all(|r| r.expires_at.is_none()));
        assert_eq!(wh::inventory(h.store(), "sku-mug").await.reserved.get(), 2);

        let confirmed_again = status(
            Some(OrderStatus::PaymentConfirmed),
            OrderStatus::Confirmed,
            "operator",
        );
        let again = h.deliver(&Handler, &confirmed_again).await.unwrap();
        assert!(again.produced.is_empty());
        assert_eq!(h.published().len(), 2);
        h
    })
    .await;
}

#[tokio::test]
async fn cancellation_releases_active_and_confirmed_stock() {
    on_both_backends(|h| async move {
        stocked(&h, 40, 10).await;
        h.deliver(&Handler, &placed()).await.unwrap();
        h.deliver(&Handler, &samples::order_status_changed())
            .await
            .unwrap();
        h.publisher.take();
        let cancelled = status(
            Some(OrderStatus::PaymentConfirmed),
            OrderStatus::Cancelled,
            "customer changed their mind",
        );
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
        assert!(released.iter().all(|r| r.reason.as_deref()
            == Some("customer changed their mind")
            && r.status == ReservationStatus::Released));
        let updated: Vec<InventoryUpdatedEvent> = h.published_payloads(INVENTORY_UPDATED);
        let updated: Vec<_> = updated.iter().map(levels).collect();
        assert_eq!(
            updated,
            vec![("sku-mug", 40, 0, 40), ("sku-tee", 10, 0, 10)]
        );
        let moves = wh::movements(h.store(), "sku-tee").await;
        let kinds: Vec<_> = moves.iter().map(|m| (m.kind, m.delta)).collect();
        assert_eq!(
            kinds,
            vec![
                (MovementKind::Reserve, -1),
                (MovementKind::Confirm, 0),
                (MovementKind::Release, 1)
            ]
        );
        h
    })
    .await;
}

#[tokio::test]
async fn a_reservation_expiry_releases_and_ignored_statuses_change_nothing() {
    on_both_backends(|h| async move {
        stocked(&h, 40, 10).await;
        h.deliver(&Handler, &placed()).await.unwrap();
        h.publisher.take();
        let shipped = status(
            Some(OrderStatus::Processing),
            OrderStatus::Shipped,
            "shipped",
        );
        assert!(
            h.deliver(&Handler, &shipped)
                .await
                .unwrap()
                .produced
                .is_empty()
        );

        let expired: OrderReservationExpiredEvent = samples::order_reservation_expired();
        let event = h.event(ORDER_RESERVATION_EXPIRED, &expired);
        h.deliver_event(&Handler, &event, 1).await.unwrap();
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
        assert_eq!(
            released[0].reason.as_deref(),
            Some("payment not received within 30 minutes")
        );
        let rows = wh::reservations(h.store(), ORDER).await;
        assert!(rows.iter().all(|r| r.status == ReservationStatus::Released));
        assert_eq!(
            wh::inventory(h.store(), "sku-tee").await.available().get(),
            10
        );
        h
    })
    .await;
}
