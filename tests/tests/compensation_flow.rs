//! Compensation across functions, in one process, on SQLite and PostgreSQL: a payment for a
//! cancelled order is refunded, a stock shortage cancels the order and releases what it holds,
//! a fulfillment that cannot be created cancels the order, releases its stock and refunds it.
//! Each ends with the triggering event delivered again, which changes and publishes nothing.

use conveyor_domain::events::fulfillment::FulfillmentCreationFailedEvent;
use conveyor_domain::events::order::{ORDER_STATUS_CHANGED, OrderStatusChangedEvent};
use conveyor_domain::events::payment::{
    PAYMENT_CONFIRMED, PAYMENT_REFUND_REQUESTED, PaymentConfirmedEvent, RefundRequestedEvent,
};
use conveyor_domain::events::samples;
use conveyor_domain::events::warehouse::ReservationEvent;
use conveyor_domain::notification::{NotificationRepository, Template};
use conveyor_domain::order::{
    Order, OrderStatus, PaymentMethod, RefundRepository, RefundRequest, UNPAID_REASON,
};
use conveyor_domain::warehouse::ReservationStatus;
use conveyor_domain::{Money, OrderId, PaymentId, Quantity};
use conveyor_runtime::CloudEvent;
use conveyor_testkit::{Harness, on_both_backends, seed};
use conveyor_tests::Flow;

const RELEASED: &str = "warehouse.reservation.released";
const INVENTORY: &str = "warehouse.inventory.updated";

/// An order placed (pending) and announced: the warehouse reserves its lines.
async fn place(h: &Harness, flow: &mut Flow, id: &str) -> Order {
    let order = seed::order::order(id, PaymentMethod::Prepaid, h.now());
    seed::order::insert(h.store(), &order).await;
    let placed = order.placed_event(h.now());
    flow.run(h, h.event(ORDER_STATUS_CHANGED, &placed)).await;
    order
}

fn payment(order: &Order) -> PaymentConfirmedEvent {
    PaymentConfirmedEvent {
        order_id: order.id.clone(),
        ..samples::payment_confirmed()
    }
}

/// The same event under a new id, as a publisher that sends it again would.
fn resent(h: &Harness, event: &CloudEvent) -> CloudEvent {
    let mut again = h.event(event.topic_name(), &());
    again.data.clone_from(&event.data);
    again
}

async fn load(h: &Harness, order: &Order) -> Order {
    seed::order::load(h.store(), &order.id).await.unwrap()
}

async fn refunds(h: &Harness, order: &OrderId) -> Vec<RefundRequest> {
    let mut tx = h.store().begin().await.unwrap();
    let rows = tx.refund_requests_of_order(order).await.unwrap();
    tx.commit().await.unwrap();
    rows
}

async fn notified(h: &Harness, order: &Order) -> Vec<Template> {
    let mut tx = h.store().begin().await.unwrap();
    let rows = tx
        .notifications_of_customer(&order.customer_id)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    rows.into_iter()
        .filter(|n| n.order_id == order.id)
        .map(|n| n.template)
        .collect()
}

async fn statuses(h: &Harness, order: &str) -> Vec<(String, ReservationStatus)> {
    seed::warehouse::reservations(h.store(), order)
        .await
        .into_iter()
        .map(|r| (r.product_id.as_str().to_owned(), r.status))
        .collect()
}

async fn reserved(h: &Harness, sku: &str) -> Quantity {
    seed::warehouse::inventory(h.store(), sku).await.reserved
}

/// Delivers `event` again (same id, then a new id) and checks that nothing is published.
async fn delivered_again_changes_nothing(h: &Harness, flow: &mut Flow, event: &CloudEvent) {
    let start = flow.events.len();
    flow.run(h, event.clone()).await;
    flow.run(h, resent(h, event)).await;
    assert!(
        flow.failures()
            .iter()
            .all(|d| d.topic != event.topic_name())
    );
    assert_eq!(
        flow.topics_since(start),
        [event.topic_name(), event.topic_name()],
        "a repeated {} publishes nothing",
        event.topic_name()
    );
}

#[tokio::test]
async fn a_payment_for_an_order_cancelled_as_unpaid_is_refunded_once() {
    on_both_backends(|h| async move {
        seed::warehouse::product(h.store(), "sku-mug", 10, 2, h.now()).await;
        seed::warehouse::product(h.store(), "sku-tee", 5, 1, h.now()).await;
        let mut flow = Flow::new();
        let order = place(&h, &mut flow, "ord-3001").await;
        h.advance_minutes(25 * 60);
        flow.tick(&h, "order-order-cleanup").await;
        assert_eq!(load(&h, &order).await.status, OrderStatus::Cancelled);
        assert_eq!(reserved(&h, "sku-mug").await, Quantity::new(0));

        let late = h.event(PAYMENT_CONFIRMED, &payment(&order));
        let start = flow.events.len();
        flow.run(&h, late.clone()).await;
        assert!(flow.failures().is_empty(), "{:?}", flow.failures());
        assert_eq!(
            flow.topics_since(start),
            [PAYMENT_CONFIRMED, PAYMENT_REFUND_REQUESTED]
        );
        let refund: RefundRequestedEvent = flow.events[start + 1].payload().unwrap();
        assert_eq!(
            refund,
            RefundRequestedEvent {
                order_id: order.id.clone(),
                payment_id: PaymentId::parse(samples::PAYMENT_ID).unwrap(),
                amount: 49.99,
                currency: order.currency.clone(),
                reason: "order ord-3001 was cancelled before payment pay-9001".to_owned(),
                timestamp: h.now(),
            }
        );
        assert_eq!(flow.events[start + 1].correlationid, late.correlationid);

        delivered_again_changes_nothing(&h, &mut flow, &late).await;

        let stored = load(&h, &order).await;
        assert_eq!(
            (stored.status, stored.payment_id),
            (OrderStatus::Cancelled, None)
        );
        let history = seed::order::history(h.store(), &order.id).await;
        assert_eq!(history.len(), 1);
        assert_eq!(history[0].reason, UNPAID_REASON);
        let rows = refunds(&h, &order.id).await;
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].amount, Money::from_minor(4999).unwrap());
        assert_eq!(
            statuses(&h, "ord-3001").await,
            [
                ("sku-mug".to_owned(), ReservationStatus::Released),
                ("sku-tee".to_owned(), ReservationStatus::Released)
            ]
        );
        assert_eq!(seed::fulfillment::counts(h.store()).await.0, 0);
        assert_eq!(
            notified(&h, &order).await,
            [
                Template::OrderPlaced,
                Template::OrderCancelled,
                Template::PaymentRefundPending
            ]
        );
        h
    })
    .await;
}

#[tokio::test]
async fn a_stock_shortage_cancels_the_order_and_releases_what_it_holds() {
    on_both_backends(|h| async move {
        seed::warehouse::product(h.store(), "sku-mug", 10, 2, h.now()).await;
        seed::warehouse::product(h.store(), "sku-tee", 0, 1, h.now()).await;
        // The order already holds the mugs; no shirt is left.
        let expires = h.now().add_minutes(30);
        seed::warehouse::hold(h.store(), "ord-3002", "sku-mug", 2, expires, h.now()).await;
        assert_eq!(reserved(&h, "sku-mug").await, Quantity::new(2));

        let mut flow = Flow::new();
        let order = place(&h, &mut flow, "ord-3002").await;
        assert!(flow.failures().is_empty(), "{:?}", flow.failures());
        assert_eq!(
            flow.topics(),
            [
                ORDER_STATUS_CHANGED,
                "warehouse.reservation.failed",
                ORDER_STATUS_CHANGED,
                RELEASED,
                INVENTORY
            ]
        );
        let cancelled: OrderStatusChangedEvent = flow.events[2].payload().unwrap();
        let reason = "insufficient stock of sku-tee: requested 1, available 0";
        assert_eq!(
            (
                cancelled.old_status,
                cancelled.new_status,
                cancelled.reason.as_str()
            ),
            (Some(OrderStatus::Pending), OrderStatus::Cancelled, reason)
        );
        let released: ReservationEvent = flow.events[3].payload().unwrap();
        assert_eq!(
            (released.product_id.as_str(), released.reason.as_deref()),
            ("sku-mug", Some(reason))
        );

        let shortage = flow.events[1].clone();
        delivered_again_changes_nothing(&h, &mut flow, &shortage).await;

        assert_eq!(load(&h, &order).await.status, OrderStatus::Cancelled);
        let history = seed::order::history(h.store(), &order.id).await;
        assert_eq!(history.len(), 1);
        assert_eq!(history[0].reason, reason);
        // The shirt line is recorded as refused (it never held a unit).
        assert_eq!(
            statuses(&h, "ord-3002").await,
            [
                ("sku-mug".to_owned(), ReservationStatus::Released),
                ("sku-tee".to_owned(), ReservationStatus::Released)
            ]
        );
        assert_eq!(reserved(&h, "sku-mug").await, Quantity::new(0));
        assert_eq!(reserved(&h, "sku-tee").await, Quantity::new(0));
        assert!(refunds(&h, &order.id).await.is_empty(), "never paid");
        assert_eq!(seed::fulfillment::counts(h.store()).await.0, 0);
        assert_eq!(
            notified(&h, &order).await,
            [Template::OrderPlaced, Template::OrderCancelled]
        );
        h
    })
    .await;
}

/// Renames a table so every statement on it fails, as a broken database would.
async fn take_offline(h: &Harness, table: &str) {
    let mut tx = h.store().begin().await.unwrap();
    conveyor_store::sqlx::raw_sql(&format!("ALTER TABLE {table} RENAME TO {table}_offline"))
        .execute(tx.conn())
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn a_fulfillment_that_cannot_be_created_releases_the_stock_and_refunds_the_payment() {
    on_both_backends(|h| async move {
        seed::warehouse::product(h.store(), "sku-mug", 10, 2, h.now()).await;
        seed::warehouse::product(h.store(), "sku-tee", 5, 1, h.now()).await;
        let mut flow = Flow::with_retries();
        let order = place(&h, &mut flow, "ord-3003").await;
        take_offline(&h, "picklist_items").await;

        let paid = h.event(PAYMENT_CONFIRMED, &payment(&order));
        let start = flow.events.len();
        let deliveries = flow.deliveries.len();
        flow.run(&h, paid).await;
        assert_eq!(
            flow.topics_since(start),
            [
                PAYMENT_CONFIRMED,
                ORDER_STATUS_CHANGED,
                "fulfillment.creation_failed",
                "warehouse.reservation.confirmed",
                "warehouse.reservation.confirmed",
                ORDER_STATUS_CHANGED,
                PAYMENT_REFUND_REQUESTED,
                RELEASED,
                RELEASED,
                INVENTORY,
                INVENTORY
            ]
        );
        // Four retries of the fulfillment, then the fifth delivery gives up and announces it.
        let fulfillment: Vec<bool> = flow.deliveries[deliveries..]
            .iter()
            .filter(|d| d.function == "fulfillment-order-status-changed")
            .map(|d| d.outcome.is_ok())
            .collect();
        assert_eq!(fulfillment, [false, false, false, false, true, true]);
        assert_eq!(flow.failures().len(), 4, "{:?}", flow.failures());
        assert!(
            flow.failures()
                .iter()
                .all(|d| d.function == "fulfillment-order-status-changed"
                    && d.outcome.as_ref().unwrap_err().starts_with("Retry: "))
        );
        let failed: FulfillmentCreationFailedEvent = flow.events[start + 2].payload().unwrap();
        assert_eq!((failed.order_id, failed.attempts), (order.id.clone(), 5));
        let cancelled: OrderStatusChangedEvent = flow.events[start + 5].payload().unwrap();
        assert_eq!(
            (cancelled.old_status, cancelled.new_status),
            (Some(OrderStatus::PaymentConfirmed), OrderStatus::Cancelled)
        );
        assert!(
            cancelled
                .reason
                .starts_with("fulfillment could not be created: "),
            "{}",
            cancelled.reason
        );
        let refund: RefundRequestedEvent = flow.events[start + 6].payload().unwrap();
        assert_eq!(
            (
                refund.payment_id.as_str(),
                refund.amount,
                refund.reason.as_str()
            ),
            (samples::PAYMENT_ID, 49.99, cancelled.reason.as_str())
        );

        let creation_failed = flow.events[start + 2].clone();
        delivered_again_changes_nothing(&h, &mut flow, &creation_failed).await;
        let paid_status = flow.events[start + 1].clone();
        let before = flow.events.len();
        flow.run(&h, paid_status).await;
        assert_eq!(
            flow.topics_since(before),
            [ORDER_STATUS_CHANGED],
            "the fulfillment gave up once, for good"
        );

        let stored = load(&h, &order).await;
        assert_eq!(stored.status, OrderStatus::Cancelled);
        let history: Vec<OrderStatus> = seed::order::history(h.store(), &order.id)
            .await
            .into_iter()
            .map(|c| c.to)
            .collect();
        assert_eq!(
            history,
            [OrderStatus::PaymentConfirmed, OrderStatus::Cancelled]
        );
        let rows = refunds(&h, &order.id).await;
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].payment_id.as_str(), samples::PAYMENT_ID);
        assert_eq!(
            statuses(&h, "ord-3003").await,
            [
                ("sku-mug".to_owned(), ReservationStatus::Released),
                ("sku-tee".to_owned(), ReservationStatus::Released)
            ]
        );
        assert_eq!(reserved(&h, "sku-mug").await, Quantity::new(0));
        assert_eq!(reserved(&h, "sku-tee").await, Quantity::new(0));
        assert!(
            seed::fulfillment::of_order(h.store(), &order.id)
                .await
                .is_none()
        );
        assert_eq!(
            notified(&h, &order).await,
            [
                Template::OrderPlaced,
                Template::PaymentReceived,
                Template::OrderCancelled
            ]
        );
        h
    })
    .await;
}
