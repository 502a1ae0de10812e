//! The orchestrated checkout end to end, wherever conveyor runs it: the whole catalog, the
//! checkout saga with the test's timings, the saga's consumers wrapped to misbehave as an
//! order's id asks, and the external payment service played by a function that answers
//! `payment.process_requested` and `payment.refund_requested` the way each order's id asks.
//! [`run_on`] starts a deployment of those functions (a [`Host`]: a running emulator, [`Up`],
//! or the Dapr workers of `emulator/tests/dapr/checkout.rs`), starts one checkout per
//! [`Scenario`], waits for every saga to end and everything published to be delivered, and
//! asserts how each ended: the saga's state (its steps' statuses, sends, the compensation path
//! in reverse), the services' rows, what the played services saw (each command and
//! compensation applied once), `order.checkout_finished`, and the order it ended (confirmed or
//! cancelled once, by order-checkout-finished).
//!
//! Shared by the embedded broker's test (`tests/tests/saga_flow.rs`), the Lambda adapter's on
//! moto (`emulator/tests/sqs/saga.rs`) and the Dapr workers' (`emulator/tests/dapr/checkout.rs`).
//!
//! - `host` — what a deployment must do for a run, and the emulator's
//! - `services` — the played services and the saga's wrapped consumers, and what they saw
//! - `ended` — the assertions on how each checkout ended

mod ended;
mod host;
mod services;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use conveyor_domain::events::checkout::{CHECKOUT_REQUESTED, CheckoutRequestedEvent};
use conveyor_domain::events::order::OrderLine;
use conveyor_domain::{
    Clock, Currency, CustomerId, Money, OrderId, ProductId, Quantity, SagaId, SystemClock,
    Timestamp,
};
use conveyor_emulator::up::{self, UpConfig};
use conveyor_runtime::saga::{SagaRepository, SagaState};
use conveyor_runtime::{CloudEvent, Function};
use conveyor_store::Store;
use conveyor_testkit::seed;
use order_checkout_saga::{NAME, Timings};

use ended::Ended;
pub(crate) use host::{Host, Up};
use services::{Shared, functions};

/// The checkouts, each named by what its order's id asks of the played services.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scenario {
    /// Every step answers.
    Ok,
    /// The payment is confirmed with two replies.
    PayTwice,
    /// The payment is declined (step 1 fails).
    PayDeclined,
    /// The stock is short (step 2 fails).
    StockShort,
    /// The fulfillment is rejected (step 3 fails).
    FulReject,
    /// The payment never answers (step 1 times out).
    PaySilent,
    /// The reservation never answers (step 2 times out).
    StockSilent,
    /// The fulfillment never answers (step 3 times out).
    FulSilent,
    /// The confirmation never answers (step 4 times out).
    ConfirmMute,
    /// The payment never answers, then confirms once the saga ended compensated.
    PayLate,
    /// The stock is short; the refund's handler fails transiently once.
    RefundFlaky,
    /// The stock is short; the first refund request is not answered.
    RefundMute,
}

impl Scenario {
    pub(crate) const ALL: [Self; 12] = [
        Self::Ok,
        Self::PayTwice,
        Self::PayDeclined,
        Self::StockShort,
        Self::FulReject,
        Self::PaySilent,
        Self::StockSilent,
        Self::FulSilent,
        Self::ConfirmMute,
        Self::PayLate,
        Self::RefundFlaky,
        Self::RefundMute,
    ];

    /// The part of the order id the played services read.
    fn tag(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::PayTwice => "pay-twice",
            Self::PayDeclined => "pay-declined",
            Self::StockShort => "stock-short",
            Self::FulReject => "ful-reject",
            Self::PaySilent => "pay-silent",
            Self::StockSilent => "stock-silent",
            Self::FulSilent => "ful-silent",
            Self::ConfirmMute => "confirm-mute",
            Self::PayLate => "pay-late",
            Self::RefundFlaky => "refund-flaky",
            Self::RefundMute => "refund-mute",
        }
    }

    /// Whether `order`'s id asks for this.
    fn of(self, order: &str) -> bool {
        order.ends_with(&format!("-{}", self.tag()))
    }

    fn order(self, prefix: &str) -> String {
        format!("ord-{prefix}-{}", self.tag())
    }

    fn sku(self) -> &'static str {
        match self {
            Self::StockShort | Self::RefundFlaky | Self::RefundMute => SHORT,
            _ => MUG,
        }
    }
}

/// The orchestrator's function name.
const NAME_OF_SAGA: &str = "order-checkout-saga";

/// The product every checkout buys but the short ones.
const MUG: &str = "sku-mug";
/// A product out of stock.
const SHORT: &str = "sku-short";

fn request(order: &str, sku: &str, now: Timestamp) -> CheckoutRequestedEvent {
    CheckoutRequestedEvent {
        order_id: OrderId::parse(order).unwrap(),
        customer_id: CustomerId::parse("cus-saga").unwrap(),
        items: vec![OrderLine {
            product_id: ProductId::parse(sku).unwrap(),
            quantity: Quantity::new(1),
            unit_price: Money::from_minor(1299).unwrap(),
        }],
        total: Money::from_minor(1299).unwrap(),
        currency: Currency::parse("USD").unwrap(),
        timestamp: now,
    }
}

fn checkout(order: &str, sku: &str, now: Timestamp) -> CloudEvent {
    let request = request(order, sku, now);
    CloudEvent::new(CHECKOUT_REQUESTED, "order-service", &request, now).unwrap()
}

async fn saga(store: &Store, order: &str) -> Option<SagaState> {
    let mut tx = store.begin().await.unwrap();
    let state = tx
        .load_saga(NAME, &SagaId::parse(order).unwrap())
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    state
}

/// Polls `check` every 50 ms until it holds; panics after `within`.
async fn until<F, Fut>(what: &str, within: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out after {within:?} waiting for {what}");
}

/// What a run measured.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Took {
    /// From the first checkout published to the last saga ended.
    pub(crate) sagas: Duration,
    /// From the start of the deployment to its shutdown.
    pub(crate) total: Duration,
    /// Timer firings the orchestrator handled.
    pub(crate) timers: usize,
    /// Of those, the firings published to every subscriber (by the due-timer poller).
    pub(crate) broadcast_timers: usize,
}

/// Runs every [`Scenario`] in `up` started from `config` (its functions replaced); see
/// [`run_on`].
pub(crate) async fn run(
    config: UpConfig,
    timings: Timings,
    prefix: &str,
    within: Duration,
) -> Took {
    let start = |functions| async move {
        Up(up::start(UpConfig {
            functions,
            ..config
        })
        .await
        .unwrap())
    };
    run_on(start, timings, prefix, within).await
}

/// Runs every [`Scenario`] on the deployment `start` makes of the checkout's functions (the
/// catalog, the saga on `timings` and its consumers wrapped, the played services), orders
/// named `ord-<prefix>-<scenario>`; every saga must end, and everything published be
/// delivered, within `within`. Then asserts how each ended.
pub(crate) async fn run_on<H, F, Fut>(
    start: F,
    timings: Timings,
    prefix: &str,
    within: Duration,
) -> Took
where
    H: Host,
    F: FnOnce(Vec<Arc<dyn Function>>) -> Fut,
    Fut: Future<Output = H>,
{
    let started = std::time::Instant::now();
    let log = Shared::default();
    let host = start(functions(&log, timings)).await;
    let store = host.store().clone();
    let now = SystemClock.now();
    seed::warehouse::product(&store, MUG, 100, 5, now).await;
    seed::warehouse::product(&store, SHORT, 0, 5, now).await;

    // The order service holds each order, pending, when it asks for the checkout.
    let placed: Vec<_> = Scenario::ALL
        .iter()
        .map(|s| seed::order::of_checkout(&request(&s.order(prefix), s.sku(), now)))
        .collect();
    seed::order::insert_all(&store, &placed).await;
    let mut events: Vec<_> = Scenario::ALL
        .iter()
        .map(|s| checkout(&s.order(prefix), s.sku(), now).into_outbox_row())
        .collect();
    // The order service announces one checkout twice: it starts one saga.
    events.push(checkout(&Scenario::Ok.order(prefix), MUG, now).into_outbox_row());
    let published = std::time::Instant::now();
    host.publish(&events).await;

    for scenario in Scenario::ALL {
        let order = scenario.order(prefix);
        until(&format!("{order}'s saga to end"), within, || async {
            saga(&store, &order)
                .await
                .is_some_and(|s| s.status.is_finished())
        })
        .await;
    }
    let sagas = published.elapsed();
    // The late payment reply is sent once its checkout finished; then it must be consumed.
    let late = Scenario::PayLate.order(prefix);
    until("the late payment reply to be sent", within, || async {
        log.lock().unwrap().late.contains_key(&late)
    })
    .await;
    until("everything published to be delivered", within, || {
        host.drained()
    })
    .await;

    let seen = log.lock().unwrap().clone();
    let ended = Ended {
        store: &store,
        log: &seen,
        prefix,
    };
    for scenario in Scenario::ALL {
        ended.check(scenario).await;
    }
    // Only the two completed checkouts hold stock; the choreographed functions, which also
    // consume the payment replies, left the saga's orders alone (each order's history holds
    // the saga's outcome only, see `ended`).
    assert_eq!(
        seed::warehouse::inventory(&store, MUG).await.reserved.get(),
        2
    );
    let letters = host.dead_letters().await;
    assert!(letters.is_empty(), "{letters:?}");
    let timers = host.timers();
    host.shutdown().await;
    Took {
        sagas,
        total: started.elapsed(),
        timers,
        broadcast_timers: seen.broadcast_timers.values().map(Vec::len).sum(),
    }
}
