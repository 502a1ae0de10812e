//! The orchestrated checkout end to end in a running emulator (`up`): on the embedded broker
//! with SQLite and with PostgreSQL, and on Redis Streams with PostgreSQL. The whole catalog,
//! the checkout saga with short timings, and the external payment service played by a test
//! function that answers `payment.process_requested` and `payment.refund_requested` the way
//! each order's id asks. Orders cover the happy path, a payment reply delivered twice, a
//! failure at each step (payment declined, stock short, fulfillment rejected), a step that
//! never answers (payment, confirmation): each ends completed, or compensated with exactly the
//! steps before (and a timed-out step itself) undone in reverse, each compensation applied
//! once; the choreographed payment functions leave the saga's orders alone.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use conveyor_catalog as catalog;
use conveyor_domain::events::checkout::{
    CHECKOUT_FINISHED, CHECKOUT_REQUESTED, CheckoutCommand, CheckoutFinishedEvent, CheckoutOutcome,
    CheckoutReply, CheckoutRequestedEvent, FULFILLMENT_CREATE_REJECTED,
    FULFILLMENT_CREATE_REQUESTED,
};
use conveyor_domain::events::order::OrderLine;
use conveyor_domain::events::payment::{
    PAYMENT_PROCESS_REQUESTED, PAYMENT_REFUND_REQUESTED, PaymentConfirmedEvent, PaymentFailedEvent,
    PaymentRefundedEvent, ProcessPaymentRequestedEvent, RefundRequestedEvent,
};
use conveyor_domain::fulfillment::FulfillmentStatus;
use conveyor_domain::warehouse::ReservationStatus;
use conveyor_domain::{
    Clock, Currency, CustomerId, Money, OrderId, ProductId, Quantity, SagaId, SystemClock,
};
use conveyor_embedded::consumer::ConsumerSettings;
use conveyor_emulator::up::{self, UpConfig};
use conveyor_redis::RedisSettings;
use conveyor_runtime::saga::{
    Retry, SagaMessage, SagaRepository, SagaState, SagaStatus, StepStatus,
};
use conveyor_runtime::{
    CloudEvent, Context, Function, FunctionSpec, HandlerError, Service, TopicHandler,
};
use conveyor_store::Store;
use conveyor_store::testing::TestDb;
use conveyor_testkit::seed;
use conveyor_tests::published::Streams;
use conveyor_tests::stack::shared_redis;
use fulfillment_checkout_fulfillment::FulfillmentCheckoutFulfillment;
use order_checkout_confirmation::{LoggingSender, OrderCheckoutConfirmation};
use order_checkout_saga::{NAME, OrderCheckoutSaga, Timings};

/// What the played services saw.
#[derive(Debug, Default)]
struct Log {
    /// Payment sends per order (with their attempt numbers).
    payments: BTreeMap<String, Vec<u32>>,
    /// Refunds per order (the payment ids).
    refunds: BTreeMap<String, Vec<String>>,
    /// Confirmation sends per order.
    confirmations: BTreeMap<String, u32>,
    /// How each checkout ended.
    finished: BTreeMap<String, Vec<CheckoutOutcome>>,
}

type Shared = Arc<Mutex<Log>>;

/// The external payment service: declines `*pay-declined*`, never answers `*pay-silent*`,
/// confirms `*pay-twice*` with two replies, confirms the rest; refunds every refund request.
/// Also records `order.checkout_finished`.
#[derive(Debug)]
struct PaymentService(Shared);

impl TopicHandler for PaymentService {
    type Payload = SagaMessage;
    const SPEC: FunctionSpec = FunctionSpec::on_topics(
        "test-payment-service",
        Service::Order,
        &[
            PAYMENT_PROCESS_REQUESTED,
            PAYMENT_REFUND_REQUESTED,
            CHECKOUT_FINISHED,
        ],
    );

    async fn handle(&self, message: SagaMessage, cx: &mut Context<'_>) -> Result<(), HandlerError> {
        let now = cx.now();
        match cx.topic() {
            PAYMENT_PROCESS_REQUESTED => {
                let p: ProcessPaymentRequestedEvent =
                    serde_json::from_value(message.0).map_err(HandlerError::drop)?;
                let order = p.order_id.to_string();
                self.0
                    .lock()
                    .unwrap()
                    .payments
                    .entry(order.clone())
                    .or_default()
                    .push(p.attempt);
                if order.contains("pay-silent") {
                    return Ok(());
                }
                if order.contains("pay-declined") {
                    return cx.publish(&PaymentFailedEvent {
                        order_id: p.order_id,
                        payment_id: p.payment_id,
                        amount: p.amount,
                        currency: p.currency,
                        failure_reason: "card declined".to_owned(),
                        error_code: None,
                        timestamp: now,
                    });
                }
                let confirmed = PaymentConfirmedEvent {
                    order_id: p.order_id,
                    payment_id: p.payment_id,
                    amount: p.amount,
                    currency: p.currency,
                    payment_method: None,
                    transaction_id: None,
                    timestamp: now,
                };
                cx.publish(&confirmed)?;
                if order.contains("pay-twice") {
                    cx.publish(&confirmed)?;
                }
                Ok(())
            }
            PAYMENT_REFUND_REQUESTED => {
                let r: RefundRequestedEvent =
                    serde_json::from_value(message.0).map_err(HandlerError::drop)?;
                self.0
                    .lock()
                    .unwrap()
                    .refunds
                    .entry(r.order_id.to_string())
                    .or_default()
                    .push(r.payment_id.to_string());
                cx.publish(&PaymentRefundedEvent {
                    refund_id: format!("re-{}", r.payment_id),
                    order_id: r.order_id,
                    payment_id: r.payment_id,
                    amount: r.amount,
                    currency: r.currency,
                    timestamp: now,
                })
            }
            _ => {
                let f: CheckoutFinishedEvent =
                    serde_json::from_value(message.0).map_err(HandlerError::drop)?;
                self.0
                    .lock()
                    .unwrap()
                    .finished
                    .entry(f.order_id.to_string())
                    .or_default()
                    .push(f.outcome);
                Ok(())
            }
        }
    }
}

/// The fulfillment function, rejecting the creation for `*ful-reject*`.
#[derive(Debug)]
struct Fulfillment;

impl TopicHandler for Fulfillment {
    type Payload = CheckoutCommand;
    const SPEC: FunctionSpec = FulfillmentCheckoutFulfillment::SPEC;

    async fn handle(&self, c: CheckoutCommand, cx: &mut Context<'_>) -> Result<(), HandlerError> {
        if cx.topic() == FULFILLMENT_CREATE_REQUESTED && c.order_id.as_str().contains("ful-reject")
        {
            let reply = CheckoutReply::to(&c, FULFILLMENT_CREATE_REJECTED, cx.now())
                .with_reason("no packing station for this order");
            return cx.publish(&reply);
        }
        FulfillmentCheckoutFulfillment.handle(c, cx).await
    }
}

/// The confirmation function, silent for `*confirm-mute*`.
#[derive(Debug)]
struct Confirmation(Shared);

impl TopicHandler for Confirmation {
    type Payload = CheckoutCommand;
    const SPEC: FunctionSpec = OrderCheckoutConfirmation::<LoggingSender>::SPEC;

    async fn handle(&self, c: CheckoutCommand, cx: &mut Context<'_>) -> Result<(), HandlerError> {
        *self
            .0
            .lock()
            .unwrap()
            .confirmations
            .entry(c.order_id.to_string())
            .or_default() += 1;
        if c.order_id.as_str().contains("confirm-mute") {
            return Ok(());
        }
        OrderCheckoutConfirmation::<LoggingSender>::default()
            .handle(c, cx)
            .await
    }
}

const TIMINGS: Timings = Timings {
    reply_timeout: Duration::from_millis(1_000),
    retry: Retry {
        attempts: 2,
        backoff: Duration::from_millis(200),
        max_backoff: Duration::from_millis(200),
    },
};

fn functions(log: &Shared) -> Vec<Arc<dyn Function>> {
    let replaced = [
        "order-checkout-saga",
        "fulfillment-checkout-fulfillment",
        "order-checkout-confirmation",
    ];
    let mut all: Vec<Arc<dyn Function>> = catalog::all()
        .into_iter()
        .filter(|f| !replaced.contains(&f.spec().name))
        .collect();
    all.push(conveyor_runtime::orchestrator(
        OrderCheckoutSaga::with_timings(TIMINGS),
    ));
    all.push(conveyor_runtime::topic(Fulfillment));
    all.push(conveyor_runtime::topic(Confirmation(log.clone())));
    all.push(conveyor_runtime::topic(PaymentService(log.clone())));
    all
}

fn checkout(order: &str, sku: &str, now: conveyor_domain::Timestamp) -> CloudEvent {
    let request = CheckoutRequestedEvent {
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
    };
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

async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

fn statuses(state: &SagaState) -> Vec<StepStatus> {
    state.steps.iter().map(|s| s.status).collect()
}

/// The steps were undone in the order of `path`, one after the other.
fn undone_in_order(state: &SagaState, path: &[usize]) {
    assert_eq!(state.compensation_path, path, "{}", state.id);
    let settled: Vec<_> = path
        .iter()
        .map(|&i| state.step(i).settled_at.unwrap())
        .collect();
    assert!(
        settled.windows(2).all(|w| w[0] <= w[1]),
        "{}: {settled:?}",
        state.id
    );
    for &i in path {
        assert_eq!(
            state.step(i).status,
            StepStatus::Compensated,
            "{}",
            state.id
        );
        assert_eq!(state.step(i).compensation_attempts, 1, "{}", state.id);
    }
}

/// Runs every checkout on `database`, over the embedded broker or, given `redis`, Redis Streams.
async fn run_checkouts(database: &str, redis: Option<RedisSettings>) {
    use StepStatus::{Compensated, Completed, Failed, Pending};
    let log = Shared::default();
    let running = up::start(UpConfig {
        database: database.to_owned(),
        functions: functions(&log),
        consumer: ConsumerSettings {
            batch: 32,
            idle_poll: Duration::from_millis(20),
        },
        relay_every: Duration::from_millis(100),
        redis,
        ..UpConfig::default()
    })
    .await
    .unwrap();
    let store = running.deps.store.clone();
    let now = SystemClock.now();
    seed::warehouse::product(&store, "sku-mug", 100, 5, now).await;
    seed::warehouse::product(&store, "sku-short", 0, 5, now).await;

    let orders = [
        ("ord-s-ok", "sku-mug"),
        ("ord-s-pay-twice", "sku-mug"),
        ("ord-s-pay-declined", "sku-mug"),
        ("ord-s-stock-short", "sku-short"),
        ("ord-s-ful-reject", "sku-mug"),
        ("ord-s-confirm-mute", "sku-mug"),
        ("ord-s-pay-silent", "sku-mug"),
    ];
    let mut events: Vec<_> = orders
        .iter()
        .map(|(o, sku)| checkout(o, sku, now).into_outbox_row())
        .collect();
    // The order service announces one checkout twice: it starts one saga.
    events.push(checkout("ord-s-ok", "sku-mug", now).into_outbox_row());
    running.broker.publish(&events).await.unwrap();

    for (order, _) in orders {
        eventually(&format!("{order}'s saga to end"), || async {
            saga(&store, order)
                .await
                .is_some_and(|s| s.status.is_finished())
        })
        .await;
    }
    let broker = running.broker.clone();
    eventually("queues and outbox to drain", || async {
        broker.depths().await.unwrap().iter().all(|(_, n)| *n == 0)
            && store.outbox_backlog().await.unwrap() == 0
    })
    .await;

    let oid = |o: &str| OrderId::parse(o).unwrap();
    let reservations = |o: &'static str| {
        let store = store.clone();
        async move { seed::warehouse::reservations(&store, o).await }
    };
    let log = log.lock().unwrap().clone_view();

    // The happy path, and the one whose payment reply came twice.
    for order in ["ord-s-ok", "ord-s-pay-twice"] {
        let s = saga(&store, order).await.unwrap();
        assert_eq!(s.status, SagaStatus::Completed, "{order}");
        assert_eq!(statuses(&s), [Completed; 4], "{order}");
        assert!(s.steps.iter().all(|st| st.attempts == 1), "{order}: {s:?}");
        assert_eq!(s.step(0).result.as_deref(), Some(&*format!("pay-{order}")));
        let held = reservations(order).await;
        assert_eq!(held.len(), 1, "{order}");
        assert_eq!(held[0].status, ReservationStatus::Confirmed, "{order}");
        let f = seed::fulfillment::of_order(&store, &oid(order))
            .await
            .unwrap();
        assert_eq!(f.status, FulfillmentStatus::Created, "{order}");
        assert_eq!(s.step(2).result.as_deref(), Some(f.id.as_str()));
        assert_eq!(log.payments[order], [1], "{order}: one payment command");
        assert_eq!(log.confirmations[order], 1, "{order}");
        assert!(!log.refunds.contains_key(order), "{order}");
        assert_eq!(log.finished[order], [CheckoutOutcome::Completed], "{order}");
    }

    // Step 1 fails: nothing to undo.
    let s = saga(&store, "ord-s-pay-declined").await.unwrap();
    assert_eq!(s.status, SagaStatus::Compensated);
    assert_eq!(statuses(&s), [Failed, Pending, Pending, Pending]);
    assert!(s.compensation_path.is_empty());
    assert!(!log.refunds.contains_key("ord-s-pay-declined"));
    assert!(reservations("ord-s-pay-declined").await.is_empty());

    // Step 2 fails: the payment is refunded.
    let s = saga(&store, "ord-s-stock-short").await.unwrap();
    assert_eq!(statuses(&s), [Compensated, Failed, Pending, Pending]);
    undone_in_order(&s, &[0]);
    assert_eq!(log.refunds["ord-s-stock-short"], ["pay-ord-s-stock-short"]);
    assert!(
        reservations("ord-s-stock-short")
            .await
            .iter()
            .all(|r| r.status == ReservationStatus::Released)
    );

    // Step 3 fails: the stock is released, then the payment refunded.
    let s = saga(&store, "ord-s-ful-reject").await.unwrap();
    assert_eq!(statuses(&s), [Compensated, Compensated, Failed, Pending]);
    undone_in_order(&s, &[1, 0]);
    assert_eq!(log.refunds["ord-s-ful-reject"].len(), 1);
    assert!(
        seed::fulfillment::of_order(&store, &oid("ord-s-ful-reject"))
            .await
            .is_none()
    );
    let held = reservations("ord-s-ful-reject").await;
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].status, ReservationStatus::Released);

    // Step 4 never answers: sent twice, then fulfillment, stock and payment undone in reverse.
    let s = saga(&store, "ord-s-confirm-mute").await.unwrap();
    assert_eq!(statuses(&s)[..3], [Compensated; 3]);
    assert_eq!(s.step(3).status, StepStatus::TimedOut);
    assert_eq!(s.step(3).attempts, 2);
    assert_eq!(log.confirmations["ord-s-confirm-mute"], 2);
    undone_in_order(&s, &[2, 1, 0]);
    let f = seed::fulfillment::of_order(&store, &oid("ord-s-confirm-mute"))
        .await
        .unwrap();
    assert_eq!(f.status, FulfillmentStatus::Cancelled);
    assert_eq!(
        reservations("ord-s-confirm-mute").await[0].status,
        ReservationStatus::Released
    );
    assert_eq!(log.refunds["ord-s-confirm-mute"].len(), 1);

    // Step 1 never answers: sent twice, then refunded by the id the saga gave the payment.
    let s = saga(&store, "ord-s-pay-silent").await.unwrap();
    assert_eq!(s.step(0).attempts, 2);
    assert_eq!(log.payments["ord-s-pay-silent"], [1, 2]);
    undone_in_order(&s, &[0]);
    assert_eq!(log.refunds["ord-s-pay-silent"], ["pay-ord-s-pay-silent"]);
    assert!(reservations("ord-s-pay-silent").await.is_empty());

    for order in [
        "ord-s-pay-declined",
        "ord-s-stock-short",
        "ord-s-ful-reject",
        "ord-s-confirm-mute",
        "ord-s-pay-silent",
    ] {
        assert_eq!(
            log.finished[order],
            [CheckoutOutcome::Compensated],
            "{order}"
        );
    }
    // Only the two completed checkouts hold stock; the choreographed functions, which also
    // consume the payment replies, left the saga's orders alone (they have no order row: had
    // they not, their retries would have ended as dead letters).
    assert_eq!(
        seed::warehouse::inventory(&store, "sku-mug")
            .await
            .reserved
            .get(),
        2
    );
    let letters = running.broker.dead_letters(None, 10).await.unwrap();
    assert!(letters.is_empty(), "{letters:?}");
    running.shutdown().await;
}

impl Log {
    fn clone_view(&self) -> Self {
        Self {
            payments: self.payments.clone(),
            refunds: self.refunds.clone(),
            confirmations: self.confirmations.clone(),
            finished: self.finished.clone(),
        }
    }
}

#[tokio::test]
async fn the_checkout_saga_completes_or_compensates_in_reverse_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    run_checkouts(
        &format!("sqlite://{}", dir.path().join("emu.db").display()),
        None,
    )
    .await;
}

#[tokio::test]
async fn the_checkout_saga_completes_or_compensates_in_reverse_on_postgres() {
    let db = TestDb::postgres().await;
    let url = db.url().to_owned();
    run_checkouts(&url, None).await;
    db.close().await;
}

#[tokio::test]
async fn the_checkout_saga_completes_or_compensates_in_reverse_on_redis_and_postgres() {
    let url = shared_redis();
    // A prefix of its own: tests in parallel on the shared server never see each other's streams.
    let streams = Streams::connect(
        &url,
        &format!("test-saga-{}:", uuid::Uuid::new_v4().simple()),
    )
    .await;
    let settings = RedisSettings {
        prefix: streams.prefix.clone(),
        block: Duration::from_millis(100),
        ..RedisSettings::new(&url)
    };
    let db = TestDb::postgres().await;
    let database = db.url().to_owned();
    run_checkouts(&database, Some(settings)).await;
    db.close().await;
    streams.clear().await;
}
