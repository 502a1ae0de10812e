//! `conveyor up --transport sqs`: a local event source mapping over any SQS endpoint (AWS,
//! LocalStack, moto). Each topic function's queue is long-polled; a batch becomes the
//! `SqsEvent` Lambda would send and runs through the same Lambda adapter
//! ([`conveyor_runtime::lambda::sqs::SqsHost`]); the records it does not report as failed are
//! deleted, the failed ones reappear after the visibility timeout, so the queue's redrive
//! policy moves what keeps failing to the DLQ, in SQS itself. Jobs fire on the local scheduler;
//! a saga orchestrator's timers are SQS delay messages on its own queue, as on Lambda.
//!
//! Queue names follow `infra/terraform`: `<prefix><function>` and `<prefix><function>-dlq`, with
//! `.fifo` for a function with an ordering key, where Terraform's prefix is `<environment>-`.
//!
//! # Layout
//! - [`queues`] — queue names, URLs and ARNs; creating them where asked
//! - [`event`] — an SQS message as a Lambda `SqsEvent` record
//! - [`poller`] — the event source mapping of one function
//! - [`broker`] — publish (EventBridge or straight to the queues, through
//!   [`conveyor_runtime::lambda::fifo`]), dead letters, depths
//! - [`letters`] — reading a DLQ without taking from it
//! - [`redrive`] — DLQ back to the source queue: `StartMessageMoveTask`, else receive/send/delete
//! - [`edit`] — deleting and editing DLQ messages

pub mod broker;
pub mod edit;
pub mod event;
pub mod letters;
pub mod poller;
pub mod queues;
pub mod redrive;

use std::time::Duration;

use conveyor_runtime::lambda::config::AwsSettings;

/// Most messages one `ReceiveMessage` returns.
pub const MAX_BATCH: i32 = 10;
/// Longest long poll SQS allows.
pub const MAX_WAIT_SECONDS: i32 = 20;

/// Where the queues are and how they are read.
#[derive(Debug, Clone)]
pub struct SqsSettings {
    /// Endpoint, region and credentials of SQS.
    pub sqs: AwsSettings,
    /// Endpoint, region and credentials of EventBridge (used when `event_bus` is set).
    pub eventbridge: AwsSettings,
    /// Queue name prefix (`<environment>-` for the queues Terraform creates).
    pub queue_prefix: String,
    /// Outgoing events go to this EventBridge bus; without one they are sent straight to the
    /// queues of the subscribed functions this process runs.
    pub event_bus: Option<String>,
    /// Long-poll wait of each receive, 0-20 s.
    pub wait_seconds: i32,
    /// Messages per batch, 1-10.
    pub batch_size: i32,
    /// Create missing queues and DLQs (for local endpoints), with the redrive policy Terraform
    /// sets.
    pub create_queues: bool,
    /// Visibility timeout of created queues; Terraform's 6 x the function timeout when `None`.
    pub visibility_timeout: Option<Duration>,
}

impl SqsSettings {
    /// Settings for `sqs` (EventBridge alike), no prefix, no bus, 20 s long polls of 10.
    #[must_use]
    pub fn new(sqs: AwsSettings) -> Self {
        Self {
            eventbridge: sqs.clone(),
            sqs,
            queue_prefix: String::new(),
            event_bus: None,
            wait_seconds: MAX_WAIT_SECONDS,
            batch_size: MAX_BATCH,
            create_queues: false,
            visibility_timeout: None,
        }
    }

    /// The SQS client: its call timeout covers a whole long poll.
    #[must_use]
    pub fn sqs_client(&self) -> aws_sdk_sqs::Client {
        let mut aws = self.sqs.clone();
        let wait = Duration::from_secs(u64::try_from(self.wait_seconds.max(0)).unwrap_or(20));
        aws.call_timeout = aws.call_timeout.max(wait + Duration::from_secs(10));
        aws.sqs_client()
    }

    /// The name of `spec`'s queue: a FIFO queue (`.fifo`) for a function with an ordering key,
    /// as the Terraform names it.
    #[must_use]
    pub fn queue_name(&self, spec: &conveyor_runtime::FunctionSpec) -> String {
        format!("{}{}{}", self.queue_prefix, spec.name, fifo_suffix(spec))
    }

    /// The name of `spec`'s dead-letter queue (FIFO like its queue).
    #[must_use]
    pub fn dlq_name(&self, spec: &conveyor_runtime::FunctionSpec) -> String {
        format!(
            "{}{}-dlq{}",
            self.queue_prefix,
            spec.name,
            fifo_suffix(spec)
        )
    }
}

fn fifo_suffix(spec: &conveyor_runtime::FunctionSpec) -> &'static str {
    if spec.ordering_key.is_some() {
        ".fifo"
    } else {
        ""
    }
}

/// An SQS call failed; the text carries the SDK's full error context.
#[derive(Debug, thiserror::Error)]
#[error("{action}: {message}")]
pub struct SqsError {
    /// What was being done.
    pub action: String,
    /// Why it failed.
    pub message: String,
}

impl SqsError {
    /// An error of `action` from an SDK error.
    pub fn sdk(action: impl Into<String>, error: &impl std::error::Error) -> Self {
        Self {
            action: action.into(),
            message: aws_sdk_sqs::error::DisplayErrorContext(error).to_string(),
        }
    }
}

impl From<SqsError> for conveyor_transport::broker::BrokerError {
    fn from(e: SqsError) -> Self {
        Self {
            transport: "SQS",
            message: e.to_string(),
        }
    }
}
