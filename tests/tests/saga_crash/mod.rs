//! The checkout saga through `conveyor up` as a child process on the embedded default (its
//! SQLite file), SIGKILLed while 1,000 checkouts are in flight, then started again on the same
//! file. A tenth of the payments are declined (nothing to undo) and a tenth of the orders are
//! for a product out of stock (the payment is refunded), so compensations are in flight too.
//! The payment service is played from the test through the child's HTTP API. Every saga ends
//! completed or compensated as a whole, and no command or compensation was applied twice: each
//! order has at most one reservation, stock movement of each kind, fulfillment, confirmation
//! and refund, and exactly those its saga's end calls for; the order (seeded pending, as the
//! order service holds it) is confirmed or cancelled once, by order-checkout-finished.
//!
//! # Layout
//! - this module — the checkouts, the kill and the restart
//! - [`payments`] — the payment service, played
//! - [`effects`] — the checks on the database

mod effects;
mod payments;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use conveyor_domain::events::checkout::{CHECKOUT_REQUESTED, CheckoutRequestedEvent};
use conveyor_domain::events::order::OrderLine;
use conveyor_domain::{
    Clock, Currency, CustomerId, Money, OrderId, ProductId, Quantity, SystemClock,
};
use conveyor_runtime::saga::{SagaRepository, SagaStatus};
use conveyor_store::Store;
use conveyor_testkit::seed;
use conveyor_tests::process::{Emulator, UpOptions, try_call};
use conveyor_tests::stack::eventually;
use order_checkout_saga::NAME;

use payments::Ledger;

/// Checkouts started.
const SAGAS: usize = 1_000;
/// Publishers running at once.
const PUBLISHERS: usize = 2;
/// The product the checkouts buy, and its stock (enough for every one).
const SKU: &str = "sku-crash";
const STOCK: u32 = 10_000;
/// A product out of stock.
const SHORT: &str = "sku-crash-short";
/// The saga and its command consumers (the payment service is played by the test).
const FUNCTIONS: &[&str] = &[
    "order-checkout-saga",
    "warehouse-checkout-inventory",
    "fulfillment-checkout-fulfillment",
    "order-checkout-confirmation",
    "order-checkout-finished",
];

/// How a checkout is meant to go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Paid and in stock: completes.
    Paid,
    /// The payment is declined: compensated with nothing to undo.
    Declined,
    /// Paid, but out of stock: the payment is refunded.
    Short,
}

/// One checkout.
#[derive(Debug, Clone)]
struct Checkout {
    order: String,
    kind: Kind,
}

fn checkout(n: usize) -> Checkout {
    let (order, kind) = match n % 10 {
        3 => (format!("ord-crash-{n}-declined"), Kind::Declined),
        7 => (format!("ord-crash-{n}-short"), Kind::Short),
        _ => (format!("ord-crash-{n}"), Kind::Paid),
    };
    assert_eq!(payments::declines(&order), kind == Kind::Declined);
    Checkout { order, kind }
}

fn request(c: &Checkout) -> CheckoutRequestedEvent {
    let sku = if c.kind == Kind::Short { SHORT } else { SKU };
    let price = Money::from_major_f64(payments::AMOUNT).unwrap();
    CheckoutRequestedEvent {
        order_id: OrderId::parse(&c.order).unwrap(),
        customer_id: CustomerId::parse("cus-crash").unwrap(),
        items: vec![OrderLine {
            product_id: ProductId::parse(sku).unwrap(),
            quantity: Quantity::new(1),
            unit_price: price,
        }],
        total: price,
        currency: Currency::parse("USD").unwrap(),
        timestamp: SystemClock.now(),
    }
}

fn requested(c: &Checkout) -> Vec<u8> {
    serde_json::to_vec(&request(c)).unwrap()
}

/// Publishes the checkouts `start, start + PUBLISHERS, ...` not yet accepted, each until the
/// child accepts it (it refuses a publish it cannot store now, and is gone after a kill: the
/// task is then aborted).
async fn publish(
    base: String,
    checkouts: Arc<Vec<Checkout>>,
    start: usize,
    accepted: Arc<Mutex<BTreeSet<String>>>,
) {
    for c in checkouts.iter().skip(start).step_by(PUBLISHERS) {
        if accepted.lock().unwrap().contains(&c.order) {
            continue;
        }
        let url = format!("{base}/publish/{CHECKOUT_REQUESTED}");
        loop {
            match try_call("POST", &url, requested(c)).await {
                Ok(a) if a.status == 200 => break,
                Ok(a) if a.status < 500 => panic!("checkout refused: {a:?}"),
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        accepted.lock().unwrap().insert(c.order.clone());
    }
}

/// Sagas ended (completed or compensated).
async fn ended(store: &Store) -> usize {
    let mut tx = store.begin().await.unwrap();
    let mut n = 0;
    for status in [SagaStatus::Completed, SagaStatus::Compensated] {
        n += tx
            .list_sagas(Some(NAME), Some(status), 100_000)
            .await
            .unwrap()
            .len();
    }
    tx.rollback().await.unwrap();
    n
}

/// Sagas per status (shown when they do not all end in time).
async fn progress(store: &Store) -> Vec<(SagaStatus, usize)> {
    let mut tx = store.begin().await.unwrap();
    let mut counts = Vec::new();
    for status in SagaStatus::ALL {
        let n = tx
            .list_sagas(Some(NAME), Some(status), 100_000)
            .await
            .unwrap()
            .len();
        counts.push((status, n));
    }
    tx.rollback().await.unwrap();
    counts
}

/// One life of the child: it starts, the played payment service and the publishers run
/// against it.
struct Life {
    up: Emulator,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Life {
    async fn start(
        options: &UpOptions,
        store: &Store,
        checkouts: &Arc<Vec<Checkout>>,
        accepted: &Arc<Mutex<BTreeSet<String>>>,
        ledger: &Arc<Mutex<Ledger>>,
    ) -> Self {
        let up = Emulator::start(options).await;
        let mut tasks = vec![tokio::spawn(payments::play(
            store.clone(),
            up.base.clone(),
            Arc::clone(ledger),
        ))];
        tasks.extend((0..PUBLISHERS).map(|i| {
            tokio::spawn(publish(
                up.base.clone(),
                Arc::clone(checkouts),
                i,
                Arc::clone(accepted),
            ))
        }));
        Self { up, tasks }
    }

    /// SIGKILL; the publishers and the payment service stop.
    async fn kill(mut self) {
        self.up.kill().await;
        for t in self.tasks {
            t.abort();
            let _ = t.await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_with_a_thousand_sagas_in_flight_ends_each_whole_with_no_effect_twice() {
    let began = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("conveyor.db").display());
    let store = Store::open(&database).await.unwrap();
    let now = SystemClock.now();
    seed::warehouse::product(&store, SKU, STOCK, 0, now).await;
    seed::warehouse::product(&store, SHORT, 0, 0, now).await;
    let options = UpOptions {
        database: database.clone(),
        redis: None,
        prefix: String::new(),
        functions: FUNCTIONS.iter().map(|f| (*f).to_owned()).collect(),
        extra: Vec::new(),
        env: Vec::new(),
    };
    let checkouts: Arc<Vec<Checkout>> = Arc::new((0..SAGAS).map(checkout).collect());
    // The order service holds each order, pending, when it asks for the checkout.
    let placed: Vec<_> = checkouts
        .iter()
        .map(|c| seed::order::of_checkout(&request(c)))
        .collect();
    seed::order::insert_all(&store, &placed).await;
    let accepted = Arc::new(Mutex::new(BTreeSet::new()));
    let ledger = Arc::new(Mutex::new(Ledger::default()));

    // Killed once a third of the sagas ended: the rest are at every step, forward or undoing.
    let life = Life::start(&options, &store, &checkouts, &accepted, &ledger).await;
    eventually(
        "a third of the sagas to end",
        Duration::from_secs(60),
        || {
            let store = store.clone();
            async move { ended(&store).await >= SAGAS / 3 }
        },
    )
    .await;
    let at_kill = ended(&store).await;
    life.kill().await;
    let killed_after = began.elapsed();

    // Started again on the same file: checkouts whose publish was not answered are sent again.
    let life = Life::start(&options, &store, &checkouts, &accepted, &ledger).await;
    let deadline = Instant::now() + Duration::from_secs(100);
    while ended(&store).await < SAGAS {
        if Instant::now() > deadline {
            let log = life.up.log();
            let lines: Vec<_> = log.lines().collect();
            let tail = lines[lines.len().saturating_sub(60)..].join("\n");
            panic!(
                "not every saga ended: {:?}; the child's log ends:\n{tail}",
                progress(&store).await
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eventually(
        "the queues and outbox to drain",
        Duration::from_secs(30),
        || {
            let store = store.clone();
            async move {
                let depths = store.queue_depths().await.unwrap();
                depths
                    .iter()
                    .all(|(f, n)| *n == 0 || !FUNCTIONS.contains(&f.as_str()))
                    && store.outbox_backlog().await.unwrap() == 0
            }
        },
    )
    .await;
    assert!(at_kill < SAGAS, "the kill came after every saga ended");
    assert_eq!(accepted.lock().unwrap().len(), SAGAS);

    let ledger = ledger.lock().unwrap().clone();
    let ends = effects::assert_whole(&store, &checkouts, &ledger).await;
    assert_eq!(ends.completed + ends.compensated, SAGAS);
    assert_eq!(
        ends.compensated,
        SAGAS / 5,
        "a tenth declined, a tenth short"
    );
    for f in FUNCTIONS {
        let letters = life.up.dead_letters(f).await;
        assert!(letters.is_empty(), "{f}: {letters:?}");
    }
    eprintln!(
        "{SAGAS} sagas: killed after {killed_after:?} with {at_kill} ended, all ended after {:?}",
        began.elapsed()
    );
    life.kill().await;
    store.close().await;
}
