//! The embedded default's durability, through `conveyor up` as a child process on its SQLite
//! file: the process is SIGKILLed while events are published to it and handled (and, as the
//! kills fall, during its batched lease and acknowledgement commits), and SIGKILLed at a fault
//! point just before and just after a batch transaction's commit; then it is started again on
//! the same file. Every publish the API answered is handled exactly once: its effect (a
//! `return` stock movement naming the event's return id) is there once, and nothing is there
//! twice.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use conveyor_domain::events::returns::{ReturnCompletedEvent, ReturnLine};
use conveyor_domain::warehouse::MovementKind;
use conveyor_domain::{Clock, OrderId, ProductId, Quantity, ReturnId, SystemClock};
use conveyor_store::Store;
use conveyor_testkit::seed;
use conveyor_tests::process::{Emulator, UpOptions, try_call};
use conveyor_tests::stack::eventually;

/// Publishers running at once.
const PUBLISHERS: usize = 4;
/// Kills (and restarts) while publishing.
const KILLS: usize = 3;
/// Publishes answered between two kills, at least.
const BETWEEN_KILLS: usize = 60;
/// The stock the product starts with.
const INITIAL: u32 = 10;

fn returned(n: usize) -> serde_json::Value {
    let event = ReturnCompletedEvent {
        return_id: ReturnId::parse(format!("ret-durable-{n}")).unwrap(),
        order_id: OrderId::parse(format!("ord-durable-{n}")).unwrap(),
        items: vec![ReturnLine {
            product_id: ProductId::parse("sku-durable").unwrap(),
            quantity: Quantity::new(1),
        }],
        timestamp: SystemClock.now(),
    };
    serde_json::to_value(event).unwrap()
}

/// Publishes returns `start, start + PUBLISHERS, ...` until the child stops answering; records
/// each return id whose publish was answered 200.
async fn publish_until_gone(base: String, start: usize, accepted: Arc<Mutex<BTreeSet<String>>>) {
    let mut n = start;
    loop {
        let body = returned(n).to_string().into_bytes();
        let url = format!("{base}/publish/order.return.completed");
        match try_call("POST", &url, body).await {
            Ok(answer) if answer.status == 200 => {
                accepted.lock().unwrap().insert(format!("ret-durable-{n}"));
            }
            Ok(answer) => panic!("publish refused: {answer:?}"),
            Err(_) => return,
        }
        n += PUBLISHERS;
    }
}

/// `conveyor up` on `database`, running `function` only, with `env` added.
fn options(database: &str, function: &str, env: Vec<(String, String)>) -> UpOptions {
    UpOptions {
        database: database.to_owned(),
        redis: None,
        prefix: String::new(),
        functions: vec![function.to_owned()],
        extra: Vec::new(),
        env,
    }
}

/// A fresh SQLite file with the product the returns restock.
async fn fresh(dir: &tempfile::TempDir) -> (String, Store) {
    let database = format!("sqlite://{}", dir.path().join("conveyor.db").display());
    let store = Store::open(&database).await.unwrap();
    seed::warehouse::product(&store, "sku-durable", INITIAL, 0, SystemClock.now()).await;
    (database, store)
}

/// The `return` movements so far, per return id.
async fn effects(store: &Store) -> BTreeMap<String, usize> {
    let mut effects: BTreeMap<String, usize> = BTreeMap::new();
    for m in seed::warehouse::movements(store, "sku-durable").await {
        if m.kind == MovementKind::Return {
            *effects.entry(m.reference.unwrap_or_default()).or_default() += 1;
        }
    }
    effects
}

/// Waits until `up` has handled everything queued (what a killed process held included, once
/// its lease, the function's timeout and 5 s, has run out), then checks that every accepted
/// return was handled exactly once, the stock agrees, and nothing was dead-lettered.
async fn assert_handled_exactly_once(store: &Store, up: &Emulator, accepted: &BTreeSet<String>) {
    eventually("the queue to drain", Duration::from_secs(120), || async {
        store
            .queue_depths()
            .await
            .unwrap()
            .iter()
            .all(|(_, n)| *n == 0)
    })
    .await;
    let effects = effects(store).await;
    let missing: Vec<_> = accepted
        .iter()
        .filter(|id| !effects.contains_key(*id))
        .collect();
    assert!(
        missing.is_empty(),
        "answered but never handled: {missing:?}"
    );
    let repeated: Vec<_> = effects.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        repeated.is_empty(),
        "handled twice with effects: {repeated:?}"
    );
    let inventory = seed::warehouse::inventory(store, "sku-durable").await;
    assert_eq!(
        u64::from(inventory.on_hand.get()),
        u64::from(INITIAL) + effects.len() as u64,
        "stock is the initial stock plus one unit per return handled"
    );
    let letters = up.dead_letters("warehouse-return-completed").await;
    assert!(letters.is_empty(), "{letters:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_while_publishing_and_handling_loses_no_answered_publish_and_repeats_no_effect() {
    let dir = tempfile::tempdir().unwrap();
    let (database, store) = fresh(&dir).await;
    let options = options(&database, "warehouse-return-completed", Vec::new());

    let accepted = Arc::new(Mutex::new(BTreeSet::new()));
    let mut next = 0;
    for _ in 0..KILLS {
        let mut up = Emulator::start(&options).await;
        let publishers: Vec<_> = (0..PUBLISHERS)
            .map(|i| {
                tokio::spawn(publish_until_gone(
                    up.base.clone(),
                    next + i,
                    Arc::clone(&accepted),
                ))
            })
            .collect();
        let target = accepted.lock().unwrap().len() + BETWEEN_KILLS;
        eventually("publishes to be answered", Duration::from_secs(60), || {
            let done = accepted.lock().unwrap().len() >= target;
            async move { done }
        })
        .await;
        up.kill().await;
        for p in publishers {
            p.await.unwrap();
        }
        // Later publishers use numbers past every one tried so far.
        next += 1_000_000;
    }

    // A last start on the same file, with nothing published: it handles what is left.
    let up = Emulator::start(&options).await;
    let accepted = accepted.lock().unwrap().clone();
    assert_handled_exactly_once(&store, &up, &accepted).await;
    assert!(accepted.len() >= KILLS * BETWEEN_KILLS);
    drop(up);
    store.close().await;
}

/// Returns published while only another function runs wait in their function's queue; then
/// the function starts with a fault point at its first batch transaction's commit, and the
/// process is SIGKILLed there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_a_batch_commit_loses_nothing_and_repeats_nothing() {
    const RETURNS: usize = 100;
    for point in ["before", "after"] {
        let dir = tempfile::tempdir().unwrap();
        let (database, store) = fresh(&dir).await;

        let up =
            Emulator::start(&options(&database, "warehouse-product-created", Vec::new())).await;
        let mut accepted = BTreeSet::new();
        for n in 0..RETURNS {
            let body = returned(n).to_string().into_bytes();
            let answer = up.post("/publish/order.return.completed", body).await;
            assert_eq!(answer.status, 200, "{answer:?}");
            accepted.insert(format!("ret-durable-{n}"));
        }
        drop(up);

        let marker = dir.path().join(format!("{point}.reached"));
        let fault = format!("{point}:{}", marker.display());
        let mut up = Emulator::start(&options(
            &database,
            "warehouse-return-completed",
            vec![("CONVEYOR_FAULT_BATCH_COMMIT".to_owned(), fault)],
        ))
        .await;
        eventually("the fault point", Duration::from_secs(60), || {
            let reached = marker.exists();
            async move { reached }
        })
        .await;
        up.kill().await;
        let at_kill = effects(&store).await.len();
        if point == "before" {
            assert_eq!(at_kill, 0, "an uncommitted batch left effects");
        } else {
            assert!(at_kill >= 2, "the batch committed: {at_kill} effects");
        }

        let up = Emulator::start(&options(
            &database,
            "warehouse-return-completed",
            Vec::new(),
        ))
        .await;
        assert_handled_exactly_once(&store, &up, &accepted).await;
        drop(up);
        store.close().await;
    }
}
