//! The seeds' order flows end to end through `conveyor up` as a child process on Redis Streams
//! and PostgreSQL: rows are seeded in the child's database, events go in through its HTTP API
//! (`/publish`, `/invoke/<job>`), and the test checks the rows left behind and the exact events
//! of each order on the topic streams, in order.

use std::time::Duration;

use conveyor_domain::events::fulfillment::PicklistStatusChangedEvent;
use conveyor_domain::events::payment::{PaymentConfirmedEvent, PaymentFailedEvent};
use conveyor_domain::events::samples;
use conveyor_domain::fulfillment::{FulfillmentStatus, PackageStatus, PicklistStatus};
use conveyor_domain::order::{Order, OrderStatus, PaymentMethod};
use conveyor_domain::warehouse::ReservationStatus;
use conveyor_domain::{Clock, PaymentId, SystemClock, Timestamp};
use conveyor_testkit::seed;
use conveyor_tests::published::assert_flow;
use conveyor_tests::stack::{Stack, eventually};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(20);

const ORDER_FLOW: &[&str] = &[
    "order-payment-confirmed",
    "order-payment-failed",
    "fulfillment-order-status-changed",
    "fulfillment-picklist-status-changed",
    "warehouse-order-status-changed",
    "warehouse-fulfillment-status-changed",
];

fn now() -> Timestamp {
    SystemClock.now()
}

fn json_of(payload: &impl serde::Serialize) -> Value {
    serde_json::to_value(payload).expect("payload serialises")
}

/// Stock for the sample order lines (two mugs, one tee), high enough for no low-stock alert.
async fn stock(stack: &Stack) {
    seed::warehouse::product(stack.store(), "sku-mug", 40, 5, now()).await;
    seed::warehouse::product(stack.store(), "sku-tee", 25, 5, now()).await;
}

/// Waits until `order` has `n` events on the streams.
async fn events_of(stack: &Stack, order: &str, n: usize) {
    eventually(&format!("{n} events of {order}"), WAIT, || async {
        stack.streams.of_order(order).await.len() >= n
    })
    .await;
}

/// Inserts the order row and announces it (pending); waits for the warehouse's two holds.
async fn place(stack: &Stack, order: &Order) {
    seed::order::insert(stack.store(), order).await;
    let placed = order.placed_event(order.created_at);
    stack
        .up
        .publish("orders.order.status_changed", &json_of(&placed))
        .await;
    events_of(stack, order.id.as_str(), 3).await;
}

async fn reservations(stack: &Stack, order: &str) -> Vec<ReservationStatus> {
    seed::warehouse::reservations(stack.store(), order)
        .await
        .iter()
        .map(|r| r.status)
        .collect()
}

async fn levels(stack: &Stack, sku: &str) -> (u32, u32) {
    let inventory = seed::warehouse::inventory(stack.store(), sku).await;
    (inventory.on_hand.get(), inventory.reserved.get())
}

async fn no_dead_letters(stack: &Stack) {
    let letters = stack.up.get("/dlq").await;
    assert_eq!(letters.body, json!([]), "{}", stack.up.log());
}

const PLACED: &[&str] = &["orders.order.status_changed pending"];
const HELD: &[&str] = &[
    "warehouse.reservation.created sku-mug",
    "warehouse.reservation.created sku-tee",
];

#[tokio::test]
async fn a_prepaid_order_is_paid_picked_packed_shipped_and_its_stock_deducted() {
    let stack = Stack::start(ORDER_FLOW, &[]).await;
    stock(&stack).await;
    let order = seed::order::order("ord-prepaid-1", PaymentMethod::Prepaid, now());
    let id = order.id.as_str();
    place(&stack, &order).await;

    let paid = PaymentConfirmedEvent {
        order_id: order.id.clone(),
        payment_id: PaymentId::parse("pay-prepaid-1").unwrap(),
        amount: order.total.to_major_f64(),
        timestamp: now(),
        ..samples::payment_confirmed()
    };
    stack.up.publish("payment.confirmed", &json_of(&paid)).await;
    events_of(&stack, id, 8).await;
    let fulfillment = seed::fulfillment::of_order(stack.store(), &order.id)
        .await
        .expect("a fulfillment");
    let picklist = seed::fulfillment::picklist_of(stack.store(), &fulfillment.id)
        .await
        .expect("a picklist");
    assert_eq!(picklist.status, PicklistStatus::Pending);
    assert_eq!(
        reservations(&stack, id).await,
        [ReservationStatus::Confirmed; 2]
    );

    // The floor reports the picklist picked, packed, then shipped.
    let mut old = PicklistStatus::Pending;
    for (new, events) in [
        (PicklistStatus::Picked, 10),
        (PicklistStatus::Packed, 13),
        (PicklistStatus::Shipped, 16),
    ] {
        let report = PicklistStatusChangedEvent {
            picklist_id: picklist.id.clone(),
            fulfillment_id: fulfillment.id.clone(),
            order_id: order.id.clone(),
            old_status: Some(old),
            new_status: new,
            tracking_number: (new == PicklistStatus::Shipped)
                .then(|| samples::TRACKING_NUMBER.to_owned()),
            timestamp: now(),
        };
        stack
            .up
            .publish("picklist.status_changed", &json_of(&report))
            .await;
        events_of(&stack, id, events).await;
        old = new;
    }
    eventually("the stock deducted", WAIT, || async {
        reservations(&stack, id).await == [ReservationStatus::Fulfilled; 2]
    })
    .await;

    assert_flow(
        &stack.streams.of_order(id).await,
        &[
            PLACED,
            HELD,
            &["payment.confirmed"],
            &["orders.order.status_changed payment_confirmed"],
            &[
                "fulfillment.status_changed created",
                "warehouse.reservation.confirmed sku-mug",
                "warehouse.reservation.confirmed sku-tee",
            ],
            &["picklist.status_changed picked"],
            &["fulfillment.status_changed picked"],
            &["picklist.status_changed packed"],
            &[
                "fulfillment.status_changed packed",
                "package.status_changed created",
            ],
            &["picklist.status_changed shipped"],
            &[
                "fulfillment.status_changed shipped",
                "package.status_changed shipped",
            ],
        ],
    );
    let loaded = seed::order::load(stack.store(), &order.id).await.unwrap();
    assert_eq!(loaded.status, OrderStatus::PaymentConfirmed);
    let history = seed::order::history(stack.store(), &order.id).await;
    assert_eq!(history.len(), 1, "{history:?}");
    let fulfillment = seed::fulfillment::of_order(stack.store(), &order.id)
        .await
        .unwrap();
    assert_eq!(fulfillment.status, FulfillmentStatus::Shipped);
    let package = seed::fulfillment::package_of(stack.store(), &fulfillment.id)
        .await
        .expect("a package");
    assert_eq!(package.status, PackageStatus::Shipped);
    assert_eq!(
        package.tracking_number.as_deref(),
        Some(samples::TRACKING_NUMBER)
    );
    assert_eq!(levels(&stack, "sku-mug").await, (38, 0));
    assert_eq!(levels(&stack, "sku-tee").await, (24, 0));
    let updates = stack.streams.topic("warehouse.inventory.updated").await;
    let last_mug = updates
        .iter()
        .rev()
        .find(|p| p.field("product_id") == Some("sku-mug"))
        .expect("mug updates");
    assert_eq!(
        (
            &last_mug.event["data"]["on_hand"],
            &last_mug.event["data"]["reserved"]
        ),
        (&json!(38), &json!(0))
    );
    assert_eq!(updates.len(), 4, "held and deducted, per product");
    no_dead_letters(&stack).await;
    stack.finish().await;
}

#[tokio::test]
async fn a_failed_payment_releases_the_reservations() {
    let stack = Stack::start(ORDER_FLOW, &[]).await;
    stock(&stack).await;
    let order = seed::order::order("ord-failed-1", PaymentMethod::Prepaid, now());
    let id = order.id.as_str();
    place(&stack, &order).await;
    let failed = PaymentFailedEvent {
        order_id: order.id.clone(),
        payment_id: PaymentId::parse("pay-failed-1").unwrap(),
        amount: order.total.to_major_f64(),
        timestamp: now(),
        ..samples::payment_failed()
    };
    stack.up.publish("payment.failed", &json_of(&failed)).await;
    events_of(&stack, id, 7).await;
    eventually("the stock released", WAIT, || async {
        levels(&stack, "sku-mug").await == (40, 0) && levels(&stack, "sku-tee").await == (25, 0)
    })
    .await;

    assert_flow(
        &stack.streams.of_order(id).await,
        &[
            PLACED,
            HELD,
            &["payment.failed"],
            &["orders.order.status_changed payment_failed"],
            &[
                "warehouse.reservation.released sku-mug",
                "warehouse.reservation.released sku-tee",
            ],
        ],
    );
    let loaded = seed::order::load(stack.store(), &order.id).await.unwrap();
    assert_eq!(loaded.status, OrderStatus::PaymentFailed);
    assert_eq!(
        reservations(&stack, id).await,
        [ReservationStatus::Released; 2]
    );
    assert!(
        seed::fulfillment::of_order(stack.store(), &order.id)
            .await
            .is_none()
    );
    no_dead_letters(&stack).await;
    stack.finish().await;
}

#[tokio::test]
async fn a_delivered_cod_order_is_confirmed_by_the_job_and_fulfilled() {
    let functions = [ORDER_FLOW, &["order-cod-auto-confirm"]].concat();
    let stack = Stack::start(&functions, &[]).await;
    stock(&stack).await;
    let order = seed::order::cod_placed("ord-cod-1", now(), 90, Some(10));
    let id = order.id.as_str();
    place(&stack, &order).await;
    // The job may also have ticked on its own (every 5 minutes); either way it confirms once.
    assert!(stack.up.run_job("order-cod-auto-confirm").await <= 1);
    events_of(&stack, id, 7).await;
    eventually("the reservations confirmed", WAIT, || async {
        reservations(&stack, id).await == [ReservationStatus::Confirmed; 2]
    })
    .await;

    assert_flow(
        &stack.streams.of_order(id).await,
        &[
            PLACED,
            HELD,
            &["orders.order.status_changed confirmed"],
            &[
                "fulfillment.status_changed created",
                "warehouse.reservation.confirmed sku-mug",
                "warehouse.reservation.confirmed sku-tee",
            ],
        ],
    );
    let loaded = seed::order::load(stack.store(), &order.id).await.unwrap();
    assert_eq!(loaded.status, OrderStatus::Confirmed);
    let history = seed::order::history(stack.store(), &order.id).await;
    assert_eq!(history.last().unwrap().reason, "cash on delivery collected");
    let fulfillment = seed::fulfillment::of_order(stack.store(), &order.id)
        .await
        .expect("a fulfillment");
    assert_eq!(fulfillment.status, FulfillmentStatus::Created);
    assert_eq!(levels(&stack, "sku-mug").await, (40, 2));
    no_dead_letters(&stack).await;
    stack.finish().await;
}

#[tokio::test]
async fn an_order_unpaid_for_a_day_is_cancelled_and_its_stock_released() {
    let functions = [ORDER_FLOW, &["order-order-cleanup"]].concat();
    let stack = Stack::start(&functions, &[]).await;
    stock(&stack).await;
    // Placed 25 hours ago and never paid (the clock: an old row, not a wait).
    let order = seed::order::prepaid_placed("ord-unpaid-1", now(), 25 * 60);
    let id = order.id.as_str();
    place(&stack, &order).await;
    assert!(stack.up.run_job("order-order-cleanup").await <= 1);
    events_of(&stack, id, 6).await;
    eventually("the stock released", WAIT, || async {
        levels(&stack, "sku-mug").await == (40, 0) && levels(&stack, "sku-tee").await == (25, 0)
    })
    .await;

    assert_flow(
        &stack.streams.of_order(id).await,
        &[
            PLACED,
            HELD,
            &["orders.order.status_changed cancelled"],
            &[
                "warehouse.reservation.released sku-mug",
                "warehouse.reservation.released sku-tee",
            ],
        ],
    );
    let loaded = seed::order::load(stack.store(), &order.id).await.unwrap();
    assert_eq!(loaded.status, OrderStatus::Cancelled);
    let history = seed::order::history(stack.store(), &order.id).await;
    assert_eq!(history.last().unwrap().reason, "unpaid for 24 hours");
    assert_eq!(
        reservations(&stack, id).await,
        [ReservationStatus::Released; 2]
    );
    no_dead_letters(&stack).await;
    stack.finish().await;
}
