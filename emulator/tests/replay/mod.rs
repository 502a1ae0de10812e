//! `conveyor events replay` end to end on each transport (the embedded broker here and in
//! [`embedded`], Redis Streams in [`redis`], SQS in `crate::sqs::replay`): the events a
//! function published (through its outbox) are in the event store; replayed with their original ids every
//! subscriber's inbox skips them; replayed as new to one function only, that function handles
//! them again (each naming its original in `replayof`) and the other does not; a replay stopped
//! at its limit continues where it stopped when run again; a dry run delivers nothing.

mod embedded;
mod redis;

use std::sync::{Arc, Mutex};

use conveyor_domain::events::{DomainEvent, Validate, ValidationError};
use conveyor_domain::{Clock, SystemClock};
use conveyor_emulator::cli::args::{RedisTlsArgs, ReplayArgs, SqsArgs, Transport};
use conveyor_emulator::cli::replay;
use conveyor_emulator::up::Running;
use conveyor_runtime::{Context, Function, FunctionSpec, HandlerError, Service, TopicHandler};
use conveyor_store::events::EventQuery;
use serde::{Deserialize, Serialize};

use crate::functions::{FAST_RETRY, event_row, eventually};

/// The replayed topic.
const TOPIC: &str = "test.replayed";
/// The topic the seeder consumes.
const SEED: &str = "test.replay_seed";
/// Events published before the replays.
const EVENTS: u32 = 5;

/// The payload of both topics.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Tick {
    n: u32,
}

impl Validate for Tick {
    fn validate(&self) -> Result<(), ValidationError> {
        Ok(())
    }
}

impl DomainEvent for Tick {
    fn topic(&self) -> &'static str {
        TOPIC
    }
}

/// Publishes one event on the replayed topic per seed: the events the event store keeps.
#[derive(Debug, Default)]
pub(crate) struct Seeder;

impl TopicHandler for Seeder {
    type Payload = Tick;
    const SPEC: FunctionSpec =
        FunctionSpec::on_topics("test-replay-seeder", Service::Order, &[SEED])
            .with_retry(FAST_RETRY);

    async fn handle(&self, tick: Tick, cx: &mut Context<'_>) -> Result<(), HandlerError> {
        cx.publish(&tick)
    }
}

/// What a recorder saw: its function, the event id, and the `replayof` it carried.
pub(crate) type Seen = Arc<Mutex<Vec<(&'static str, String, Option<String>)>>>;

macro_rules! recorder {
    ($name:ident, $function:literal) => {
        /// Records every event it handles.
        #[derive(Debug, Default)]
        pub(crate) struct $name(pub(crate) Seen);

        impl TopicHandler for $name {
            type Payload = Tick;
            const SPEC: FunctionSpec =
                FunctionSpec::on_topics($function, Service::Order, &[TOPIC]).with_retry(FAST_RETRY);

            async fn handle(&self, _tick: Tick, cx: &mut Context<'_>) -> Result<(), HandlerError> {
                self.0.lock().unwrap().push((
                    Self::SPEC.name,
                    cx.event_id().to_owned(),
                    cx.replay_of().map(str::to_owned),
                ));
                Ok(())
            }
        }
    };
}

recorder!(RecorderA, "test-replay-a");
recorder!(RecorderB, "test-replay-b");

/// The seeder and the two recorders, sharing one record.
pub(crate) fn functions(seen: &Seen) -> Vec<Arc<dyn Function>> {
    vec![
        conveyor_runtime::topic(Seeder),
        conveyor_runtime::topic(RecorderA(Arc::clone(seen))),
        conveyor_runtime::topic(RecorderB(Arc::clone(seen))),
    ]
}

/// Has the seeder publish the events; returns their ids in store order once all are stored.
async fn seed(running: &Running) -> Vec<String> {
    let now = SystemClock.now();
    let seeds: Vec<_> = (1..=EVENTS)
        .map(|n| event_row(SEED, "test", &Tick { n }, now))
        .collect();
    running.broker.publish(&seeds).await.unwrap();
    let query = EventQuery {
        topic: Some(TOPIC.to_owned()),
        limit: 100,
        ..EventQuery::default()
    };
    eventually("the seeder's events to be stored", || async {
        running
            .deps
            .store
            .events_query(&query)
            .await
            .unwrap()
            .events
            .len()
            == seeds.len()
    })
    .await;
    let page = running.deps.store.events_query(&query).await.unwrap();
    page.events.into_iter().map(|e| e.id).collect()
}

/// Replay arguments over `database` on `transport`, covering every published event.
pub(crate) fn args(database: &str, transport: Transport) -> ReplayArgs {
    ReplayArgs {
        topic: TOPIC.to_owned(),
        from: SystemClock.now().add_minutes(-60),
        to: SystemClock.now().add_minutes(60),
        function: None,
        correlation_id: None,
        as_new: false,
        dry_run: false,
        limit: 1000,
        page: 2,
        resume: None,
        database: database.to_owned(),
        transport: Some(transport),
        redis: None,
        redis_prefix: String::new(),
        redis_tls: RedisTlsArgs::default(),
        sqs: SqsArgs::default(),
    }
}

fn seen_by(seen: &Seen, function: &str) -> Vec<(String, Option<String>)> {
    seen.lock()
        .unwrap()
        .iter()
        .filter(|(f, ..)| *f == function)
        .map(|(_, id, of)| (id.clone(), of.clone()))
        .collect()
}

async fn duplicates(running: &Running, function: &str) -> u64 {
    running.events.totals(function).duplicates
}

/// The scenario every transport runs: `running` runs [`functions`] over the database of
/// `base` (whose transport fields say how to reach their queues).
pub(crate) async fn scenario(running: &Running, seen: &Seen, base: &ReplayArgs) {
    let catalog = functions(seen);
    let ids = seed(running).await;
    let ids = ids.as_slice();
    eventually("both recorders to handle every event once", || async {
        seen_by(seen, "test-replay-a").len() == ids.len()
            && seen_by(seen, "test-replay-b").len() == ids.len()
    })
    .await;

    // A dry run lists every event and delivers and records nothing.
    let dry = replay::run(
        &ReplayArgs {
            dry_run: true,
            ..base.clone()
        },
        &catalog,
    )
    .await
    .unwrap();
    let listed: Vec<&str> = dry.events.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(listed, ids);
    assert_eq!((dry.id.as_deref(), dry.more), (None, false));
    assert_eq!(dry.targets, ["test-replay-a", "test-replay-b"]);

    // With their original ids: delivered to both, skipped by both inboxes.
    let (a_dups, b_dups) = (
        duplicates(running, "test-replay-a").await,
        duplicates(running, "test-replay-b").await,
    );
    let count = u64::try_from(ids.len()).unwrap();
    let same = replay::run(base, &catalog).await.unwrap();
    assert_eq!(same.events.len(), ids.len());
    assert!(!same.more && !same.resumed);
    assert!(same.events.iter().all(|e| e.delivered_as == e.id));
    eventually("both inboxes to skip every replayed event", || async {
        duplicates(running, "test-replay-a").await == a_dups + count
            && duplicates(running, "test-replay-b").await == b_dups + count
    })
    .await;
    assert_eq!(seen_by(seen, "test-replay-a").len(), ids.len());
    assert_eq!(seen_by(seen, "test-replay-b").len(), ids.len());

    // As new, to A only, two at a time: stopped at its limit, then continued by the same
    // arguments where it stopped.
    let as_new = ReplayArgs {
        as_new: true,
        function: Some("test-replay-a".to_owned()),
        limit: 2,
        ..base.clone()
    };
    let first = replay::run(&as_new, &catalog).await.unwrap();
    assert_eq!(first.targets, ["test-replay-a"]);
    assert_eq!(first.events.len(), 2);
    assert!(first.more);
    let replay_id = first.id.clone().unwrap();
    let rest = replay::run(
        &ReplayArgs {
            limit: 1000,
            ..as_new.clone()
        },
        &catalog,
    )
    .await;
    // A different limit is the same replay: the limit bounds a run, not the replay.
    let rest = rest.unwrap();
    assert!(rest.resumed);
    assert_eq!(rest.id.as_deref(), Some(replay_id.as_str()));
    assert_eq!((rest.events.len(), rest.total, rest.more), (3, 5, false));
    let expected: Vec<(String, Option<String>)> = ids
        .iter()
        .map(|id| (format!("{id}~{replay_id}"), Some(id.clone())))
        .collect();
    eventually("A to handle every event again, as new", || async {
        seen_by(seen, "test-replay-a").len() == 2 * ids.len()
    })
    .await;
    let mut again = seen_by(seen, "test-replay-a")[ids.len()..].to_vec();
    again.sort();
    let mut expected_sorted = expected.clone();
    expected_sorted.sort();
    assert_eq!(again, expected_sorted);
    // B was not a target.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(seen_by(seen, "test-replay-b").len(), ids.len());

    // The finished replay, resumed by its id, has nothing left; a function that does not
    // consume the topic is refused.
    let done = replay::run(
        &ReplayArgs {
            resume: Some(replay_id.clone()),
            ..as_new.clone()
        },
        &catalog,
    )
    .await
    .unwrap();
    assert!(done.events.is_empty() && !done.more);
    let refused = replay::run(
        &ReplayArgs {
            function: Some("order-payment-confirmed".to_owned()),
            ..base.clone()
        },
        &catalog,
    )
    .await
    .unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("order-payment-confirmed does not subscribe to test.replayed"),
        "{refused}"
    );
}
