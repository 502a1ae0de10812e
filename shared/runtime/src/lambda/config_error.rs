//! What can be wrong with a Lambda's configuration at cold start, each said in one sentence that
//! names the variable and what to set it to.
//!
//! The function's `main` returns these errors, and Rust prints an error returned from `main`
//! with `Debug`: [`ConfigError`]'s `Debug` is its `Display`, so the function's log shows the
//! sentence (`Error: CONVEYOR_EVENT_BUS is not set: ...`), not a variant name.

use std::fmt;

use super::config::{
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
    use std::collections::HashMap;

    use super::super::config::LambdaConfig;
    use super::*;

    fn error_with(vars: &[(&str, &str)]) -> String {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let err = LambdaConfig::from_lookup("f", |name| vars.get(name).cloned()).unwrap_err();
        let text = format!("{err:?}");
        assert_eq!(text, err.to_string(), "Debug is Display");
        assert_eq!(text.lines().count(), 1, "{text}");
        text
    }

    const DB: (&str, &str) = ("DATABASE_URL", "sqlite::memory:");
    const BUS: (&str, &str) = ("CONVEYOR_EVENT_BUS", "bus");

    #[test]
    fn every_configuration_error_names_what_to_set() {
        let cases: [(&[(&str, &str)], &str); 8] = [
            (
                &[],
                "CONVEYOR_EVENT_BUS is not set: set it to the EventBridge bus name, or set CONVEYOR_PUBLISH=outbox to leave events in the outbox for a relay",
            ),
            (
                &[DB, ("CONVEYOR_PUBLISH", "bus")],
                "CONVEYOR_PUBLISH is \"bus\": set it to outbox",
            ),
            (
                &[BUS],
                "CONVEYOR_DATABASE_SECRET_ARN is not set: set it to the ARN of the Secrets Manager secret holding the database URL (or the RDS JSON), or for a local run set DATABASE_URL to a postgres:// or sqlite: URL",
            ),
            (
                &[BUS, DB, ("CONVEYOR_DB_POOL_SIZE", "0")],
                "CONVEYOR_DB_POOL_SIZE is \"0\": set it to a number of connections from 1 to 100",
            ),
            (
                &[BUS, DB, ("CONVEYOR_DB_POOL_SIZE", "two")],
                "CONVEYOR_DB_POOL_SIZE is \"two\"",
            ),
            (
                &[BUS, DB, ("CONVEYOR_DB_ACQUIRE_TIMEOUT_MS", "5s")],
                "CONVEYOR_DB_ACQUIRE_TIMEOUT_MS is \"5s\": set it to a number of milliseconds",
            ),
            (
                &[BUS, DB, ("CONVEYOR_MIGRATE", "no")],
                "CONVEYOR_MIGRATE is \"no\": set it to false to skip migrations",
            ),
            (
                &[BUS, DB, ("CONVEYOR_ORDERED_ROUTES", "{}")],
                "CONVEYOR_ORDERED_ROUTES is not a JSON list of routes (",
            ),
        ];
        for (vars, expected) in cases {
            let text = error_with(vars);
            assert!(text.starts_with(expected), "{vars:?}:\n{text}");
        }
    }

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

    #[test]
    fn a_good_environment_reads_with_the_lambda_defaults() {
        let vars: HashMap<&str, &str> = [
            ("CONVEYOR_DATABASE_SECRET_ARN", "arn:s"),
            ("CONVEYOR_DATABASE_URL_OPTIONS", "sslmode=verify-full"),
            ("DATABASE_URL", "postgres://ignored"),
            ("CONVEYOR_PUBLISH", "outbox"),
            ("CONVEYOR_MIGRATE", "false"),
        ]
        .into();
        let config =
            LambdaConfig::from_lookup("f", |n| vars.get(n).map(|v| (*v).to_owned())).unwrap();
        assert_eq!(
            config.database,
            super::super::config::Database::Secret {
                arn: "arn:s".to_owned(),
                options: Some("sslmode=verify-full".to_owned())
            }
        );
        assert_eq!(config.pool.max_connections(), 2);
        assert!(!config.migrate);
        assert!(config.event_bus.is_none());
        assert!(!format!("{config:?}").contains("ignored"));
    }
}
