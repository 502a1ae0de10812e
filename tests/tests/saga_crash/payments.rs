//! The external payment service, played from outside `conveyor up`: it watches the sagas'
//! rows in the shared database and answers through the child's HTTP API, as a payment service
//! would answer the commands the saga sends. A saga waiting on its payment step gets
//! `payment.confirmed` (or `payment.failed` for an order whose id ends in `-declined`); a saga
//! undoing its payment step gets `payment.refunded`. Like a real payment service it captures
//! and refunds by payment id, once each; it answers again only when an answer was not
//! accepted (refused for now, or the child died under it).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use conveyor_domain::events::payment::{
    PAYMENT_CONFIRMED, PAYMENT_FAILED, PAYMENT_REFUNDED, PaymentConfirmedEvent, PaymentFailedEvent,
    PaymentRefundedEvent,
};
use conveyor_domain::{Clock, Currency, OrderId, PaymentId, SystemClock};
use conveyor_runtime::saga::{SagaRepository, SagaStatus};
use conveyor_store::Store;
use conveyor_tests::process::try_call;
use order_checkout_saga::NAME;
use order_checkout_saga::definition::PAYMENT;

/// How often the rows are looked at.
const POLL: Duration = Duration::from_millis(100);
/// Answers sent at once.
const AT_ONCE: usize = 2;

/// What the played payment service did, by order id: what it answered (whether or not the
/// answer reached the child: a kill can cut the call after the child stored it), and which
/// answers the child is known to have accepted (not sent again).
#[derive(Debug, Default, Clone)]
pub(super) struct Ledger {
    /// Payments captured.
    pub(super) captured: BTreeSet<String>,
    /// Payments declined.
    pub(super) declined: BTreeSet<String>,
    /// Payments refunded.
    pub(super) refunded: BTreeSet<String>,
    /// Answers the child accepted, by topic and order.
    accepted: BTreeSet<(&'static str, String)>,
}

/// Whether the played service declines `order`'s payment.
pub(super) fn declines(order: &str) -> bool {
    order.ends_with("-declined")
}

/// The price of every order (one unit at 12.99 USD).
pub(super) const AMOUNT: f64 = 12.99;

fn usd() -> Currency {
    Currency::parse("USD").unwrap()
}

fn answer(topic: &str, order: &str) -> serde_json::Value {
    let order_id = OrderId::parse(order).unwrap();
    let payment_id = PaymentId::parse(format!("pay-{order}")).unwrap();
    let timestamp = SystemClock.now();
    let event = match topic {
        PAYMENT_CONFIRMED => serde_json::to_value(PaymentConfirmedEvent {
            order_id,
            payment_id,
            amount: AMOUNT,
            currency: usd(),
            payment_method: None,
            transaction_id: None,
            timestamp,
        }),
        PAYMENT_FAILED => serde_json::to_value(PaymentFailedEvent {
            order_id,
            payment_id,
            amount: AMOUNT,
            currency: usd(),
            failure_reason: "card declined".to_owned(),
            error_code: None,
            timestamp,
        }),
        _ => serde_json::to_value(PaymentRefundedEvent {
            refund_id: format!("re-pay-{order}"),
            order_id,
            payment_id,
            amount: AMOUNT,
            currency: usd(),
            timestamp,
        }),
    };
    event.unwrap()
}

/// The orders whose saga is in `status` at the payment step.
async fn at_payment(store: &Store, status: SagaStatus) -> Vec<String> {
    let Ok(mut tx) = store.begin().await else {
        return Vec::new();
    };
    let sagas = tx
        .list_sagas(Some(NAME), Some(status), 100_000)
        .await
        .unwrap_or_default();
    let _ = tx.rollback().await;
    sagas
        .into_iter()
        .filter(|s| s.current_step == Some(PAYMENT))
        .map(|s| s.saga.to_string())
        .collect()
}

/// Publishes `topic`'s answer for `order`; whether the child accepted it (it refuses a
/// publish it cannot store now, and is gone after a kill: the answer is sent again later).
async fn publish(base: String, topic: &'static str, order: String) -> (String, bool) {
    let body = answer(topic, &order).to_string().into_bytes();
    let accepted = match try_call("POST", &format!("{base}/publish/{topic}"), body).await {
        Ok(a) if a.status == 200 => true,
        Ok(a) if a.status < 500 => panic!("the payment answer was refused: {a:?}"),
        _ => false,
    };
    (order, accepted)
}

/// Sends `topic`'s answer to each of `orders`, a few at once; the orders whose answer was
/// accepted.
async fn answer_all(
    base: &str,
    topic: &'static str,
    orders: Vec<String>,
) -> Vec<(&'static str, String)> {
    let mut sent = tokio::task::JoinSet::new();
    let mut accepted = Vec::new();
    for order in orders {
        if sent.len() >= AT_ONCE
            && let Some(done) = sent.join_next().await
        {
            accepted.extend(done.ok().filter(|(_, ok)| *ok).map(|(o, _)| (topic, o)));
        }
        sent.spawn(publish(base.to_owned(), topic, order));
    }
    while let Some(done) = sent.join_next().await {
        accepted.extend(done.ok().filter(|(_, ok)| *ok).map(|(o, _)| (topic, o)));
    }
    accepted
}

/// `orders` not yet answered on `topic`, recorded as answered there.
fn to_answer(ledger: &Mutex<Ledger>, topic: &'static str, orders: Vec<String>) -> Vec<String> {
    let mut l = ledger.lock().unwrap();
    let todo: Vec<_> = orders
        .into_iter()
        .filter(|o| !l.accepted.contains(&(topic, o.clone())))
        .collect();
    let answered = match topic {
        PAYMENT_FAILED => &mut l.declined,
        PAYMENT_CONFIRMED => &mut l.captured,
        _ => &mut l.refunded,
    };
    answered.extend(todo.iter().cloned());
    todo
}

/// Answers the sagas of the child at `base`, until aborted.
pub(super) async fn play(store: Store, base: String, ledger: Arc<Mutex<Ledger>>) {
    loop {
        let (declined, paid): (Vec<_>, Vec<_>) = at_payment(&store, SagaStatus::Running)
            .await
            .into_iter()
            .partition(|o| declines(o));
        let undoing = at_payment(&store, SagaStatus::Compensating).await;
        for (topic, orders) in [
            (PAYMENT_FAILED, declined),
            (PAYMENT_CONFIRMED, paid),
            (PAYMENT_REFUNDED, undoing),
        ] {
            let todo = to_answer(&ledger, topic, orders);
            let accepted = answer_all(&base, topic, todo).await;
            ledger.lock().unwrap().accepted.extend(accepted);
        }
        tokio::time::sleep(POLL).await;
    }
}
