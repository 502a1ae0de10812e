//! The played services of the checkout: the external payment service, the saga's consumers
//! wrapped to misbehave as an order's id asks ([`Scenario`]), a watcher of the timer firings
//! published to every subscriber; and what they saw, each event once.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use conveyor_catalog as catalog;
use conveyor_domain::OrderId;
use conveyor_domain::events::checkout::{
    CHECKOUT_FINISHED, CheckoutCommand, CheckoutFinishedEvent, CheckoutOutcome, CheckoutReply,
    FULFILLMENT_CREATE_REJECTED, FULFILLMENT_CREATE_REQUESTED, INVENTORY_RESERVE_REQUESTED,
};
use conveyor_domain::events::payment::{
    PAYMENT_PROCESS_REQUESTED, PAYMENT_REFUND_REQUESTED, PaymentConfirmedEvent,
    ProcessPaymentRequestedEvent, RefundRequestedEvent,
};
use conveyor_runtime::saga::{SagaMessage, TIMER_FIRED};
use conveyor_runtime::{
    Context, Function, FunctionSpec, HandlerError, RetryPolicy, Service, TopicHandler,
};
use fulfillment_checkout_fulfillment::FulfillmentCheckoutFulfillment;
use order_checkout_confirmation::{LoggingSender, OrderCheckoutConfirmation};
use order_checkout_saga::{OrderCheckoutSaga, Timings};
use warehouse_checkout_inventory::WarehouseCheckoutInventory;

use super::{NAME_OF_SAGA, Scenario};

/// Per order, the events a played service handled, in the order first seen, each once with
/// what it recorded: a handler can run again on the same delivery (the embedded broker's batch
/// is rolled back when another of its events fails, and the others are handled again), so what
/// counts is the event, not the run.
pub(super) type Seen<T> = BTreeMap<String, Vec<(String, T)>>;

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
pub(super) fn values<T: Clone>(seen: &Seen<T>, order: &str) -> Vec<T> {
    seen.get(order)
        .map(|events| events.iter().map(|(_, v)| v.clone()).collect())
        .unwrap_or_default()
}

/// What the played services saw.
#[derive(Debug, Default, Clone)]
pub(super) struct Log {
    /// Payment sends (their attempt numbers).
    pub(super) payments: Seen<u32>,
    /// Refund requests.
    pub(super) refund_requests: Seen<()>,
    /// Refund requests whose handling failed (the delivery's number).
    pub(super) refund_failures: Seen<u32>,
    /// Refunds made (the payment ids).
    pub(super) refunds: Seen<String>,
    /// Reservation commands.
    pub(super) reserves: Seen<()>,
    /// Fulfillment creation commands.
    pub(super) creates: Seen<()>,
    /// Confirmation sends.
    pub(super) confirmations: Seen<()>,
    /// How each checkout ended.
    pub(super) finished: Seen<CheckoutOutcome>,
    /// Payment confirmations held back, sent once their checkout finished.
    held: BTreeMap<String, PaymentConfirmedEvent>,
    /// Orders whose held confirmation was sent.
    pub(super) late: Seen<()>,
    /// Timer firings published to every subscriber of `saga.timer_fired` (by the due-timer
    /// poller), as [`TimerWatch`] received them.
    pub(super) broadcast_timers: Seen<()>,
}

pub(super) type Shared = Arc<Mutex<Log>>;

/// The external payment service (see [`Scenario`]); it also records
/// `order.checkout_finished`, and sends a held confirmation once its checkout finished.
#[derive(Debug)]
struct PaymentService(Shared);

impl PaymentService {
    fn process(&self, p: &ProcessPaymentRequestedEvent, cx: &mut Context<'_>) -> HandlerResult {
        let order = p.order_id.to_string();
        let confirmed = p.confirmed(cx.now());
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
            return cx.publish(&p.failed("card declined", cx.now()));
        }
        cx.publish(&confirmed)?;
        if Scenario::PayTwice.of(&order) {
            cx.publish(&confirmed)?;
        }
        Ok(())
    }

    fn refund(&self, r: &RefundRequestedEvent, cx: &mut Context<'_>) -> HandlerResult {
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
        cx.publish(&r.refunded(cx.now()))
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
                &serde_json::from_value(data).map_err(HandlerError::drop)?,
                cx,
            ),
            PAYMENT_REFUND_REQUESTED => self.refund(
                &serde_json::from_value(data).map_err(HandlerError::drop)?,
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
pub(super) fn functions(log: &Shared, timings: Timings) -> Vec<Arc<dyn Function>> {
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
