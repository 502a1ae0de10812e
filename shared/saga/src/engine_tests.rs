//! The engine, input by input, on a three-step saga (pay, reserve, confirm).

use std::time::Duration;

use conveyor_domain::{SagaId, Timestamp};

use crate::definition::SagaDefinition;
use crate::effects::{Effect, Ignored, Input, Reply, Transition};
use crate::engine::Engine;
use crate::route::Phase;
use crate::state::{SagaState, SagaStatus, StepStatus, TimerPurpose};
use crate::step::{Compensation, Retry, Step};

fn definition() -> SagaDefinition {
    let retry = Retry {
        attempts: 2,
        backoff: Duration::from_secs(1),
        max_backoff: Duration::from_secs(4),
    };
    SagaDefinition::new(
        "checkout",
        vec![
            Step::new("pay", "pay.requested", &["pay.done"])
                .failed_by(&["pay.failed"])
                .timeout(Duration::from_secs(10))
                .retry(retry)
                .compensated_by(
                    Compensation::new("refund.requested", &["refund.done"])
                        .retried_on(&["refund.failed"])
                        .timeout(Duration::from_secs(5))
                        .backoff(retry),
                ),
            Step::new("reserve", "reserve.requested", &["reserve.done"])
                .failed_by(&["reserve.failed"])
                .timeout(Duration::from_secs(10))
                .retry(retry)
                .compensated_by(Compensation::new("release.requested", &["release.done"])),
            Step::new("confirm", "confirm.requested", &["confirm.done"])
                .failed_by(&["confirm.failed"])
                .timeout(Duration::from_secs(10))
                .retry(Retry::ONCE),
        ],
    )
    .unwrap()
}

fn at(s: i64) -> Timestamp {
    Timestamp::from_millis(s * 1_000)
}

fn started(def: &SagaDefinition) -> SagaState {
    let t = Engine::new(def).start(
        SagaId::parse("ord-1").unwrap(),
        serde_json::json!({"n": 1}),
        at(0),
    );
    t.state
}

fn reply(def: &SagaDefinition, st: &SagaState, topic: &str, now: i64) -> Transition {
    Engine::new(def)
        .apply(
            st,
            &Input::Reply(Reply::on(topic).with_result(format!("{topic}-id"))),
            at(now),
        )
        .unwrap()
}

fn fire(def: &SagaDefinition, st: &SagaState, now: i64) -> Transition {
    let seq = st.timer.expect("a timer is set").seq;
    Engine::new(def)
        .apply(st, &Input::Timer { seq }, at(now))
        .unwrap()
}

/// `topic@attempt` of each command sent.
fn sent(t: &Transition) -> Vec<String> {
    t.commands()
        .map(|c| format!("{}@{}", c.topic, c.attempt))
        .collect()
}

#[test]
fn the_happy_path_sends_each_step_after_the_previous_reply_then_completes() {
    let def = definition();
    let start = Engine::new(&def).start(
        SagaId::parse("ord-1").unwrap(),
        serde_json::json!({}),
        at(0),
    );
    assert_eq!(sent(&start), ["pay.requested@1"]);
    assert_eq!(start.deadline(), Some(at(10)));
    let first = start.commands().next().unwrap();
    assert_eq!(first.id(), "ord-1/pay/forward");
    let t = reply(&def, &start.state, "pay.done", 1);
    assert_eq!(sent(&t), ["reserve.requested@1"]);
    assert_eq!(t.state.step(0).result.as_deref(), Some("pay.done-id"));
    assert_eq!(t.state.current, Some(1));
    let t = reply(&def, &t.state, "reserve.done", 2);
    assert_eq!(sent(&t), ["confirm.requested@1"]);
    let t = reply(&def, &t.state, "confirm.done", 3);
    assert!(sent(&t).is_empty());
    assert_eq!(t.outcome().map(|o| o.status), Some(SagaStatus::Completed));
    assert_eq!(t.state.status, SagaStatus::Completed);
    assert_eq!((t.state.timer, t.state.current), (None, None));
    assert_eq!(t.state.version, 4);
    // Anything after the end changes nothing.
    let late = reply(&def, &t.state, "pay.failed", 4);
    assert_eq!(late.ignored, Some(Ignored::Finished));
    assert_eq!(late.state, t.state);
}

#[test]
fn a_failure_at_each_step_compensates_exactly_the_steps_before_it_latest_first() {
    let def = definition();
    let cases: [(&[&str], &str, &[&str]); 3] = [
        (&[], "pay.failed", &[]),
        (&["pay.done"], "reserve.failed", &["refund.requested"]),
        (
            &["pay.done", "reserve.done"],
            "confirm.failed",
            &["release.requested", "refund.requested"],
        ),
    ];
    let done = |topic: &str| match topic {
        "refund.requested" => "refund.done",
        _ => "release.done",
    };
    for (before, failure, undo) in cases {
        let mut st = started(&def);
        for topic in before {
            st = reply(&def, &st, topic, 1).state;
        }
        let mut t = reply(&def, &st, failure, 2);
        let mut compensations = Vec::new();
        loop {
            let Some(c) = t.commands().next().cloned() else {
                break;
            };
            assert_eq!(c.phase, Phase::Compensate, "{failure}");
            compensations.push(c.topic);
            t = reply(&def, &t.state, done(c.topic), 3);
        }
        assert_eq!(compensations, undo, "{failure}");
        let outcome = t.outcome().expect("finished");
        assert_eq!(outcome.status, SagaStatus::Compensated);
        assert!(
            outcome.reason.as_deref().unwrap().contains(failure),
            "{outcome:?}"
        );
        assert_eq!(t.state.compensation_path.len(), undo.len());
    }
}

#[test]
fn a_reply_delivered_twice_changes_nothing_the_second_time() {
    let def = definition();
    let once = reply(&def, &started(&def), "pay.done", 1);
    let twice = reply(&def, &once.state, "pay.done", 2);
    assert_eq!(
        twice.ignored,
        Some(Ignored::NotAwaited {
            step: 0,
            status: StepStatus::Completed
        })
    );
    assert!(twice.effects.is_empty());
    assert_eq!(twice.state, once.state);
    let unknown = reply(&def, &once.state, "something.else", 2);
    assert_eq!(
        unknown.ignored,
        Some(Ignored::UnknownTopic("something.else".to_owned()))
    );
}

#[test]
fn a_silent_step_is_sent_again_after_the_backoff_then_timed_out_and_compensated() {
    let def = definition();
    let st = reply(&def, &started(&def), "pay.done", 1).state;
    // reserve sent at 1 s; no reply by 11 s: wait the backoff (1 s), then send again.
    let t = fire(&def, &st, 11);
    assert!(sent(&t).is_empty());
    let timer = t.state.timer.unwrap();
    assert_eq!((timer.purpose, timer.due), (TimerPurpose::Resend, at(12)));
    let t = fire(&def, &t.state, 12);
    assert_eq!(sent(&t), ["reserve.requested@2"]);
    assert_eq!(t.deadline(), Some(at(22)));
    // The second send times out too: reserve's outcome is unknown, so it is released, then
    // the payment refunded.
    let t = fire(&def, &t.state, 22);
    assert_eq!(sent(&t), ["release.requested@1"]);
    assert_eq!(t.state.step(1).status, StepStatus::Compensating);
    assert_eq!(t.state.compensation_path, [1, 0]);
    assert!(
        t.state
            .failure
            .as_deref()
            .unwrap()
            .contains("timed out after 2 sends")
    );
    // Its reply arriving now does not revive the saga.
    let late = reply(&def, &t.state, "reserve.done", 23);
    assert_eq!(
        late.ignored,
        Some(Ignored::NotAwaited {
            step: 1,
            status: StepStatus::Compensating
        })
    );
    let t = reply(&def, &t.state, "release.done", 24);
    assert_eq!(sent(&t), ["refund.requested@1"]);
    let t = reply(&def, &t.state, "refund.done", 25);
    assert_eq!(t.state.status, SagaStatus::Compensated);
    let later = reply(&def, &t.state, "reserve.done", 26);
    assert_eq!(later.ignored, Some(Ignored::Finished));
}

#[test]
fn a_compensation_that_fails_for_now_is_sent_again_until_it_succeeds() {
    let def = definition();
    let st = reply(&def, &started(&def), "pay.done", 1).state;
    let t = reply(&def, &st, "reserve.failed", 2);
    assert_eq!(sent(&t), ["refund.requested@1"]);
    let t = reply(&def, &t.state, "refund.failed", 3);
    assert!(sent(&t).is_empty());
    assert_eq!(
        t.state.timer.map(|t| (t.purpose, t.due)),
        Some((TimerPurpose::Resend, at(4)))
    );
    let t = fire(&def, &t.state, 4);
    assert_eq!(sent(&t), ["refund.requested@2"]);
    // No reply in time: sent again after the (doubled) backoff, never given up.
    let t = fire(&def, &t.state, 9);
    assert_eq!(t.state.timer.map(|t| t.due), Some(at(11)));
    let t = fire(&def, &t.state, 11);
    assert_eq!(sent(&t), ["refund.requested@3"]);
    let same: Vec<String> = t.commands().map(crate::Command::id).collect();
    assert_eq!(same, ["ord-1/pay/compensate"]);
    let t = reply(&def, &t.state, "refund.done", 12);
    assert_eq!(t.outcome().map(|o| o.status), Some(SagaStatus::Compensated));
    assert_eq!(t.state.step(0).compensation_attempts, 3);
}

#[test]
fn a_timer_that_is_not_the_current_one_changes_nothing() {
    let def = definition();
    let st = started(&def);
    let old = st.timer.unwrap().seq;
    let st = reply(&def, &st, "pay.done", 1).state;
    let t = Engine::new(&def)
        .apply(&st, &Input::Timer { seq: old }, at(20))
        .unwrap();
    assert_eq!(t.ignored, Some(Ignored::StaleTimer(old)));
    assert_eq!(t.state, st);
}

#[test]
fn a_state_of_another_definition_is_refused() {
    let def = definition();
    let mut st = started(&def);
    st.definition = "other".to_owned();
    let err = Engine::new(&def)
        .apply(&st, &Input::Timer { seq: 0 }, at(1))
        .unwrap_err();
    assert!(err.to_string().contains("other"), "{err}");
    let mut st = started(&def);
    st.steps.pop();
    assert!(
        Engine::new(&def)
            .apply(&st, &Input::Timer { seq: 0 }, at(1))
            .is_err()
    );
}

#[test]
fn the_state_round_trips_through_json() {
    let def = definition();
    let st = reply(&def, &started(&def), "pay.done", 1).state;
    let text = serde_json::to_string(&st).unwrap();
    let back: SagaState = serde_json::from_str(&text).unwrap();
    assert_eq!(back, st);
    assert!(matches!(
        Engine::new(&def)
            .start(st.id.clone(), serde_json::Value::Null, at(0))
            .effects[0],
        Effect::Send(_)
    ));
}
