//! What `conveyor up` checks and says at start: the HTTP API's access settings, and which of
//! its database and transport failed to open, with the option that sets it.

use crate::access::{Access, AccessSettings, ApiToken};
use crate::up::UpError;

use super::args::UpArgs;
use super::commands::{CommandError, redact};

/// The HTTP API's access policy from `args`; warns when a non-loopback address is served
/// without a token.
///
/// # Errors
/// [`CommandError::Access`] for a non-loopback address with neither a token nor the opt-out,
/// an allowed host that is no host name, or a token a header cannot carry.
pub fn access(args: &UpArgs) -> Result<Access, CommandError> {
    let settings = AccessSettings {
        token: ApiToken::new(args.api_token.as_deref().unwrap_or_default())?,
        allowed_hosts: args.http_allowed_hosts.clone(),
        insecure_no_token: args.http_insecure_no_token,
    };
    let access = Access::new(args.http, settings)?;
    if access.is_open() {
        tracing::warn!(
            address = %args.http,
            "the HTTP API listens on a non-loopback address without a token \
             (--http-insecure-no-token): anyone who can reach it can publish, invoke and redrive"
        );
    }
    Ok(access)
}

/// What `up` connects to besides its database, to name the one that failed.
#[derive(Debug, Clone)]
pub enum Target {
    /// The embedded broker (in the database).
    Embedded,
    /// Redis at this URL.
    Redis(String),
    /// SQS at this endpoint (AWS itself when `None`).
    Sqs(Option<String>),
}

/// `error` from [`crate::up::start`] as a sentence naming what failed and the option to set.
#[must_use]
pub fn failed(error: UpError, database: &str, target: &Target) -> CommandError {
    let (what, hint) = match (&error, target) {
        (UpError::Store(_), _) => (
            format!("open the database {}", redact(database)),
            "check --database or CONVEYOR_DATABASE_URL (sqlite://<file> or \
             postgres://<user>@<host>/<database>)",
        ),
        (UpError::Broker(_), Target::Redis(url)) => (
            format!("reach Redis at {}", redact(url)),
            "check --redis or CONVEYOR_REDIS_URL (redis://<host>:6379, rediss:// for TLS), or \
             leave it unset for the embedded broker",
        ),
        (UpError::Broker(_), Target::Sqs(endpoint)) => (
            format!(
                "reach the SQS queues at {}",
                endpoint.as_deref().unwrap_or("AWS")
            ),
            "check --sqs-endpoint or CONVEYOR_SQS_ENDPOINT, --queue-prefix and the AWS \
             credentials, or pass --sqs-create-queues to create the queues on a local endpoint",
        ),
        _ => return CommandError::Up(error),
    };
    // The store's and the transports' own errors may already name the URL they tried.
    let cause = error.to_string();
    let said = if cause.contains("://") {
        cause
    } else {
        format!("cannot {what} ({cause})")
    };
    CommandError::Start {
        said,
        hint,
        source: error,
    }
}
