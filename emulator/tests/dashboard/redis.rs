//! Editing and deleting dead letters on Redis Streams (the `<function>.dlq` stream), through
//! the broker the dashboard's endpoints call; and an entry that is no CloudEvent in the event
//! stream.

use conveyor_catalog as catalog;
use conveyor_redis::broker::RedisBroker;
use conveyor_transport::broker::Broker;

use conveyor_emulator::eventlog::query::EventFilter;
use conveyor_emulator::up::{self, UpConfig};

use crate::functions::{Flaky, eventually};
use crate::redis_common::TestRedis;

#[tokio::test]
async fn redis_dead_letters_are_edited_in_place_of_the_old_entry_and_deleted() {
    let redis = TestRedis::new().await;
    let f = "order-payment-confirmed";
    let functions = vec![catalog::find(f).unwrap()];
    let settings = redis.settings("dash");
    let broker = RedisBroker::connect(settings, &functions).await.unwrap();
    for id in ["e-1", "e-2", "e-3"] {
        redis.dead_letter(f, id, "payload does not decode").await;
    }
    let letters = broker.dead_letters(Some(f), 10).await.unwrap();
    assert_eq!(letters.len(), 3);
    let old = letters
        .iter()
        .find(|l| l.event_id == "e-1")
        .unwrap()
        .clone();

    let fixed = r#"{"id":"e-1b","specversion":"1.0","type":"payment.confirmed","data":{"order_id":"ord-1"}}"#;
    let new_id = broker
        .edit_dead_letter(f, &old.id, fixed)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(new_id, old.id);
    let letters = broker.dead_letters(Some(f), 10).await.unwrap();
    assert_eq!(letters.len(), 3);
    assert!(letters.iter().all(|l| l.id != old.id));
    let edited = letters.iter().find(|l| l.id == new_id).unwrap();
    assert_eq!(edited.body, fixed);
    assert_eq!(edited.event_id, "e-1b");
    assert_eq!(
        (edited.error.as_str(), edited.attempts),
        (old.error.as_str(), old.attempts)
    );
    assert_eq!(edited.failed_at, old.failed_at);
    assert_eq!(
        broker.edit_dead_letter(f, "1-1", fixed).await.unwrap(),
        None
    );

    let two = letters
        .iter()
        .find(|l| l.event_id == "e-2")
        .unwrap()
        .id
        .clone();
    assert_eq!(
        broker
            .delete_dead_letters(f, Some(std::slice::from_ref(&two)))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        broker.delete_dead_letters(f, Some(&[two])).await.unwrap(),
        0
    );
    assert_eq!(broker.dead_letters(Some(f), 10).await.unwrap().len(), 2);
    assert_eq!(broker.delete_dead_letters(f, None).await.unwrap(), 2);
    assert!(broker.dead_letters(Some(f), 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn an_entry_that_is_no_cloudevent_shows_in_the_event_stream_as_dead_lettered() {
    let redis = TestRedis::new().await;
    let dir = tempfile::tempdir().unwrap();
    let functions: Vec<std::sync::Arc<dyn conveyor_runtime::Function>> =
        vec![conveyor_runtime::topic(Flaky::default())];
    let running = up::start(UpConfig {
        database: format!("sqlite://{}", dir.path().join("dash.db").display()),
        functions,
        redis: Some(redis.settings("dash-poison")),
        ..UpConfig::default()
    })
    .await
    .unwrap();
    // Written by something else than conveyor (a script, another producer): not a CloudEvent.
    let id: String = redis::from_redis_value(
        redis
            .cmd(&[
                "XADD",
                &redis.key("test.ping"),
                "*",
                "data",
                "<html>oops</html>",
            ])
            .await,
    )
    .unwrap();
    eventually("the entry dead-lettered", || async {
        running
            .broker
            .dead_letters(Some("test-flaky"), 10)
            .await
            .unwrap()
            .len()
            == 1
    })
    .await;
    let events = running
        .events
        .events(&EventFilter::default(), 100, None, &|topic| {
            running.broker.subscribers(topic)
        });
    let poison = events
        .iter()
        .find(|e| e.event.id == id)
        .expect("the entry is in the event stream under its entry id");
    assert_eq!(poison.status, "dead_lettered");
    assert_eq!(poison.event.topic, "test.ping");
    assert_eq!(&*poison.event.body, "<html>oops</html>");
    assert_eq!(poison.deliveries.len(), 1);
    assert_eq!(poison.deliveries[0].function, "test-flaky");
    assert!(
        poison.deliveries[0]
            .error
            .as_deref()
            .is_some_and(|e| !e.is_empty())
    );
    running.shutdown().await;
}
