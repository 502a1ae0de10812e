//! What a host does with a delivery once the function has run on it: acknowledge it, deliver it
//! again after a delay, or dead-letter it, and with which reason. Every host (the embedded
//! broker, Redis Streams, the Dapr worker, the Lambda SQS adapter) and the event log decide it
//! here, so a failure ends the same way on all of them.
//!
//! The rules, for a function allowed `max_deliveries` deliveries of an event:
//! - handled (or a duplicate): [`Decision::Acknowledge`];
//! - [`HandlerError::Retry`] on delivery `attempt < max_deliveries`: [`Decision::RetryAfter`]
//!   the policy's [`backoff`](crate::spec::RetryPolicy::backoff) for `attempt`, [`jittered`];
//! - [`HandlerError::Retry`] on the last allowed delivery (or later): [`Decision::DeadLetter`]
//!   with `gave up after {attempt} deliveries: {error chain}`;
//! - [`HandlerError::Drop`]: [`Decision::DeadLetter`] at once, with the error chain as reason;
//! - a delivery beyond `max_deliveries`, not run because no earlier delivery finished
//!   ([`overdue`]): [`Decision::DeadLetter`] after `attempt - 1` deliveries.

use std::time::Duration;

use crate::error::HandlerError;
use crate::invoke::Handled;
use crate::spec::FunctionSpec;

/// What to do with a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The function handled the event (or had handled it before): acknowledge the delivery.
    Acknowledge {
        /// The event had been handled before; nothing ran.
        duplicate: bool,
    },
    /// A transient failure with deliveries left: deliver the event again after this delay
    /// (jitter included).
    RetryAfter(Duration),
    /// Give up: send the event to the function's dead letters.
    DeadLetter {
        /// Why, as the dead letter records it.
        reason: String,
        /// Deliveries made, as the dead letter records them.
        attempts: u32,
    },
}

/// The decision after delivery number `attempt` (1 = first) of an event to the function
/// declared by `spec` ended with `result`; a retry's delay is [`jittered`].
#[must_use]
pub fn decide(
    spec: &FunctionSpec,
    attempt: u32,
    result: Result<&Handled, &HandlerError>,
) -> Decision {
    decide_with(spec, attempt, result, jittered)
}

/// [`decide`], with `jitter` applied to a retry's backoff instead of [`jittered`] (called only
/// for a retry), so a test can know the exact delay.
#[must_use]
pub fn decide_with(
    spec: &FunctionSpec,
    attempt: u32,
    result: Result<&Handled, &HandlerError>,
    jitter: impl FnOnce(Duration) -> Duration,
) -> Decision {
    match result {
        Ok(handled) => Decision::Acknowledge {
            duplicate: handled.duplicate,
        },
        Err(HandlerError::Retry(_)) if attempt < spec.retry.max_deliveries => {
            Decision::RetryAfter(jitter(spec.retry.backoff(attempt)))
        }
        Err(e) => {
            let reason = if e.is_retry() {
                format!("gave up after {attempt} deliveries: {}", e.chain())
            } else {
                e.chain()
            };
            Decision::DeadLetter {
                reason,
                attempts: attempt,
            }
        }
    }
}

/// For delivery number `attempt` of an event beyond the function's `max_deliveries` (earlier
/// deliveries were made but none finished: the consumer crashed or stalled), the dead letter
/// to write instead of running the function; `None` while deliveries are left.
#[must_use]
pub fn overdue(spec: &FunctionSpec, attempt: u32) -> Option<Decision> {
    (attempt > spec.retry.max_deliveries).then(|| {
        let attempts = attempt - 1;
        Decision::DeadLetter {
            reason: format!(
                "gave up after {attempts} deliveries: no delivery finished (the consumer crashed or stalled)"
            ),
            attempts,
        }
    })
}

/// `base` scaled by a random factor in [0.5, 1.5), so retries of many events spread out.
#[must_use]
pub fn jittered(base: Duration) -> Duration {
    base.mul_f64(0.5 + rand::random::<f64>())
}

#[cfg(test)]
mod tests {
    use std::fmt;

    use super::*;
    use crate::spec::{RetryPolicy, Service};

    /// Five deliveries, 200 ms doubling up to 10 s.
    const TOPIC: FunctionSpec = FunctionSpec::on_topics("f", Service::Order, &["t"]);
    /// Two deliveries.
    const JOB: FunctionSpec = FunctionSpec::on_schedule("j", Service::Warehouse, "*/5 * * * *");

    fn handled(duplicate: bool) -> Handled {
        Handled {
            duplicate,
            ..Handled::default()
        }
    }

    /// The backoff as it is, for exact delays.
    fn exact(
        spec: &FunctionSpec,
        attempt: u32,
        result: Result<&Handled, &HandlerError>,
    ) -> Decision {
        decide_with(spec, attempt, result, |d| d)
    }

    /// A dead letter's (reason, attempts); panics on another decision.
    fn letter(decision: Decision) -> (String, u32) {
        match decision {
            Decision::DeadLetter { reason, attempts } => (reason, attempts),
            other => panic!("expected a dead letter, got {other:?}"),
        }
    }

    #[derive(Debug)]
    struct Cause;

    impl fmt::Display for Cause {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("connection refused")
        }
    }

    impl std::error::Error for Cause {}

    #[derive(Debug)]
    struct Outer;

    impl fmt::Display for Outer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("database unavailable")
        }
    }

    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&Cause)
        }
    }

    #[test]
    fn a_handled_delivery_is_acknowledged_and_says_whether_it_was_a_duplicate() {
        for attempt in [1, 5, 9] {
            assert_eq!(
                exact(&TOPIC, attempt, Ok(&handled(false))),
                Decision::Acknowledge { duplicate: false }
            );
            assert_eq!(
                exact(&TOPIC, attempt, Ok(&handled(true))),
                Decision::Acknowledge { duplicate: true }
            );
        }
    }

    #[test]
    fn a_retryable_failure_with_deliveries_left_is_retried_after_the_backoff() {
        let e = HandlerError::retry("not yet");
        assert_eq!(
            exact(&TOPIC, 1, Err(&e)),
            Decision::RetryAfter(Duration::from_millis(200))
        );
        assert_eq!(
            exact(&TOPIC, 3, Err(&e)),
            Decision::RetryAfter(Duration::from_millis(800))
        );
        assert_eq!(
            exact(&TOPIC, 4, Err(&e)),
            Decision::RetryAfter(Duration::from_millis(1600)),
            "the delivery before the last one"
        );
        let jitter = decide_with(&TOPIC, 2, Err(&e), |d| d * 3);
        assert_eq!(
            jitter,
            Decision::RetryAfter(Duration::from_millis(1200)),
            "the jitter applies to the backoff"
        );
        let capped = TOPIC.with_retry(RetryPolicy {
            max_deliveries: 40,
            ..RetryPolicy::DEFAULT
        });
        assert_eq!(
            exact(&capped, 30, Err(&e)),
            Decision::RetryAfter(Duration::from_secs(10))
        );
    }

    #[test]
    fn a_retryable_failure_on_the_last_allowed_delivery_is_dead_lettered_with_the_count() {
        let e = HandlerError::retry(Outer);
        let (reason, attempts) = letter(exact(&TOPIC, 5, Err(&e)));
        assert_eq!(
            reason,
            "gave up after 5 deliveries: database unavailable: connection refused"
        );
        assert_eq!(attempts, 5);
        let (reason, attempts) = letter(exact(&TOPIC, 7, Err(&e)));
        assert!(
            reason.starts_with("gave up after 7 deliveries: "),
            "{reason}"
        );
        assert_eq!(
            attempts, 7,
            "a delivery past the limit that ran counts itself"
        );
    }

    #[test]
    fn a_drop_is_dead_lettered_at_once_with_its_chain() {
        for attempt in [1, 4, 5] {
            let e = HandlerError::drop(Outer);
            let decision = decide_with(&TOPIC, attempt, Err(&e), |_| panic!("no retry"));
            assert_eq!(
                letter(decision),
                (
                    "database unavailable: connection refused".to_owned(),
                    attempt
                )
            );
        }
    }

    #[test]
    fn a_job_retries_once_then_gives_up() {
        let e = HandlerError::retry("database is restarting");
        assert_eq!(
            exact(&JOB, 1, Err(&e)),
            Decision::RetryAfter(Duration::from_millis(200))
        );
        assert_eq!(
            letter(exact(&JOB, 2, Err(&e))),
            (
                "gave up after 2 deliveries: database is restarting".to_owned(),
                2
            )
        );
        assert_eq!(overdue(&JOB, 2), None);
        assert_eq!(
            overdue(&JOB, 3).map(letter),
            Some((
                "gave up after 2 deliveries: no delivery finished (the consumer crashed or stalled)"
                    .to_owned(),
                2
            ))
        );
    }

    #[test]
    fn only_a_delivery_beyond_the_limit_is_overdue() {
        for attempt in 0..=5 {
            assert_eq!(overdue(&TOPIC, attempt), None, "attempt {attempt}");
        }
        assert_eq!(
            overdue(&TOPIC, 6).map(letter),
            Some((
                "gave up after 5 deliveries: no delivery finished (the consumer crashed or stalled)"
                    .to_owned(),
                5
            ))
        );
        let (reason, attempts) = letter(overdue(&TOPIC, 9).unwrap());
        assert!(
            reason.starts_with("gave up after 8 deliveries: "),
            "{reason}"
        );
        assert_eq!(attempts, 8);
    }

    #[test]
    fn jitter_stays_within_half_to_one_and_a_half() {
        let base = Duration::from_millis(1000);
        let (mut low, mut high) = (false, false);
        for _ in 0..1000 {
            let d = jittered(base);
            assert!(
                d >= Duration::from_millis(500) && d < Duration::from_millis(1500),
                "{d:?}"
            );
            low |= d < base;
            high |= d > base;
        }
        assert!(low && high, "the factor falls on both sides of 1");
        assert_eq!(jittered(Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn decide_jitters_a_retry_within_the_bounds() {
        let e = HandlerError::retry("not yet");
        for _ in 0..100 {
            match decide(&TOPIC, 2, Err(&e)) {
                Decision::RetryAfter(d) => assert!(
                    d >= Duration::from_millis(200) && d < Duration::from_millis(600),
                    "{d:?}"
                ),
                other => panic!("expected a retry, got {other:?}"),
            }
        }
    }
}
