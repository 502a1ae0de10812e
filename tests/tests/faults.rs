//! Faults, each against `conveyor up` as a child process on Redis and PostgreSQL, with
//! `warehouse-product-created` as the function under load (each `product.created` creates one
//! product, one inventory row and one stock movement, and publishes one
//! `warehouse.inventory.updated`): every event delivered twice; the emulator killed with SIGKILL
//! while 10,000 events are in flight and started again; Redis restarted mid-stream; PostgreSQL
//! cut off for a while; 1% poison mixed into a load; an event over 256 KB refused at publish.
//!
//! "Once" is checked on the rows (products, movements, inbox rows) and on the published events'
//! ids: publishing is at least once (a crash between commit and the outbox delete publishes an
//! event again, with the same id, which consumers' inboxes drop), so a stream may hold an id
//! twice, but never two different events for one product.

use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use conveyor_domain::events::catalog::ProductCreatedEvent;
use conveyor_domain::{Clock, ProductId, Quantity, SystemClock};
use conveyor_store::sqlx;
use conveyor_store::testing::TestDb;
use conveyor_tests::process::binary;
use conveyor_tests::proxy::Proxy;
use conveyor_tests::published::cloudevent;
use conveyor_tests::redis_server::RedisServer;
use conveyor_tests::stack::{Stack, eventually};

const FUNCTION: &str = "warehouse-product-created";
const CREATED: &str = "product.created";
const UPDATED: &str = "warehouse.inventory.updated";
const WAIT: Duration = Duration::from_secs(120);

/// `product.created` CloudEvents for products `sku-<tag>-<n>`, n in `range`.
fn products(tag: &str, range: std::ops::Range<u32>) -> Vec<String> {
    let now = SystemClock.now();
    range
        .map(|n| {
            let created = ProductCreatedEvent {
                product_id: ProductId::parse(format!("sku-{tag}-{n}")).unwrap(),
                name: format!("Product {n}"),
                initial_stock: Quantity::new(10),
                low_stock_threshold: None,
                timestamp: now,
            };
            cloudevent(CREATED, &created, now)
        })
        .collect()
}

pub(crate) async fn count(stack: &Stack, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(stack.store().pool())
        .await
        .unwrap()
}

/// Products, stock movements and the function's inbox rows.
pub(crate) async fn rows(stack: &Stack) -> (i64, i64, i64) {
    (
        count(stack, "SELECT COUNT(*) FROM warehouse.products").await,
        count(stack, "SELECT COUNT(*) FROM warehouse.stock_movements").await,
        count(
            stack,
            "SELECT COUNT(*) FROM conveyor.inbox WHERE function = 'warehouse-product-created'",
        )
        .await,
    )
}

/// Ids of the `warehouse.inventory.updated` events on the stream, and how many products they
/// name (distinct).
async fn updates(stack: &Stack) -> (HashSet<String>, usize) {
    let published = stack.streams.topic(UPDATED).await;
    let ids = published
        .iter()
        .map(|p| p.event["id"].as_str().unwrap().to_owned())
        .collect();
    let products: BTreeSet<&str> = published
        .iter()
        .filter_map(|p| p.field("product_id"))
        .collect();
    (ids, products.len())
}

async fn products_created(stack: &Stack, n: i64) {
    eventually(&format!("{n} products"), WAIT, || async {
        count(stack, "SELECT COUNT(*) FROM warehouse.products").await >= n
    })
    .await;
}

/// Every one of `n` events handled once and announced once; nothing dead-lettered.
async fn all_once(stack: &Stack, n: i64) {
    products_created(stack, n).await;
    let n_events = usize::try_from(n).unwrap();
    // The stream's length first: reading back every entry on each poll is heavy.
    eventually("every update published", WAIT, || async {
        stack.streams.len(UPDATED).await >= u64::try_from(n).unwrap()
            && updates(stack).await.0.len() >= n_events
    })
    .await;
    assert_eq!(
        rows(stack).await,
        (n, n, n),
        "products, movements, inbox rows"
    );
    let (ids, named) = updates(stack).await;
    assert_eq!(ids.len(), n_events, "one update per product");
    assert_eq!(named, n_events);
    assert_eq!(stack.streams.len(&format!("{FUNCTION}.dlq")).await, 0);
}

#[tokio::test]
async fn every_event_delivered_twice_has_one_effect() {
    let stack = Stack::start(&[FUNCTION], &[]).await;
    let events = products("dup", 0..500);
    let twice: Vec<String> = events.iter().flat_map(|e| [e.clone(), e.clone()]).collect();
    stack.streams.add(CREATED, &twice).await;
    all_once(&stack, 500).await;
    assert_eq!(
        stack.streams.len(CREATED).await,
        1_000,
        "both copies were there"
    );
    stack.finish().await;
}

#[tokio::test]
async fn a_sigkill_with_10000_events_in_flight_loses_nothing_and_repeats_nothing() {
    // Entries a dead instance held are claimed after a second.
    let quick = [
        "--redis-claim-after-ms",
        "1000",
        "--redis-reclaim-every-ms",
        "200",
    ];
    let mut stack = Stack::start(&[FUNCTION], &quick).await;
    stack
        .streams
        .add(CREATED, &products("kill", 0..10_000))
        .await;
    eventually("part of the load handled", WAIT, || async {
        count(&stack, "SELECT COUNT(*) FROM warehouse.products").await >= 500
    })
    .await;
    stack.restart(&[]).await;
    let at_kill = count(&stack, "SELECT COUNT(*) FROM warehouse.products").await;
    assert!(at_kill < 10_000, "the kill came before the end ({at_kill})");
    all_once(&stack, 10_000).await;
    stack.finish().await;
}

#[tokio::test]
async fn consumption_resumes_after_redis_restarts_empty() {
    let mut redis = RedisServer::start().await;
    let db = TestDb::postgres().await;
    let database = db.url().to_owned();
    let stack = Stack::start_on(db, &database, &redis.url(), &[FUNCTION], &[]).await;
    stack
        .streams
        .add(CREATED, &products("before", 0..200))
        .await;
    products_created(&stack, 200).await;

    // No persistence: the streams and the consumer groups are gone.
    redis.restart().await;
    let after = products("after", 0..200);
    // The emulator's connections come back on their own; keep publishing until Redis takes it.
    eventually("Redis back", WAIT, || async {
        redis::Client::open(redis.url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .is_ok()
    })
    .await;
    let streams =
        conveyor_tests::published::Streams::connect(&redis.url(), &stack.streams.prefix).await;
    streams.add(CREATED, &after).await;
    products_created(&stack, 400).await;
    assert_eq!(rows(&stack).await, (400, 400, 400));
    assert_eq!(
        streams.topic(UPDATED).await.len(),
        200,
        "announced after the restart"
    );
    assert!(
        stack.up.log().contains("consumer group"),
        "{}",
        stack.up.log()
    );
    // The stack's own stream handle was connected to the old server: clean up by hand.
    let Stack { db, mut up, .. } = stack;
    up.kill().await;
    streams.clear().await;
    db.close().await;
}

#[tokio::test]
async fn a_postgresql_outage_is_retried_and_every_event_handled_once() {
    let db = TestDb::postgres().await;
    let url = db.url().to_owned();
    // The child reaches PostgreSQL through the proxy; the test's own pool goes direct.
    let rest = url.strip_prefix("postgres://").unwrap();
    let (auth, hostpath) = rest.split_once('@').unwrap();
    let (hostport, path) = hostpath.split_once('/').unwrap();
    let upstream = tokio::net::lookup_host(hostport)
        .await
        .unwrap()
        .next()
        .unwrap();
    let mut proxy = Proxy::start(upstream);
    let through = format!("postgres://{auth}@{}/{path}", proxy.addr);
    let stack = Stack::start_on(
        db,
        &through,
        &conveyor_tests::stack::shared_redis(),
        &[FUNCTION],
        &[],
    )
    .await;
    stack.streams.add(CREATED, &products("pg", 0..100)).await;
    products_created(&stack, 100).await;

    proxy.cut().await;
    stack.streams.add(CREATED, &products("pg", 100..300)).await;
    // While PostgreSQL is away nothing is committed; the deliveries wait or fail and are retried.
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    assert_eq!(
        count(&stack, "SELECT COUNT(*) FROM warehouse.products").await,
        100,
        "nothing committed during the outage"
    );
    proxy.restore();
    all_once(&stack, 300).await;
    stack.finish().await;
}

#[tokio::test]
async fn one_percent_poison_lands_in_the_dead_letters_and_nothing_else_does() {
    let stack = Stack::start(&[FUNCTION], &[]).await;
    let mut events = products("mix", 0..1_000);
    let mut poison = BTreeSet::new();
    for n in (0..1_000).step_by(100) {
        // Half not JSON at all, half a product without a name (fails validation).
        let event = if n % 200 == 0 {
            format!("{{not json {n}")
        } else {
            let mut v: serde_json::Value = serde_json::from_str(&events[n]).unwrap();
            v["data"]["name"] = serde_json::json!("");
            v.to_string()
        };
        events[n] = event;
        poison.insert(n);
    }
    stack.streams.add(CREATED, &events).await;
    products_created(&stack, 990).await;
    eventually("ten dead letters", WAIT, || async {
        stack.streams.len(&format!("{FUNCTION}.dlq")).await == 10
    })
    .await;
    let letters = stack.up.dead_letters(FUNCTION).await;
    let mut dead: Vec<String> = letters
        .iter()
        .map(|l| l["body"].as_str().unwrap().to_owned())
        .collect();
    dead.sort();
    let mut want: Vec<String> = poison.iter().map(|n| events[*n].clone()).collect();
    want.sort();
    assert_eq!(dead, want, "exactly the poison events");
    assert!(
        letters.iter().all(|l| l["attempts"] == 1),
        "no retries for poison"
    );
    assert_eq!(rows(&stack).await, (990, 990, 990));
    stack.finish().await;
}

#[tokio::test]
async fn an_event_over_256_kb_is_refused_at_publish_with_the_reason() {
    let stack = Stack::start(&[FUNCTION], &[]).await;
    let big = serde_json::json!({
        "product_id": "sku-big",
        "name": "x".repeat(300 * 1024),
        "timestamp": "2026-11-22T10:00:00Z",
    });
    let answer = stack
        .up
        .post(&format!("/publish/{CREATED}"), big.to_string().into_bytes())
        .await;
    assert_eq!(answer.status, 413, "{answer:?}");
    assert!(
        answer.body["error"]
            .as_str()
            .unwrap()
            .contains("262144-byte limit"),
        "{answer:?}"
    );

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("big.json");
    std::fs::write(&file, big.to_string()).unwrap();
    let cli = std::process::Command::new(binary())
        .args(["publish", CREATED, "--data-file"])
        .arg(&file)
        .args(["--api", &stack.up.base])
        .env_remove("CONVEYOR_REDIS_URL")
        .output()
        .unwrap();
    assert!(!cli.status.success());
    let stderr = String::from_utf8_lossy(&cli.stderr);
    assert!(
        stderr.contains("413") && stderr.contains("262144-byte limit"),
        "{stderr}"
    );

    // Nothing reached the stream or the function.
    assert_eq!(stack.streams.len(CREATED).await, 0);
    assert_eq!(rows(&stack).await, (0, 0, 0));
    stack.finish().await;
}
