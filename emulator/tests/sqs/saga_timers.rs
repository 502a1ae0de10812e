//! Saga timers on Lambda, on moto: the checkout saga's orchestrator behind the Lambda SQS host
//! arms the timer its saga waits for as an SQS delay message to its own queue; the message
//! arrives when the timer falls due (seconds granularity) carrying `saga.timer_fired`, and,
//! handed back to the host as the event source mapping would, times the payment out and arms
//! the refund's deadline. A firing that arrives before its due time (a hop of a timer more than
//! 15 minutes away) is armed again for the time left, not handled.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use conveyor_domain::events::samples;
use conveyor_domain::{Clock, SagaId, SystemClock, Timestamp};
use conveyor_runtime::lambda::sqs::{RecordOutcome, SqsHost};
use conveyor_runtime::lambda::timers::TimerQueue;
use conveyor_runtime::saga::{Retry, SagaRepository, StepStatus, TIMER_FIRED, TimerFired};
use conveyor_runtime::{CloudEvent, Deps, MemoryPublisher};
use conveyor_store::testing::TestDb;
use lambda_runtime::LambdaEvent;
use order_checkout_saga::{NAME, OrderCheckoutSaga, Timings};
use serde_json::Value;

use super::moto::Moto;

const TIMINGS: Timings = Timings {
    reply_timeout: Duration::from_secs(2),
    retry: Retry::ONCE,
};

fn record(id: &str, body: &str) -> SqsMessage {
    let mut m = SqsMessage::default();
    m.message_id = Some(id.to_owned());
    m.body = Some(body.to_owned());
    m
}

async fn handle(host: &SqsHost, record: SqsMessage) -> RecordOutcome {
    let mut batch = SqsEvent::default();
    batch.records = vec![record];
    let event = LambdaEvent::new(batch, lambda_runtime::Context::default());
    host.handle_records(event).await.remove(0)
}

/// The next message on `queue`, waited for up to `within`; with the time it took.
async fn receive(
    client: &aws_sdk_sqs::Client,
    queue: &str,
    within: Duration,
) -> Option<(aws_sdk_sqs::types::Message, Duration)> {
    let started = Instant::now();
    while started.elapsed() < within {
        let out = client
            .receive_message()
            .queue_url(queue)
            .max_number_of_messages(1)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        if let Some(m) = out.messages().first() {
            client
                .delete_message()
                .queue_url(queue)
                .set_receipt_handle(m.receipt_handle().map(str::to_owned))
                .send()
                .await
                .unwrap();
            return Some((m.clone(), started.elapsed()));
        }
    }
    None
}

fn fired_of(message: &aws_sdk_sqs::types::Message) -> (CloudEvent, TimerFired) {
    let event = CloudEvent::decode(message.body().unwrap().as_bytes()).unwrap();
    assert_eq!(event.topic_name(), TIMER_FIRED);
    let fired: TimerFired = event.payload().unwrap();
    (event, fired)
}

#[tokio::test]
async fn the_orchestrator_arms_its_timers_as_delay_messages_on_its_own_queue() {
    let moto = Moto::start();
    let client = moto.aws().sqs_client();
    let queue = moto.queue("order-checkout-saga-timers").await;
    let db = TestDb::sqlite().await;
    let publisher = Arc::new(MemoryPublisher::new());
    let deps = Deps {
        store: db.store().clone(),
        publisher: publisher.clone(),
        clock: Arc::new(SystemClock),
    };
    let host = SqsHost::new(
        conveyor_runtime::orchestrator(OrderCheckoutSaga::with_timings(TIMINGS)),
        deps,
        None,
    )
    .with_timers(TimerQueue::new(&queue, &moto.aws()));

    // The checkout starts: the payment is asked for, its 2 s reply deadline armed.
    let order = "ord-lambda-timer";
    let mut payload = samples::for_topic("order.checkout_requested").unwrap();
    payload["order_id"] = Value::from(order);
    let start = CloudEvent::new(
        "order.checkout_requested",
        "tests",
        &payload,
        SystemClock.now(),
    )
    .unwrap()
    .into_outbox_row();
    assert_eq!(
        handle(&host, record("m-1", &start.body)).await,
        RecordOutcome::Done
    );
    let load = || async {
        let mut tx = db.store().begin().await.unwrap();
        let s = tx
            .load_saga(NAME, &SagaId::parse(order).unwrap())
            .await
            .unwrap()
            .unwrap();
        tx.rollback().await.unwrap();
        s
    };
    let saga = load().await;
    let due = saga.deadline().unwrap();

    // Not there before its deadline; there within a second after it.
    let (message, _) = receive(&client, &queue, Duration::from_secs(8))
        .await
        .expect("the timer's message arrives");
    let arrived = SystemClock.now().millis() - due.millis();
    assert!(
        (-250..1_500).contains(&arrived),
        "arrived {arrived} ms after its deadline"
    );
    let (event, fired) = fired_of(&message);
    assert_eq!(fired.saga_id.as_str(), order);
    assert_eq!((fired.seq, fired.due), (saga.timer.unwrap().seq, due));
    assert_eq!(event.id, format!("saga-timer/{NAME}/{order}/{}", fired.seq));

    // Delivered to the orchestrator: the payment timed out, its refund sent and its deadline
    // armed in turn.
    let body = message.body().unwrap().to_owned();
    assert_eq!(
        handle(&host, record("m-2", &body)).await,
        RecordOutcome::Done
    );
    let saga = load().await;
    assert_eq!(saga.step(0).status, StepStatus::Compensating);
    assert!(
        publisher
            .rows()
            .iter()
            .any(|r| r.topic == "payment.refund_requested")
    );
    let (next, _) = receive(&client, &queue, Duration::from_secs(8))
        .await
        .expect("the refund's deadline is armed");
    let (_, refund_timer) = fired_of(&next);
    assert_eq!(refund_timer.seq, saga.timer.unwrap().seq);
    db.close().await;
}

#[tokio::test]
async fn a_firing_before_its_due_time_is_armed_again_for_the_time_left() {
    let moto = Moto::start();
    let client = moto.aws().sqs_client();
    let queue = moto.queue("order-checkout-saga-hops").await;
    let db = TestDb::sqlite().await;
    let deps = Deps {
        store: db.store().clone(),
        publisher: Arc::new(MemoryPublisher::new()),
        clock: Arc::new(SystemClock),
    };
    let host = SqsHost::new(
        conveyor_runtime::orchestrator(OrderCheckoutSaga::with_timings(TIMINGS)),
        deps,
        None,
    )
    .with_timers(TimerQueue::new(&queue, &moto.aws()));
    // As a 900 s hop of a longer timer arrives: its due time still 2 s ahead.
    let due = Timestamp::from_millis(SystemClock.now().millis() + 2_000);
    let fired = TimerFired {
        definition: NAME.to_owned(),
        saga_id: SagaId::parse("ord-hop").unwrap(),
        seq: 4,
        due,
    };
    let row = CloudEvent::new(TIMER_FIRED, "order-worker", &fired, SystemClock.now())
        .unwrap()
        .into_outbox_row();
    assert_eq!(
        handle(&host, record("m-hop", &row.body)).await,
        RecordOutcome::Done
    );
    let (message, _) = receive(&client, &queue, Duration::from_secs(8))
        .await
        .expect("armed again");
    let late = SystemClock.now().millis() - due.millis();
    assert!(
        (-250..1_500).contains(&late),
        "the hop arrived {late} ms after the due time"
    );
    let (event, again) = fired_of(&message);
    assert_eq!(again, fired);
    assert_eq!(event.id, format!("saga-timer/{NAME}/ord-hop/4"));
    db.close().await;
}
