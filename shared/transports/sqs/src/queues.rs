//! A function's queue and DLQ: found by name, or created the way `infra/terraform` creates
//! them (visibility timeout 6 x the function timeout, redrive to the DLQ after the catalog's
//! deliveries, 14 days of retention on the DLQ) when the settings ask for it.

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::QueueAttributeName;
use conveyor_runtime::FunctionSpec;
use serde_json::json;

use super::{SqsError, SqsSettings};

/// How long a DLQ keeps a message: the most SQS allows.
pub const DLQ_RETENTION_SECONDS: u32 = 1_209_600;

/// The queues of one topic function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionQueues {
    /// The function.
    pub function: &'static str,
    /// Its queue's URL.
    pub queue_url: String,
    /// Its queue's ARN (`eventSourceARN` of its records).
    pub queue_arn: String,
    /// Its DLQ's URL.
    pub dlq_url: String,
    /// Its DLQ's ARN.
    pub dlq_arn: String,
}

/// The URL of the queue `name`; `None` when it does not exist.
async fn url_of(client: &Client, name: &str) -> Result<Option<String>, SqsError> {
    match client.get_queue_url().queue_name(name).send().await {
        Ok(out) => Ok(out.queue_url().map(str::to_owned)),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_queue_does_not_exist()) =>
        {
            Ok(None)
        }
        Err(e) => Err(SqsError::sdk(format!("GetQueueUrl {name}"), &e)),
    }
}

/// The ARN of the queue at `url`.
pub async fn arn_of(client: &Client, url: &str) -> Result<String, SqsError> {
    let out = client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| SqsError::sdk(format!("GetQueueAttributes {url}"), &e))?;
    out.attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .cloned()
        .ok_or_else(|| SqsError {
            action: format!("GetQueueAttributes {url}"),
            message: "no QueueArn in the answer".to_owned(),
        })
}

async fn create(
    client: &Client,
    name: &str,
    attributes: Vec<(QueueAttributeName, String)>,
) -> Result<String, SqsError> {
    let mut request = client.create_queue().queue_name(name);
    for (key, value) in attributes {
        request = request.attributes(key, value);
    }
    let out = request
        .send()
        .await
        .map_err(|e| SqsError::sdk(format!("CreateQueue {name}"), &e))?;
    out.queue_url().map(str::to_owned).ok_or_else(|| SqsError {
        action: format!("CreateQueue {name}"),
        message: "no QueueUrl in the answer".to_owned(),
    })
}

/// A missing queue: what to do about it.
fn missing(settings: &SqsSettings, name: &str) -> SqsError {
    SqsError {
        action: format!("queue {name}"),
        message: format!(
            "does not exist (check the queue prefix {:?}; `terraform apply` creates the queues, or pass --sqs-create-queues against a local endpoint)",
            settings.queue_prefix
        ),
    }
}

/// Finds (or, with `create_queues`, creates) the queue and DLQ of `spec`.
///
/// # Errors
/// [`SqsError`] when a queue is missing or SQS cannot be reached.
pub async fn resolve(
    client: &Client,
    settings: &SqsSettings,
    spec: &FunctionSpec,
) -> Result<FunctionQueues, SqsError> {
    let (queue_name, dlq_name) = (settings.queue_name(spec), settings.dlq_name(spec));
    // An ordered function's queues are FIFO; content-based deduplication lets rule targets
    // (which set no deduplication id) send to them.
    let fifo: Vec<(QueueAttributeName, String)> = if spec.ordering_key.is_some() {
        vec![
            (QueueAttributeName::FifoQueue, "true".to_owned()),
            (
                QueueAttributeName::ContentBasedDeduplication,
                "true".to_owned(),
            ),
        ]
    } else {
        Vec::new()
    };
    let dlq_url = match url_of(client, &dlq_name).await? {
        Some(url) => url,
        None if settings.create_queues => {
            let retention = (
                QueueAttributeName::MessageRetentionPeriod,
                DLQ_RETENTION_SECONDS.to_string(),
            );
            let mut attributes = fifo.clone();
            attributes.push(retention);
            create(client, &dlq_name, attributes).await?
        }
        None => return Err(missing(settings, &dlq_name)),
    };
    let dlq_arn = arn_of(client, &dlq_url).await?;
    let queue_url = match url_of(client, &queue_name).await? {
        Some(url) => url,
        None if settings.create_queues => {
            let visibility = settings
                .visibility_timeout
                .map_or(6 * spec.timeout.as_secs().max(1), |d| d.as_secs().max(1));
            let redrive = json!({
                "deadLetterTargetArn": dlq_arn,
                "maxReceiveCount": spec.retry.max_deliveries,
            });
            let mut attributes = fifo;
            attributes.push((
                QueueAttributeName::VisibilityTimeout,
                visibility.to_string(),
            ));
            attributes.push((QueueAttributeName::RedrivePolicy, redrive.to_string()));
            create(client, &queue_name, attributes).await?
        }
        None => return Err(missing(settings, &queue_name)),
    };
    let queue_arn = arn_of(client, &queue_url).await?;
    Ok(FunctionQueues {
        function: spec.name,
        queue_url,
        queue_arn,
        dlq_url,
        dlq_arn,
    })
}
