//! How long stock is held, across functions, in one process, on SQLite and PostgreSQL: a
//! cash-on-delivery order keeps its stock while the parcel is on its way (days, not the 30
//! minutes of an unpaid prepaid order), and a payment that arrives after the order's stock was
//! released holds it again, or cancels and refunds the order when the stock was sold meanwhile.

use conveyor_domain::events::order::ORDER_STATUS_CHANGED;
use conveyor_domain::events::payment::{
    PAYMENT_CONFIRMED, PAYMENT_FAILED, PAYMENT_REFUND_REQUESTED, PaymentConfirmedEvent,
    PaymentFailedEvent,
};
use conveyor_domain::events::samples;
use conveyor_domain::fulfillment::FulfillmentStatus;
use conveyor_domain::order::{Order, OrderStatus, PaymentMethod, RefundRepository};
use conveyor_domain::warehouse::ReservationStatus;
use conveyor_domain::{OrderId, Quantity};
use conveyor_testkit::{Harness, on_both_backends, seed};
use conveyor_tests::Flow;

const RESERVATION_FAILED: &str = "warehouse.reservation.failed";

/// An order placed (pending) and announced: the warehouse reserves its lines (2 mugs, 1 tee).
async fn place(h: &Harness, flow: &mut Flow, id: &str, method: PaymentMethod) -> Order {
    let order = seed::order::order(id, method, h.now());
    seed::order::insert(h.store(), &order).await;
    let placed = order.placed_event(h.now());
    flow.run(h, h.event(ORDER_STATUS_CHANGED, &placed)).await;
    order
}

/// Exactly one order's worth of stock: 2 mugs, 1 tee.
async fn stock_for_one(h: &Harness) {
    seed::warehouse::product(h.store(), "sku-mug", 2, 0, h.now()).await;
    seed::warehouse::product(h.store(), "sku-tee", 1, 0, h.now()).await;
}

async fn pay(h: &Harness, flow: &mut Flow, order: &Order) {
    let payment = PaymentConfirmedEvent {
        order_id: order.id.clone(),
        ..samples::payment_confirmed()
    };
    flow.run(h, h.event(PAYMENT_CONFIRMED, &payment)).await;
}

async fn decline(h: &Harness, flow: &mut Flow, order: &Order) {
    let failed = PaymentFailedEvent {
        order_id: order.id.clone(),
        ..samples::payment_failed()
    };
    flow.run(h, h.event(PAYMENT_FAILED, &failed)).await;
}

/// Every clock-driven release there is, ticked.
async fn run_release_jobs(h: &Harness, flow: &mut Flow) {
    flow.tick(h, "order-reservation-cleanup").await;
    flow.tick(h, "warehouse-reservation-expiry").await;
    flow.tick(h, "order-order-cleanup").await;
}

async fn holds(h: &Harness, order: &str) -> Vec<(String, ReservationStatus)> {
    seed::warehouse::reservations(h.store(), order)
        .await
        .into_iter()
        .map(|r| (r.product_id.as_str().to_owned(), r.status))
        .collect()
}

async fn reserved(h: &Harness) -> (Quantity, Quantity) {
    (
        seed::warehouse::inventory(h.store(), "sku-mug")
            .await
            .reserved,
        seed::warehouse::inventory(h.store(), "sku-tee")
            .await
            .reserved,
    )
}

async fn status(h: &Harness, order: &Order) -> OrderStatus {
    seed::order::load(h.store(), &order.id)
        .await
        .expect("order")
        .status
}

fn both(status: ReservationStatus) -> Vec<(String, ReservationStatus)> {
    vec![
        ("sku-mug".to_owned(), status),
        ("sku-tee".to_owned(), status),
    ]
}

#[tokio::test]
async fn a_cash_on_delivery_order_keeps_its_stock_until_its_delivery_is_verified() {
    on_both_backends(|h| async move {
        stock_for_one(&h).await;
        let mut flow = Flow::new();
        let cod = place(&h, &mut flow, "ord-4001", PaymentMethod::Cod).await;
        assert_eq!(holds(&h, "ord-4001").await, both(ReservationStatus::Active));

        // Three days in transit, every job ticking along the way.
        for _ in 0..(3 * 24) {
            h.advance_minutes(60);
            run_release_jobs(&h, &mut flow).await;
        }
        assert!(flow.failures().is_empty(), "{:?}", flow.failures());
        assert_eq!(holds(&h, "ord-4001").await, both(ReservationStatus::Active));
        assert_eq!(reserved(&h).await, (Quantity::new(2), Quantity::new(1)));
        assert_eq!(status(&h, &cod).await, OrderStatus::Pending);

        // The same stock cannot be sold to someone else meanwhile.
        let other = place(&h, &mut flow, "ord-4002", PaymentMethod::Prepaid).await;
        assert!(flow.topics().contains(&RESERVATION_FAILED));
        assert_eq!(status(&h, &other).await, OrderStatus::Cancelled);

        seed::order::mark_delivered(h.store(), &cod.id, h.now()).await;
        h.advance_minutes(5);
        flow.tick(&h, "order-cod-auto-confirm").await;
        assert!(flow.failures().is_empty(), "{:?}", flow.failures());
        assert_eq!(status(&h, &cod).await, OrderStatus::Confirmed);
        assert_eq!(
            holds(&h, "ord-4001").await,
            both(ReservationStatus::Confirmed)
        );
        assert_eq!(reserved(&h).await, (Quantity::new(2), Quantity::new(1)));
        let fulfillment = seed::fulfillment::of_order(h.store(), &cod.id).await;
        assert_eq!(
            fulfillment.map(|f| f.status),
            Some(FulfillmentStatus::Created)
        );
        h
    })
    .await;
}

#[tokio::test]
async fn a_payment_after_a_failed_one_holds_the_stock_again() {
    on_both_backends(|h| async move {
        stock_for_one(&h).await;
        let mut flow = Flow::new();
        let order = place(&h, &mut flow, "ord-4101", PaymentMethod::Prepaid).await;
        decline(&h, &mut flow, &order).await;
        assert_eq!(
            holds(&h, "ord-4101").await,
            both(ReservationStatus::Released)
        );
        assert_eq!(reserved(&h).await, (Quantity::ZERO, Quantity::ZERO));

        pay(&h, &mut flow, &order).await;
        assert!(flow.failures().is_empty(), "{:?}", flow.failures());
        assert_eq!(status(&h, &order).await, OrderStatus::PaymentConfirmed);
        assert_eq!(
            holds(&h, "ord-4101").await,
            both(ReservationStatus::Confirmed)
        );
        assert_eq!(reserved(&h).await, (Quantity::new(2), Quantity::new(1)));
        assert!(!flow.topics().contains(&PAYMENT_REFUND_REQUESTED));
        h
    })
    .await;
}

#[tokio::test]
async fn a_payment_after_the_thirty_minute_hold_holds_the_stock_again() {
    on_both_backends(|h| async move {
        stock_for_one(&h).await;
        let mut flow = Flow::new();
        let order = place(&h, &mut flow, "ord-4201", PaymentMethod::Prepaid).await;
        h.advance_minutes(31);
        run_release_jobs(&h, &mut flow).await;
        assert_eq!(reserved(&h).await, (Quantity::ZERO, Quantity::ZERO));
        assert!(
            holds(&h, "ord-4201")
                .await
                .iter()
                .all(|(_, s)| !s.holds_stock())
        );

        pay(&h, &mut flow, &order).await;
        assert!(flow.failures().is_empty(), "{:?}", flow.failures());
        assert_eq!(
            holds(&h, "ord-4201").await,
            both(ReservationStatus::Confirmed)
        );
        assert_eq!(reserved(&h).await, (Quantity::new(2), Quantity::new(1)));
        assert!(
            seed::fulfillment::of_order(h.store(), &order.id)
                .await
                .is_some()
        );
        h
    })
    .await;
}

#[tokio::test]
async fn a_late_payment_for_stock_sold_meanwhile_cancels_and_refunds_the_order() {
    on_both_backends(|h| async move {
        stock_for_one(&h).await;
        let mut flow = Flow::new();
        let late = place(&h, &mut flow, "ord-4301", PaymentMethod::Prepaid).await;
        decline(&h, &mut flow, &late).await;
        // Another customer buys the same stock, and pays.
        let other = place(&h, &mut flow, "ord-4302", PaymentMethod::Prepaid).await;
        pay(&h, &mut flow, &other).await;
        assert_eq!(
            holds(&h, "ord-4302").await,
            both(ReservationStatus::Confirmed)
        );

        let start = flow.events.len();
        pay(&h, &mut flow, &late).await;
        assert!(flow.failures().is_empty(), "{:?}", flow.failures());
        let topics = flow.topics_since(start);
        assert!(topics.contains(&RESERVATION_FAILED), "{topics:?}");
        assert_eq!(status(&h, &late).await, OrderStatus::Cancelled);
        let mut tx = h.store().begin().await.unwrap();
        let refunds = tx.refund_requests_of_order(&late.id).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(refunds.len(), 1);
        assert_eq!(refunds[0].payment_id.as_str(), samples::PAYMENT_ID);
        assert_eq!(
            topics
                .iter()
                .filter(|t| **t == PAYMENT_REFUND_REQUESTED)
                .count(),
            1
        );
        // What it opened meanwhile is cancelled; the other order keeps its stock.
        let fulfillment = seed::fulfillment::of_order(h.store(), &late.id).await;
        assert_eq!(
            fulfillment.map(|f| f.status),
            Some(FulfillmentStatus::Cancelled)
        );
        assert_eq!(
            holds(&h, "ord-4301").await,
            both(ReservationStatus::Released)
        );
        assert_eq!(
            holds(&h, "ord-4302").await,
            both(ReservationStatus::Confirmed)
        );
        assert_eq!(reserved(&h).await, (Quantity::new(2), Quantity::new(1)));
        assert_eq!(
            seed::order::load(h.store(), &OrderId::parse("ord-4302").unwrap())
                .await
                .map(|o| o.status),
            Some(OrderStatus::PaymentConfirmed)
        );
        h
    })
    .await;
}
