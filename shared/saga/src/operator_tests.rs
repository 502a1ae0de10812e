//! The operator's inputs, on a three-step saga whose refund gives up after two sends.

use std::time::Duration;

use conveyor_domain::{SagaId, Timestamp};

use crate::definition::SagaDefinition;
use crate::effects::{Effect, Ignored, Input, Reply, Transition};
use crate::engine::Engine;
use crate::route::Phase;
use crate::state::{SagaState, SagaStatus, StepStatus};
use crate::step::{Compensation, Retry, Step};

fn definition() -> SagaDefinition {
    let backoff = Retry {
        attempts: 1,
        backoff: Duration::from_secs(1),
        max_backoff: Duration::from_secs(1),
    };
    SagaDefinition::new(
        "checkout",
        vec![
            Step::new("pay", "pay.requested", &["pay.done"])
                .failed_by(&["pay.failed"])
                .timeout(Duration::from_secs(10))
                .compensated_by(
                    Compensation::new("refund.requested", &["refund.done"])
                        .retried_on(&["refund.failed"])
                        .timeout(Duration::from_secs(5))
                        .backoff(backoff)
                        .gives_up_after(2),
                ),
            Step::new("reserve", "reserve.requested", &["reserve.done"])
                .failed_by(&["reserve.failed"])
                .timeout(Duration::from_secs(10))
                .compensated_by(Compensation::new("release.requested", &["release.done"])),
            Step::new("confirm", "confirm.requested", &["confirm.done"]).retry(Retry::ONCE),
        ],
    )
    .unwrap()
}

fn at(s: i64) -> Timestamp {
    Timestamp::from_millis(s * 1_000)
}

fn apply(def: &SagaDefinition, st: &SagaState, input: &Input, now: i64) -> Transition {
    Engine::new(def).apply(st, input, at(now)).unwrap()
}

fn reply(def: &SagaDefinition, st: &SagaState, topic: &str, now: i64) -> Transition {
    apply(def, st, &Input::Reply(Reply::on(topic)), now)
}

fn abort(def: &SagaDefinition, st: &SagaState, now: i64) -> Transition {
    let reason = "customer called".to_owned();
    apply(def, st, &Input::Abort { reason }, now)
}

fn started(def: &SagaDefinition) -> SagaState {
    let id = SagaId::parse("ord-1").unwrap();
    Engine::new(def)
        .start(id, serde_json::json!({}), at(0))
        .state
}

fn sent(t: &Transition) -> Vec<String> {
    t.commands()
        .map(|c| format!("{}@{}", c.topic, c.attempt))
        .collect()
}

/// A saga whose payment completed and whose refund then failed twice: stopped as failed.
fn failed(def: &SagaDefinition) -> SagaState {
    let st = reply(def, &started(def), "pay.done", 1).state;
    let t = reply(def, &st, "reserve.failed", 2);
    assert_eq!(sent(&t), ["refund.requested@1"]);
    let t = reply(def, &t.state, "refund.failed", 3);
    let seq = t.state.timer.unwrap().seq;
    let t = apply(def, &t.state, &Input::Timer { seq }, 4);
    assert_eq!(sent(&t), ["refund.requested@2"]);
    let seq = t.state.timer.unwrap().seq;
    // The second send is never answered: out of sends, the saga stops.
    let t = apply(def, &t.state, &Input::Timer { seq }, 9);
    assert!(sent(&t).is_empty());
    assert!(matches!(
        t.effects.as_slice(),
        [Effect::Stopped { step: 0, .. }]
    ));
    assert_eq!(t.outcome(), None);
    t.state
}

#[test]
fn an_abort_gives_up_the_awaited_step_and_undoes_it_and_those_before_latest_first() {
    let def = definition();
    let st = reply(&def, &started(&def), "pay.done", 1).state;
    let t = abort(&def, &st, 2);
    assert_eq!(t.ignored, None);
    // reserve was sent and not answered: undone (released) like a timed-out step, then pay.
    assert_eq!(sent(&t), ["release.requested@1"]);
    assert_eq!(t.state.status, SagaStatus::Compensating);
    assert_eq!(t.state.step(1).status, StepStatus::Compensating);
    assert_eq!(t.state.compensation_path, [1, 0]);
    let failure = t.state.failure.as_deref().unwrap();
    assert!(
        failure.contains("aborted by an operator: customer called"),
        "{failure}"
    );
    let t = reply(&def, &t.state, "release.done", 3);
    assert_eq!(sent(&t), ["refund.requested@1"]);
    let t = reply(&def, &t.state, "refund.done", 4);
    assert_eq!(t.outcome().map(|o| o.status), Some(SagaStatus::Compensated));
    // The aborted step's late reply does not revive the saga.
    let late = reply(&def, &t.state, "reserve.done", 5);
    assert_eq!(late.ignored, Some(Ignored::Finished));
}

#[test]
fn an_abort_of_the_first_step_sends_its_compensation_since_its_outcome_is_unknown() {
    let def = definition();
    let t = abort(&def, &started(&def), 1);
    assert_eq!(sent(&t), ["refund.requested@1"]);
    assert_eq!(t.state.compensation_path, [0]);
}

#[test]
fn an_abort_of_the_last_step_undoes_the_steps_before_it_only() {
    let def = definition();
    let st = reply(&def, &started(&def), "pay.done", 1).state;
    let st = reply(&def, &st, "reserve.done", 2).state;
    let t = abort(&def, &st, 3);
    assert_eq!(t.state.step(2).status, StepStatus::Aborted);
    assert_eq!(t.state.compensation_path, [1, 0]);
    assert_eq!(sent(&t), ["release.requested@1"]);
}

#[test]
fn an_abort_is_refused_unless_the_saga_is_running() {
    let def = definition();
    let st = reply(&def, &started(&def), "pay.done", 1).state;
    let compensating = reply(&def, &st, "reserve.failed", 2).state;
    let t = abort(&def, &compensating, 3);
    let refused = Some(Ignored::NotAbortable(SagaStatus::Compensating));
    assert_eq!((t.ignored, t.state), (refused, compensating));
    let done = reply(&def, &started(&def), "pay.failed", 1).state;
    assert_eq!(done.status, SagaStatus::Compensated);
    let refused = Some(Ignored::NotAbortable(SagaStatus::Compensated));
    assert_eq!(abort(&def, &done, 2).ignored, refused);
    let refused = Some(Ignored::NotAbortable(SagaStatus::Failed));
    assert_eq!(abort(&def, &failed(&def), 20).ignored, refused);
}

#[test]
fn a_failed_saga_ignores_replies_and_timers_until_retried() {
    let def = definition();
    let st = failed(&def);
    assert_eq!(st.status, SagaStatus::Failed);
    assert_eq!((st.timer, st.current), (None, Some(0)));
    assert_eq!(st.step(0).status, StepStatus::CompensationFailed);
    let late = reply(&def, &st, "refund.done", 20);
    assert_eq!((late.ignored, late.state), (Some(Ignored::Stopped), st));
}

#[test]
fn a_retry_sends_the_compensation_that_gave_up_again_with_a_fresh_budget() {
    let def = definition();
    let t = apply(&def, &failed(&def), &Input::Retry, 20);
    assert_eq!(t.ignored, None);
    // Attempt numbers keep counting; the command id stays the same.
    assert_eq!(sent(&t), ["refund.requested@3"]);
    let c = t.commands().next().unwrap();
    assert_eq!(
        (c.phase, c.id()),
        (Phase::Compensate, "ord-1/pay/compensate".to_owned())
    );
    assert_eq!(t.state.status, SagaStatus::Compensating);
    assert_eq!(t.state.step(0).operator_retries, 1);
    // Two more sends before it gives up again.
    let t = reply(&def, &t.state, "refund.failed", 21);
    let seq = t.state.timer.unwrap().seq;
    let t = apply(&def, &t.state, &Input::Timer { seq }, 22);
    assert_eq!(sent(&t), ["refund.requested@4"]);
    let again = reply(&def, &t.state, "refund.failed", 23);
    assert_eq!(again.state.status, SagaStatus::Failed);
    // Retried once more, it succeeds this time.
    let t = apply(&def, &again.state, &Input::Retry, 30);
    let t = reply(&def, &t.state, "refund.done", 31);
    assert_eq!(t.outcome().map(|o| o.status), Some(SagaStatus::Compensated));
}

#[test]
fn a_retry_is_refused_unless_the_saga_failed() {
    let def = definition();
    let running = started(&def);
    let t = apply(&def, &running, &Input::Retry, 1);
    let refused = Some(Ignored::NotRetryable(SagaStatus::Running));
    assert_eq!((t.ignored, t.state), (refused, running));
    let done = reply(&def, &started(&def), "pay.failed", 1).state;
    let refused = Some(Ignored::NotRetryable(SagaStatus::Compensated));
    assert_eq!(apply(&def, &done, &Input::Retry, 2).ignored, refused);
}
