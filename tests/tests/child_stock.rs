//! The seeds' warehouse flows end to end through `conveyor up` as a child process on Redis
//! Streams and PostgreSQL: reservations expiring (warned first, then released), a completed
//! return putting stock back, a new product getting its inventory.

use std::time::Duration;

use conveyor_domain::events::catalog::ProductCreatedEvent;
use conveyor_domain::events::returns::{ReturnCompletedEvent, ReturnLine};
use conveyor_domain::warehouse::{MovementKind, ReservationStatus};
use conveyor_domain::{Clock, OrderId, ProductId, Quantity, ReturnId, SystemClock, Timestamp};
use conveyor_testkit::seed;
use conveyor_tests::published::{Published, assert_flow};
use conveyor_tests::stack::{Stack, eventually};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(20);

fn now() -> Timestamp {
    SystemClock.now()
}

fn json_of(payload: &impl serde::Serialize) -> Value {
    serde_json::to_value(payload).expect("payload serialises")
}

/// `(on_hand, reserved, available)` of each `warehouse.inventory.updated` of `sku`.
async fn updates(stack: &Stack, sku: &str) -> Vec<(Value, Value, Value)> {
    stack
        .streams
        .topic("warehouse.inventory.updated")
        .await
        .iter()
        .filter(|p: &&Published| p.field("product_id") == Some(sku))
        .map(|p| {
            let d = &p.event["data"];
            (
                d["on_hand"].clone(),
                d["reserved"].clone(),
                d["available"].clone(),
            )
        })
        .collect()
}

#[tokio::test]
async fn reservations_are_warned_before_they_expire_then_expired_and_released() {
    let stack = Stack::start(
        &[
            "warehouse-reservation-warning",
            "warehouse-reservation-expiry",
        ],
        &[],
    )
    .await;
    let t = now();
    seed::warehouse::product(stack.store(), "sku-mug", 40, 5, t).await;
    seed::warehouse::product(stack.store(), "sku-tee", 25, 5, t).await;
    // Held 31 minutes ago (expired a minute ago), and 25 minutes ago (expires in 5).
    let overdue = seed::warehouse::hold(
        stack.store(),
        "ord-late-1",
        "sku-mug",
        2,
        t.add_minutes(-1),
        t.add_minutes(-31),
    )
    .await;
    let soon = seed::warehouse::hold(
        stack.store(),
        "ord-soon-1",
        "sku-tee",
        1,
        t.add_minutes(5),
        t.add_minutes(-25),
    )
    .await;

    // Either job may also tick on its own; each acts once per reservation.
    assert!(stack.up.run_job("warehouse-reservation-warning").await <= 1);
    assert!(stack.up.run_job("warehouse-reservation-expiry").await <= 1);
    eventually("the expiry announced", WAIT, || async {
        stack.streams.of_order("ord-late-1").await.len() == 1
            && stack.streams.of_order("ord-soon-1").await.len() == 1
            && updates(&stack, "sku-mug").await.len() == 1
    })
    .await;
    // A second run of each finds nothing new.
    assert_eq!(stack.up.run_job("warehouse-reservation-warning").await, 0);
    assert_eq!(stack.up.run_job("warehouse-reservation-expiry").await, 0);

    assert_flow(
        &stack.streams.of_order("ord-late-1").await,
        &[&["warehouse.reservation.expired sku-mug"]],
    );
    assert_flow(
        &stack.streams.of_order("ord-soon-1").await,
        &[&["warehouse.reservation.expiring sku-tee"]],
    );
    assert_eq!(
        updates(&stack, "sku-mug").await,
        [(json!(40), json!(0), json!(40))]
    );
    assert!(updates(&stack, "sku-tee").await.is_empty());

    let late = seed::warehouse::reservations(stack.store(), "ord-late-1").await;
    assert_eq!(late.len(), 1);
    assert_eq!(
        (late[0].id.clone(), late[0].status),
        (overdue.id, ReservationStatus::Expired)
    );
    let held = seed::warehouse::reservations(stack.store(), "ord-soon-1").await;
    assert_eq!(held[0].id, soon.id);
    assert_eq!(held[0].status, ReservationStatus::Active);
    assert!(held[0].warned_at.is_some(), "{held:?}");
    let mug = seed::warehouse::inventory(stack.store(), "sku-mug").await;
    assert_eq!((mug.on_hand.get(), mug.reserved.get()), (40, 0));
    let tee = seed::warehouse::inventory(stack.store(), "sku-tee").await;
    assert_eq!((tee.on_hand.get(), tee.reserved.get()), (25, 1));
    let kinds: Vec<MovementKind> = seed::warehouse::movements(stack.store(), "sku-mug")
        .await
        .iter()
        .map(|m| m.kind)
        .collect();
    assert_eq!(kinds.last(), Some(&MovementKind::Release), "{kinds:?}");
    assert_eq!(stack.up.get("/dlq").await.body, json!([]));
    stack.finish().await;
}

#[tokio::test]
async fn a_completed_return_puts_the_stock_back_once() {
    let stack = Stack::start(&["warehouse-return-completed"], &[]).await;
    seed::warehouse::product(stack.store(), "sku-mug", 40, 5, now()).await;
    let returned = ReturnCompletedEvent {
        return_id: ReturnId::parse("ret-child-1").unwrap(),
        order_id: OrderId::parse("ord-returned-1").unwrap(),
        items: vec![ReturnLine {
            product_id: ProductId::parse("sku-mug").unwrap(),
            quantity: Quantity::new(2),
        }],
        timestamp: now(),
    };
    stack
        .up
        .publish("order.return.completed", &json_of(&returned))
        .await;
    eventually("the stock restored", WAIT, || async {
        updates(&stack, "sku-mug").await.len() == 1
    })
    .await;
    // The same return under the topic's older name restores nothing more.
    stack
        .up
        .publish("return.completed", &json_of(&returned))
        .await;
    eventually("the older topic handled", WAIT, || async {
        stack
            .up
            .get("/invocations")
            .await
            .body
            .as_array()
            .is_some_and(|a| a.len() == 2)
    })
    .await;

    assert_flow(
        &stack.streams.of_order("ord-returned-1").await,
        &[&["order.return.completed"], &["return.completed"]],
    );
    assert_eq!(
        updates(&stack, "sku-mug").await,
        [(json!(42), json!(0), json!(42))]
    );
    let mug = seed::warehouse::inventory(stack.store(), "sku-mug").await;
    assert_eq!(mug.on_hand.get(), 42);
    let returns: Vec<_> = seed::warehouse::movements(stack.store(), "sku-mug")
        .await
        .into_iter()
        .filter(|m| m.kind == MovementKind::Return)
        .collect();
    assert_eq!(returns.len(), 1, "{returns:?}");
    assert_eq!(returns[0].delta, 2);
    assert_eq!(returns[0].reference.as_deref(), Some("ret-child-1"));
    assert_eq!(stack.up.get("/dlq").await.body, json!([]));
    stack.finish().await;
}

#[tokio::test]
async fn a_created_product_gets_its_inventory() {
    let stack = Stack::start(&["warehouse-product-created"], &[]).await;
    let created = ProductCreatedEvent {
        product_id: ProductId::parse("sku-lamp").unwrap(),
        name: "Desk lamp".to_owned(),
        initial_stock: Quantity::new(30),
        low_stock_threshold: Some(Quantity::new(3)),
        timestamp: now(),
    };
    stack
        .up
        .publish("product.created", &json_of(&created))
        .await;
    eventually("the inventory announced", WAIT, || async {
        updates(&stack, "sku-lamp").await.len() == 1
    })
    .await;

    assert_eq!(
        updates(&stack, "sku-lamp").await,
        [(json!(30), json!(0), json!(30))]
    );
    let topics: Vec<String> = stack
        .streams
        .all()
        .await
        .iter()
        .map(Published::signature)
        .collect();
    assert_eq!(
        topics,
        [
            "product.created sku-lamp",
            "warehouse.inventory.updated sku-lamp"
        ]
    );
    assert!(seed::warehouse::has_product(stack.store(), "sku-lamp").await);
    let lamp = seed::warehouse::inventory(stack.store(), "sku-lamp").await;
    assert_eq!(
        (
            lamp.on_hand.get(),
            lamp.reserved.get(),
            lamp.low_stock_threshold.get()
        ),
        (30, 0, 3)
    );
    let movements = seed::warehouse::movements(stack.store(), "sku-lamp").await;
    assert_eq!(movements.len(), 1);
    assert_eq!(
        (movements[0].kind, movements[0].delta),
        (MovementKind::Init, 30)
    );
    assert_eq!(stack.up.get("/dlq").await.body, json!([]));
    stack.finish().await;
}
