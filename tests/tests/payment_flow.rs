//! The payment flow across functions, in one process, on SQLite and PostgreSQL: every event is
//! routed to the catalog functions subscribed to it, through the hosts' inbox/outbox pipeline.

use conveyor_domain::events::order::ORDER_STATUS_CHANGED;
use conveyor_domain::events::payment::{
    PAYMENT_CONFIRMED, PAYMENT_FAILED, PaymentConfirmedEvent, PaymentFailedEvent,
};
use conveyor_domain::events::samples;
use conveyor_domain::fulfillment::{FulfillmentStatus, PicklistStatus};
use conveyor_domain::order::{Order, OrderStatus, PaymentMethod};
use conveyor_domain::warehouse::ReservationStatus;
use conveyor_domain::{OrderId, Quantity};
use conveyor_testkit::{Harness, on_both_backends, seed};
use conveyor_tests::Flow;

/// Stock, an order placed (pending) and announced: the warehouse reserves its lines.
async fn place(h: &Harness, flow: &mut Flow, id: &str) -> Order {
    let order = seed::order::order(id, PaymentMethod::Prepaid, h.now());
    seed::order::insert(h.store(), &order).await;
    let placed = order.placed_event(h.now());
    flow.run(h, h.event(ORDER_STATUS_CHANGED, &placed)).await;
    order
}

async fn stock(h: &Harness) {
    seed::warehouse::product(h.store(), "sku-mug", 10, 2, h.now()).await;
    seed::warehouse::product(h.store(), "sku-tee", 5, 1, h.now()).await;
}

async fn reserved(h: &Harness, sku: &str) -> Quantity {
    seed::warehouse::inventory(h.store(), sku).await.reserved
}

#[tokio::test]
async fn payment_confirmed_flows_to_fulfillment_and_confirmed_reservations() {
    on_both_backends(|h| async move {
        stock(&h).await;
        let mut flow = Flow::new();
        place(&h, &mut flow, "ord-1001").await;
        let held = seed::warehouse::reservations(h.store(), "ord-1001").await;
        assert_eq!(held.len(), 2);
        assert!(held.iter().all(|r| r.status == ReservationStatus::Active));
        assert_eq!(
            (reserved(&h, "sku-mug").await, reserved(&h, "sku-tee").await),
            (Quantity::new(2), Quantity::new(1))
        );

        let payment = PaymentConfirmedEvent {
            order_id: OrderId::parse("ord-1001").unwrap(),
            ..samples::payment_confirmed()
        };
        let event = h.event(PAYMENT_CONFIRMED, &payment);
        let start = flow.events.len();
        flow.run(&h, event.clone()).await;
        assert!(flow.failures().is_empty(), "{:?}", flow.failures());

        let topics: Vec<String> = flow.topics()[start..]
            .iter()
            .map(|t| (*t).to_owned())
            .collect();
        assert_eq!(topics[0], PAYMENT_CONFIRMED);
        assert_eq!(topics[1], ORDER_STATUS_CHANGED);
        assert!(
            topics.iter().any(|t| t == "fulfillment.status_changed"),
            "{topics:?}"
        );
        assert_eq!(
            topics
                .iter()
                .filter(|t| *t == "warehouse.reservation.confirmed")
                .count(),
            2,
            "{topics:?}"
        );
        let correlation = event.correlationid.clone();
        assert!(
            flow.events[start..]
                .iter()
                .all(|e| e.correlationid == correlation),
            "one correlation id across the flow"
        );
        let trace = &event.traceparent.as_deref().unwrap()[3..35];
        assert!(
            flow.events[start..]
                .iter()
                .all(|e| e.traceparent.as_deref().is_some_and(|t| t.contains(trace))),
            "one trace across the flow"
        );

        let order = seed::order::load(h.store(), &OrderId::parse("ord-1001").unwrap())
            .await
            .unwrap();
        assert_eq!(order.status, OrderStatus::PaymentConfirmed);
        let fulfillment = seed::fulfillment::of_order(h.store(), &order.id)
            .await
            .expect("fulfillment created");
        assert_eq!(fulfillment.status, FulfillmentStatus::Created);
        let picklist = seed::fulfillment::picklist_of(h.store(), &fulfillment.id)
            .await
            .expect("picklist created");
        assert_eq!(picklist.status, PicklistStatus::Pending);
        let held = seed::warehouse::reservations(h.store(), "ord-1001").await;
        assert!(
            held.iter()
                .all(|r| r.status == ReservationStatus::Confirmed),
            "{held:?}"
        );
        assert_eq!(reserved(&h, "sku-mug").await, Quantity::new(2));

        // The payment service redelivers the same event: nothing runs twice.
        let again = flow.run(&h, event).await;
        assert_eq!(
            again, 3,
            "only order-payment-confirmed, notification-dispatch and order-checkout-saga see it, \
             and skip it"
        );
        assert_eq!(flow.events.len(), start + topics.len() + 1);
        assert_eq!(seed::fulfillment::counts(h.store()).await.0, 1);
        h
    })
    .await;
}

#[tokio::test]
async fn payment_failed_releases_the_reservations() {
    on_both_backends(|h| async move {
        stock(&h).await;
        let mut flow = Flow::new();
        place(&h, &mut flow, "ord-2002").await;
        let failed = PaymentFailedEvent {
            order_id: OrderId::parse("ord-2002").unwrap(),
            ..samples::payment_failed()
        };
        flow.run(&h, h.event(PAYMENT_FAILED, &failed)).await;
        assert!(flow.failures().is_empty(), "{:?}", flow.failures());

        let order = seed::order::load(h.store(), &OrderId::parse("ord-2002").unwrap())
            .await
            .unwrap();
        assert_eq!(order.status, OrderStatus::PaymentFailed);
        let held = seed::warehouse::reservations(h.store(), "ord-2002").await;
        assert!(
            held.iter().all(|r| r.status == ReservationStatus::Released),
            "{held:?}"
        );
        assert_eq!(
            (reserved(&h, "sku-mug").await, reserved(&h, "sku-tee").await),
            (Quantity::ZERO, Quantity::ZERO)
        );
        assert!(
            seed::fulfillment::of_order(h.store(), &order.id)
                .await
                .is_none(),
            "no fulfillment for a failed payment"
        );
        assert_eq!(
            flow.topics()
                .iter()
                .filter(|t| **t == "warehouse.reservation.released")
                .count(),
            2
        );
        h
    })
    .await;
}
