//! The scenarios, written once and generic over the host: each starts the host with the
//! functions it needs on a fresh database, publishes, waits until the host has settled, and
//! asserts the final state (the effects committed), the dead letters (reason and attempts as
//! [`conveyor_runtime::delivery`] words them) and the counters, reading a host's declared
//! [`Differences`](crate::host::Differences) where it has any.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use conveyor_domain::events::ValidationError;
use conveyor_runtime::delivery::{self, Decision};
use conveyor_runtime::{Function, FunctionSpec, HandlerError, TopicHandler, topic};
use conveyor_store::OutboxRow;

use crate::db::{Db, Effect};
use crate::functions::{Crashy, Fixable, Flaky, Good, Ordered, Panicky, Poison, Slow, event};
use crate::host::{Counters, Host, Letter, settle};

/// The effect `H` commits for `row` on delivery `attempt`.
fn effect<H: TopicHandler>(row: &OutboxRow, key: &str, n: u32, attempt: u32) -> Effect {
    Effect {
        function: H::SPEC.name.to_owned(),
        event_id: row.id.clone(),
        key: key.to_owned(),
        n,
        attempt,
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

/// Events of one key take effect in publish order: a failing event holds back the later events
/// of its key until it succeeds, while another key goes on.
pub(crate) async fn ordering_key_held_by_a_failing_event<H: Host>() {
    let (db, mut check) = (Db::new().await, Check::on::<H>());
    let host: H = start(&db, vec![topic(Ordered)]).await;
    let topic_name = "conformance.ordered";
    let (a1, a2, a3) = (
        event(topic_name, "a", 1),
        event(topic_name, "a", 2),
        event(topic_name, "a", 3),
    );
    let b1 = event(topic_name, "b", 1);
    host.publish(&[a1.clone(), a2.clone(), a3.clone(), b1.clone()])
        .await;
    settle(&host).await;

    let effects = db.effects().await;
    let of_a: Vec<Effect> = effects.iter().filter(|e| e.key == "a").cloned().collect();
    let failures = Ordered::FAILURES;
    let first = effect::<Ordered>(&a1, "a", 1, failures + 1);
    let later = [
        effect::<Ordered>(&a2, "a", 2, 1),
        effect::<Ordered>(&a3, "a", 3, 1),
    ];
    let expected_a = if H::DIFFERENCES.key_held_until_resolved {
        [vec![first], later.to_vec()].concat()
    } else {
        [later.to_vec(), vec![first]].concat()
    };
    check.eq("effects of key a, in order", &of_a, &expected_a);
    let of_b: Vec<&Effect> = effects.iter().filter(|e| e.key == "b").collect();
    check.eq(
        "effects of key b",
        &of_b,
        &vec![&effect::<Ordered>(&b1, "b", 1, 1)],
    );
    let position = |row: &OutboxRow| effects.iter().position(|e| e.event_id == row.id);
    check.that(
        &format!("key b is held back by key a: {effects:?}"),
        position(&b1) < position(&a1),
    );
    check.letters(&host, Ordered::SPEC.name, Vec::new()).await;
    let expected = counters(4, u64::from(failures), 0);
    check.counters(&host, Ordered::SPEC.name, expected);
    host.stop().await;
    check.done();
}

/// An event that used up its deliveries is dead-lettered with the policy's reason; once the
/// cause is fixed, a redrive delivers it to its function again and it takes effect once.
pub(crate) async fn redrive<H: Host>() {
    let (db, mut check) = (Db::new().await, Check::on::<H>());
    let broken = Arc::new(AtomicBool::new(true));
    let fixable = Fixable {
        broken: Arc::clone(&broken),
    };
    let host: H = start(&db, vec![topic(fixable)]).await;
    let e = event("conformance.fixable", "k", 1);
    host.publish(std::slice::from_ref(&e)).await;
    settle(&host).await;
    let deliveries = Fixable::SPEC.retry.max_deliveries;
    check.effects(&db, &[]).await;
    let gave_up = letter(&Fixable::SPEC, &e, deliveries, &Fixable::error());
    check
        .letters(&host, Fixable::SPEC.name, vec![gave_up])
        .await;
    let exhausted = counters(0, u64::from(deliveries - 1), 1);
    check.counters(&host, Fixable::SPEC.name, exhausted);

    broken.store(false, Ordering::SeqCst);
    check.eq("redriven", &host.redrive(Fixable::SPEC.name).await, &1);
    settle(&host).await;
    check
        .effects(&db, &[effect::<Fixable>(&e, "k", 1, 1)])
        .await;
    check.letters(&host, Fixable::SPEC.name, Vec::new()).await;
    let fixed = Counters {
        handled: 1,
        ..exhausted
    };
    check.counters(&host, Fixable::SPEC.name, fixed);
    host.stop().await;
    check.done();
}
