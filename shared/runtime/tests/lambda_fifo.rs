//! FIFO batches through the Lambda host: records of one message group run in order, a failure
//! stops its group only (it and the group's later records are reported, nothing else), and 100
//! orders' interleaved steps, delivered the way SQS FIFO delivers them, are handled and published
//! in per-order publish order.

use std::collections::BTreeMap;

use conveyor_domain::Timestamp;
use conveyor_domain::events::{Validate, ValidationError};
use conveyor_runtime::lambda::sqs::SqsHost;
use conveyor_runtime::topic;
use conveyor_runtime::{CloudEvent, Context, FunctionSpec, HandlerError, Service, TopicHandler};
use conveyor_store::testing::TestDb;
use serde::{Deserialize, Serialize};

use crate::support::probe::{Probe, Seen, ask, deps, seen};
use crate::support::sqs_batch::{failed, fifo, ids, invocation, record};

fn in_group(
    mut m: aws_lambda_events::sqs::SqsMessage,
    group: &str,
) -> aws_lambda_events::sqs::SqsMessage {
    m = fifo(m);
    m.attributes
        .insert("MessageGroupId".to_owned(), group.to_owned());
    m
}

#[tokio::test]
async fn a_failure_stops_its_own_group_only() {
    let db = TestDb::sqlite().await;
    let (deps, publisher) = deps(db.store());
    let host = SqsHost::new(topic(Probe), deps, None);
    let records = [
        in_group(record("m-a1", &ask("e-a1", "a1", "ok"), 1), "a"),
        in_group(record("m-b1", &ask("e-b1", "b1", "ok"), 1), "b"),
        in_group(record("m-a2", &ask("e-a2", "a2", "retry"), 1), "a"),
        in_group(record("m-c1", &ask("e-c1", "c1", "ok"), 1), "c"),
        in_group(record("m-a3", &ask("e-a3", "a3", "ok"), 1), "a"),
        in_group(record("m-b2", &ask("e-b2", "b2", "ok"), 1), "b"),
        in_group(record("m-a4", &ask("e-a4", "a4", "ok"), 1), "a"),
    ];
    let response = host.handle_batch(invocation(&records)).await;
    assert_eq!(failed(&response), ids(&["m-a2", "m-a3", "m-a4"]));
    let mut handled: Vec<String> = seen(&publisher).into_iter().map(|s| s.key).collect();
    handled.sort();
    assert_eq!(handled, ["a1", "b1", "b2", "c1"], "a3 and a4 never ran");
    db.close().await;
}

/// One step of an order; it fails transiently while its receive count is at most `fail`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Step {
    order_id: String,
    seq: u32,
    fail: u32,
}

impl Validate for Step {
    fn validate(&self) -> Result<(), ValidationError> {
        Ok(())
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Steps;

impl TopicHandler for Steps {
    type Payload = Step;
    const SPEC: FunctionSpec =
        FunctionSpec::on_topics("steps", Service::Order, &["test.step"]).ordered_by("order_id");

    async fn handle(&self, step: Step, cx: &mut Context<'_>) -> Result<(), HandlerError> {
        if cx.attempt() <= step.fail {
            return Err(HandlerError::retry("not yet"));
        }
        cx.publish(&Seen {
            key: format!("{}/{}", step.order_id, step.seq),
            attempt: cx.attempt(),
        })
    }
}

const ORDERS: u32 = 100;
const STEPS: u32 = 5;
/// Its step 3 fails on its first delivery.
const FLAKY: u32 = 42;

/// One queued message: id, body, group, receive count so far.
struct Queued {
    id: String,
    body: String,
    group: String,
    received: u32,
}

#[tokio::test]
async fn interleaved_orders_in_fifo_batches_are_handled_in_publish_order_per_order() {
    let db = TestDb::sqlite().await;
    let (deps, publisher) = deps(db.store());
    let host = SqsHost::new(topic(Steps), deps, None);
    // Orders in blocks of four whose steps are interleaved pseudo-randomly (each order's steps
    // in sequence), so a batch of ten holds several records of a group; CloudEvent times run
    // backwards.
    let mut queue: Vec<Queued> = Vec::new();
    let mut lcg: u64 = 7;
    for block in 0..ORDERS / 4 {
        let mut next = [1u32; 4];
        while next.iter().any(|s| *s <= STEPS) {
            lcg = lcg.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let pick = usize::try_from((lcg >> 33) % 4).unwrap();
            if next[pick] > STEPS {
                continue;
            }
            let (n, seq) = (block * 4 + u32::try_from(pick).unwrap(), next[pick]);
            next[pick] += 1;
            let order_id = format!("ord-{n:03}");
            let step = Step {
                order_id: order_id.clone(),
                seq,
                fail: u32::from(n == FLAKY && seq == 3),
            };
            let back = i64::try_from(queue.len()).unwrap() * 1_000;
            let ce = CloudEvent::new(
                "test.step",
                "test",
                &step,
                Timestamp::from_millis(1_800_000_000_000 - back),
            )
            .unwrap();
            queue.push(Queued {
                id: format!("m-{order_id}-{seq}"),
                body: ce.to_json(),
                group: order_id,
                received: 0,
            });
        }
    }
    let mut flaky_batch_checked = false;
    let mut batches = 0;
    // SQS FIFO: batches of at most 10 in queue order; a reported record stays where it was, so
    // its group's later records never overtake it.
    while !queue.is_empty() {
        batches += 1;
        assert!(batches < 1_000, "the queue does not drain");
        let take = queue.len().min(10);
        for q in &mut queue[..take] {
            q.received += 1;
        }
        let records: Vec<_> = queue[..take]
            .iter()
            .map(|q| in_group(record(&q.id, &q.body, q.received), &q.group))
            .collect();
        let response = host.handle_batch(invocation(&records)).await;
        let reported = failed(&response);
        let flaky_group = format!("ord-{FLAKY:03}");
        if queue[..take]
            .iter()
            .any(|q| q.group == flaky_group && q.received == 1 && q.id.ends_with("-3"))
        {
            // It and its group's later records in this batch are reported; nothing else.
            let expected: Vec<&str> = queue[..take]
                .iter()
                .filter(|q| q.group == flaky_group)
                .map(|q| q.id.as_str())
                .filter(|id| !id.ends_with("-1") && !id.ends_with("-2"))
                .collect();
            assert!(!expected.is_empty());
            assert_eq!(reported, ids(&expected));
            flaky_batch_checked = true;
        }
        let mut kept = Vec::new();
        for (i, q) in queue.drain(..).enumerate() {
            if i >= take || reported.contains(&q.id) {
                kept.push(q);
            }
        }
        queue = kept;
    }
    assert!(flaky_batch_checked, "the flaky step was delivered");

    let mut per_order: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for s in seen(&publisher) {
        let (order, seq) = s.key.split_once('/').unwrap();
        per_order
            .entry(order.to_owned())
            .or_default()
            .push(seq.parse().unwrap());
    }
    assert_eq!(per_order.len(), ORDERS as usize);
    for (order, seqs) in per_order {
        assert_eq!(seqs, (1..=STEPS).collect::<Vec<_>>(), "{order}");
    }
    db.close().await;
}
