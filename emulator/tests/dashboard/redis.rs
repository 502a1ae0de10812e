//! Editing and deleting dead letters on Redis Streams (the `<function>.dlq` stream), through
//! the broker the dashboard's endpoints call.

use conveyor_domain::Timestamp;
use conveyor_emulator::broker::Broker;
use conveyor_emulator::catalog;
use conveyor_emulator::redis::broker::RedisBroker;
use conveyor_emulator::redis::dlq::LetterFields;

use crate::redis_common::TestRedis;

async fn letter(redis: &TestRedis, dlq: &str, event_id: &str) {
    let body = format!(
        r#"{{"id":"{event_id}","specversion":"1.0","type":"payment.confirmed","data":{{"order_id":7}}}}"#
    );
    let mut cmd = redis::cmd("XADD");
    cmd.arg(dlq).arg("*");
    LetterFields {
        data: body.as_bytes(),
        error: "payload does not decode",
        function: "order-payment-confirmed",
        attempts: 1,
        first_delivered_at: Timestamp::from_millis(1_000),
        failed_at: Timestamp::from_millis(2_000),
        topic: "payment.confirmed",
        event_id,
        source_id: "1-0",
    }
    .write(&mut cmd);
    let _: String = cmd.query_async(&mut redis.con.clone()).await.unwrap();
}

#[tokio::test]
async fn redis_dead_letters_are_edited_in_place_of_the_old_entry_and_deleted() {
    let redis = TestRedis::new().await;
    let f = "order-payment-confirmed";
    let functions = vec![catalog::find(f).unwrap()];
    let settings = redis.settings("dash");
    let dlq = settings.dlq_key(f);
    let broker = RedisBroker::connect(settings, &functions).await.unwrap();
    for id in ["e-1", "e-2", "e-3"] {
        letter(&redis, &dlq, id).await;
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
