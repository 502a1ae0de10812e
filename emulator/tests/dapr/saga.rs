//! The checkout saga behind the Dapr sidecar, driven as daprd drives it: the worker of the
//! order service runs the orchestrator (short timings); the test plays daprd (it delivers to
//! the worker's route each event the worker published through the sidecar) and the services
//! (it answers each command). The happy path ends completed; a payment that never answers is
//! timed out by the worker's own timer poller, whose `saga.timer_fired` reaches the sidecar
//! within a second of the deadline, and is then refunded, the saga ending compensated; stock
//! refused after the payment refunds the payment alone.

use std::sync::Arc;
use std::time::Duration;

use conveyor_dapr::Mode;
use conveyor_domain::events::samples;
use conveyor_domain::{Clock, SagaId, SystemClock};
use conveyor_runtime::saga::{Retry, SagaRepository, SagaState, SagaStatus};
use conveyor_runtime::{Function, Service};
use order_checkout_saga::{NAME, OrderCheckoutSaga, Timings};
use serde_json::{Value, json};

use super::harness::{FakeSidecar, TestWorker, config, dapr_event, deliver};
use crate::functions::eventually;

const ROUTE: &str = "/order-checkout-saga";

const TIMINGS: Timings = Timings {
    reply_timeout: Duration::from_millis(800),
    retry: Retry::ONCE,
};

async fn start() -> (FakeSidecar, TestWorker) {
    let sidecar = FakeSidecar::start().await;
    let functions: Vec<Arc<dyn Function>> = vec![conveyor_runtime::orchestrator(
        OrderCheckoutSaga::with_timings(TIMINGS),
    )];
    let worker = TestWorker::start(config(Service::Order, Mode::Event, &sidecar), &functions).await;
    (sidecar, worker)
}

/// The CloudEvents the worker published on `topic` about `order`.
fn published(sidecar: &FakeSidecar, topic: &str, order: &str) -> Vec<Value> {
    sidecar
        .accepted()
        .into_iter()
        .filter(|p| p.topic == topic)
        .map(|p| p.body)
        .filter(|b| b["data"]["order_id"] == order || b["data"]["saga_id"] == order)
        .collect()
}

/// Waits for the first event on `topic` about `order`.
async fn next(sidecar: &FakeSidecar, topic: &str, order: &str) -> Value {
    eventually(&format!("{topic} for {order}"), || async {
        !published(sidecar, topic, order).is_empty()
    })
    .await;
    published(sidecar, topic, order).remove(0)
}

/// Delivers `data` on `topic` to the orchestrator as daprd does; it must be taken.
async fn send(worker: &TestWorker, id: &str, topic: &str, data: &Value) {
    let status = deliver(worker, ROUTE, &dapr_event(id, topic, data))
        .await
        .dapr_status();
    assert_eq!(status, "SUCCESS", "{topic} {data}");
}

/// The reply to a checkout command, as the service sends it.
fn reply(command: &Value, result: &str) -> Value {
    json!({
        "order_id": command["data"]["order_id"],
        "command_id": command["data"]["command_id"],
        "result": result,
        "timestamp": "2026-11-22T12:00:01Z",
    })
}

fn checkout_requested(order: &str) -> Value {
    let mut payload = samples::for_topic("order.checkout_requested").unwrap();
    payload["order_id"] = Value::from(order);
    payload
}

/// Starts `order`'s checkout (delivery `id`) and waits for the payment command it sends.
async fn started(sidecar: &FakeSidecar, worker: &TestWorker, id: &str, order: &str) -> Value {
    send(
        worker,
        id,
        "order.checkout_requested",
        &checkout_requested(order),
    )
    .await;
    next(sidecar, "payment.process_requested", order).await
}

/// The payment service's `payment.confirmed` for the payment command `pay`.
fn confirmed(pay: &Value, at: &str) -> Value {
    json!({
        "order_id": pay["data"]["order_id"],
        "payment_id": pay["data"]["payment_id"],
        "amount": pay["data"]["amount"],
        "currency": pay["data"]["currency"],
        "timestamp": at,
    })
}

/// The payment service's `payment.refunded` for the refund command `refund`.
fn refunded(refund: &Value, refund_id: &str) -> Value {
    json!({
        "order_id": refund["data"]["order_id"],
        "payment_id": refund["data"]["payment_id"],
        "refund_id": refund_id,
        "amount": refund["data"]["amount"],
        "currency": refund["data"]["currency"],
        "timestamp": "2026-11-22T12:00:02Z",
    })
}

/// `order`'s saga as stored.
async fn stored(worker: &TestWorker, order: &str) -> SagaState {
    let mut tx = worker.store.begin().await.unwrap();
    let saga = tx
        .load_saga(NAME, &SagaId::parse(order).unwrap())
        .await
        .unwrap()
        .unwrap();
    tx.rollback().await.unwrap();
    saga
}

#[tokio::test]
async fn the_checkout_runs_step_by_step_and_completes_behind_the_sidecar() {
    let (sidecar, worker) = start().await;
    let order = "ord-dapr-ok";
    let pay = started(&sidecar, &worker, "start-1", order).await;
    let confirmed = confirmed(&pay, "2026-11-22T12:00:01Z");
    send(&worker, "r-1", "payment.confirmed", &confirmed).await;
    // Delivered twice (daprd redelivers): changes nothing.
    send(&worker, "r-1b", "payment.confirmed", &confirmed).await;
    let steps = [
        (
            "warehouse.inventory.reserve_requested",
            "warehouse.inventory.reserved",
        ),
        ("fulfillment.create_requested", "fulfillment.created"),
        (
            "notification.order_confirmation_requested",
            "notification.order_confirmation_sent",
        ),
    ];
    for (i, (command, answer)) in steps.into_iter().enumerate() {
        let sent = next(&sidecar, command, order).await;
        send(
            &worker,
            &format!("r-{}", i + 2),
            answer,
            &reply(&sent, &format!("id-{i}")),
        )
        .await;
    }
    let finished = next(&sidecar, "order.checkout_finished", order).await;
    assert_eq!(finished["data"]["outcome"], "completed", "{finished}");
    // Each command was sent once.
    for (command, _) in steps {
        assert_eq!(published(&sidecar, command, order).len(), 1, "{command}");
    }
    assert_eq!(
        published(&sidecar, "payment.process_requested", order).len(),
        1
    );
    worker.stop().await;
}

#[tokio::test]
async fn a_silent_payment_is_timed_out_by_the_worker_within_a_second_and_refunded() {
    let (sidecar, worker) = start().await;
    let order = "ord-dapr-silent";
    let pay = started(&sidecar, &worker, "start-2", order).await;
    let saga = stored(&worker, order).await;
    let due = saga.deadline().expect("the payment's reply deadline");

    // No reply: the worker's poller publishes the timer through the sidecar.
    let fired = next(&sidecar, "saga.timer_fired", order).await;
    let late = SystemClock.now().millis() - due.millis();
    assert!(
        (0..1_000).contains(&late),
        "the timer reached the sidecar {late} ms after its deadline"
    );
    assert_eq!(fired["data"]["definition"], NAME);
    // daprd delivers it to the orchestrator: the payment is timed out and refunded.
    let id = fired["id"].as_str().unwrap().to_owned();
    send(&worker, &id, "saga.timer_fired", &fired["data"]).await;
    let refund = next(&sidecar, "payment.refund_requested", order).await;
    assert_eq!(refund["data"]["payment_id"], pay["data"]["payment_id"]);
    let refunded = refunded(&refund, "ref-1");
    send(&worker, "r-refund", "payment.refunded", &refunded).await;
    let finished = next(&sidecar, "order.checkout_finished", order).await;
    assert_eq!(finished["data"]["outcome"], "compensated", "{finished}");
    // The late payment reply does not revive it.
    let confirmed = confirmed(&pay, "2026-11-22T12:00:03Z");
    send(&worker, "r-late", "payment.confirmed", &confirmed).await;
    let end = stored(&worker, order).await;
    assert_eq!(end.status, SagaStatus::Compensated);
    assert!(published(&sidecar, "warehouse.inventory.reserve_requested", order).is_empty());
    worker.stop().await;
}

#[tokio::test]
async fn stock_refused_after_payment_refunds_the_payment_behind_the_sidecar() {
    let (sidecar, worker) = start().await;
    let order = "ord-dapr-short";
    let pay = started(&sidecar, &worker, "start-3", order).await;
    let confirmed = confirmed(&pay, "2026-11-22T12:00:01Z");
    send(&worker, "r-pay", "payment.confirmed", &confirmed).await;
    let reserve = next(&sidecar, "warehouse.inventory.reserve_requested", order).await;
    let mut rejected = reply(&reserve, "none");
    rejected["reason"] = Value::from("out of stock: sku-mug");
    send(
        &worker,
        "r-stock",
        "warehouse.inventory.reserve_rejected",
        &rejected,
    )
    .await;
    // Only the payment is undone: the refused reservation holds nothing.
    let refund = next(&sidecar, "payment.refund_requested", order).await;
    assert_eq!(refund["data"]["payment_id"], pay["data"]["payment_id"]);
    assert!(published(&sidecar, "warehouse.inventory.release_requested", order).is_empty());
    let refunded = refunded(&refund, "ref-2");
    send(&worker, "r-refund-2", "payment.refunded", &refunded).await;
    let finished = next(&sidecar, "order.checkout_finished", order).await;
    assert_eq!(finished["data"]["outcome"], "compensated", "{finished}");
    let reason = finished["data"]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("out of stock"), "{finished}");
    worker.stop().await;
}
