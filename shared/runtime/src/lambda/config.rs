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
use super::eventbridge::EventBridgePublisher;
use super::fifo::QueueRoute;
use super::secret::DatabaseSecret;
pub use super::secret::{SECRET_ARN, URL_OPTIONS};

/// Environment variable: the database URL, for local runs (on AWS the secret is used instead).
pub const DATABASE_URL: &str = "DATABASE_URL";
/// Environment variable: the EventBridge bus outgoing events go to.
pub const EVENT_BUS: &str = "CONVEYOR_EVENT_BUS";
/// Environment variable: `outbox` keeps outgoing events in the outbox for a relay instead.
pub const PUBLISH: &str = "CONVEYOR_PUBLISH";
/// Environment variable: the function's dead-letter queue URL.
pub const DLQ_URL: &str = "CONVEYOR_DLQ_URL";
/// Environment variable: `false` skips migrations at cold start.
pub const MIGRATE: &str = "CONVEYOR_MIGRATE";
/// Environment variable: most database connections one execution environment opens.
pub const POOL_SIZE: &str = "CONVEYOR_DB_POOL_SIZE";
/// Environment variable: milliseconds a handler waits for a database connection.
pub const ACQUIRE_TIMEOUT_MS: &str = "CONVEYOR_DB_ACQUIRE_TIMEOUT_MS";
/// A Lambda handles one batch at a time: two connections serve it and its publisher.
pub const DEFAULT_POOL_SIZE: u32 = 2;
/// The largest [`POOL_SIZE`] accepted.
pub const MAX_POOL_SIZE: u32 = 100;

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
    /// FIFO queues events also go to directly (the ordered functions').
    pub ordered_routes: Vec<QueueRoute>,
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
            ordered_routes: var(super::fifo::ORDERED_ROUTES)
                .map(|text| super::fifo::parse_routes(&text))
                .transpose()
                .map_err(ConfigError::Routes)?
                .unwrap_or_default(),
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
        opened.map_err(ConfigError::Store)
    }

    /// The DLQ client, if a DLQ URL is configured.
    #[must_use]
    pub fn dead_letter(&self) -> Option<SqsDeadLetter> {
        self.dlq_url
            .as_ref()
            .map(|url| SqsDeadLetter::from_env(self.function, url))
    }
}
