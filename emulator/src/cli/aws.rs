//! AWS client settings from the command line's SQS options, shared by the commands that talk
//! to SQS (`up --transport sqs`, `dlq redrive --sqs`, `events replay --transport sqs`).

use conveyor_runtime::lambda::config::AwsSettings;

use super::args::SqsArgs;

/// AWS settings for `service` (`SQS`, `EVENTBRIDGE`): the standard AWS variables, overridden
/// by the arguments. A local endpoint without credentials gets placeholder ones (local
/// stand-ins accept any).
#[must_use]
pub fn aws_settings(args: &SqsArgs, service: &str) -> AwsSettings {
    let mut aws = AwsSettings::from_env(service);
    if let Some(url) = &args.sqs_endpoint {
        aws.endpoint_url = Some(url.clone());
    }
    if let Some(region) = &args.aws_region {
        aws.region.clone_from(region);
    }
    if aws.endpoint_url.is_some() && aws.access_key_id.is_empty() {
        "local".clone_into(&mut aws.access_key_id);
        "local".clone_into(&mut aws.secret_access_key);
    }
    aws
}
