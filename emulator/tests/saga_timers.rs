//! Saga timers in the emulator (embedded broker on SQLite and on PostgreSQL, Redis Streams on
//! PostgreSQL): a saga whose step never answers is timed out by the emulator's due-timer poller
//! within a second of its deadline, and ends compensated.

use std::sync::Arc;
use std::time::Duration;

use conveyor_domain::{SagaId, Timestamp};
use conveyor_embedded::consumer::ConsumerSettings;
use conveyor_emulator::up::{self, UpConfig};
use conveyor_redis::RedisSettings;
use conveyor_runtime::saga::SagaRepository;
use conveyor_runtime::saga::{
    self, Command, Incoming, Outcome, Outgoing, Reply, Retry, SagaCodec, SagaDefinition,
    SagaMessage, SagaState, SagaStatus, Step,
};
use conveyor_runtime::{
    CloudEvent, Context, Function, FunctionSpec, HandlerError, Service, TopicHandler,
};
use conveyor_store::testing::TestDb;
use serde_json::{Value, json};

use crate::functions::eventually;
use crate::redis_common::TestRedis;

const START: &str = "test.saga.start";
const DEFINITION: &str = "test-timer-saga";

struct Codec(SagaDefinition);

impl Codec {
    fn new() -> Self {
        Self(
            SagaDefinition::new(
                DEFINITION,
                vec![
                    Step::new("silent", "test.saga.command", &["test.saga.done"])
                        .timeout(Duration::from_millis(700))
                        .retry(Retry::ONCE),
                ],
            )
            .unwrap(),
        )
    }
}

impl SagaCodec for Codec {
    fn definition(&self) -> &SagaDefinition {
        &self.0
    }

    fn read(&self, topic: &str, data: &Value) -> Result<Incoming, HandlerError> {
        let id = data
            .get("saga_id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let saga = SagaId::parse(id).map_err(HandlerError::drop)?;
        Ok(if topic == START {
            Incoming::Start {
                saga,
                data: data.clone(),
            }
        } else {
            Incoming::Reply {
                saga,
                reply: Reply::on(topic),
            }
        })
    }

    fn command(&self, state: &SagaState, command: &Command) -> Result<Outgoing, HandlerError> {
        Ok(Outgoing {
            topic: command.topic,
            payload: json!({"saga_id": state.id, "command_id": command.id()}),
        })
    }

    fn finished(&self, _: &SagaState, _: &Outcome) -> Result<Option<Outgoing>, HandlerError> {
        Ok(None)
    }
}

#[derive(Debug)]
struct TimerSaga;

impl TopicHandler for TimerSaga {
    type Payload = SagaMessage;
    const SPEC: FunctionSpec = FunctionSpec::on_topics(
        "test-timer-saga",
        Service::Order,
        &[START, "test.saga.done", saga::TIMER_FIRED],
    );

    async fn handle(&self, message: SagaMessage, cx: &mut Context<'_>) -> Result<(), HandlerError> {
        saga::orchestrate(&Codec::new(), &message, cx)
            .await
            .map(|_| ())
    }
}

#[tokio::test]
async fn the_emulator_fires_saga_timers_within_a_second_of_their_deadline_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    timers_fire_on(
        format!("sqlite://{}", dir.path().join("emu.db").display()),
        None,
    )
    .await;
}

#[tokio::test]
async fn the_emulator_fires_saga_timers_within_a_second_of_their_deadline_on_postgres() {
    let db = TestDb::empty_postgres().await;
    timers_fire_on(db.url().to_owned(), None).await;
    db.close().await;
}

#[tokio::test]
async fn the_emulator_fires_saga_timers_within_a_second_of_their_deadline_on_redis_and_postgres() {
    let db = TestDb::empty_postgres().await;
    let redis = TestRedis::new().await;
    timers_fire_on(db.url().to_owned(), Some(redis.settings("saga-1"))).await;
    db.close().await;
}

async fn timers_fire_on(database: String, redis: Option<RedisSettings>) {
    let functions: Vec<Arc<dyn Function>> = vec![conveyor_runtime::topic(TimerSaga)];
    let running = up::start(UpConfig {
        database,
        functions,
        consumer: ConsumerSettings {
            batch: 16,
            idle_poll: Duration::from_millis(50),
        },
        relay_every: Duration::from_millis(200),
        redis,
        ..UpConfig::default()
    })
    .await
    .unwrap();
    let ids: Vec<String> = (0..20).map(|i| format!("saga-{i}")).collect();
    let starts: Vec<_> = ids
        .iter()
        .map(|id| {
            CloudEvent::new(
                START,
                "tests",
                &json!({"saga_id": id}),
                Timestamp::from_millis(0),
            )
            .unwrap()
            .into_outbox_row()
        })
        .collect();
    running.broker.publish(&starts).await.unwrap();

    let store = running.deps.store.clone();
    let load = |id: String| {
        let store = store.clone();
        async move {
            let mut tx = store.begin().await.unwrap();
            tx.load_saga(DEFINITION, &SagaId::parse(id).unwrap())
                .await
                .unwrap()
        }
    };
    for id in &ids {
        eventually("every saga timed out and compensated", || async {
            load(id.clone())
                .await
                .is_some_and(|s| s.status == SagaStatus::Compensated)
        })
        .await;
    }
    for id in &ids {
        let st = load(id.clone()).await.unwrap();
        let step = st.step(0);
        let deadline = step.started_at.unwrap().millis() + 700;
        let late = step.settled_at.unwrap().millis() - deadline;
        assert!(
            (0..1_000).contains(&late),
            "{id} timed out {late} ms after its deadline"
        );
        assert_eq!(step.attempts, 1);
    }
    running.shutdown().await;
}
