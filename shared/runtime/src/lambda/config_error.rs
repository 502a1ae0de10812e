//! What can be wrong with a Lambda's configuration at cold start, each said in one sentence that
//! names the variable and what to set it to.
//!
//! The function's `main` returns these errors, and Rust prints an error returned from `main`
//! with `Debug`: [`ConfigError`]'s `Debug` is its `Display`, so the function's log shows the
//! sentence (`Error: CONVEYOR_EVENT_BUS is not set: ...`), not a variant name.

use std::fmt;

use super::env::{
    ACQUIRE_TIMEOUT_MS, DATABASE_URL, EVENT_BUS, MAX_POOL_SIZE, MIGRATE, POOL_SIZE, PUBLISH,
};
use super::fifo::ORDERED_ROUTES;
use super::secret::{SECRET_ARN, SecretError};

/// A configuration problem, reported at cold start.
#[derive(thiserror::Error)]
pub enum ConfigError {
    /// Neither publishing option is set.
    #[error(
        "{EVENT_BUS} is not set: set it to the EventBridge bus name, or set {PUBLISH}=outbox to leave events in the outbox for a relay"
    )]
    NoPublisher,
    /// The publishing option names something else.
    #[error(
        "{PUBLISH} is {0:?}: set it to outbox to leave events in the outbox for a relay, or unset it and set {EVENT_BUS} to the EventBridge bus name"
    )]
    Publish(String),
    /// Neither database variable is set.
    #[error(
        "{SECRET_ARN} is not set: set it to the ARN of the Secrets Manager secret holding the database URL (or the RDS JSON), or for a local run set {DATABASE_URL} to a postgres:// or sqlite: URL"
    )]
    NoDatabase,
    /// The pool size is not a number in range.
    #[error(
        "{POOL_SIZE} is {0:?}: set it to a number of connections from 1 to {MAX_POOL_SIZE}, or unset it for the default of 2"
    )]
    PoolSize(String),
    /// The acquire timeout is not a positive number of milliseconds.
    #[error(
        "{ACQUIRE_TIMEOUT_MS} is {0:?}: set it to a number of milliseconds above 0, or unset it for the default of 10000"
    )]
    AcquireTimeout(String),
    /// The migration switch is neither `true` nor `false`.
    #[error(
        "{MIGRATE} is {0:?}: set it to false to skip migrations at cold start, or true (the default)"
    )]
    Migrate(String),
    /// The event store switch is neither `true` nor `false`.
    #[error(transparent)]
    EventStore(#[from] crate::event_store::SwitchError),
    /// The ordered functions' routes are not a JSON list of routes.
    #[error(
        "{ORDERED_ROUTES} is not a JSON list of routes ({0}): set it to [{{\"queue_url\": ..., \"topics\": [...], \"key\": ...}}] as the Terraform writes it, or unset it"
    )]
    Routes(serde_json::Error),
    /// The database secret could not be read or used.
    #[error("{0}")]
    Secret(#[from] SecretError),
    /// The store did not open.
    #[error(
        "the database could not be opened ({0}): check the URL in the secret or {DATABASE_URL}, and that the database accepts this function's connections"
    )]
    Store(conveyor_store::StoreError),
}

impl fmt::Debug for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_and_store_errors_say_what_to_check() {
        let secret = ConfigError::from(SecretError::Read {
            arn: "arn:aws:secretsmanager:us-east-1:1:secret:db".to_owned(),
            reason: "AccessDeniedException".to_owned(),
        });
        assert_eq!(
            format!("{secret:?}"),
            "could not read the secret arn:aws:secretsmanager:us-east-1:1:secret:db from Secrets Manager (AccessDeniedException): check CONVEYOR_DATABASE_SECRET_ARN and that the function's role may call secretsmanager:GetSecretValue on it (and kms:Decrypt on its key)"
        );
        let store = ConfigError::Store(conveyor_store::StoreError::Database(
            conveyor_store::sqlx::Error::PoolTimedOut,
        ));
        assert!(
            format!("{store:?}").starts_with("the database could not be opened (database error: "),
            "{store:?}"
        );
    }
}
