//! order-compensation against SQLite and PostgreSQL, through the inbox/outbox pipeline.

use conveyor_domain::events::fulfillment::FulfillmentCreationFailedEvent;
use conveyor_domain::events::order::{ORDER_STATUS_CHANGED, OrderStatusChangedEvent};
use conveyor_domain::events::payment::{PAYMENT_REFUND_REQUESTED, RefundRequestedEvent};
use conveyor_domain::events::samples;
use conveyor_domain::events::warehouse::ReservationFailedEvent;
use conveyor_domain::order::{Order, OrderStatus, PaymentMethod};
use conveyor_domain::{OrderId, PaymentId};
use conveyor_runtime::HandlerError;
use conveyor_testkit::{Harness, on_both_backends, seed};
use order_compensation::OrderCompensation;

async fn seeded(h: &Harness, id: &str, status: OrderStatus, paid: bool) -> Order {
    let mut order = seed::order::in_status(
        seed::order::order(id, PaymentMethod::Prepaid, h.now()),
        status,
    );
    if paid {
        order.payment_id = Some(PaymentId::parse("pay-7").unwrap());
    }
    seed::order::insert(h.store(), &order).await;
    order
}

fn shortage(order: &str) -> ReservationFailedEvent {
    ReservationFailedEvent {
        order_id: OrderId::parse(order).unwrap(),
        ..samples::reservation_failed()
    }
}

fn creation_failed(order: &str) -> FulfillmentCreationFailedEvent {
    FulfillmentCreationFailedEvent {
        order_id: OrderId::parse(order).unwrap(),
        ..samples::fulfillment_creation_failed()
    }
}

#[tokio::test]
async fn a_stock_shortage_cancels_the_unpaid_order_once_without_refund() {
    on_both_backends(|h| async move {
        let order = seeded(&h, "ord-1", OrderStatus::Pending, false).await;
        let event = h.event("warehouse.reservation.failed", &shortage("ord-1"));
        h.deliver_event(&OrderCompensation, &event, 1)
            .await
            .unwrap();
        assert_eq!(h.published_topics(), [ORDER_STATUS_CHANGED]);
        let changed: Vec<OrderStatusChangedEvent> = h.published_payloads(ORDER_STATUS_CHANGED);
        let reason = "insufficient stock of sku-tee: requested 1, available 0";
        assert_eq!(
            (
                changed[0].old_status,
                changed[0].new_status,
                changed[0].reason.as_str(),
                changed[0].items.len()
            ),
            (
                Some(OrderStatus::Pending),
                OrderStatus::Cancelled,
                reason,
                2
            )
        );
        let stored = seed::order::load(h.store(), &order.id).await.unwrap();
        assert_eq!(stored.status, OrderStatus::Cancelled);
        let history = seed::order::history(h.store(), &order.id).await;
        assert_eq!(history.len(), 1);
        assert_eq!(history[0].reason, reason);

        // The same delivery again (inbox), then the same failure under a new id (state).
        assert!(
            h.deliver_event(&OrderCompensation, &event, 2)
                .await
                .unwrap()
                .duplicate
        );
        let again = h
            .deliver(&OrderCompensation, &shortage("ord-1"))
            .await
            .unwrap();
        assert!(!again.duplicate);
        assert!(again.produced.is_empty());
        assert_eq!(h.published().len(), 1);
        assert_eq!(seed::order::history(h.store(), &order.id).await.len(), 1);
        assert_eq!(
            seed::order::count_rows(h.store(), "refund_requests").await,
            0
        );
        h
    })
    .await;
}

#[tokio::test]
async fn a_fulfillment_failure_cancels_the_paid_order_and_requests_one_refund() {
    on_both_backends(|h| async move {
        let order = seeded(&h, "ord-2", OrderStatus::PaymentConfirmed, true).await;
        let event = h.event("fulfillment.creation_failed", &creation_failed("ord-2"));
        h.deliver_event(&OrderCompensation, &event, 1)
            .await
            .unwrap();
        assert_eq!(
            h.published_topics(),
            [ORDER_STATUS_CHANGED, PAYMENT_REFUND_REQUESTED]
        );
        let reason = "fulfillment could not be created: database unavailable";
        let refunds: Vec<RefundRequestedEvent> = h.published_payloads(PAYMENT_REFUND_REQUESTED);
        assert_eq!(
            refunds,
            [RefundRequestedEvent {
                order_id: order.id.clone(),
                payment_id: PaymentId::parse("pay-7").unwrap(),
                amount: 49.99,
                currency: order.currency.clone(),
                reason: reason.to_owned(),
                timestamp: h.now(),
            }]
        );
        let stored = seed::order::load(h.store(), &order.id).await.unwrap();
        assert_eq!(stored.status, OrderStatus::Cancelled);

        let again = h
            .deliver(&OrderCompensation, &creation_failed("ord-2"))
            .await
            .unwrap();
        assert!(again.produced.is_empty(), "cancelled and refunded already");
        assert_eq!(h.published().len(), 2);
        assert_eq!(
            seed::order::count_rows(h.store(), "refund_requests").await,
            1
        );
        h
    })
    .await;
}

#[tokio::test]
async fn an_unknown_order_is_retried_and_a_shipped_one_dropped() {
    on_both_backends(|h| async move {
        let err = h
            .deliver(&OrderCompensation, &shortage("ord-missing"))
            .await
            .unwrap_err();
        assert!(matches!(err, HandlerError::Retry(_)), "{err}");
        assert_eq!(err.to_string(), "Retry: order ord-missing not found");

        seeded(&h, "ord-3", OrderStatus::Shipped, true).await;
        let err = h
            .deliver(&OrderCompensation, &creation_failed("ord-3"))
            .await
            .unwrap_err();
        assert!(matches!(err, HandlerError::Drop(_)), "{err}");
        assert_eq!(
            err.to_string(),
            "Drop: order cannot move from shipped to cancelled"
        );
        assert!(h.published().is_empty());
        h
    })
    .await;
}
