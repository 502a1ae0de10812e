//! Configuration read once per cold start, and the clients built from it.
//!
//! The database is reached through a Secrets Manager secret ([`SECRET_ARN`], read at cold start
//! and again on a refused login: see [`super::secret`]) or, for local runs such as `cargo lambda
//! watch`, a plain [`DATABASE_URL`]. Every problem is a [`ConfigError`] whose text says what is
//! missing or wrong and what to set.

use std::sync::Arc;
use std::time::Duration;

use conveyor_domain::SystemClock;
use conveyor_store::{PoolOptions, Store};

use crate::context::Deps;
use crate::publish::{DeferredPublisher, Publisher};

pub use super::aws::{AwsSettings, DEFAULT_CALL_TIMEOUT, DEFAULT_MAX_ATTEMPTS};
pub use super::config_error::ConfigError;
use super::dlq::SqsDeadLetter;
pub use super::env::{
    ACQUIRE_TIMEOUT_MS, DATABASE_URL, DEFAULT_POOL_SIZE, DLQ_URL, EVENT_BUS, MAX_POOL_SIZE,
    MIGRATE, POOL_SIZE, PUBLISH,
};
use super::eventbridge::EventBridgePublisher;
use super::fifo::QueueRoute;
use super::secret::DatabaseSecret;
pub use super::secret::{SECRET_ARN, URL_OPTIONS};

/// Where the database URL comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    /// A Secrets Manager secret (its ARN), with the deployment's query options.
    Secret {
        /// The secret's ARN.
        arn: String,
        /// [`URL_OPTIONS`], appended to the secret's URL.
        options: Option<String>,
    },
    /// A URL given directly (local runs).
    Url(String),
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Secret { arn, options } => f
                .debug_struct("Secret")
                .field("arn", arn)
                .field("options", options)
                .finish(),
            // The URL holds the password.
            Self::Url(_) => f.write_str("Url(<not shown>)"),
        }
    }
}

/// Everything a Lambda function reads from its environment.
#[derive(Debug, Clone)]
pub struct LambdaConfig {
    /// The function name (from its spec).
    pub function: &'static str,
    /// Where the database URL comes from.
    pub database: Database,
    /// The database pool's size and acquire timeout.
    pub pool: PoolOptions,
    /// EventBridge bus, if publishing there.
    pub event_bus: Option<String>,
    /// DLQ URL, if configured.
    pub dlq_url: Option<String>,
    /// Run migrations at cold start.
    pub migrate: bool,
    /// Append published events to the event store (`CONVEYOR_EVENT_STORE`).
    pub event_store: bool,
    /// FIFO queues events also go to directly (the ordered functions').
    pub ordered_routes: Vec<QueueRoute>,
    /// A saga orchestrator's own queue, where it arms its timers.
    pub timer_queue_url: Option<String>,
}

impl LambdaConfig {
    /// Reads the process environment.
    ///
    /// # Errors
    /// [`ConfigError`] for anything missing or malformed.
    pub fn from_env(function: &'static str) -> Result<Self, ConfigError> {
        Self::from_lookup(function, |name| std::env::var(name).ok())
    }

    /// Reads the variables through `lookup` (blank values count as unset).
    ///
    /// # Errors
    /// [`ConfigError`] for anything missing or malformed.
    pub fn from_lookup(
        function: &'static str,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let var = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let event_bus = var(EVENT_BUS);
        match var(PUBLISH) {
            Some(p) if p != "outbox" => return Err(ConfigError::Publish(p)),
            None if event_bus.is_none() => return Err(ConfigError::NoPublisher),
            _ => {}
        }
        let database = match (var(SECRET_ARN), var(DATABASE_URL)) {
            (Some(arn), _) => Database::Secret {
                arn,
                options: var(URL_OPTIONS),
            },
            (None, Some(url)) => Database::Url(url),
            (None, None) => return Err(ConfigError::NoDatabase),
        };
        let pool_size = match var(POOL_SIZE) {
            None => DEFAULT_POOL_SIZE,
            Some(v) => v
                .trim()
                .parse()
                .ok()
                .filter(|n| (1..=MAX_POOL_SIZE).contains(n))
                .ok_or(ConfigError::PoolSize(v))?,
        };
        let mut pool = PoolOptions::new(pool_size);
        if let Some(v) = var(ACQUIRE_TIMEOUT_MS) {
            let ms: u64 = v
                .trim()
                .parse()
                .ok()
                .filter(|ms| *ms > 0)
                .ok_or(ConfigError::AcquireTimeout(v))?;
            pool = pool.with_acquire_timeout(Duration::from_millis(ms));
        }
        let migrate = match var(MIGRATE).as_deref().map(str::trim) {
            None | Some("true") => true,
            Some("false") => false,
            Some(other) => return Err(ConfigError::Migrate(other.to_owned())),
        };
        Ok(Self {
            function,
            database,
            pool,
            event_bus,
            dlq_url: var(DLQ_URL),
            migrate,
            event_store: crate::event_store::enabled(var)?,
            ordered_routes: var(super::fifo::ORDERED_ROUTES)
                .map(|text| super::fifo::parse_routes(&text))
                .transpose()
                .map_err(ConfigError::Routes)?
                .unwrap_or_default(),
            timer_queue_url: var(super::timers::TIMER_QUEUE_URL),
        })
    }

    /// Reads the database secret (if one is configured), opens the store and builds the
    /// publisher. A store opened from a secret reads it again once when the database refuses
    /// its credentials ([`conveyor_store::credentials`]).
    ///
    /// # Errors
    /// [`ConfigError::Secret`] when the secret cannot be read or used,
    /// [`ConfigError::Store`] when the database cannot be reached or migrated.
    pub async fn deps(&self) -> Result<Deps, ConfigError> {
        self.deps_with(&AwsSettings::from_env("SECRETS_MANAGER"))
            .await
    }

    /// As [`LambdaConfig::deps`], reading the secret with a client built from `aws`.
    ///
    /// # Errors
    /// As [`LambdaConfig::deps`].
    pub async fn deps_with(&self, aws: &AwsSettings) -> Result<Deps, ConfigError> {
        let store = match &self.database {
            Database::Url(url) => self.open(url).await?,
            Database::Secret { arn, options } => {
                let secret = DatabaseSecret::new(arn, options.clone(), aws);
                let url = secret.read_url().await?;
                self.open(&url).await?.with_credentials(Arc::new(secret))
            }
        };
        let publisher: Arc<dyn Publisher> =
            match &self.event_bus {
                Some(bus) => Arc::new(EventBridgePublisher::from_env(bus).with_ordered_routes(
                    &AwsSettings::from_env("SQS"),
                    self.ordered_routes.clone(),
                )),
                None => Arc::new(DeferredPublisher),
            };
        Ok(Deps {
            store,
            publisher,
            clock: Arc::new(SystemClock),
        })
    }

    async fn open(&self, url: &str) -> Result<Store, ConfigError> {
        let opened = if self.migrate {
            Store::open_with(url, self.pool).await
        } else {
            Store::connect_with(url, self.pool).await
        };
        opened
            .map(|store| store.with_event_store(self.event_store))
            .map_err(ConfigError::Store)
    }

    /// The DLQ client, if a DLQ URL is configured.
    #[must_use]
    pub fn dead_letter(&self) -> Option<SqsDeadLetter> {
        self.dlq_url
            .as_ref()
            .map(|url| SqsDeadLetter::from_env(self.function, url))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

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
        let cases: [(&[(&str, &str)], &str); 9] = [
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
                &[BUS, DB, ("CONVEYOR_EVENT_STORE", "off")],
                "CONVEYOR_EVENT_STORE is \"off\": set it to false to keep no event store",
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
            Database::Secret {
                arn: "arn:s".to_owned(),
                options: Some("sslmode=verify-full".to_owned())
            }
        );
        assert_eq!(config.pool.max_connections(), 2);
        assert!(!config.migrate);
        assert!(
            config.event_store,
            "the event store is on unless switched off"
        );
        assert!(config.event_bus.is_none());
        assert!(!format!("{config:?}").contains("ignored"));
    }
}
