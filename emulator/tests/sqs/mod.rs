//! `up --transport sqs` against a moto server, for what is SQS's own (delivery, retries, dead
//! letters, poison and redrive are the conformance suite's, `tests/tests/conformance`):
//! EventBridge -> rule -> queue -> the local event source -> the real handler -> PostgreSQL;
//! partial batch failures; moving dead letters back and editing them; FIFO queues and their
//! message groups; the metrics; a saga orchestrator's timers as SQS delay messages, an
//! operator's included; the checkout saga's scenarios end to end.

mod batches;
mod dlq_edit;
mod flow;
mod metrics;
mod moto;
mod ordered;
mod replay;
mod saga;
mod saga_ops;
mod saga_timers;

use std::time::Duration;

use conveyor_runtime::{Context, FunctionSpec, HandlerError, RetryPolicy, Service, TopicHandler};
use conveyor_sqs::SqsSettings;

use crate::functions::Ping;

/// The queues of a test: its own prefix, created like the Terraform creates them, with a short
/// visibility timeout so redeliveries come quickly, and short polls.
pub(crate) fn settings(moto: &moto::Moto, prefix: &str) -> SqsSettings {
    SqsSettings {
        queue_prefix: prefix.to_owned(),
        wait_seconds: 1,
        create_queues: true,
        visibility_timeout: Some(Duration::from_secs(1)),
        ..SqsSettings::new(moto.aws())
    }
}

/// Fails transiently on ping 13, every time; handles every other ping. Two deliveries: on the
/// second, the Lambda adapter sends the message to the DLQ itself.
#[derive(Debug, Default)]
pub(crate) struct Picky;

impl TopicHandler for Picky {
    type Payload = Ping;
    const SPEC: FunctionSpec =
        FunctionSpec::on_topics("test-picky", Service::Order, &["test.ping"]).with_retry(
            RetryPolicy {
                max_deliveries: 2,
                initial_backoff: Duration::from_millis(20),
                max_backoff: Duration::from_millis(100),
            },
        );

    async fn handle(&self, ping: Ping, _cx: &mut Context<'_>) -> Result<(), HandlerError> {
        if ping.n == 13 {
            return Err(HandlerError::retry("ping 13 never works"));
        }
        Ok(())
    }
}
