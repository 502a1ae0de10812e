//! The orchestrated checkout end to end in a running emulator (`up`), whichever transport it
//! runs on: the whole catalog, the checkout saga with the test's timings, the saga's consumers
//! wrapped to misbehave as an order's id asks, and the external payment service played by a
//! function that answers `payment.process_requested` and `payment.refund_requested` the way
//! each order's id asks. [`run`] starts one checkout per [`Scenario`], waits for every saga to
//! end and every queue to drain, and asserts how each ended: the saga's state (its steps'
//! statuses, sends, the compensation path in reverse), the services' rows, what the played
//! services saw (each command and compensation applied once) and `order.checkout_finished`.
//!
//! Shared by the embedded broker's test (`tests/tests/saga_flow.rs`) and the Lambda adapter's
//! on moto (`emulator/tests/sqs/saga.rs`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use conveyor_catalog as catalog;
use conveyor_domain::events::checkout::{
    CHECKOUT_FINISHED, CHECKOUT_REQUESTED, CheckoutCommand, CheckoutFinishedEvent, CheckoutOutcome,
    CheckoutReply, CheckoutRequestedEvent, FULFILLMENT_CREATE_REJECTED,
    FULFILLMENT_CREATE_REQUESTED, INVENTORY_RESERVE_REQUESTED,
};
use conveyor_domain::events::order::OrderLine;
use conveyor_domain::events::payment::{
    PAYMENT_PROCESS_REQUESTED, PAYMENT_REFUND_REQUESTED, PaymentConfirmedEvent, PaymentFailedEvent,
    PaymentRefundedEvent, ProcessPaymentRequestedEvent, RefundRequestedEvent,
};
use conveyor_domain::fulfillment::FulfillmentStatus;
use conveyor_domain::warehouse::{Reservation, ReservationStatus};
use conveyor_domain::{
    Clock, Currency, CustomerId, Money, OrderId, ProductId, Quantity, SagaId, SystemClock,
    Timestamp,
};
use conveyor_emulator::eventlog::ATTEMPTS;
use conveyor_emulator::up::{self, UpConfig};
use conveyor_runtime::saga::{
    SagaMessage, SagaRepository, SagaState, SagaStatus, StepStatus, TIMER_FIRED,
};
use conveyor_runtime::{
    CloudEvent, Context, Function, FunctionSpec, HandlerError, RetryPolicy, Service, TopicHandler,
};
use conveyor_store::Store;
use conveyor_testkit::seed;
use fulfillment_checkout_fulfillment::FulfillmentCheckoutFulfillment;
use order_checkout_confirmation::{LoggingSender, OrderCheckoutConfirmation};
use order_checkout_saga::{NAME, OrderCheckoutSaga, Timings};
use warehouse_checkout_inventory::WarehouseCheckoutInventory;

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

/// Per order, the events a played service handled, in the order first seen, each once with
/// what it recorded: a handler can run again on the same delivery (the embedded broker's batch
/// is rolled back when another of its events fails, and the others are handled again), so what
/// counts is the event, not the run.
type Seen<T> = BTreeMap<String, Vec<(String, T)>>;

/// Records `value` for `order`'s event `id` unless it is there; returns the event's position
/// among the order's events (1 = first).
fn note<T>(seen: &mut Seen<T>, order: &OrderId, id: &str, value: T) -> usize {
    let events = seen.entry(order.to_string()).or_default();
    match events.iter().position(|(e, _)| e == id) {
        Some(at) => at + 1,
        None => {
            events.push((id.to_owned(), value));
            events.len()
        }
    }
}

/// What `order`'s events recorded, in order.
fn values<T: Clone>(seen: &Seen<T>, order: &str) -> Vec<T> {
    seen.get(order)
        .map(|events| events.iter().map(|(_, v)| v.clone()).collect())
        .unwrap_or_default()
}

/// What the played services saw.
#[derive(Debug, Default, Clone)]
struct Log {
    /// Payment sends (their attempt numbers).
    payments: Seen<u32>,
    /// Refund requests.
    refund_requests: Seen<()>,
    /// Refund requests whose handling failed (the delivery's number).
    refund_failures: Seen<u32>,
    /// Refunds made (the payment ids).
    refunds: Seen<String>,
    /// Reservation commands.
    reserves: Seen<()>,
    /// Fulfillment creation commands.
    creates: Seen<()>,
    /// Confirmation sends.
    confirmations: Seen<()>,
    /// How each checkout ended.
    finished: Seen<CheckoutOutcome>,
    /// Payment confirmations held back, sent once their checkout finished.
    held: BTreeMap<String, PaymentConfirmedEvent>,
    /// Orders whose held confirmation was sent.
    late: Seen<()>,
    /// Timer firings published to every subscriber of `saga.timer_fired` (by the due-timer
    /// poller), as [`TimerWatch`] received them.
    broadcast_timers: Seen<()>,
}

type Shared = Arc<Mutex<Log>>;

/// The external payment service (see [`Scenario`]); it also records
/// `order.checkout_finished`, and sends a held confirmation once its checkout finished.
#[derive(Debug)]
struct PaymentService(Shared);

impl PaymentService {
    fn process(&self, p: ProcessPaymentRequestedEvent, cx: &mut Context<'_>) -> HandlerResult {
        let order = p.order_id.to_string();
        let confirmed = PaymentConfirmedEvent {
            order_id: p.order_id.clone(),
            payment_id: p.payment_id.clone(),
            amount: p.amount,
            currency: p.currency.clone(),
            payment_method: None,
            transaction_id: None,
            timestamp: cx.now(),
        };
        {
            let mut log = self.0.lock().unwrap();
            note(&mut log.payments, &p.order_id, cx.event_id(), p.attempt);
            if Scenario::PayLate.of(&order) {
                log.held.entry(order.clone()).or_insert(confirmed.clone());
            }
        }
        if Scenario::PaySilent.of(&order) || Scenario::PayLate.of(&order) {
            return Ok(());
        }
        if Scenario::PayDeclined.of(&order) {
            return cx.publish(&PaymentFailedEvent {
                order_id: p.order_id,
                payment_id: p.payment_id,
                amount: p.amount,
                currency: p.currency,
                failure_reason: "card declined".to_owned(),
                error_code: None,
                timestamp: cx.now(),
            });
        }
        cx.publish(&confirmed)?;
        if Scenario::PayTwice.of(&order) {
            cx.publish(&confirmed)?;
        }
        Ok(())
    }

    fn refund(&self, r: RefundRequestedEvent, cx: &mut Context<'_>) -> HandlerResult {
        let order = r.order_id.to_string();
        let (id, attempt) = (cx.event_id().to_owned(), cx.attempt());
        let mut log = self.0.lock().unwrap();
        let request = note(&mut log.refund_requests, &r.order_id, &id, ());
        if attempt == 1 && Scenario::RefundFlaky.of(&order) {
            note(&mut log.refund_failures, &r.order_id, &id, attempt);
            return Err(HandlerError::retry("the payment provider is unavailable"));
        }
        if request == 1 && Scenario::RefundMute.of(&order) {
            return Ok(());
        }
        note(&mut log.refunds, &r.order_id, &id, r.payment_id.to_string());
        drop(log);
        cx.publish(&PaymentRefundedEvent {
            refund_id: format!("re-{}", r.payment_id),
            order_id: r.order_id,
            payment_id: r.payment_id,
            amount: r.amount,
            currency: r.currency,
            timestamp: cx.now(),
        })
    }

    fn finished(&self, f: &CheckoutFinishedEvent, cx: &mut Context<'_>) -> HandlerResult {
        let held = {
            let mut log = self.0.lock().unwrap();
            note(&mut log.finished, &f.order_id, cx.event_id(), f.outcome);
            log.held.get(f.order_id.as_str()).cloned()
        };
        let Some(mut late) = held else {
            return Ok(());
        };
        late.timestamp = cx.now();
        cx.publish(&late)?;
        note(
            &mut self.0.lock().unwrap().late,
            &f.order_id,
            cx.event_id(),
            (),
        );
        Ok(())
    }
}

type HandlerResult = Result<(), HandlerError>;

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
    )
    .with_retry(RetryPolicy {
        max_deliveries: 3,
        initial_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_millis(100),
    });

    async fn handle(&self, message: SagaMessage, cx: &mut Context<'_>) -> HandlerResult {
        let data = message.0;
        match cx.topic() {
            PAYMENT_PROCESS_REQUESTED => self.process(
                serde_json::from_value(data).map_err(HandlerError::drop)?,
                cx,
            ),
            PAYMENT_REFUND_REQUESTED => self.refund(
                serde_json::from_value(data).map_err(HandlerError::drop)?,
                cx,
            ),
            _ => self.finished(
                &serde_json::from_value(data).map_err(HandlerError::drop)?,
                cx,
            ),
        }
    }
}

/// The inventory function, silent on the reservation for [`Scenario::StockSilent`].
#[derive(Debug)]
struct Inventory(Shared);

impl TopicHandler for Inventory {
    type Payload = CheckoutCommand;
    const SPEC: FunctionSpec = WarehouseCheckoutInventory::SPEC;

    async fn handle(&self, c: CheckoutCommand, cx: &mut Context<'_>) -> HandlerResult {
        if cx.topic() == INVENTORY_RESERVE_REQUESTED {
            note(
                &mut self.0.lock().unwrap().reserves,
                &c.order_id,
                cx.event_id(),
                (),
            );
            if Scenario::StockSilent.of(c.order_id.as_str()) {
                return Ok(());
            }
        }
        WarehouseCheckoutInventory.handle(c, cx).await
    }
}

/// The fulfillment function, rejecting the creation for [`Scenario::FulReject`], silent on it
/// for [`Scenario::FulSilent`].
#[derive(Debug)]
struct Fulfillment(Shared);

impl TopicHandler for Fulfillment {
    type Payload = CheckoutCommand;
    const SPEC: FunctionSpec = FulfillmentCheckoutFulfillment::SPEC;

    async fn handle(&self, c: CheckoutCommand, cx: &mut Context<'_>) -> HandlerResult {
        if cx.topic() == FULFILLMENT_CREATE_REQUESTED {
            note(
                &mut self.0.lock().unwrap().creates,
                &c.order_id,
                cx.event_id(),
                (),
            );
            if Scenario::FulReject.of(c.order_id.as_str()) {
                let reply = CheckoutReply::to(&c, FULFILLMENT_CREATE_REJECTED, cx.now())
                    .with_reason("no packing station for this order");
                return cx.publish(&reply);
            }
            if Scenario::FulSilent.of(c.order_id.as_str()) {
                return Ok(());
            }
        }
        FulfillmentCheckoutFulfillment.handle(c, cx).await
    }
}

/// The confirmation function, silent for [`Scenario::ConfirmMute`].
#[derive(Debug)]
struct Confirmation(Shared);

impl TopicHandler for Confirmation {
    type Payload = CheckoutCommand;
    const SPEC: FunctionSpec = OrderCheckoutConfirmation::<LoggingSender>::SPEC;

    async fn handle(&self, c: CheckoutCommand, cx: &mut Context<'_>) -> HandlerResult {
        note(
            &mut self.0.lock().unwrap().confirmations,
            &c.order_id,
            cx.event_id(),
            (),
        );
        if Scenario::ConfirmMute.of(c.order_id.as_str()) {
            return Ok(());
        }
        OrderCheckoutConfirmation::<LoggingSender>::default()
            .handle(c, cx)
            .await
    }
}

/// A subscriber of `saga.timer_fired` beside the orchestrator: it receives the firings the
/// due-timer poller publishes, not those armed on the orchestrator's own queue.
#[derive(Debug)]
struct TimerWatch(Shared);

impl TopicHandler for TimerWatch {
    type Payload = SagaMessage;
    const SPEC: FunctionSpec =
        FunctionSpec::on_topics("test-timer-watch", Service::Order, &[TIMER_FIRED]);

    async fn handle(&self, _fired: SagaMessage, cx: &mut Context<'_>) -> HandlerResult {
        let mut log = self.0.lock().unwrap();
        let all = OrderId::parse("every-order").unwrap();
        note(&mut log.broadcast_timers, &all, cx.event_id(), ());
        Ok(())
    }
}

/// The catalog with the saga on `timings`, its consumers wrapped, and the payment service.
fn functions(log: &Shared, timings: Timings) -> Vec<Arc<dyn Function>> {
    let replaced = [
        NAME_OF_SAGA,
        "warehouse-checkout-inventory",
        "fulfillment-checkout-fulfillment",
        "order-checkout-confirmation",
    ];
    let mut all: Vec<Arc<dyn Function>> = catalog::all()
        .into_iter()
        .filter(|f| !replaced.contains(&f.spec().name))
        .collect();
    all.push(conveyor_runtime::orchestrator(
        OrderCheckoutSaga::with_timings(timings),
    ));
    all.push(conveyor_runtime::topic(Inventory(log.clone())));
    all.push(conveyor_runtime::topic(Fulfillment(log.clone())));
    all.push(conveyor_runtime::topic(Confirmation(log.clone())));
    all.push(conveyor_runtime::topic(PaymentService(log.clone())));
    all.push(conveyor_runtime::topic(TimerWatch(log.clone())));
    all
}

fn checkout(order: &str, sku: &str, now: Timestamp) -> CloudEvent {
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
    /// From the start of `up` to its shutdown.
    pub(crate) total: Duration,
    /// Timer firings the orchestrator handled.
    pub(crate) timers: usize,
    /// Of those, the firings published to every subscriber (by the due-timer poller).
    pub(crate) broadcast_timers: usize,
}

/// Runs every [`Scenario`] in `up` started from `config` (its functions replaced), the saga on
/// `timings`, orders named `ord-<prefix>-<scenario>`; every saga must end, and every queue and
/// the outbox drain, within `within`. Then asserts how each ended.
pub(crate) async fn run(
    config: UpConfig,
    timings: Timings,
    prefix: &str,
    within: Duration,
) -> Took {
    let started = std::time::Instant::now();
    let log = Shared::default();
    let running = up::start(UpConfig {
        functions: functions(&log, timings),
        ..config
    })
    .await
    .unwrap();
    let store = running.deps.store.clone();
    let now = SystemClock.now();
    seed::warehouse::product(&store, MUG, 100, 5, now).await;
    seed::warehouse::product(&store, SHORT, 0, 5, now).await;

    let mut events: Vec<_> = Scenario::ALL
        .iter()
        .map(|s| checkout(&s.order(prefix), s.sku(), now).into_outbox_row())
        .collect();
    // The order service announces one checkout twice: it starts one saga.
    events.push(checkout(&Scenario::Ok.order(prefix), MUG, now).into_outbox_row());
    let published = std::time::Instant::now();
    running.broker.publish(&events).await.unwrap();

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
    let broker = running.broker.clone();
    until("queues and outbox to drain", within, || async {
        broker.depths().await.unwrap().iter().all(|(_, n)| *n == 0)
            && store.outbox_backlog().await.unwrap() == 0
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
    // consume the payment replies, left the saga's orders alone (they have no order row: had
    // they not, their retries would have ended as dead letters).
    assert_eq!(
        seed::warehouse::inventory(&store, MUG).await.reserved.get(),
        2
    );
    let letters = running.broker.dead_letters(None, 10).await.unwrap();
    assert!(letters.is_empty(), "{letters:?}");
    let timers = running
        .events
        .latest_attempts(ATTEMPTS)
        .iter()
        .filter(|a| a.function == NAME_OF_SAGA && a.event_id.starts_with("saga-timer/"))
        .count();
    running.shutdown().await;
    Took {
        sagas,
        total: started.elapsed(),
        timers,
        broadcast_timers: seen.broadcast_timers.values().map(Vec::len).sum(),
    }
}

fn statuses(state: &SagaState) -> Vec<StepStatus> {
    state.steps.iter().map(|s| s.status).collect()
}

/// The steps were undone in the order of `path`, one after the other, each compensation sent
/// the number of times given.
fn undone_in_order(state: &SagaState, path: &[(usize, u32)]) {
    let steps: Vec<usize> = path.iter().map(|&(i, _)| i).collect();
    assert_eq!(state.compensation_path, steps, "{}", state.id);
    let settled: Vec<_> = steps
        .iter()
        .map(|&i| state.step(i).settled_at.unwrap())
        .collect();
    assert!(
        settled.windows(2).all(|w| w[0] <= w[1]),
        "{}: {settled:?}",
        state.id
    );
    for &(i, sends) in path {
        let step = state.step(i);
        assert_eq!(step.status, StepStatus::Compensated, "{}", state.id);
        assert_eq!(step.compensation_attempts, sends, "{}", state.id);
    }
}

/// The sagas once ended, and what the played services saw.
struct Ended<'a> {
    store: &'a Store,
    log: &'a Log,
    prefix: &'a str,
}

impl Ended<'_> {
    async fn check(&self, scenario: Scenario) {
        use StepStatus::{Compensated, Completed, Failed, Pending, TimedOut};
        let order = scenario.order(self.prefix);
        let order = order.as_str();
        let s = saga(self.store, order).await.unwrap();
        let log = self.log;
        let outcome = if matches!(scenario, Scenario::Ok | Scenario::PayTwice) {
            CheckoutOutcome::Completed
        } else {
            CheckoutOutcome::Compensated
        };
        assert_eq!(
            values(&log.finished, order),
            [outcome],
            "{order}: finished once"
        );
        let sends = |seen: &Seen<()>| values(seen, order).len();
        let refunds = values(&log.refunds, order);
        let payment = format!("pay-{order}");
        match scenario {
            Scenario::Ok | Scenario::PayTwice => {
                assert_eq!(s.status, SagaStatus::Completed, "{order}");
                assert_eq!(statuses(&s), [Completed; 4], "{order}");
                assert!(s.steps.iter().all(|st| st.attempts == 1), "{order}: {s:?}");
                assert_eq!(s.step(0).result.as_deref(), Some(payment.as_str()));
                let held = self.reservations(order).await;
                assert_eq!(held.len(), 1, "{order}");
                assert_eq!(held[0].status, ReservationStatus::Confirmed, "{order}");
                let f = self.fulfillment(order).await.unwrap();
                assert_eq!(f.status, FulfillmentStatus::Created, "{order}");
                assert_eq!(s.step(2).result.as_deref(), Some(f.id.as_str()));
                assert_eq!(values(&log.payments, order), [1], "{order}: one payment");
                assert_eq!(sends(&log.reserves), 1, "{order}");
                assert_eq!(sends(&log.creates), 1, "{order}");
                assert_eq!(sends(&log.confirmations), 1, "{order}");
                assert!(refunds.is_empty(), "{order}");
            }
            // Step 1 fails: nothing to undo.
            Scenario::PayDeclined => {
                assert_eq!(statuses(&s), [Failed, Pending, Pending, Pending]);
                assert!(s.compensation_path.is_empty());
                assert!(refunds.is_empty(), "{order}");
                assert!(self.reservations(order).await.is_empty());
            }
            // Step 2 fails: the payment is refunded (a refund request that fails transiently
            // once is delivered again; one left unanswered is sent again).
            Scenario::StockShort | Scenario::RefundFlaky | Scenario::RefundMute => {
                assert_eq!(
                    statuses(&s),
                    [Compensated, Failed, Pending, Pending],
                    "{order}"
                );
                let refund_sends = u32::from(scenario == Scenario::RefundMute) + 1;
                undone_in_order(&s, &[(0, refund_sends)]);
                assert_eq!(refunds, [payment.as_str()], "{order}");
                // The flaky one's request failed on its first delivery and was taken on the
                // next; the unanswered one was sent again.
                let mute = scenario == Scenario::RefundMute;
                assert_eq!(
                    sends(&log.refund_requests),
                    1 + usize::from(mute),
                    "{order}"
                );
                let failures = log.refund_failures.get(order).cloned().unwrap_or_default();
                if scenario == Scenario::RefundFlaky {
                    assert_eq!(failures.len(), 1, "{order}");
                    assert_eq!(failures[0].1, 1, "{order}: failed on its first delivery");
                    assert_eq!(failures[0].0, log.refunds[order][0].0, "{order}");
                } else {
                    assert!(failures.is_empty(), "{order}: {failures:?}");
                }
                assert!(
                    self.reservations(order)
                        .await
                        .iter()
                        .all(|r| r.status == ReservationStatus::Released),
                    "{order}"
                );
            }
            // Step 3 fails: the stock is released, then the payment refunded.
            Scenario::FulReject => {
                assert_eq!(statuses(&s), [Compensated, Compensated, Failed, Pending]);
                undone_in_order(&s, &[(1, 1), (0, 1)]);
                assert_eq!(refunds, [payment.as_str()], "{order}");
                assert!(self.fulfillment(order).await.is_none());
                self.released(order).await;
            }
            // Step 1 never answers (nor, for the late one, until the saga ended): sent twice,
            // then refunded by the id the saga gave the payment. The late reply changed
            // nothing: no reservation was asked for.
            Scenario::PaySilent | Scenario::PayLate => {
                assert_eq!(s.status, SagaStatus::Compensated, "{order}");
                assert_eq!(statuses(&s), [Compensated, Pending, Pending, Pending]);
                assert_eq!(s.step(0).attempts, 2);
                assert_eq!(values(&log.payments, order), [1, 2], "{order}");
                undone_in_order(&s, &[(0, 1)]);
                assert_eq!(refunds, [payment.as_str()], "{order}");
                assert!(self.reservations(order).await.is_empty());
                assert_eq!(sends(&log.reserves), 0, "{order}");
                let late = sends(&log.late);
                assert_eq!(late, usize::from(scenario == Scenario::PayLate), "{order}");
            }
            // Step 2 never answers: sent twice, then released (nothing held) and refunded.
            Scenario::StockSilent => {
                assert_eq!(statuses(&s), [Compensated, Compensated, Pending, Pending]);
                assert_eq!(s.step(1).attempts, 2);
                assert_eq!(sends(&log.reserves), 2, "{order}");
                undone_in_order(&s, &[(1, 1), (0, 1)]);
                assert!(self.reservations(order).await.is_empty());
                assert_eq!(refunds, [payment.as_str()], "{order}");
            }
            // Step 3 never answers: sent twice, then cancelled (nothing created), the stock
            // released and the payment refunded.
            Scenario::FulSilent => {
                assert_eq!(
                    statuses(&s),
                    [Compensated, Compensated, Compensated, Pending]
                );
                assert_eq!(s.step(2).attempts, 2);
                assert_eq!(sends(&log.creates), 2, "{order}");
                undone_in_order(&s, &[(2, 1), (1, 1), (0, 1)]);
                assert!(self.fulfillment(order).await.is_none());
                self.released(order).await;
                assert_eq!(refunds, [payment.as_str()], "{order}");
            }
            // Step 4 never answers: sent twice, then fulfillment, stock and payment undone.
            Scenario::ConfirmMute => {
                assert_eq!(statuses(&s)[..3], [Compensated; 3]);
                assert_eq!(s.step(3).status, TimedOut);
                assert_eq!(s.step(3).attempts, 2);
                assert_eq!(sends(&log.confirmations), 2, "{order}");
                undone_in_order(&s, &[(2, 1), (1, 1), (0, 1)]);
                let f = self.fulfillment(order).await.unwrap();
                assert_eq!(f.status, FulfillmentStatus::Cancelled);
                self.released(order).await;
                assert_eq!(refunds, [payment.as_str()], "{order}");
            }
        }
        if outcome == CheckoutOutcome::Compensated {
            assert_eq!(s.status, SagaStatus::Compensated, "{order}");
        }
    }

    async fn reservations(&self, order: &str) -> Vec<Reservation> {
        seed::warehouse::reservations(self.store, order).await
    }

    /// The order's one reservation was released.
    async fn released(&self, order: &str) {
        let held = self.reservations(order).await;
        assert_eq!(held.len(), 1, "{order}");
        assert_eq!(held[0].status, ReservationStatus::Released, "{order}");
    }

    async fn fulfillment(&self, order: &str) -> Option<conveyor_domain::fulfillment::Fulfillment> {
        seed::fulfillment::of_order(self.store, &OrderId::parse(order).unwrap()).await
    }
}
