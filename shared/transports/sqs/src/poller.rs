//! The event source mapping of one topic function, as Lambda runs it: long-poll the queue for up
//! to a batch, invoke the function with the `SqsEvent` through the Lambda adapter, delete what it
//! did not report in `batchItemFailures` (`DeleteMessageBatch`), and leave the failed records to
//! reappear after the visibility timeout. A response naming an unknown or empty id fails the
//! whole batch, as `ReportBatchItemFailures` does.
//!
//! A saga orchestrator's host arms its timers as SQS delay messages on the orchestrator's own
//! queue, as `run_orchestrator` does on Lambda with `CONVEYOR_SAGA_TIMER_QUEUE_URL`
//! ([`conveyor_runtime::lambda::timers`]): the firings come back through this same poller.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{Message, MessageSystemAttributeName};
use conveyor_runtime::lambda::dlq::SqsDeadLetter;
use conveyor_runtime::lambda::sqs::{RecordOutcome, SqsHost};
use conveyor_runtime::lambda::timers::TimerQueue;
use conveyor_runtime::{Deps, Function};
use lambda_runtime::{Context, LambdaEvent};
use tokio::sync::watch;

use super::edit::delete_messages;
use super::event;
use super::queues::FunctionQueues;
use super::{SqsError, SqsSettings};
use conveyor_transport::metrics::{Outcome, Stats};

/// Pause after a failed receive before the next one.
const RECEIVE_BACKOFF: Duration = Duration::from_secs(1);
/// Pause between short polls (`wait_seconds` 0) of an empty queue.
const SHORT_POLL_IDLE: Duration = Duration::from_millis(200);

/// What one batch came to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchReport {
    /// Messages received.
    pub received: usize,
    /// Messages deleted from the queue (handled, duplicates, or sent to the DLQ by the adapter).
    pub deleted: usize,
    /// Messages left for redelivery.
    pub failed: usize,
}

/// One function's event source: its queue, its Lambda adapter, its client.
#[derive(Debug)]
pub struct EventSource {
    function: Arc<dyn Function>,
    host: SqsHost,
    client: Client,
    queues: FunctionQueues,
    region: String,
    invoked_arn: String,
    batch_size: i32,
    wait_seconds: i32,
    stats: Arc<Stats>,
}

/// The Lambda ARN a function deployed from the same prefix has, derived from its queue's ARN
/// (`arn:<partition>:sqs:<region>:<account>:<queue>`).
fn lambda_arn(queue_arn: &str, queue_name_prefix: &str, function: &str) -> String {
    let parts: Vec<&str> = queue_arn.split(':').collect();
    match parts.as_slice() {
        [_, partition, _, region, account, ..] => format!(
            "arn:{partition}:lambda:{region}:{account}:function:{queue_name_prefix}{function}"
        ),
        _ => format!("arn:aws:lambda:local:000000000000:function:{function}"),
    }
}

fn epoch_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Where `function`, when it is a saga orchestrator, arms its timers: its own queue, as
/// `CONVEYOR_SAGA_TIMER_QUEUE_URL` names it on Lambda. `None` for any other function.
#[must_use]
pub fn timer_queue(
    function: &dyn Function,
    settings: &SqsSettings,
    queues: &FunctionQueues,
) -> Option<TimerQueue> {
    function
        .saga()
        .map(|_| TimerQueue::new(&queues.queue_url, &settings.sqs))
}

impl EventSource {
    /// The event source of `function` over `queues`. Records the adapter drops go to the DLQ.
    /// A saga orchestrator arms its timers on its own queue (`queues.queue_url`).
    #[must_use]
    pub fn new(
        function: Arc<dyn Function>,
        deps: Deps,
        settings: &SqsSettings,
        queues: FunctionQueues,
        stats: Arc<Stats>,
    ) -> Self {
        let name = function.spec().name;
        let dead_letter = SqsDeadLetter::new(name, &queues.dlq_url, &settings.sqs);
        let mut host = SqsHost::new(Arc::clone(&function), deps, Some(dead_letter));
        if let Some(timers) = timer_queue(function.as_ref(), settings, &queues) {
            host = host.with_timers(timers);
        }
        Self {
            host,
            function,
            client: settings.sqs_client(),
            invoked_arn: lambda_arn(&queues.queue_arn, &settings.queue_prefix, name),
            queues,
            region: settings.sqs.region.clone(),
            batch_size: settings.batch_size.clamp(1, super::MAX_BATCH),
            wait_seconds: settings.wait_seconds.clamp(0, super::MAX_WAIT_SECONDS),
            stats,
        }
    }

    /// The queues read.
    #[must_use]
    pub fn queues(&self) -> &FunctionQueues {
        &self.queues
    }

    /// One long poll: up to a batch of messages with every system and message attribute.
    ///
    /// # Errors
    /// [`SqsError`] when the receive fails.
    pub async fn receive(&self) -> Result<Vec<Message>, SqsError> {
        let out = self
            .client
            .receive_message()
            .queue_url(&self.queues.queue_url)
            .max_number_of_messages(self.batch_size)
            .wait_time_seconds(self.wait_seconds)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|e| SqsError::sdk(format!("ReceiveMessage {}", self.queues.queue_url), &e))?;
        Ok(out.messages.unwrap_or_default())
    }

    /// Invokes the function with `messages` as one `SqsEvent` and deletes what it handled.
    pub async fn handle(&self, messages: &[Message]) -> BatchReport {
        let spec = self.function.spec();
        let started = Instant::now();
        let mut context = Context::default();
        context.request_id = uuid::Uuid::new_v4().to_string();
        context.deadline =
            epoch_ms().saturating_add(u64::try_from(spec.timeout.as_millis()).unwrap_or(u64::MAX));
        context.invoked_function_arn.clone_from(&self.invoked_arn);
        let batch = event::batch(messages, &self.queues.queue_arn, &self.region);
        let outcomes = self
            .host
            .handle_records(LambdaEvent::new(batch, context))
            .await;
        let took = started.elapsed();
        let mut handled = Vec::new();
        let mut failed = 0;
        for (message, outcome) in messages.iter().zip(&outcomes) {
            let counted = match outcome {
                RecordOutcome::Done => Outcome::Handled,
                RecordOutcome::Duplicate => Outcome::Duplicate,
                RecordOutcome::DeadLettered => Outcome::DeadLettered,
                RecordOutcome::Failed => {
                    failed += 1;
                    self.stats.record(spec.name, Outcome::Retry, took);
                    continue;
                }
            };
            handled.push(message);
            self.stats.record(spec.name, counted, took);
        }
        let deleted = self.delete(&handled).await;
        BatchReport {
            received: messages.len(),
            deleted,
            failed,
        }
    }

    /// Deletes `messages` in calls of ten; returns how many SQS confirmed. A message not
    /// deleted comes back after the visibility timeout and is then a duplicate for the inbox.
    async fn delete(&self, messages: &[&Message]) -> usize {
        let (deleted, error) =
            delete_messages(&self.client, &self.queues.queue_url, messages).await;
        if let Some(e) = error {
            tracing::warn!(function = self.queues.function, error = %e, "delete failed; the messages will be delivered again");
        }
        deleted
    }
}

/// Polls until `shutdown`; a batch being handled is finished first. A receive cut short by
/// shutdown leaves its messages to the visibility timeout, like any consumer that goes away.
pub async fn run(source: EventSource, mut shutdown: watch::Receiver<bool>) {
    let name = source.queues.function;
    tracing::info!(function = name, queue = %source.queues.queue_url, "polling");
    while !*shutdown.borrow() {
        let received = tokio::select! {
            r = source.receive() => r,
            _ = shutdown.changed() => break,
        };
        let pause = match received {
            Ok(messages) if messages.is_empty() => {
                (source.wait_seconds == 0).then_some(SHORT_POLL_IDLE)
            }
            Ok(messages) => {
                let report = source.handle(&messages).await;
                tracing::debug!(function = name, ?report, "batch done");
                None
            }
            Err(e) => {
                tracing::warn!(function = name, error = %e, "receive failed; retrying");
                Some(RECEIVE_BACKOFF)
            }
        };
        if let Some(pause) = pause {
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                _ = shutdown.changed() => {}
            }
        }
    }
    tracing::info!(function = name, "stopped polling");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lambda_arn_follows_the_queue_arn() {
        assert_eq!(
            lambda_arn(
                "arn:aws:sqs:eu-west-1:123456789012:dev-order-payment-confirmed",
                "dev-",
                "order-payment-confirmed"
            ),
            "arn:aws:lambda:eu-west-1:123456789012:function:dev-order-payment-confirmed"
        );
    }
}
