//! Configuration read once per cold start, and the clients built from it.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use conveyor_domain::SystemClock;
use conveyor_store::Store;

use crate::context::Deps;
use crate::publish::{DeferredPublisher, Publisher};

use super::dlq::SqsDeadLetter;
use super::eventbridge::EventBridgePublisher;
use super::fifo::QueueRoute;

/// Environment variable: the database URL.
pub const DATABASE_URL: &str = "DATABASE_URL";
/// Environment variable: the EventBridge bus outgoing events go to.
pub const EVENT_BUS: &str = "CONVEYOR_EVENT_BUS";
/// Environment variable: `outbox` keeps outgoing events in the outbox for a relay instead.
pub const PUBLISH: &str = "CONVEYOR_PUBLISH";
/// Environment variable: the function's dead-letter queue URL.
pub const DLQ_URL: &str = "CONVEYOR_DLQ_URL";
/// Environment variable: `false` skips migrations at cold start.
pub const MIGRATE: &str = "CONVEYOR_MIGRATE";

/// A configuration problem, reported at cold start.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is unset.
    #[error("{0} is not set")]
    Missing(&'static str),
    /// Neither publishing option is set.
    #[error(
        "set {EVENT_BUS} to an EventBridge bus name, or {PUBLISH}=outbox to leave events in the outbox for a relay"
    )]
    NoPublisher,
    /// The store did not open.
    #[error("database: {0}")]
    Store(#[from] conveyor_store::StoreError),
    /// The ordered functions' routes are not a JSON list of routes.
    #[error("CONVEYOR_ORDERED_ROUTES: {0}")]
    Routes(serde_json::Error),
}

/// Everything a Lambda function reads from its environment.
#[derive(Debug, Clone)]
pub struct LambdaConfig {
    /// The function name (from its spec).
    pub function: &'static str,
    /// Database URL.
    pub database_url: String,
    /// EventBridge bus, if publishing there.
    pub event_bus: Option<String>,
    /// DLQ URL, if configured.
    pub dlq_url: Option<String>,
    /// Run migrations at cold start.
    pub migrate: bool,
    /// FIFO queues events also go to directly (the ordered functions').
    pub ordered_routes: Vec<QueueRoute>,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl LambdaConfig {
    /// Reads the environment.
    ///
    /// # Errors
    /// [`ConfigError`] for a missing database URL or publishing choice.
    pub fn from_env(function: &'static str) -> Result<Self, ConfigError> {
        let event_bus = var(EVENT_BUS);
        if event_bus.is_none() && var(PUBLISH).as_deref() != Some("outbox") {
            return Err(ConfigError::NoPublisher);
        }
        Ok(Self {
            function,
            database_url: var(DATABASE_URL).ok_or(ConfigError::Missing(DATABASE_URL))?,
            event_bus,
            dlq_url: var(DLQ_URL),
            migrate: var(MIGRATE).is_none_or(|v| v != "false"),
            ordered_routes: var(super::fifo::ORDERED_ROUTES)
                .map(|text| super::fifo::parse_routes(&text))
                .transpose()
                .map_err(ConfigError::Routes)?
                .unwrap_or_default(),
        })
    }

    /// Opens the store and builds the publisher.
    ///
    /// # Errors
    /// [`ConfigError::Store`] when the database cannot be reached or migrated.
    pub async fn deps(&self) -> Result<Deps, ConfigError> {
        let store = if self.migrate {
            Store::open(&self.database_url).await?
        } else {
            Store::connect(&self.database_url).await?
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

    /// The DLQ client, if a DLQ URL is configured.
    #[must_use]
    pub fn dead_letter(&self) -> Option<SqsDeadLetter> {
        self.dlq_url
            .as_ref()
            .map(|url| SqsDeadLetter::from_env(self.function, url))
    }
}

/// Attempts per AWS call (the SDK's standard retry mode) unless configured otherwise.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;
/// Longest one AWS call may take, retries included, unless configured otherwise.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// How an AWS service client is built: region, static credentials (what Lambda puts in the
/// environment), an optional endpoint override, and retry and timeout limits. A hung endpoint
/// must fail one record, not time out the whole invocation, hence the call timeout.
#[derive(Clone, PartialEq, Eq)]
pub struct AwsSettings {
    /// Region.
    pub region: String,
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key (never printed).
    pub secret_access_key: String,
    /// Session token of temporary credentials (never printed).
    pub session_token: Option<String>,
    /// Endpoint override, for local and test endpoints.
    pub endpoint_url: Option<String>,
    /// Attempts per call, the first included.
    pub max_attempts: u32,
    /// Longest one call may take, retries included.
    pub call_timeout: Duration,
}

impl fmt::Debug for AwsSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsSettings")
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .field("endpoint_url", &self.endpoint_url)
            .field("max_attempts", &self.max_attempts)
            .field("call_timeout", &self.call_timeout)
            .finish()
    }
}

impl AwsSettings {
    /// Reads the standard AWS variables: `AWS_REGION` (else `AWS_DEFAULT_REGION`, else
    /// `us-east-1`), `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, and the
    /// endpoint `AWS_ENDPOINT_URL_<service>` (else `AWS_ENDPOINT_URL`). `service` is the
    /// variable suffix: `SQS`, `EVENTBRIDGE`.
    #[must_use]
    pub fn from_env(service: &str) -> Self {
        Self {
            region: var("AWS_REGION")
                .or_else(|| var("AWS_DEFAULT_REGION"))
                .unwrap_or_else(|| "us-east-1".to_owned()),
            access_key_id: var("AWS_ACCESS_KEY_ID").unwrap_or_default(),
            secret_access_key: var("AWS_SECRET_ACCESS_KEY").unwrap_or_default(),
            session_token: var("AWS_SESSION_TOKEN"),
            endpoint_url: var(&format!("AWS_ENDPOINT_URL_{service}"))
                .or_else(|| var("AWS_ENDPOINT_URL")),
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            call_timeout: DEFAULT_CALL_TIMEOUT,
        }
    }

    /// Settings for an AWS-compatible endpoint at `endpoint_url` (a local stand-in), with
    /// placeholder credentials in `us-east-1`.
    #[must_use]
    pub fn local(endpoint_url: &str) -> Self {
        Self {
            region: "us-east-1".to_owned(),
            access_key_id: "local".to_owned(),
            secret_access_key: "local".to_owned(),
            session_token: None,
            endpoint_url: Some(endpoint_url.to_owned()),
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            call_timeout: DEFAULT_CALL_TIMEOUT,
        }
    }

    /// The same settings with `max_attempts` attempts per call.
    #[must_use]
    pub fn with_max_attempts(mut self, max_attempts: u32) -> Self {
        self.max_attempts = max_attempts.max(1);
        self
    }
}

/// Builds a service client from [`AwsSettings`]; the SDKs share these builder methods.
macro_rules! client_from_settings {
    ($sdk:ident, $settings:expr) => {{
        let settings: &$crate::lambda::config::AwsSettings = $settings;
        let credentials = $sdk::config::Credentials::new(
            settings.access_key_id.clone(),
            settings.secret_access_key.clone(),
            settings.session_token.clone(),
            None,
            "conveyor",
        );
        let timeouts = $sdk::config::timeout::TimeoutConfig::builder()
            .connect_timeout(std::time::Duration::from_secs(3))
            .operation_timeout(settings.call_timeout)
            .build();
        let retries =
            $sdk::config::retry::RetryConfig::standard().with_max_attempts(settings.max_attempts);
        let mut builder = $sdk::Config::builder()
            .behavior_version($sdk::config::BehaviorVersion::latest())
            .region($sdk::config::Region::new(settings.region.clone()))
            .credentials_provider(credentials)
            .retry_config(retries)
            .timeout_config(timeouts);
        if let Some(url) = &settings.endpoint_url {
            builder = builder.endpoint_url(url.clone());
        }
        $sdk::Client::from_conf(builder.build())
    }};
}
pub(crate) use client_from_settings;

impl AwsSettings {
    /// An SQS client built from these settings.
    #[must_use]
    pub fn sqs_client(&self) -> aws_sdk_sqs::Client {
        client_from_settings!(aws_sdk_sqs, self)
    }

    /// An EventBridge client built from these settings.
    #[must_use]
    pub fn eventbridge_client(&self) -> aws_sdk_eventbridge::Client {
        client_from_settings!(aws_sdk_eventbridge, self)
    }
}
