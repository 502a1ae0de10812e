//! Contract tests of the embedded broker's queue on both backends.

use conveyor_domain::Timestamp;
use conveyor_store::queue::Enqueue;
use conveyor_store::testing::on_both_backends;

fn at(ms: i64) -> Timestamp {
    Timestamp::from_millis(ms)
}

fn msg<'a>(function: &'a str, event_id: &'a str) -> Enqueue<'a> {
    Enqueue {
        function,
        event_id,
        topic: "t",
        body: event_id,
        ordering_key: None,
        leased_until: None,
    }
}

fn keyed<'a>(function: &'a str, event_id: &'a str, key: &'a str) -> Enqueue<'a> {
    Enqueue {
        ordering_key: Some(key),
        ..msg(function, event_id)
    }
}

fn ids(leased: &[conveyor_store::queue::Leased]) -> Vec<&str> {
    leased.iter().map(|m| m.event_id.as_str()).collect()
}

fn ids_and_attempts(leased: &[conveyor_store::queue::Leased]) -> Vec<(&str, u32)> {
    leased
        .iter()
        .map(|m| (m.event_id.as_str(), m.attempts))
        .collect()
}

#[tokio::test]
async fn one_key_at_a_time_in_order_and_a_failing_message_holds_its_key_back() {
    on_both_backends(|store| async move {
        let batch = [
            keyed("f", "a1", "A"),
            keyed("f", "b1", "B"),
            keyed("f", "a2", "A"),
            msg("f", "free"),
            keyed("f", "b2", "B"),
            keyed("g", "a1", "A"),
        ];
        store.queue_push(&batch, at(0)).await.unwrap();
        // Only the oldest message of each key (and unkeyed ones) are deliverable.
        let first = store.queue_lease("f", 10, at(0), at(30_000)).await.unwrap();
        assert_eq!(ids(&first), ["a1", "b1", "free"]);
        // a1 fails and waits for a retry: a2 stays held back even when its turn would come.
        store
            .queue_retry(first[0].seq, at(5_000), "transient")
            .await
            .unwrap();
        store
            .queue_ack(&[first[1].seq, first[2].seq])
            .await
            .unwrap();
        assert_eq!(
            ids(&store
                .queue_lease("f", 10, at(1_000), at(30_000))
                .await
                .unwrap()),
            ["b2"]
        );
        let retried = store
            .queue_lease("f", 10, at(5_000), at(35_000))
            .await
            .unwrap();
        assert_eq!(ids(&retried), ["a1"]);
        // Once a1 is gone (handled or dead-lettered), a2 follows.
        store
            .queue_dead_letter(&retried[0], "gave up", at(6_000))
            .await
            .unwrap();
        assert_eq!(
            ids(&store
                .queue_lease("f", 10, at(6_000), at(36_000))
                .await
                .unwrap()),
            ["a2"]
        );
        // Another function's copy of key A was never held back by f's.
        assert_eq!(
            ids(&store.queue_lease("g", 10, at(0), at(30_000)).await.unwrap()),
            ["a1"]
        );
    })
    .await;
}

#[tokio::test]
async fn leases_in_order_hides_leased_messages_and_redelivers_expired_leases() {
    on_both_backends(|store| async move {
        store
            .queue_push(&[msg("f", "a"), msg("f", "b"), msg("g", "c")], at(1_000))
            .await
            .unwrap();
        let first = store
            .queue_lease("f", 1, at(1_000), at(31_000))
            .await
            .unwrap();
        assert_eq!(ids_and_attempts(&first), [("a", 1)]);
        let rest = store
            .queue_lease("f", 10, at(1_000), at(31_000))
            .await
            .unwrap();
        assert_eq!(
            rest.iter().map(|m| m.event_id.as_str()).collect::<Vec<_>>(),
            ["b"]
        );
        assert!(
            store
                .queue_lease("f", 10, at(2_000), at(32_000))
                .await
                .unwrap()
                .is_empty(),
            "leased messages are hidden"
        );

        // The consumer of `a` died: after its lease, `a` comes back with a higher delivery count.
        store.queue_ack(&[rest[0].seq]).await.unwrap();
        let again = store
            .queue_lease("f", 10, at(31_000), at(61_000))
            .await
            .unwrap();
        assert_eq!(ids_and_attempts(&again), [("a", 2)]);
        assert_eq!(
            store.queue_depths().await.unwrap(),
            vec![("f".to_owned(), 1), ("g".to_owned(), 1)]
        );
    })
    .await;
}

#[tokio::test]
async fn retry_delays_and_dead_letters_redrive_to_one_function() {
    on_both_backends(|store| async move {
        store
            .queue_push(&[msg("f", "a"), msg("g", "a")], at(0))
            .await
            .unwrap();
        let m = store
            .queue_lease("f", 1, at(0), at(30_000))
            .await
            .unwrap()
            .remove(0);
        store
            .queue_retry(m.seq, at(5_000), "db down")
            .await
            .unwrap();
        assert!(
            store
                .queue_lease("f", 1, at(4_999), at(30_000))
                .await
                .unwrap()
                .is_empty()
        );
        let m = store
            .queue_lease("f", 1, at(5_000), at(30_000))
            .await
            .unwrap()
            .remove(0);
        assert_eq!(m.attempts, 2);

        let id = store
            .queue_dead_letter(&m, "Drop: not a CloudEvent", at(6_000))
            .await
            .unwrap()
            .expect("the latest delivery dead-letters its message");
        let letters = store.dead_letters(Some("f"), 10).await.unwrap();
        assert_eq!(letters.len(), 1);
        assert_eq!(
            (
                letters[0].id.as_str(),
                letters[0].error.as_str(),
                letters[0].attempts
            ),
            (id.as_str(), "Drop: not a CloudEvent", 2)
        );
        assert_eq!(letters[0].first_attempt_at, at(0));
        assert!(store.dead_letters(Some("g"), 10).await.unwrap().is_empty());
        assert_eq!(store.dead_letters(None, 10).await.unwrap().len(), 1);

        assert_eq!(
            store
                .redrive("f", Some(&["other".to_owned()]), at(7_000), &|_| None)
                .await
                .unwrap(),
            0
        );
        assert_eq!(
            store
                .redrive("f", None, at(7_000), &|_| None)
                .await
                .unwrap(),
            1
        );
        assert!(store.dead_letters(Some("f"), 10).await.unwrap().is_empty());
        let back = store
            .queue_lease("f", 10, at(7_000), at(37_000))
            .await
            .unwrap();
        assert_eq!(ids_and_attempts(&back), [("a", 1)]);
        // g's own copy is untouched by f's redrive.
        assert_eq!(
            store
                .queue_lease("g", 10, at(7_000), at(37_000))
                .await
                .unwrap()
                .len(),
            1
        );
    })
    .await;
}

#[tokio::test]
async fn a_redriven_dead_letter_keeps_its_key_and_waits_behind_its_keys_earlier_message() {
    on_both_backends(|store| async move {
        // a1 of key A is dead-lettered; a2 of key A arrives and is in flight.
        store
            .queue_push(&[keyed("f", "a1", "A")], at(0))
            .await
            .unwrap();
        let a1 = store.queue_lease("f", 10, at(0), at(30_000)).await.unwrap();
        store
            .queue_dead_letter(&a1[0], "bad", at(1_000))
            .await
            .unwrap();
        store
            .queue_push(&[keyed("f", "a2", "A")], at(2_000))
            .await
            .unwrap();
        let a2 = store
            .queue_lease("f", 10, at(2_000), at(32_000))
            .await
            .unwrap();
        assert_eq!(ids(&a2), ["a2"]);

        // Redriven with its key (read from the body, here the event id's first letter).
        let key_of = |body: &str| Some(body[..1].to_uppercase());
        assert_eq!(
            store.redrive("f", None, at(3_000), &key_of).await.unwrap(),
            1
        );
        assert!(
            store
                .queue_lease("f", 10, at(3_000), at(33_000))
                .await
                .unwrap()
                .is_empty(),
            "a1 waits while a2 of its key is in flight"
        );
        store.queue_ack(&[a2[0].seq]).await.unwrap();
        assert_eq!(
            ids(&store
                .queue_lease("f", 10, at(4_000), at(34_000))
                .await
                .unwrap()),
            ["a1"]
        );
    })
    .await;
}

#[tokio::test]
async fn a_delivery_whose_lease_ran_out_does_not_dead_letter_the_message_again() {
    on_both_backends(|store| async move {
        store.queue_push(&[msg("f", "e1")], at(0)).await.unwrap();
        // The first consumer's lease runs out while it still works; a second leases it again.
        let first = store
            .queue_lease("f", 1, at(0), at(1_000))
            .await
            .unwrap()
            .remove(0);
        let second = store
            .queue_lease("f", 1, at(1_000), at(31_000))
            .await
            .unwrap()
            .remove(0);
        assert_eq!((first.attempts, second.attempts), (1, 2));

        // The first gives up late: nothing is written, the message stays the second's.
        assert_eq!(
            store
                .queue_dead_letter(&first, "gave up", at(2_000))
                .await
                .unwrap(),
            None
        );
        assert!(store.dead_letters(Some("f"), 10).await.unwrap().is_empty());
        assert_eq!(store.queue_depths().await.unwrap(), [("f".to_owned(), 1)]);

        // The second dead-letters it once; again (a repeat) writes nothing.
        assert!(
            store
                .queue_dead_letter(&second, "gave up", at(3_000))
                .await
                .unwrap()
                .is_some()
        );
        assert_eq!(
            store
                .queue_dead_letter(&second, "gave up", at(3_000))
                .await
                .unwrap(),
            None
        );
        let letters = store.dead_letters(Some("f"), 10).await.unwrap();
        assert_eq!(letters.len(), 1);
        assert_eq!(letters[0].attempts, 2);
        assert!(store.queue_depths().await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn a_message_pushed_leased_is_hidden_until_its_lease_ends_or_it_is_unleased() {
    on_both_backends(|store| async move {
        let handed = Enqueue {
            leased_until: Some(at(31_000)),
            ..msg("f", "handed")
        };
        // Alone (one statement) and in a batch (one transaction), the leased ones come back.
        let alone = store
            .queue_push(std::slice::from_ref(&handed), at(1_000))
            .await
            .unwrap();
        assert_eq!(
            alone
                .iter()
                .map(|m| (m.event_id.as_str(), m.attempts, m.enqueued_at))
                .collect::<Vec<_>>(),
            [("handed", 1, at(1_000))]
        );
        let batch = store
            .queue_push(
                &[
                    msg("f", "plain"),
                    Enqueue {
                        event_id: "handed-too",
                        ..handed.clone()
                    },
                ],
                at(1_000),
            )
            .await
            .unwrap();
        assert_eq!(ids(&batch), ["handed-too"]);
        assert!(batch[0].seq > alone[0].seq, "queue order is kept");

        assert_eq!(
            ids(&store
                .queue_lease("f", 10, at(2_000), at(32_000))
                .await
                .unwrap()),
            ["plain"],
            "a message handed over is leased already"
        );
        // The consumer stopped before starting the second: back at once, its delivery uncounted.
        store
            .queue_unlease(&[batch[0].seq], at(3_000))
            .await
            .unwrap();
        let back = store
            .queue_lease("f", 10, at(3_000), at(33_000))
            .await
            .unwrap();
        assert_eq!(ids_and_attempts(&back), [("handed-too", 1)]);
        // The first was never settled: its lease ends and it is delivered again.
        let again = store
            .queue_lease("f", 10, at(31_000), at(61_000))
            .await
            .unwrap();
        assert_eq!(ids_and_attempts(&again), [("handed", 2)]);
    })
    .await;
}
