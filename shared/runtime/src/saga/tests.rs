//! A two-step saga (pay, ship) run as a topic function on both backends: state, timer rows,
//! inbox and outbox committed together; repeated starts, replies and timers; the poller.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use conveyor_domain::Clock as _;
use conveyor_domain::{ManualClock, SagaId, Timestamp};
use conveyor_store::Store;
use conveyor_store::testing::on_both_backends;
use serde_json::{Value, json};

use super::*;
use crate::cloudevent::CloudEvent;
use crate::context::Deps;
use crate::contract::TopicHandler;
use crate::invoke::{Handled, handle_event};
use crate::publish::{MemoryPublisher, Publisher};
use crate::spec::{FunctionSpec, Service};

const START: &str = "t.start";

struct Codec(SagaDefinition);

impl Codec {
    fn new() -> Self {
        let retry = Retry {
            attempts: 2,
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(1),
        };
        Self(
            SagaDefinition::new(
                "test-checkout",
                vec![
                    Step::new("pay", "t.pay.requested", &["t.pay.done"])
                        .failed_by(&["t.pay.failed"])
                        .timeout(Duration::from_secs(10))
                        .retry(retry)
                        .compensated_by(Compensation::new(
                            "t.refund.requested",
                            &["t.refund.done"],
                        )),
                    Step::new("ship", "t.ship.requested", &["t.ship.done"])
                        .failed_by(&["t.ship.failed"])
                        .timeout(Duration::from_secs(10))
                        .retry(Retry::ONCE),
                ],
            )
            .unwrap(),
        )
    }
}

fn text(data: &Value, field: &str) -> Option<String> {
    data.get(field).and_then(Value::as_str).map(str::to_owned)
}

impl SagaCodec for Codec {
    fn definition(&self) -> &SagaDefinition {
        &self.0
    }

    fn read(&self, topic: &str, data: &Value) -> Result<Incoming, HandlerError> {
        let saga =
            SagaId::parse(text(data, "saga_id").unwrap_or_default()).map_err(HandlerError::drop)?;
        if topic == START {
            return Ok(Incoming::Start {
                saga,
                data: data.clone(),
            });
        }
        let mut reply = Reply::on(topic);
        reply.result = text(data, "id");
        reply.reason = text(data, "reason");
        Ok(Incoming::Reply { saga, reply })
    }

    fn command(&self, state: &SagaState, command: &Command) -> Result<Outgoing, HandlerError> {
        Ok(Outgoing {
            topic: command.topic,
            payload: json!({
                "saga_id": state.id,
                "command_id": command.id(),
                "attempt": command.attempt,
                "amount": state.data["amount"],
                "payment": state.steps[0].result,
            }),
        })
    }

    fn finished(
        &self,
        state: &SagaState,
        outcome: &Outcome,
    ) -> Result<Option<Outgoing>, HandlerError> {
        Ok(Some(Outgoing {
            topic: "t.finished",
            payload: json!({"saga_id": state.id, "status": outcome.status.as_str(), "reason": outcome.reason}),
        }))
    }
}

/// The orchestrator; `fail_after` makes the handler fail after the saga was applied.
#[derive(Debug, Default)]
struct Orchestrator {
    fail_after: AtomicBool,
}

impl TopicHandler for Orchestrator {
    type Payload = SagaMessage;
    const SPEC: FunctionSpec = FunctionSpec::on_topics(
        "test-checkout-saga",
        Service::Order,
        &[
            START,
            "t.pay.done",
            "t.pay.failed",
            "t.refund.done",
            "t.ship.done",
            "t.ship.failed",
            TIMER_FIRED,
        ],
    );

    async fn handle(&self, message: SagaMessage, cx: &mut Context<'_>) -> Result<(), HandlerError> {
        orchestrate(&Codec::new(), &message, cx).await?;
        if self.fail_after.load(Ordering::SeqCst) {
            return Err(HandlerError::retry("failing after the saga was applied"));
        }
        Ok(())
    }
}

struct Rig {
    deps: Deps,
    clock: Arc<ManualClock>,
    published: Arc<MemoryPublisher>,
    handler: Orchestrator,
}

impl Rig {
    fn new(store: Store) -> Self {
        let clock = Arc::new(ManualClock::new(Timestamp::from_millis(0)));
        let published = Arc::new(MemoryPublisher::new());
        Self {
            deps: Deps {
                store,
                publisher: Arc::clone(&published) as Arc<dyn Publisher>,
                clock: Arc::clone(&clock) as Arc<dyn conveyor_domain::Clock>,
            },
            clock,
            published,
            handler: Orchestrator::default(),
        }
    }

    async fn deliver(&self, event: &CloudEvent) -> Result<Handled, HandlerError> {
        handle_event(&self.handler, &self.deps, event, 1, None).await
    }

    async fn send(&self, topic: &str, data: Value) -> Result<Handled, HandlerError> {
        let event = CloudEvent::new(topic, "tests", &data, self.clock.now()).unwrap();
        self.deliver(&event).await
    }

    /// The published events, decoded, then forgotten.
    fn taken_events(&self) -> Vec<CloudEvent> {
        self.published
            .take()
            .iter()
            .map(|r| CloudEvent::decode(r.body.as_bytes()).unwrap())
            .collect()
    }

    /// `topic@attempt` of the published events, oldest first, then forgotten.
    fn take(&self) -> Vec<String> {
        self.taken_events()
            .iter()
            .map(|e| {
                let data: Value = e.payload().unwrap();
                match data.get("attempt") {
                    Some(a) => format!("{}@{a}", e.ty),
                    None => e.ty.clone(),
                }
            })
            .collect()
    }

    async fn saga(&self) -> Option<SagaState> {
        let mut tx = self.deps.store.begin().await.unwrap();
        tx.load_saga("test-checkout", &SagaId::parse("s-1").unwrap())
            .await
            .unwrap()
    }

    async fn count(&self, table: &str) -> i64 {
        conveyor_store::sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(self.deps.store.pool())
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn a_saga_runs_to_completion_once_however_often_its_events_arrive() {
    on_both_backends(|store| async move {
        let rig = Rig::new(store);
        let start = CloudEvent::new(
            START,
            "tests",
            &json!({"saga_id": "s-1", "amount": 42}),
            Timestamp::from_millis(0),
        )
        .unwrap();
        rig.deliver(&start).await.unwrap();
        assert_eq!(rig.take(), ["t.pay.requested@1"]);
        // The same start again (inbox) or under a new id (the saga exists): nothing more.
        assert!(rig.deliver(&start).await.unwrap().duplicate);
        rig.send(START, json!({"saga_id": "s-1", "amount": 7}))
            .await
            .unwrap();
        assert!(rig.take().is_empty());
        assert_eq!(rig.saga().await.unwrap().data["amount"], 42);

        rig.send("t.pay.done", json!({"saga_id": "s-1", "id": "pay-9"}))
            .await
            .unwrap();
        assert_eq!(rig.take(), ["t.ship.requested@1"]);
        rig.send("t.pay.done", json!({"saga_id": "s-1", "id": "pay-9"}))
            .await
            .unwrap();
        assert!(rig.take().is_empty(), "a reply delivered twice");
        // A reply for no saga of ours (a choreographed order's payment) is acknowledged.
        rig.send("t.pay.done", json!({"saga_id": "s-other"}))
            .await
            .unwrap();
        rig.send("t.ship.done", json!({"saga_id": "s-1"}))
            .await
            .unwrap();
        assert_eq!(rig.take(), ["t.finished"]);
        let st = rig.saga().await.unwrap();
        assert_eq!(st.status, SagaStatus::Completed);
        assert_eq!(st.steps[0].result.as_deref(), Some("pay-9"));
        assert_eq!(rig.count("saga_timers").await, 0);
        // Every command and announcement went through the outbox and was published from it.
        assert_eq!(rig.count("outbox").await, 0);
    })
    .await;
}

#[tokio::test]
async fn a_failing_handler_leaves_no_saga_no_timer_no_command_and_no_inbox_row() {
    on_both_backends(|store| async move {
        let rig = Rig::new(store);
        rig.handler.fail_after.store(true, Ordering::SeqCst);
        let start = CloudEvent::new(
            START,
            "tests",
            &json!({"saga_id": "s-1", "amount": 1}),
            Timestamp::from_millis(0),
        )
        .unwrap();
        assert!(rig.deliver(&start).await.unwrap_err().is_retry());
        assert_eq!(rig.saga().await, None);
        for table in ["saga_timers", "outbox", "inbox"] {
            assert_eq!(rig.count(table).await, 0, "{table}");
        }
        assert!(rig.take().is_empty());
        // Redelivered once the failure is gone, it runs as if for the first time.
        rig.handler.fail_after.store(false, Ordering::SeqCst);
        assert!(!rig.deliver(&start).await.unwrap().duplicate);
        assert_eq!(rig.take(), ["t.pay.requested@1"]);
        assert_eq!(rig.count("saga_timers").await, 1);
    })
    .await;
}

#[tokio::test]
async fn timers_fire_once_resend_then_time_out_and_compensate() {
    on_both_backends(|store| async move {
        let rig = Rig::new(store);
        rig.send(START, json!({"saga_id": "s-1", "amount": 5}))
            .await
            .unwrap();
        rig.send("t.pay.done", json!({"saga_id": "s-1", "id": "pay-1"}))
            .await
            .unwrap();
        assert_eq!(rig.take(), ["t.pay.requested@1", "t.ship.requested@1"]);
        // Nothing is due before the deadline.
        rig.clock.set(Timestamp::from_millis(9_999));
        assert_eq!(
            timers::fire_due(&rig.deps, "order-worker", 10)
                .await
                .unwrap(),
            0
        );
        // ship (Retry::ONCE) times out: its outcome is unknown, but it has no compensation;
        // the payment is refunded.
        rig.clock.set(Timestamp::from_millis(10_000));
        assert_eq!(
            timers::fire_due(&rig.deps, "order-worker", 10)
                .await
                .unwrap(),
            1
        );
        let fired = rig.taken_events();
        assert_eq!(fired.len(), 1);
        assert_eq!(fired[0].ty, TIMER_FIRED);
        assert_eq!(fired[0].id, "saga-timer/test-checkout/s-1/1");
        assert_eq!(
            timers::fire_due(&rig.deps, "order-worker", 10)
                .await
                .unwrap(),
            0,
            "taken once"
        );
        rig.deliver(&fired[0]).await.unwrap();
        assert_eq!(rig.take(), ["t.refund.requested@1"]);
        let st = rig.saga().await.unwrap();
        assert_eq!(st.status, SagaStatus::Compensating);
        assert_eq!(st.steps[1].status, StepStatus::TimedOut);
        // The same firing again changes nothing; a late reply does not revive the saga.
        assert!(rig.deliver(&fired[0]).await.unwrap().duplicate);
        rig.send("t.ship.done", json!({"saga_id": "s-1"}))
            .await
            .unwrap();
        assert!(rig.take().is_empty());
        // The refund's reply is late too: the poller's firing sends it again, then it is done.
        rig.clock.set(Timestamp::from_millis(40_000));
        assert_eq!(
            timers::fire_due(&rig.deps, "order-worker", 10)
                .await
                .unwrap(),
            1
        );
        let fired = rig.taken_events();
        rig.deliver(&fired[0]).await.unwrap();
        assert!(rig.take().is_empty(), "waits the backoff first");
        rig.clock.set(Timestamp::from_millis(41_000));
        assert_eq!(
            timers::fire_due(&rig.deps, "order-worker", 10)
                .await
                .unwrap(),
            1
        );
        let fired = rig.taken_events();
        rig.deliver(&fired[0]).await.unwrap();
        assert_eq!(rig.take(), ["t.refund.requested@2"]);
        rig.send("t.refund.done", json!({"saga_id": "s-1"}))
            .await
            .unwrap();
        assert_eq!(rig.take(), ["t.finished"]);
        let st = rig.saga().await.unwrap();
        assert_eq!(st.status, SagaStatus::Compensated);
        assert_eq!(st.compensation_path, [0]);
        assert_eq!(rig.count("saga_timers").await, 0);
    })
    .await;
}

#[tokio::test]
async fn a_payload_that_does_not_fit_its_topic_is_dropped() {
    on_both_backends(|store| async move {
        let rig = Rig::new(store);
        let err = rig.send(START, json!({"amount": 1})).await.unwrap_err();
        assert!(!err.is_retry(), "{err}");
        let err = rig.send(TIMER_FIRED, json!({"saga": 1})).await.unwrap_err();
        assert!(!err.is_retry(), "{err}");
    })
    .await;
}

#[tokio::test]
async fn commands_committed_but_not_published_are_published_by_the_relay_and_never_rebuilt() {
    on_both_backends(|store| async move {
        let rig = Rig::new(store);
        // The transport is down: the start commits (saga, timer, command in the outbox) but
        // nothing reaches the transport.
        rig.published.set_failing(true);
        rig.send(START, json!({"saga_id": "s-1", "amount": 3}))
            .await
            .unwrap();
        assert!(rig.take().is_empty());
        assert_eq!(rig.count("outbox").await, 1);
        let staged: String = conveyor_store::sqlx::query_scalar("SELECT body FROM outbox")
            .fetch_one(rig.deps.store.pool())
            .await
            .unwrap();
        // A timer firing meanwhile goes the same way.
        rig.clock.set(Timestamp::from_millis(10_000));
        assert_eq!(
            timers::fire_due(&rig.deps, "order-worker", 10)
                .await
                .unwrap(),
            1
        );
        assert_eq!(rig.count("outbox").await, 2);
        // Back up: the relay publishes exactly what was committed, the command as it was built.
        rig.published.set_failing(false);
        let relayed = crate::relay::relay_once(&rig.deps, Duration::ZERO, 10)
            .await
            .unwrap();
        assert_eq!(relayed, 2);
        let rows = rig.published.take();
        assert_eq!(rows[0].body, staged);
        let fired = CloudEvent::decode(rows[1].body.as_bytes()).unwrap();
        assert_eq!(fired.ty, TIMER_FIRED);
        rig.deliver(&fired).await.unwrap();
        assert!(
            rig.take().is_empty(),
            "waits the backoff before the second send"
        );
        let st = rig.saga().await.unwrap();
        assert_eq!(st.steps[0].attempts, 1);
        assert_eq!(
            st.timer.map(|t| t.due),
            Some(Timestamp::from_millis(11_000))
        );
    })
    .await;
}

#[tokio::test]
async fn two_replies_of_one_saga_at_once_on_postgres_apply_one_after_the_other() {
    let db = conveyor_store::testing::TestDb::of(conveyor_store::Backend::Postgres).await;
    let rig = Rig::new(db.store().clone());
    rig.send(START, json!({"saga_id": "s-1", "amount": 1}))
        .await
        .unwrap();
    assert_eq!(rig.take(), ["t.pay.requested@1"]);
    // The same reply under two event ids, handled concurrently: the saga row's lock makes the
    // second wait for the first and find the step settled.
    let reply = json!({"saga_id": "s-1", "id": "pay-1"});
    let (a, b) = tokio::join!(
        rig.send("t.pay.done", reply.clone()),
        rig.send("t.pay.done", reply)
    );
    a.unwrap();
    b.unwrap();
    assert_eq!(rig.take(), ["t.ship.requested@1"]);
    assert_eq!(rig.saga().await.unwrap().version, 2);
    db.close().await;
}
