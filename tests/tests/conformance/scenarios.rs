//! The scenarios, written once and generic over the host: each starts the host with the
//! functions it needs on a fresh database, publishes, waits until the host has settled, and
//! asserts the final state (the effects committed), the dead letters (reason and attempts as
//! [`conveyor_runtime::delivery`] words them) and the counters, reading a host's declared
//! [`Differences`](crate::host::Differences) where it has any.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use conveyor_domain::Timestamp;
use conveyor_domain::events::ValidationError;
use conveyor_runtime::delivery::{self, Decision};
use conveyor_runtime::{CloudEvent, Function, FunctionSpec, HandlerError, TopicHandler, topic};
use conveyor_store::OutboxRow;

use crate::db::{Db, Effect};
use crate::functions::{
    Bystander, Crashy, Fixable, Flaky, Follower, Good, Ordered, Panicky, Poison, Slow, event,
    event_at,
};
use crate::host::{Counters, Host, Letter, settle};

/// The effect `H` commits for `row` on delivery `attempt`.
fn effect<H: TopicHandler>(row: &OutboxRow, key: &str, n: u32, attempt: u32) -> Effect {
    Effect {
        function: H::SPEC.name.to_owned(),
        event_id: row.id.clone(),
        key: key.to_owned(),
        n,
        attempt,
        // The suite publishes its events from outside: nothing caused them.
        caused_by: None,
    }
}

/// The dead letter the delivery policy makes of `row` when delivery `attempt` of it to the
/// function `spec` ends in `error`.
fn letter(spec: &FunctionSpec, row: &OutboxRow, attempt: u32, error: &HandlerError) -> Letter {
    match delivery::decide_with(spec, attempt, Err(error), |d| d) {
        Decision::DeadLetter { reason, attempts } => Letter {
            event_id: row.id.clone(),
            reason: Some(reason),
            attempts,
        },
        other => panic!("the policy does not dead-letter {error} on delivery {attempt}: {other:?}"),
    }
}

/// What one scenario found wrong on a host; every check runs, and the scenario fails at the end
/// with all of them, so one run shows each way a host differs.
struct Check {
    host: &'static str,
    mismatches: Vec<String>,
}

impl Check {
    fn on<H: Host>() -> Self {
        Self {
            host: H::NAME,
            mismatches: Vec::new(),
        }
    }

    fn eq<T: PartialEq + std::fmt::Debug + ?Sized>(&mut self, what: &str, got: &T, expected: &T) {
        if got != expected {
            self.mismatches.push(format!(
                "{what}:\n     got: {got:?}\n    want: {expected:?}"
            ));
        }
    }

    fn that(&mut self, what: &str, holds: bool) {
        if !holds {
            self.mismatches.push(what.to_owned());
        }
    }

    /// `function`'s dead letters; a host that keeps no reasons is compared without them.
    async fn letters<H: Host>(
        &mut self,
        host: &H,
        function: &'static str,
        mut expected: Vec<Letter>,
    ) {
        if !H::DIFFERENCES.letter_reasons {
            for l in &mut expected {
                l.reason = None;
            }
        }
        expected.sort();
        let got = host.dead_letters(function).await;
        self.eq(&format!("dead letters of {function}"), &got, &expected);
    }

    fn counters<H: Host>(&mut self, host: &H, function: &'static str, expected: Counters) {
        let got = host.counters(function);
        self.eq(&format!("counters of {function}"), &got, &expected);
    }

    async fn effects(&mut self, db: &Db, expected: &[Effect]) {
        self.eq("effects", db.effects().await.as_slice(), expected);
    }

    fn done(self) {
        assert!(
            self.mismatches.is_empty(),
            "{}: {} mismatch(es)\n{}",
            self.host,
            self.mismatches.len(),
            self.mismatches.join("\n")
        );
    }
}

const fn counters(handled: u64, retried: u64, dead_lettered: u64) -> Counters {
    Counters {
        handled,
        retried,
        dead_lettered,
    }
}

async fn start<H: Host>(db: &Db, functions: Vec<Arc<dyn Function>>) -> H {
    H::start(db, functions).await
}

/// A good event takes effect once, on its first delivery.
pub(crate) async fn good_event<H: Host>() {
    let (db, mut check) = (Db::new().await, Check::on::<H>());
    let host: H = start(&db, vec![topic(Good)]).await;
    let e = event("conformance.good", "k", 1);
    host.publish(std::slice::from_ref(&e)).await;
    settle(&host).await;
    check.effects(&db, &[effect::<Good>(&e, "k", 1, 1)]).await;
    check.letters(&host, Good::SPEC.name, Vec::new()).await;
    check.counters(&host, Good::SPEC.name, counters(1, 0, 0));
    host.stop().await;
    check.done();
}

/// A transient failure is delivered again until it succeeds; it takes effect once.
pub(crate) async fn transient_failure_then_success<H: Host>() {
    let (db, mut check) = (Db::new().await, Check::on::<H>());
    let host: H = start(&db, vec![topic(Flaky)]).await;
    let e = event("conformance.flaky", "k", 1);
    host.publish(std::slice::from_ref(&e)).await;
    settle(&host).await;
    let failures = Flaky::FAILURES;
    check
        .effects(&db, &[effect::<Flaky>(&e, "k", 1, failures + 1)])
        .await;
    check.letters(&host, Flaky::SPEC.name, Vec::new()).await;
    let expected = counters(1, u64::from(failures), 0);
    check.counters(&host, Flaky::SPEC.name, expected);
    host.stop().await;
    check.done();
}

/// Poison (the handler drops it, or its payload is invalid) is dead-lettered on its first
/// delivery, with the reason, and never retried.
pub(crate) async fn poison<H: Host>() {
    let (db, mut check) = (Db::new().await, Check::on::<H>());
    let host: H = start(&db, vec![topic(Poison), topic(Good)]).await;
    let pill = event("conformance.poison", "k", 1);
    let invalid = event("conformance.good", "k", 0);
    host.publish(&[pill.clone(), invalid.clone()]).await;
    settle(&host).await;
    check.effects(&db, &[]).await;
    let dropped = letter(&Poison::SPEC, &pill, 1, &Poison::error(1));
    check.letters(&host, Poison::SPEC.name, vec![dropped]).await;
    let invalid_payload = HandlerError::from(ValidationError::new("n must be positive"));
    let refused = letter(&Good::SPEC, &invalid, 1, &invalid_payload);
    check.letters(&host, Good::SPEC.name, vec![refused]).await;
    check.counters(&host, Poison::SPEC.name, counters(0, 0, 1));
    check.counters(&host, Good::SPEC.name, counters(0, 0, 1));
    host.stop().await;
    check.done();
}

/// A body that is no CloudEvent, and an event whose payload is invalid, are dead-lettered at
/// once, with the reason, by every function subscribed to their topic; neither reaches a
/// handler.
pub(crate) async fn not_a_cloudevent<H: Host>() {
    let (db, mut check) = (Db::new().await, Check::on::<H>());
    let host: H = start(&db, vec![topic(Good), topic(Bystander)]).await;
    let (raw_id, garbage) = ("conformance-raw-1", "not json");
    host.publish_raw(raw_id, "conformance.good", garbage).await;
    let invalid = event("conformance.good", "k", 0);
    host.publish(std::slice::from_ref(&invalid)).await;
    settle(&host).await;
    check.effects(&db, &[]).await;
    let undecodable = HandlerError::from(
        CloudEvent::decode(garbage.as_bytes()).expect_err("the body is no CloudEvent"),
    );
    let invalid_payload = HandlerError::from(ValidationError::new("n must be positive"));
    let raw_letter_id = if H::DIFFERENCES.raw_letter_keeps_published_id {
        raw_id
    } else {
        ""
    };
    for spec in [&Good::SPEC, &Bystander::SPEC] {
        // The policy's letter, under the id the host keeps for a body without one.
        let raw = Letter {
            event_id: raw_letter_id.to_owned(),
            ..letter(spec, &invalid, 1, &undecodable)
        };
        let refused = letter(spec, &invalid, 1, &invalid_payload);
        check.letters(&host, spec.name, vec![raw, refused]).await;
        check.counters(&host, spec.name, counters(0, 0, 2));
    }
    host.stop().await;
    check.done();
}

/// The same event delivered twice at once, and once more later, takes effect once; each
/// duplicate counts as handled.
pub(crate) async fn delivered_twice<H: Host>() {
    let (db, mut check) = (Db::new().await, Check::on::<H>());
    let host: H = start(&db, vec![topic(Good)]).await;
    let e = event("conformance.good", "k", 1);
    host.publish(&[e.clone(), e.clone()]).await;
    settle(&host).await;
    host.publish(std::slice::from_ref(&e)).await;
    settle(&host).await;
    check.effects(&db, &[effect::<Good>(&e, "k", 1, 1)]).await;
    check.letters(&host, Good::SPEC.name, Vec::new()).await;
    check.counters(&host, Good::SPEC.name, counters(3, 0, 0));
    host.stop().await;
    check.done();
}

/// A handler past its timeout is cut off, its effect rolled back, and the delivery retried;
/// past the last allowed delivery it is dead-lettered with the timeout as reason.
pub(crate) async fn past_its_timeout<H: Host>() {
    let (db, mut check) = (Db::new().await, Check::on::<H>());
    let host: H = start(&db, vec![topic(Slow)]).await;
    let e = event("conformance.slow", "k", 1);
    host.publish(std::slice::from_ref(&e)).await;
    settle(&host).await;
    check.effects(&db, &[]).await;
    let deliveries = Slow::SPEC.retry.max_deliveries;
    // The runtime's words for a handler cut off at its timeout.
    let timed_out = HandlerError::retry(format!(
        "{} timed out after {:?}",
        Slow::SPEC.name,
        Slow::SPEC.timeout
    ));
    let gave_up = letter(&Slow::SPEC, &e, deliveries, &timed_out);
    check.letters(&host, Slow::SPEC.name, vec![gave_up]).await;
    let expected = counters(0, u64::from(deliveries - 1), 1);
    check.counters(&host, Slow::SPEC.name, expected);
    host.stop().await;
    check.done();
}

/// A host that dies mid-handler loses nothing and commits nothing of that delivery: the event
/// comes back to the next incarnation and takes effect once.
pub(crate) async fn crash_mid_handler<H: Host>() {
    let (db, mut check) = (Db::new().await, Check::on::<H>());
    let crashy = Crashy::default();
    let point = Arc::clone(&crashy.point);
    let mut host: H = start(&db, vec![topic(crashy)]).await;
    let e = event("conformance.crashy", "k", 1);
    host.publish(std::slice::from_ref(&e)).await;
    tokio::time::timeout(Duration::from_secs(20), point.reached())
        .await
        .unwrap_or_else(|_| panic!("{}: the handler never ran", H::NAME));
    host.crash().await;
    settle(&host).await;
    let attempt = H::DIFFERENCES.attempt_after_crash;
    check
        .effects(&db, &[effect::<Crashy>(&e, "k", 1, attempt)])
        .await;
    check.letters(&host, Crashy::SPEC.name, Vec::new()).await;
    check.counters(&host, Crashy::SPEC.name, counters(1, 0, 0));
    host.stop().await;
    check.done();
}

/// A handler that panics has its effect rolled back, and the event is delivered again; the
/// panicked delivery counts as a failed one (as the Lambda adapter reports it: the record
/// failed, SQS delivers it again), so a handler that keeps panicking shows in the metrics.
pub(crate) async fn handler_panics<H: Host>() {
    let (db, mut check) = (Db::new().await, Check::on::<H>());
    let host: H = start(&db, vec![topic(Panicky::default())]).await;
    let e = event("conformance.panicky", "k", 1);
    host.publish(std::slice::from_ref(&e)).await;
    settle(&host).await;
    check
        .effects(&db, &[effect::<Panicky>(&e, "k", 1, 2)])
        .await;
    check.letters(&host, Panicky::SPEC.name, Vec::new()).await;
    check.counters(&host, Panicky::SPEC.name, counters(1, 1, 0));
    host.stop().await;
    check.done();
}

/// The keys of the ordering scenario, and the steps of each.
const KEYS: [&str; 6] = ["a", "b", "c", "d", "e", "f"];
const STEPS: u32 = 4;

/// Events of one key take effect in publish order, whatever their CloudEvent times say: several
/// keys' steps published interleaved, times running backwards. A failing event holds back the
/// later events of its key until it succeeds, while the other keys go on; a poison event is
/// dead-lettered before its key's next event runs. What the function publishes for each event
/// reaches the next function ordered by the same key in the order it took effect.
pub(crate) async fn ordering_per_key<H: Host>() {
    let (db, mut check) = (Db::new().await, Check::on::<H>());
    let ordered = Ordered::default();
    let runs = Arc::clone(&ordered.runs);
    let host: H = start(&db, vec![topic(ordered), topic(Follower)]).await;
    let topic_name = "conformance.ordered";
    // Step 1 of every key, then step 2 of every key, ...; each later than the last published,
    // and a second earlier in time.
    let mut published: Vec<(&str, u32, OutboxRow)> = Vec::new();
    let latest = Timestamp::parse_rfc3339("2030-01-01T00:00:00Z").expect("a time");
    for n in 1..=STEPS {
        for key in KEYS {
            let back = i64::try_from(published.len()).expect("a few events") * 1_000;
            let row = event_at(topic_name, key, n, latest.add_millis(-back));
            published.push((key, n, row));
        }
    }
    let rows: Vec<OutboxRow> = published.iter().map(|(_, _, row)| row.clone()).collect();
    host.publish(&rows).await;
    settle(&host).await;

    let effects = db.effects().await;
    let of = |function: &str, key: &str| -> Vec<Effect> {
        effects
            .iter()
            .filter(|e| e.function == function && e.key == key)
            .cloned()
            .collect()
    };
    let expected_of = |key: &str| -> Vec<Effect> {
        published
            .iter()
            .filter(|(k, n, _)| *k == key && (*k, *n) != Ordered::POISON)
            .map(|(k, n, row)| {
                let attempt = if (*k, *n) == Ordered::FLAKY {
                    Ordered::FAILURES + 1
                } else {
                    1
                };
                effect::<Ordered>(row, k, *n, attempt)
            })
            .collect()
    };
    let (flaky_key, _) = Ordered::FLAKY;
    for key in KEYS {
        // Each follow-up takes effect once, on its first delivery, in the order the key's events
        // took effect.
        let follow_ups: Vec<(u32, u32)> = of(Follower::SPEC.name, key)
            .iter()
            .map(|e| (e.n, e.attempt))
            .collect();
        let took_effect: Vec<(u32, u32)> = of(Ordered::SPEC.name, key)
            .iter()
            .map(|e| (e.n, 1))
            .collect();
        check.eq(
            &format!("follow-ups of key {key}, in order"),
            &follow_ups,
            &took_effect,
        );
        let mut got = of(Ordered::SPEC.name, key);
        let mut expected = expected_of(key);
        if key == flaky_key && !H::DIFFERENCES.key_held_until_resolved {
            // The later events do not wait for the failing one, which takes effect somewhere
            // among them: they are in order, and it takes effect once, on its last delivery.
            let first = |effects: &mut Vec<Effect>| {
                let at = effects.iter().position(|e| e.n == Ordered::FLAKY.1);
                at.map(|at| effects.remove(at))
            };
            check.eq(
                "the failing event's effect",
                &first(&mut got),
                &first(&mut expected),
            );
        }
        check.eq(&format!("effects of key {key}, in order"), &got, &expected);
    }
    // Each follow-up names, as its cause, the event whose handling published it.
    for follow_up in effects.iter().filter(|e| e.function == Follower::SPEC.name) {
        let cause = published
            .iter()
            .find(|(k, n, _)| *k == follow_up.key && *n == follow_up.n)
            .map(|(_, _, row)| row.id.clone());
        check.eq(
            &format!(
                "cause of the follow-up of {} {}",
                follow_up.key, follow_up.n
            ),
            &follow_up.caused_by,
            &cause,
        );
    }
    // While the failing event waited for its retries, the other keys went on.
    let position = |key: &str, n: u32| {
        effects
            .iter()
            .position(|e| e.function == Ordered::SPEC.name && e.key == key && e.n == n)
    };
    let failing = position(flaky_key, Ordered::FLAKY.1);
    for key in KEYS.iter().filter(|k| **k != flaky_key) {
        check.that(
            &format!("key {key} is held back by key {flaky_key}: {effects:?}"),
            position(key, 1) < failing,
        );
    }
    // The poison event ran before its key's next event.
    let runs = Ordered::runs(&runs);
    let (poison_key, poison_n) = Ordered::POISON;
    let first_run = |n: u32| runs.iter().position(|r| r.0 == poison_key && r.1 == n);
    check.that(
        &format!("the poison event ran before its key's next event: {runs:?}"),
        first_run(poison_n).is_some() && first_run(poison_n) < first_run(poison_n + 1),
    );
    let pill = published
        .iter()
        .find(|(k, n, _)| (*k, *n) == Ordered::POISON)
        .map(|(_, _, row)| row)
        .expect("the poison event is published");
    let dropped = letter(&Ordered::SPEC, pill, 1, &Ordered::poison());
    check
        .letters(&host, Ordered::SPEC.name, vec![dropped])
        .await;
    let handled = u64::try_from(published.len()).expect("a few events") - 1;
    let expected = counters(handled, u64::from(Ordered::FAILURES), 1);
    check.counters(&host, Ordered::SPEC.name, expected);
    check.letters(&host, Follower::SPEC.name, Vec::new()).await;
    // Publishing is at least once (the relay may publish a row its invocation is still
    // publishing, on a loaded machine): a copy is handled as a duplicate, and counts.
    let follower = host.counters(Follower::SPEC.name);
    check.that(
        &format!(
            "{} handled every follow-up: {follower:?}",
            Follower::SPEC.name
        ),
        follower.handled >= handled && follower.retried == 0 && follower.dead_lettered == 0,
    );
    host.stop().await;
    check.done();
}

/// An event that used up its deliveries is dead-lettered with the policy's reason, while another
/// function subscribed to its topic takes effect once; once the cause is fixed, a redrive
/// delivers it again to the failing function only, and it takes effect once.
pub(crate) async fn redrive<H: Host>() {
    let (db, mut check) = (Db::new().await, Check::on::<H>());
    let broken = Arc::new(AtomicBool::new(true));
    let fixable = Fixable {
        broken: Arc::clone(&broken),
    };
    let host: H = start(&db, vec![topic(fixable), topic(Bystander)]).await;
    let e = event("conformance.fixable", "k", 1);
    host.publish(std::slice::from_ref(&e)).await;
    settle(&host).await;
    let deliveries = Fixable::SPEC.retry.max_deliveries;
    let bystanders = effect::<Bystander>(&e, "k", 1, 1);
    check.effects(&db, std::slice::from_ref(&bystanders)).await;
    let gave_up = letter(&Fixable::SPEC, &e, deliveries, &Fixable::error());
    check
        .letters(&host, Fixable::SPEC.name, vec![gave_up])
        .await;
    let exhausted = counters(0, u64::from(deliveries - 1), 1);
    check.counters(&host, Fixable::SPEC.name, exhausted);
    let bystander = counters(1, 0, 0);
    check.counters(&host, Bystander::SPEC.name, bystander);

    broken.store(false, Ordering::SeqCst);
    check.eq("redriven", &host.redrive(Fixable::SPEC.name).await, &1);
    settle(&host).await;
    check
        .effects(&db, &[bystanders, effect::<Fixable>(&e, "k", 1, 1)])
        .await;
    check.letters(&host, Fixable::SPEC.name, Vec::new()).await;
    let fixed = Counters {
        handled: 1,
        ..exhausted
    };
    check.counters(&host, Fixable::SPEC.name, fixed);
    // The redrive did not reach the other subscriber: not even as a duplicate.
    check.letters(&host, Bystander::SPEC.name, Vec::new()).await;
    check.counters(&host, Bystander::SPEC.name, bystander);
    host.stop().await;
    check.done();
}
