//! The hand-over of a published message to an idle consumer, on a real SQLite store: handled
//! once as its first delivery, given back to the queue by a consumer that stops before starting
//! it, and never used for a message with an ordering key.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use conveyor_domain::events::{Validate, ValidationError};
use conveyor_domain::{Clock, SystemClock, Timestamp};
use conveyor_embedded::broker::EmbeddedBroker;
use conveyor_embedded::consumer::{self, ConsumerSettings};
use conveyor_runtime::{
    CloudEvent, Context, Deps, Function, FunctionSpec, HandlerError, Publisher, Service,
    TopicHandler,
};
use conveyor_store::testing::TestDb;
use conveyor_transport::metrics::Stats;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

const TOPIC: &str = "handoff.test";

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Note {
    key: String,
}

impl Validate for Note {
    fn validate(&self) -> Result<(), ValidationError> {
        Ok(())
    }
}

/// Counts its deliveries and the attempt each one was.
#[derive(Debug, Default)]
struct Seen {
    handled: AtomicU32,
    first_attempts: AtomicU32,
}

#[derive(Debug, Clone)]
struct Plain(Arc<Seen>);

impl TopicHandler for Plain {
    type Payload = Note;
    const SPEC: FunctionSpec =
        FunctionSpec::on_topics("plain", Service::Order, &[TOPIC]).stateless();

    async fn handle(&self, _note: Note, cx: &mut Context<'_>) -> Result<(), HandlerError> {
        if cx.attempt() == 1 {
            self.0.first_attempts.fetch_add(1, Ordering::SeqCst);
        }
        self.0.handled.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[derive(Debug, Clone)]
struct Keyed;

impl TopicHandler for Keyed {
    type Payload = Note;
    const SPEC: FunctionSpec = FunctionSpec::on_topics("keyed", Service::Order, &[TOPIC])
        .ordered_by("key")
        .stateless();

    async fn handle(&self, _note: Note, _cx: &mut Context<'_>) -> Result<(), HandlerError> {
        Ok(())
    }
}

fn note(key: &str) -> conveyor_store::OutboxRow {
    CloudEvent::new(
        TOPIC,
        "test",
        &Note {
            key: key.to_owned(),
        },
        Timestamp::from_millis(0),
    )
    .expect("a note serialises")
    .into_outbox_row()
}

fn broker(db: &TestDb, functions: &[Arc<dyn Function>]) -> Arc<EmbeddedBroker> {
    Arc::new(EmbeddedBroker::new(
        db.store().clone(),
        Arc::new(SystemClock),
        functions,
    ))
}

async fn until(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..500 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting until {what}");
}

#[tokio::test]
async fn a_message_published_to_an_idle_consumer_is_handed_over_and_handled_once() {
    let db = TestDb::sqlite().await;
    let seen = Arc::new(Seen::default());
    let function = conveyor_runtime::topic(Plain(Arc::clone(&seen)));
    let broker = broker(&db, std::slice::from_ref(&function));
    let deps = Deps {
        store: db.store().clone(),
        publisher: Arc::clone(&broker) as Arc<dyn Publisher>,
        clock: Arc::new(SystemClock),
    };
    let (stop, shutdown) = watch::channel(false);
    // A long idle poll: only a hand-over or a wake-up can deliver in time.
    let settings = ConsumerSettings {
        idle_poll: Duration::from_secs(60),
        ..ConsumerSettings::default()
    };
    let consumer = tokio::spawn(consumer::run(
        function,
        deps,
        Arc::clone(&broker),
        Arc::new(Stats::default()),
        settings,
        shutdown,
    ));
    let handoff = broker
        .handoff("plain")
        .expect("a hand-over point per function");
    until("the consumer waits idle", || handoff.is_idle()).await;

    broker.publish(&[note("a")]).await.unwrap();
    assert!(!handoff.is_idle(), "the publish claimed the idle consumer");
    until("the note is handled", || {
        seen.handled.load(Ordering::SeqCst) == 1
    })
    .await;
    assert_eq!(
        seen.first_attempts.load(Ordering::SeqCst),
        1,
        "one delivery, the first"
    );
    until("the consumer waits idle again", || handoff.is_idle()).await;

    stop.send(true).unwrap();
    consumer.await.unwrap();
    assert!(
        db.store()
            .queue_depths()
            .await
            .unwrap()
            .iter()
            .all(|(_, n)| *n == 0),
        "acknowledged: nothing left in the queue"
    );
    assert_eq!(seen.handled.load(Ordering::SeqCst), 1, "handled once");
    db.close().await;
}

#[tokio::test]
async fn handed_messages_a_consumer_did_not_start_go_back_to_the_queue_uncounted() {
    let db = TestDb::sqlite().await;
    let function = conveyor_runtime::topic(Plain(Arc::default()));
    let broker = broker(&db, &[function]);
    let handoff = broker.handoff("plain").unwrap();
    let receiver = handoff.take().expect("no consumer holds it");
    handoff.set_idle(true);

    broker.publish(&[note("a"), note("b")]).await.unwrap();
    let now = Timestamp::from_millis(i64::MAX / 2);
    assert!(
        db.store()
            .queue_lease("plain", 10, SystemClock.now(), now)
            .await
            .unwrap()
            .is_empty(),
        "both were handed over, leased"
    );

    handoff
        .give_back(receiver, db.store(), SystemClock.now())
        .await;
    let back = db
        .store()
        .queue_lease("plain", 10, SystemClock.now(), now)
        .await
        .unwrap();
    assert_eq!(
        back.iter().map(|m| m.attempts).collect::<Vec<_>>(),
        [1, 1],
        "back in the queue, the hand-over not counted as a delivery"
    );
    assert!(
        handoff.take().is_some(),
        "the receiving end is back for the next consumer"
    );
    db.close().await;
}

#[tokio::test]
async fn a_message_with_an_ordering_key_is_never_handed_over() {
    let db = TestDb::sqlite().await;
    let broker = broker(&db, &[conveyor_runtime::topic(Keyed)]);
    let handoff = broker.handoff("keyed").unwrap();
    let mut receiver = handoff.take().unwrap();
    handoff.set_idle(true);

    broker.publish(&[note("k")]).await.unwrap();
    assert!(receiver.try_recv().is_err(), "nothing handed over");
    assert!(handoff.is_idle(), "the consumer was not claimed");
    let queued = db
        .store()
        .queue_lease(
            "keyed",
            10,
            SystemClock.now(),
            Timestamp::from_millis(i64::MAX / 2),
        )
        .await
        .unwrap();
    assert_eq!(queued.len(), 1, "queued, visible, for the queue to order");
    db.close().await;
}
