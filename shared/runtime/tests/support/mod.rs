//! What the Lambda host tests share: a fake AWS endpoint, a local Lambda Runtime API (also used
//! by the function crates' binary tests), SQS batch builders and tiny test functions.

pub(crate) mod fake_aws;
pub(crate) mod probe;
pub(crate) mod runtime_api;
pub(crate) mod sqs_batch;
