//! Saga timers on Lambda: SQS delay messages to the orchestrator's own queue.
//!
//! Lambda has no process to poll the due-timer table, so the orchestrator arms each timer as it
//! sets it: after a delivery is acknowledged (a duplicate too, so an arm lost with a crash is
//! made again on the redelivery), the host reads the saga's stored timer and sends its
//! `saga.timer_fired` CloudEvent (the same event, and event id, the poller of the other hosts
//! publishes) to its own queue with `DelaySeconds` set to the time left, rounded up to a
//! second. SQS delays a message by 900 s at most: a timer further away is armed 900 s ahead,
//! and when that message arrives before the timer's due time it is sent again with the time
//! still left (hops of 15 minutes), not handed to the function. So a timer fires 0 to 1 s after
//! its deadline (SQS's seconds granularity), plus the event source mapping's polling latency.
//! A timer the saga no longer waits for (a reply came first) still arrives, and the engine
//! ignores it as stale; one armed twice is handled once (its event id is fixed, and the inbox
//! keeps it).
//!
//! The queue URL comes from `CONVEYOR_SAGA_TIMER_QUEUE_URL` (Terraform sets it, with
//! `sqs:SendMessage` on the queue, for every function subscribed to `saga.timer_fired`).

use std::time::Duration;

use aws_sdk_sqs::error::DisplayErrorContext;
use conveyor_domain::Timestamp;

use super::aws::{AwsSettings, client_from_settings};
use crate::cloudevent::CloudEvent;
use crate::context::Deps;
use crate::saga::timers::fired_event;
use crate::saga::{
    DueTimer, Incoming, SagaCodec, SagaRepository, SagaState, TIMER_FIRED, TimerFired,
};

/// The variable naming the queue a saga orchestrator arms its timers on (its own).
pub const TIMER_QUEUE_URL: &str = "CONVEYOR_SAGA_TIMER_QUEUE_URL";

/// The longest delay SQS gives one message.
pub const MAX_DELAY: Duration = Duration::from_secs(900);

/// Why a timer could not be armed.
#[derive(Debug, thiserror::Error)]
pub enum ArmError {
    /// Its event could not be built.
    #[error("building the timer's event: {0}")]
    Event(#[source] crate::error::HandlerError),
    /// The saga's timer could not be read.
    #[error("reading the saga's timer: {0}")]
    Read(String),
    /// SQS refused the message.
    #[error("SendMessage {queue}: {message}")]
    Send {
        /// The queue.
        queue: String,
        /// SQS's answer.
        message: String,
    },
}

/// The delay, in whole seconds rounded up, that makes a message sent at `now` arrive at `due`,
/// or at most [`MAX_DELAY`] ahead (then it is sent again on arrival).
#[must_use]
pub fn delay_seconds(due: Timestamp, now: Timestamp) -> i32 {
    let left_ms = due.millis().saturating_sub(now.millis()).max(0);
    let seconds = left_ms.saturating_add(999) / 1_000;
    let max = i64::try_from(MAX_DELAY.as_secs()).unwrap_or(i64::MAX);
    i32::try_from(seconds.min(max)).unwrap_or(i32::MAX)
}

/// Whether a firing that arrived at `now` is early (a hop of a timer more than 15 minutes
/// away): it must be armed again rather than handled.
#[must_use]
pub fn early(fired: &TimerFired, now: Timestamp) -> bool {
    fired.due.millis() > now.millis()
}

/// The orchestrator's own queue, where its timers wait.
#[derive(Debug, Clone)]
pub struct TimerQueue {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl TimerQueue {
    /// A client for `queue_url` from the environment's SQS settings.
    #[must_use]
    pub fn from_env(queue_url: &str) -> Self {
        Self::new(queue_url, &AwsSettings::from_env("SQS"))
    }

    /// A client for `queue_url` built from explicit settings.
    #[must_use]
    pub fn new(queue_url: &str, aws: &AwsSettings) -> Self {
        Self {
            client: client_from_settings!(aws_sdk_sqs, aws),
            queue_url: queue_url.to_owned(),
        }
    }

    /// Sends `timer`'s `saga.timer_fired` event (published as `source`) to arrive when it falls
    /// due, or [`MAX_DELAY`] from now. Returns the delay given, in seconds.
    ///
    /// # Errors
    /// [`ArmError`] when SQS refuses the message.
    pub async fn arm(
        &self,
        timer: &DueTimer,
        source: &str,
        now: Timestamp,
    ) -> Result<i32, ArmError> {
        let row = fired_event(timer, source, now).map_err(ArmError::Event)?;
        let delay = delay_seconds(timer.due, now);
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(&row.body)
            .delay_seconds(delay)
            .send()
            .await
            .map_err(|e| ArmError::Send {
                queue: self.queue_url.clone(),
                message: DisplayErrorContext(&e).to_string(),
            })?;
        tracing::debug!(saga = %timer.saga, seq = timer.seq, delay, "saga timer armed");
        Ok(delay)
    }
}

/// Arms `event` again for the time left when it is a timer's firing that arrived before its due
/// time (a hop of a timer more than 15 minutes away); `None` for any other event, which is
/// handled as usual.
pub async fn rearm_if_early(
    queue: &TimerQueue,
    event: &CloudEvent,
    source: &str,
    now: Timestamp,
) -> Option<Result<i32, ArmError>> {
    if event.topic_name() != TIMER_FIRED {
        return None;
    }
    let fired: TimerFired = event.payload().ok()?;
    if !early(&fired, now) {
        return None;
    }
    let timer = DueTimer {
        definition: fired.definition,
        saga: fired.saga_id,
        seq: fired.seq,
        due: fired.due,
    };
    let armed = queue.arm(&timer, source, now).await;
    if let Ok(delay) = &armed {
        tracing::debug!(saga = %timer.saga, seq = timer.seq, delay, "saga timer hop: armed again");
    }
    Some(armed)
}

/// After the orchestrator of `codec` took `event`, arms the timer its saga now waits for (read
/// from the store), if any.
///
/// # Errors
/// [`ArmError`] when the timer cannot be read or SQS refuses it.
pub async fn arm_after(
    queue: &TimerQueue,
    codec: &dyn SagaCodec,
    deps: &Deps,
    event: &CloudEvent,
    source: &str,
) -> Result<(), ArmError> {
    let def = codec.definition();
    let topic = event.topic_name();
    let read = |e: &dyn std::fmt::Display| ArmError::Read(e.to_string());
    let saga = if topic == TIMER_FIRED {
        let fired: TimerFired = event.payload().map_err(|e| read(&e))?;
        if fired.definition != def.name() {
            return Ok(());
        }
        fired.saga_id
    } else {
        let data: serde_json::Value = event.payload().map_err(|e| read(&e))?;
        match codec.read(topic, &data) {
            Ok(Incoming::Start { saga, .. } | Incoming::Reply { saga, .. }) => saga,
            // Dropped by the function already: nothing was stored.
            Err(_) => return Ok(()),
        }
    };
    let mut tx = deps.store.begin().await.map_err(|e| read(&e))?;
    let state = tx.load_saga(def.name(), &saga).await;
    crate::invoke::rollback(tx).await;
    let Some(state) = state.map_err(|e| read(&e))? else {
        return Ok(());
    };
    arm_state(queue, &state, source, deps.clock.now()).await
}

/// Arms the timer `state` waits for, if any (after a change made outside the orchestrator's
/// host, such as an operator's abort or retry).
///
/// # Errors
/// [`ArmError`] when SQS refuses it.
pub async fn arm_state(
    queue: &TimerQueue,
    state: &SagaState,
    source: &str,
    now: Timestamp,
) -> Result<(), ArmError> {
    let Some(timer) = &state.timer else {
        return Ok(());
    };
    let due = DueTimer {
        definition: state.definition.clone(),
        saga: state.id.clone(),
        seq: timer.seq,
        due: timer.due,
    };
    queue.arm(&due, source, now).await.map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> Timestamp {
        Timestamp::from_millis(ms)
    }

    #[test]
    fn delays_round_up_to_seconds_and_stop_at_fifteen_minutes() {
        assert_eq!(delay_seconds(at(10_000), at(10_000)), 0);
        assert_eq!(delay_seconds(at(9_000), at(10_000)), 0, "already due");
        assert_eq!(delay_seconds(at(10_001), at(10_000)), 1);
        assert_eq!(delay_seconds(at(40_000), at(10_000)), 30);
        assert_eq!(delay_seconds(at(40_500), at(10_000)), 31);
        assert_eq!(delay_seconds(at(10_000 + 900_000), at(10_000)), 900);
        assert_eq!(delay_seconds(at(10_000 + 3_600_000), at(10_000)), 900);
    }

    #[test]
    fn a_firing_before_its_due_time_is_early() {
        let fired = TimerFired {
            definition: "d".into(),
            saga_id: conveyor_domain::SagaId::parse("s-1").unwrap(),
            seq: 0,
            due: at(5_000),
        };
        assert!(early(&fired, at(4_999)));
        assert!(!early(&fired, at(5_000)));
        assert!(!early(&fired, at(6_000)));
    }
}
