//! A job invocation: EventBridge Scheduler's input (`{"scheduled_time": ...}`), a classic
//! "Scheduled Event" envelope (`time`), or Scheduler's envelope with `"detail": "{}"` as a string.
//!
//! Each invocation ends with a bounded outbox relay pass ([`RELAY_GRACE`], [`RELAY_LIMIT`]):
//! on AWS no process runs between invocations, so the events a handler committed but could not
//! publish (EventBridge failing after the SDK's retries, an invocation cut off between its
//! commit and its publish) and those an operator's action staged are published by the next job
//! that runs, whichever it is. warehouse-reservation-expiry runs every minute, so such a row
//! waits about two minutes at most (the grace, then the next minute's job).

use std::time::Duration;

use conveyor_domain::Timestamp;
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::Value;

use crate::context::{Deps, Meta};
use crate::error::HandlerError;
use crate::handler::{Function, Input};

use super::error_type;

/// A row younger than this is left to the invocation that staged it (a Lambda's timeout is at
/// most 15 minutes, the functions' is 30 s; this covers the publish after their commit).
pub const RELAY_GRACE: Duration = Duration::from_secs(60);

/// Most rows one invocation's relay pass publishes.
pub const RELAY_LIMIT: i64 = 500;

/// The relay pass that ends a job invocation: how many rows it published (0 when publishing
/// is deferred to a relay elsewhere, `CONVEYOR_PUBLISH=outbox`). A failure is logged: it does
/// not fail the job, whose tick has run.
pub async fn relay_pass(deps: &Deps) -> usize {
    if deps.publisher.is_deferred() {
        return 0;
    }
    match crate::relay::relay_once(deps, RELAY_GRACE, RELAY_LIMIT).await {
        Ok(n) => {
            if n > 0 {
                tracing::info!(relayed = n, "outbox rows left behind published");
            }
            n
        }
        Err(e) => {
            tracing::warn!(error = %e, "outbox relay pass failed; the next invocation tries again");
            0
        }
    }
}

/// The tick time an input names, if any.
#[must_use]
pub fn scheduled_time(input: &Value) -> Option<Timestamp> {
    ["scheduled_time", "scheduledTime", "time"]
        .iter()
        .find_map(|key| input.get(key).and_then(Value::as_str))
        .and_then(|text| Timestamp::parse_rfc3339(text).ok())
}

/// The attempt number Scheduler substitutes into the input, if present.
fn attempt(input: &Value) -> u32 {
    input
        .get("attempt")
        .and_then(|a| {
            a.as_u64()
                .or_else(|| a.as_str().and_then(|s| s.parse().ok()))
        })
        .and_then(|a| u32::try_from(a).ok())
        .unwrap_or(1)
}

/// Runs one tick. The tick is the input's time, or now when the input names none.
///
/// # Errors
/// A [`Diagnostic`] whose `errorType` is `Conveyor.Retry` or `Conveyor.Drop`.
pub async fn handle_tick(
    function: &dyn Function,
    deps: &Deps,
    event: LambdaEvent<Value>,
) -> Result<Value, Diagnostic> {
    let name = function.spec().name;
    let scheduled = scheduled_time(&event.payload).unwrap_or_else(|| deps.clock.now());
    let meta = Meta::for_tick(name, scheduled, attempt(&event.payload));
    let outcome = function
        .invoke(
            deps,
            Input::Tick {
                meta: Box::new(meta),
                scheduled,
            },
        )
        .await;
    let relayed = relay_pass(deps).await;
    match outcome {
        Ok(handled) => {
            let report = handled.report.unwrap_or_default();
            tracing::info!(function = name, scheduled = %scheduled, duplicate = handled.duplicate, processed = report.processed, more = report.more, "tick done");
            Ok(serde_json::json!({
                "function": name,
                "scheduled": scheduled.to_rfc3339(),
                "duplicate": handled.duplicate,
                "processed": report.processed,
                "more": report.more,
                "published": handled.produced.len(),
                "relayed": relayed,
            }))
        }
        Err(e) => {
            tracing::error!(function = name, scheduled = %scheduled, error = %e, "tick failed");
            Err(diagnostic(&e))
        }
    }
}

/// The Runtime API error for a failed invocation.
#[must_use]
pub fn diagnostic(error: &HandlerError) -> Diagnostic {
    let error_type = match error {
        HandlerError::Retry(_) => error_type::RETRY,
        HandlerError::Drop(_) => error_type::DROP,
    };
    Diagnostic {
        error_type: error_type.to_owned(),
        error_message: error.chain(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_tick_from_every_input_shape() {
        let scheduler =
            serde_json::json!({"scheduled_time": "2026-11-22T10:00:00Z", "attempt": "2"});
        assert_eq!(
            scheduled_time(&scheduler).unwrap().to_rfc3339(),
            "2026-11-22T10:00:00.000Z"
        );
        assert_eq!(attempt(&scheduler), 2);
        let classic = serde_json::json!({"version": "0", "detail-type": "Scheduled Event", "source": "aws.events", "time": "2026-11-22T10:05:00Z", "detail": {}});
        assert_eq!(
            scheduled_time(&classic).unwrap().to_rfc3339(),
            "2026-11-22T10:05:00.000Z"
        );
        let string_detail = serde_json::json!({"detail-type": "Scheduled Event", "source": "aws.scheduler", "time": "2026-11-22T10:10:00Z", "detail": "{}"});
        assert_eq!(
            scheduled_time(&string_detail).unwrap().to_rfc3339(),
            "2026-11-22T10:10:00.000Z"
        );
        assert_eq!(scheduled_time(&serde_json::json!({})), None);
        assert_eq!(attempt(&serde_json::json!(null)), 1);
    }

    #[test]
    fn errors_have_stable_types() {
        let d = diagnostic(&HandlerError::retry("db down"));
        assert_eq!(
            (d.error_type.as_str(), d.error_message.as_str()),
            ("Conveyor.Retry", "db down")
        );
        assert_eq!(
            diagnostic(&HandlerError::drop("bad")).error_type,
            "Conveyor.Drop"
        );
    }
}
