//! Definitions accepted and refused.

use std::time::Duration;

use crate::definition::SagaDefinition;
use crate::error::DefinitionError;
use crate::route::{Phase, ReplyKind, ReplyRoute};
use crate::step::{Compensation, Retry, Step};

fn pay() -> Step {
    Step::new("pay", "pay.requested", &["pay.done"])
        .failed_by(&["pay.failed"])
        .compensated_by(
            Compensation::new("refund.requested", &["refund.done"]).retried_on(&["refund.failed"]),
        )
}

fn ship() -> Step {
    Step::new("ship", "ship.requested", &["ship.done"]).failed_by(&["ship.failed"])
}

#[test]
fn a_valid_definition_routes_each_reply_to_one_step_and_phase() {
    let d = SagaDefinition::new("checkout", vec![pay(), ship()]).unwrap();
    assert_eq!(d.name(), "checkout");
    assert_eq!(
        d.route("refund.failed"),
        Some(ReplyRoute {
            step: 0,
            phase: Phase::Compensate,
            kind: ReplyKind::Retries
        })
    );
    assert_eq!(
        d.route("ship.failed").map(|r| r.kind),
        Some(ReplyKind::Fails)
    );
    assert_eq!(d.route("pay.requested"), None);
    assert_eq!(
        d.reply_topics(),
        [
            "pay.done",
            "pay.failed",
            "refund.done",
            "refund.failed",
            "ship.done",
            "ship.failed"
        ]
    );
    assert_eq!(
        d.command_topics(),
        ["pay.requested", "ship.requested", "refund.requested"]
    );
}

#[test]
fn a_step_a_later_step_can_undo_needs_a_compensation() {
    let bare = Step::new("pay", "pay.requested", &["pay.done"]);
    assert_eq!(
        SagaDefinition::new("s", vec![bare, ship()]),
        Err(DefinitionError::MissingCompensation {
            saga: "s",
            step: "pay"
        })
    );
    // The last step needs none: nothing after it can fail.
    assert!(SagaDefinition::new("s", vec![ship()]).is_ok());
}

#[test]
fn a_reply_topic_may_settle_only_one_step_and_phase() {
    let other = Step::new("other", "other.requested", &["pay.done"]);
    let err = SagaDefinition::new("s", vec![pay(), other]).unwrap_err();
    assert_eq!(
        err,
        DefinitionError::DuplicateReplyTopic {
            saga: "s",
            topic: "pay.done",
            first: "pay/Forward".to_owned(),
            second: "other/Forward".to_owned()
        }
    );
    // Within one step too: a compensation reply that is also the step's failure.
    let mixed = Step::new("pay", "pay.requested", &["pay.done"])
        .failed_by(&["pay.failed"])
        .compensated_by(Compensation::new("refund.requested", &["pay.failed"]));
    assert!(matches!(
        SagaDefinition::new("s", vec![mixed, ship()]),
        Err(DefinitionError::DuplicateReplyTopic {
            topic: "pay.failed",
            ..
        })
    ));
}

#[test]
fn other_mistakes_are_refused_by_name() {
    assert_eq!(
        SagaDefinition::new("", vec![ship()]),
        Err(DefinitionError::NoName)
    );
    assert_eq!(
        SagaDefinition::new("s", vec![]),
        Err(DefinitionError::NoSteps { saga: "s" })
    );
    assert_eq!(
        SagaDefinition::new("s", vec![ship(), ship()]),
        Err(DefinitionError::BadStepName {
            saga: "s",
            step: "ship"
        })
    );
    let no_reply = Step::new("ship", "ship.requested", &[]);
    assert!(matches!(
        SagaDefinition::new("s", vec![no_reply]),
        Err(DefinitionError::NoCompletingReply {
            phase: Phase::Forward,
            ..
        })
    ));
    let silent_undo = Step::new("pay", "pay.requested", &["pay.done"])
        .compensated_by(Compensation::new("refund.requested", &[]));
    assert!(matches!(
        SagaDefinition::new("s", vec![silent_undo, ship()]),
        Err(DefinitionError::NoCompletingReply {
            phase: Phase::Compensate,
            ..
        })
    ));
    let never = ship().timeout(Duration::ZERO);
    assert!(matches!(
        SagaDefinition::new("s", vec![never]),
        Err(DefinitionError::NeverWaits { .. })
    ));
    let no_send = ship().retry(Retry {
        attempts: 0,
        ..Retry::DEFAULT
    });
    assert!(matches!(
        SagaDefinition::new("s", vec![no_send]),
        Err(DefinitionError::NeverWaits { .. })
    ));
    let echo = Step::new("ship", "ship.requested", &["ship.requested"]);
    assert_eq!(
        SagaDefinition::new("s", vec![echo]),
        Err(DefinitionError::ReplyIsCommand {
            saga: "s",
            topic: "ship.requested"
        })
    );
}

#[test]
fn the_backoff_doubles_up_to_its_cap() {
    let r = Retry {
        attempts: 5,
        backoff: Duration::from_millis(100),
        max_backoff: Duration::from_millis(350),
    };
    assert_eq!(r.backoff_after(1), Duration::from_millis(100));
    assert_eq!(r.backoff_after(2), Duration::from_millis(200));
    assert_eq!(r.backoff_after(3), Duration::from_millis(350));
    assert_eq!(Retry::ONCE.backoff_after(1), Duration::ZERO);
}
