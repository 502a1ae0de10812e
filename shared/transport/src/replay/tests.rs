//! The replay run over a store on SQLite and a recording broker that can be told to fail:
//! targets, pages, the progress kept across a failure, and the events as new.

use std::sync::Mutex;

use conveyor_domain::Timestamp;
use conveyor_runtime::publish::BoxFuture;
use conveyor_runtime::{CloudEvent, PublishError, Publisher};
use conveyor_store::queue::DeadLetter;
use conveyor_store::testing::TestDb;
use conveyor_store::{Backend, OutboxRow};

use super::*;

/// Records deliveries; refuses every one after `fail_after` pages.
#[derive(Debug, Default)]
struct Recording {
    delivered: Mutex<Vec<(String, OutboxRow)>>,
    pages: Mutex<usize>,
    fail_after: Option<usize>,
}

impl Publisher for Recording {
    fn publish<'a>(&'a self, _: &'a [OutboxRow]) -> BoxFuture<'a, Result<(), PublishError>> {
        Box::pin(async { Ok(()) })
    }
}

impl Broker for Recording {
    fn subscribers(&self, topic: &str) -> Vec<&'static str> {
        if topic == "t" {
            vec!["f", "g"]
        } else {
            Vec::new()
        }
    }

    fn dead_letters<'a>(
        &'a self,
        _: Option<&'a str>,
        _: usize,
    ) -> BoxFuture<'a, Result<Vec<DeadLetter>, BrokerError>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    fn redrive<'a>(
        &'a self,
        _: &'a str,
        _: Option<&'a [String]>,
    ) -> BoxFuture<'a, Result<usize, BrokerError>> {
        Box::pin(async { Ok(0) })
    }

    fn deliver<'a>(
        &'a self,
        function: &'a str,
        events: &'a [OutboxRow],
    ) -> BoxFuture<'a, Result<usize, BrokerError>> {
        Box::pin(async move {
            let mut pages = self.pages.lock().unwrap();
            if self.fail_after.is_some_and(|n| *pages >= n) {
                return Err(BrokerError {
                    transport: "test",
                    message: "down".to_owned(),
                });
            }
            *pages += 1;
            let mut delivered = self.delivered.lock().unwrap();
            delivered.extend(events.iter().map(|e| (function.to_owned(), e.clone())));
            Ok(events.len())
        })
    }

    fn delete_dead_letters<'a>(
        &'a self,
        _: &'a str,
        _: Option<&'a [String]>,
    ) -> BoxFuture<'a, Result<usize, BrokerError>> {
        Box::pin(async { Ok(0) })
    }

    fn edit_dead_letter<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
        _: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, BrokerError>> {
        Box::pin(async { Ok(None) })
    }

    fn depths(&self) -> BoxFuture<'_, Result<Vec<(String, i64)>, BrokerError>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    fn dlq_depths(&self) -> BoxFuture<'_, Result<Vec<(String, i64)>, BrokerError>> {
        Box::pin(async { Ok(Vec::new()) })
    }
}

fn at(minute: i64) -> Timestamp {
    Timestamp::from_millis(1_700_000_000_000 + minute * 60_000)
}

/// Stores `n` events of topic `t`, one a minute, and one of another topic; returns the ids.
async fn stored(store: &Store, n: i64) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let mut event = CloudEvent::new(
            "t",
            "test",
            &serde_json::json!({ "order_id": format!("o-{i}") }),
            at(i),
        )
        .unwrap();
        event.correlationid = Some(if i % 2 == 0 { "even" } else { "odd" }.to_owned());
        let other = CloudEvent::new("u", "test", &serde_json::json!({}), at(i)).unwrap();
        let mut tx = store.begin().await.unwrap();
        ids.push(event.id.clone());
        tx.outbox_stage(&[event.into_outbox_row(), other.into_outbox_row()], at(i))
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    ids
}

fn request(function: Option<&str>, as_new: bool) -> ReplayRequest {
    ReplayRequest {
        spec: ReplaySpec {
            topic: "t".to_owned(),
            from: at(0),
            to: at(100),
            function: function.map(str::to_owned),
            correlation_id: None,
            as_new,
        },
        resume: None,
        limit: 1000,
        page: 2,
        dry_run: false,
    }
}

fn delivered_ids(broker: &Recording, function: &str) -> Vec<String> {
    broker
        .delivered
        .lock()
        .unwrap()
        .iter()
        .filter(|(f, _)| f == function)
        .map(|(_, row)| row.id.clone())
        .collect()
}

#[tokio::test]
async fn every_subscriber_gets_the_events_with_their_ids_and_data() {
    let db = TestDb::of(Backend::Sqlite).await;
    let ids = stored(db.store(), 3).await;
    let broker = Recording::default();
    let outcome = run(db.store(), &broker, &request(None, false), "r1", at(200))
        .await
        .unwrap();
    assert_eq!(outcome.targets, ["f", "g"]);
    assert_eq!(
        (outcome.total, outcome.more, outcome.resumed),
        (3, false, false)
    );
    assert_eq!(delivered_ids(&broker, "f"), ids);
    assert_eq!(delivered_ids(&broker, "g"), ids);
    // The rows carry what the transports route by.
    let first = broker.delivered.lock().unwrap()[0].1.clone();
    assert_eq!(first.data_field("order_id"), Some("o-0"));
    assert_eq!(first.correlation_id.as_deref(), Some("even"));
    assert!(
        db.store()
            .replay("r1")
            .await
            .unwrap()
            .unwrap()
            .finished_at
            .is_some()
    );

    // One flow only, to one function.
    let broker = Recording::default();
    let mut one = request(Some("g"), false);
    one.spec.correlation_id = Some("odd".to_owned());
    run(db.store(), &broker, &one, "r2", at(200)).await.unwrap();
    assert_eq!(delivered_ids(&broker, "g"), [ids[1].clone()]);
    assert!(delivered_ids(&broker, "f").is_empty());
    for (bad, says) in [
        (request(Some("h"), false), "h does not subscribe to t"),
        (
            ReplayRequest {
                spec: ReplaySpec {
                    topic: "v".to_owned(),
                    ..request(None, false).spec
                },
                ..request(None, false)
            },
            "no function subscribes to v",
        ),
    ] {
        let e = run(db.store(), &broker, &bad, "r3", at(200))
            .await
            .unwrap_err();
        assert!(e.to_string().contains(says), "{e}");
    }
    db.close().await;
}

#[tokio::test]
async fn a_replay_that_fails_halfway_continues_after_its_last_page() {
    let db = TestDb::of(Backend::Sqlite).await;
    let ids = stored(db.store(), 5).await;
    // The transport fails on the second page: the first page's progress is kept.
    let failing = Recording {
        fail_after: Some(1),
        ..Recording::default()
    };
    let asked = request(Some("f"), true);
    let e = run(db.store(), &failing, &asked, "r1", at(200))
        .await
        .unwrap_err();
    assert!(matches!(e, ReplayError::Broker(_)), "{e}");
    let kept = db.store().replay("r1").await.unwrap().unwrap();
    assert_eq!(kept.replayed, 2);
    assert_eq!(kept.finished_at, None);

    // A dry run shows what is left, from where it stopped, and changes nothing.
    let broker = Recording::default();
    let dry = run(
        db.store(),
        &broker,
        &ReplayRequest {
            dry_run: true,
            ..asked.clone()
        },
        "r-unused",
        at(200),
    )
    .await
    .unwrap();
    let listed: Vec<&str> = dry.events.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(
        listed,
        ids[2..].iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert!(broker.delivered.lock().unwrap().is_empty());
    assert_eq!(db.store().replay("r1").await.unwrap().unwrap().replayed, 2);

    // The same arguments continue it, as new events of the same replay.
    let outcome = run(db.store(), &broker, &asked, "r-other", at(201))
        .await
        .unwrap();
    assert!(outcome.resumed);
    assert_eq!(outcome.id.as_deref(), Some("r1"));
    assert_eq!(
        (outcome.events.len(), outcome.total, outcome.more),
        (3, 5, false)
    );
    let delivered = broker.delivered.lock().unwrap().clone();
    let expected: Vec<String> = ids[2..].iter().map(|id| format!("{id}~r1")).collect();
    assert_eq!(
        delivered
            .iter()
            .map(|(_, r)| r.id.clone())
            .collect::<Vec<_>>(),
        expected
    );
    for ((_, row), original) in delivered.iter().zip(&ids[2..]) {
        let event = CloudEvent::decode(row.body.as_bytes()).unwrap();
        assert_eq!(event.id, row.id);
        assert_eq!(event.replayof.as_deref(), Some(original.as_str()));
    }

    // A resume of a replay with other arguments is refused, naming both.
    let e = run(
        db.store(),
        &broker,
        &ReplayRequest {
            resume: Some("r1".to_owned()),
            ..request(Some("g"), true)
        },
        "r-x",
        at(202),
    )
    .await
    .unwrap_err();
    assert!(e.to_string().starts_with("replay r1 replays t from"), "{e}");
    db.close().await;
}
