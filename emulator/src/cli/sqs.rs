//! SQS settings from the command line (`up --transport sqs`), and `dlq redrive --sqs`, which
//! works on SQS directly and needs no running emulator.

use serde_json::{Value, json};

use super::args::{SqsArgs, SqsUpArgs};
use super::aws::aws_settings;
use super::commands::CommandError;
use conveyor_catalog as catalog;
use conveyor_sqs::{SqsSettings, queues, redrive};

/// The settings of `up --transport sqs`.
#[must_use]
pub fn settings(args: &SqsUpArgs) -> SqsSettings {
    SqsSettings {
        eventbridge: aws_settings(&args.queues, "EVENTBRIDGE"),
        queue_prefix: args.queues.queue_prefix.clone(),
        event_bus: args.event_bus.clone(),
        wait_seconds: args.sqs_wait_seconds,
        batch_size: args.sqs_batch_size,
        create_queues: args.sqs_create_queues,
        ..SqsSettings::new(aws_settings(&args.queues, "SQS"))
    }
}

/// `conveyor dlq redrive --sqs <function>`: the function's DLQ back to its queue.
///
/// # Errors
/// An unknown function, a job (jobs have no queue to return to), or a failed SQS call.
pub async fn redrive(
    args: &SqsArgs,
    function: &str,
    ids: &[String],
) -> Result<Value, CommandError> {
    let spec = catalog::find(function).map(|f| f.spec()).ok_or_else(|| {
        CommandError::Selection(format!(
            "unknown function {function:?}; `conveyor functions` lists them"
        ))
    })?;
    if spec.topics().is_empty() {
        return Err(CommandError::Selection(format!(
            "{function} is a job: its DLQ holds failed runs, and the next tick runs it again"
        )));
    }
    let settings = SqsSettings {
        queue_prefix: args.queue_prefix.clone(),
        ..SqsSettings::new(aws_settings(args, "SQS"))
    };
    let client = settings.sqs_client();
    let queues = queues::resolve(&client, &settings, &spec).await?;
    let ids = (!ids.is_empty()).then_some(ids);
    let outcome = redrive::redrive(&client, &queues, ids).await?;
    let mut answer = json!({
        "function": function,
        "dlq": queues.dlq_url,
        "queue": queues.queue_url,
    });
    if let (Some(answer), Value::Object(outcome)) = (answer.as_object_mut(), json!(outcome)) {
        answer.extend(outcome);
    }
    Ok(answer)
}
