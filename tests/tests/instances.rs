//! Several `conveyor up` processes on one Redis consumer group and one PostgreSQL database.
//!
//! - `warehouse-product-created` on three instances with a short claim delay, while the test
//!   holds a lock on the products table longer than that delay (so handlers wait past it): 1%
//!   of the events poison, every 50th delivered twice. Each good event's effect happens once,
//!   each poison event is dead-lettered once, and the deliveries the instances count are
//!   exactly the entries: none was handled a second time while its first handling was alive.
//! - The same on two instances, one of them killed (SIGKILL) midway.
//! - `fulfillment-picklist-status-changed` (ordered by order id) on two instances: 100 orders
//!   of five floor reports each; the lease holder is killed midway, the standby takes over
//!   and every picklist moves through its reports in order (a report out of order would move
//!   it backwards, which the function dead-letters).
//!
//! The first two send 10,000 events (`CONVEYOR_TEST_INSTANCE_EVENTS` sets another count).

use std::collections::BTreeSet;
use std::time::Duration;

use conveyor_domain::events::catalog::ProductCreatedEvent;
use conveyor_domain::events::fulfillment::{PICKLIST_STATUS_CHANGED, PicklistStatusChangedEvent};
use conveyor_domain::fulfillment::PicklistStatus;
use conveyor_domain::{
    Clock, FulfillmentId, OrderId, PicklistId, ProductId, Quantity, SystemClock,
};
use conveyor_store::sqlx;
use conveyor_testkit::seed;
use conveyor_tests::process::Emulator;
use conveyor_tests::published::cloudevent;
use conveyor_tests::stack::{Stack, eventually};

use crate::faults::{count, rows};

const PRODUCTS: &str = "warehouse-product-created";
const CREATED: &str = "product.created";
const PICKLISTS: &str = "fulfillment-picklist-status-changed";
const WAIT: Duration = Duration::from_secs(240);

/// A claim delay well below how long the test makes handlers wait.
const QUICK: [&str; 6] = [
    "--redis-claim-after-ms",
    "1000",
    "--redis-reclaim-every-ms",
    "100",
    "--redis-lease-ms",
    "1500",
];

fn events() -> u32 {
    std::env::var("CONVEYOR_TEST_INSTANCE_EVENTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(10_000)
}

fn poison(n: u32) -> bool {
    n % 100 == 7
}

fn twice(n: u32) -> bool {
    n.is_multiple_of(50)
}

/// The load: `product.created` for products `sku-<tag>-<n>`, the poison ones with an empty name
/// (fails validation), every 50th twice in a row. Returns the bodies to add and the poison
/// bodies.
fn load(tag: &str, count: u32) -> (Vec<String>, BTreeSet<String>) {
    let now = SystemClock.now();
    let mut bodies = Vec::new();
    let mut poisoned = BTreeSet::new();
    for n in 0..count {
        let created = ProductCreatedEvent {
            product_id: ProductId::parse(format!("sku-{tag}-{n}")).unwrap(),
            name: if poison(n) {
                String::new()
            } else {
                format!("Product {n}")
            },
            initial_stock: Quantity::new(10),
            low_stock_threshold: None,
            timestamp: now,
        };
        let body = cloudevent(CREATED, &created, now);
        if poison(n) {
            poisoned.insert(body.clone());
        }
        if twice(n) {
            bodies.push(body.clone());
        }
        bodies.push(body);
    }
    (bodies, poisoned)
}

/// Holds a lock that blocks inserts into the products table for `hold`, once `after` products
/// exist: every handler that inserts meanwhile waits past the claim delay.
async fn stall_inserts(stack: &Stack, after: i64, hold: Duration) {
    eventually(&format!("{after} products"), WAIT, || async {
        count(stack, "SELECT COUNT(*) FROM warehouse.products").await >= after
    })
    .await;
    let mut tx = stack.store().pool().begin().await.unwrap();
    sqlx::query("LOCK TABLE warehouse.products IN SHARE MODE")
        .execute(&mut *tx)
        .await
        .unwrap();
    tokio::time::sleep(hold).await;
    tx.commit().await.unwrap();
}

/// A counter of the function's from an instance's `/metrics`.
async fn metric(up: &Emulator, name: &str, function: &str) -> u64 {
    let text = up.get("/metrics").await.body;
    let prefix = format!("{name}{{function=\"{function}\"}} ");
    text.as_str()
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

/// Every good event's effect once and exactly the poison in the dead letters, once each.
async fn each_once(stack: &Stack, count: u32, poisoned: &BTreeSet<String>) {
    let good = i64::from(count) - i64::try_from(poisoned.len()).unwrap();
    eventually(&format!("{good} products"), WAIT, || async {
        rows(stack).await.0 >= good
    })
    .await;
    let dlq = format!("{PRODUCTS}.dlq");
    let letters = u64::try_from(poisoned.len()).unwrap();
    eventually("the poison dead-lettered", WAIT, || async {
        stack.streams.len(&dlq).await >= letters
    })
    .await;
    // Late duplicates (a claim after a kill) would show here.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        rows(stack).await,
        (good, good, good),
        "products, movements, inbox rows"
    );
    let dead: Vec<String> = stack
        .up
        .dead_letters(PRODUCTS)
        .await
        .iter()
        .map(|l| l["body"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        dead.len(),
        poisoned.len(),
        "one dead letter per poison event"
    );
    let dead: BTreeSet<String> = dead.into_iter().collect();
    assert_eq!(&dead, poisoned, "exactly the poison events");
}

#[tokio::test]
async fn three_instances_with_handlers_slower_than_the_claim_delay_handle_each_event_once() {
    let count = events();
    let stack = Stack::start(&[PRODUCTS], &QUICK).await;
    let others = [
        Emulator::start(&stack.options).await,
        Emulator::start(&stack.options).await,
    ];
    let (bodies, poisoned) = load("three", count);
    stack.streams.add(CREATED, &bodies).await;
    // Twice, handlers wait three claim delays for the lock.
    let hold = Duration::from_secs(3);
    stall_inserts(&stack, i64::from(count / 5), hold).await;
    stall_inserts(&stack, i64::from(count / 2), hold).await;
    each_once(&stack, count, &poisoned).await;

    // Each entry was delivered and handled once: the good events, plus the second copies
    // (found in the inbox); the poison once each.
    let good = u64::from(count) - u64::try_from(poisoned.len()).unwrap();
    let copies = u64::try_from((0..count).filter(|n| twice(*n)).count()).unwrap();
    let (mut handled, mut dead) = (0, 0);
    for up in std::iter::once(&stack.up).chain(&others) {
        handled += metric(up, "conveyor_events_handled_total", PRODUCTS).await;
        dead += metric(up, "conveyor_events_dead_lettered_total", PRODUCTS).await;
    }
    assert_eq!(handled, good + copies, "no entry handled a second time");
    assert_eq!(dead, u64::try_from(poisoned.len()).unwrap());
    drop(others);
    stack.finish().await;
}

#[tokio::test]
async fn an_instance_killed_midway_leaves_each_event_handled_once() {
    let count = events();
    let mut stack = Stack::start(&[PRODUCTS], &QUICK).await;
    let other = Emulator::start(&stack.options).await;
    let (bodies, poisoned) = load("kill", count);
    stack.streams.add(CREATED, &bodies).await;
    stall_inserts(&stack, i64::from(count / 5), Duration::from_secs(3)).await;
    eventually("a third handled", WAIT, || async {
        rows(&stack).await.0 >= i64::from(count / 3)
    })
    .await;
    stack.up.kill().await;
    let at_kill = rows(&stack).await.0;
    assert!(
        at_kill < i64::from(count) * 9 / 10,
        "killed midway ({at_kill})"
    );
    // The survivor answers the API from here on.
    let killed = std::mem::replace(&mut stack.up, other);
    drop(killed);
    each_once(&stack, count, &poisoned).await;
    stack.finish().await;
}

/// The picklist function's inbox rows: reports handled (a repeated report included).
async fn handled(stack: &Stack) -> i64 {
    count(
        stack,
        "SELECT COUNT(*) FROM conveyor.inbox WHERE function = 'fulfillment-picklist-status-changed'",
    )
    .await
}

const ORDERS: u32 = 100;
const STEPS: [PicklistStatus; 5] = [
    PicklistStatus::Pending,
    PicklistStatus::InProgress,
    PicklistStatus::Picked,
    PicklistStatus::Packed,
    PicklistStatus::Shipped,
];

fn ids(n: u32) -> (String, String, String) {
    (
        format!("ful-{}", 6000 + n),
        format!("pick-{}", 8000 + n),
        format!("ord-{}", 3000 + n),
    )
}

#[tokio::test]
async fn the_standby_takes_over_an_ordered_function_when_the_lease_holder_is_killed() {
    let mut stack = Stack::start(&[PICKLISTS], &QUICK).await;
    let lease = format!("{}conveyor:lease:{PICKLISTS}", stack.streams.prefix);
    eventually("the first instance holds the lease", WAIT, || async {
        stack
            .streams
            .query::<Option<String>>(redis::cmd("GET").arg(&lease))
            .await
            .is_some()
    })
    .await;
    let holder: String = stack.streams.query(redis::cmd("GET").arg(&lease)).await;
    let standby = Emulator::start(&stack.options).await;

    let now = SystemClock.now();
    for n in 0..ORDERS {
        let (fulfillment, picklist, order) = ids(n);
        let opened = seed::fulfillment::opened(&fulfillment, &picklist, &order, now);
        seed::fulfillment::insert(stack.store(), &opened).await;
    }
    // Step by step across orders, so every order's reports are spread over the stream.
    let mut reports = Vec::new();
    for (i, status) in STEPS.iter().enumerate() {
        for n in 0..ORDERS {
            let (fulfillment, picklist, order) = ids(n);
            let report = PicklistStatusChangedEvent {
                picklist_id: PicklistId::parse(picklist).unwrap(),
                fulfillment_id: FulfillmentId::parse(fulfillment).unwrap(),
                order_id: OrderId::parse(order).unwrap(),
                old_status: i.checked_sub(1).map(|p| STEPS[p]),
                new_status: *status,
                tracking_number: (*status == PicklistStatus::Shipped).then(|| format!("trk-{n}")),
                timestamp: now,
            };
            reports.push(cloudevent(PICKLIST_STATUS_CHANGED, &report, now));
        }
    }
    stack.streams.add(PICKLIST_STATUS_CHANGED, &reports).await;
    eventually("part of the reports handled", WAIT, || async {
        handled(&stack).await >= 100
    })
    .await;
    stack.up.kill().await;
    let at_kill = handled(&stack).await;
    assert!(at_kill < 500, "killed midway ({at_kill})");
    let killed = std::mem::replace(&mut stack.up, standby);
    drop(killed);
    // A report out of order is dead-lettered, not handled: both count as done.
    let dlq = format!("{PICKLISTS}.dlq");
    eventually("every report handled or dead-lettered", WAIT, || async {
        handled(&stack).await + i64::try_from(stack.streams.len(&dlq).await).unwrap() >= 500
    })
    .await;
    let taken: String = stack.streams.query(redis::cmd("GET").arg(&lease)).await;
    assert_ne!(taken, holder, "the standby holds the lease");
    assert_eq!(
        stack.streams.len(&dlq).await,
        0,
        "no report out of order (it would have moved a picklist backwards)"
    );
    for n in 0..ORDERS {
        let (_, picklist, _) = ids(n);
        let stored =
            seed::fulfillment::picklist(stack.store(), &PicklistId::parse(picklist).unwrap())
                .await
                .unwrap();
        assert_eq!(stored.status, PicklistStatus::Shipped, "order {n}");
    }
    stack.finish().await;
}
