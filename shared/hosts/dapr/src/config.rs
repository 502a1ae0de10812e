//! What a worker runs and how: its service, its mode (which of the service's functions it
//! serves), where its sidecar is, and the limits of its publisher and shutdown.

use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use conveyor_domain::{Clock, SystemClock};
use conveyor_runtime::cloudevent::PUBSUB_NAME;
use conveyor_runtime::{Function, Service};

use super::env_file::{self, EnvFileError};
use super::protocol::AppProtocol;

/// The port daprd calls the app on (the seeds' `app-port`).
pub const DEFAULT_APP_PORT: u16 = 5005;
/// The sidecar's HTTP API port (`DAPR_HTTP_PORT`).
pub const DEFAULT_DAPR_HTTP_PORT: u16 = 3500;
/// The sidecar's gRPC API port (`DAPR_GRPC_PORT`).
pub const DEFAULT_DAPR_GRPC_PORT: u16 = 50001;

/// Which of a service's functions a worker serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Only the jobs (`bindings.cron` callbacks); no subscriptions.
    Cron,
    /// Only the topic functions (pub/sub callbacks); no bindings.
    Event,
    /// Both.
    All,
}

impl Mode {
    /// The seeds' default per service: order runs its jobs, fulfillment its consumers,
    /// warehouse both.
    #[must_use]
    pub fn default_for(service: Service) -> Self {
        match service {
            Service::Order => Self::Cron,
            Service::Fulfillment => Self::Event,
            Service::Warehouse => Self::All,
        }
    }

    /// The flag value.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Cron => "cron",
            Self::Event => "event",
            Self::All => "all",
        }
    }

    /// Whether the mode serves topic functions.
    #[must_use]
    pub fn events(self) -> bool {
        matches!(self, Self::Event | Self::All)
    }

    /// Whether the mode serves jobs.
    #[must_use]
    pub fn jobs(self) -> bool {
        matches!(self, Self::Cron | Self::All)
    }

    /// The functions of `service` among `functions` this mode serves.
    #[must_use]
    pub fn select(
        self,
        service: Service,
        functions: Vec<Arc<dyn Function>>,
    ) -> Vec<Arc<dyn Function>> {
        functions
            .into_iter()
            .filter(|f| f.spec().service == service)
            .filter(|f| {
                let spec = f.spec();
                if spec.schedule().is_some() {
                    self.jobs()
                } else {
                    self.events()
                }
            })
            .collect()
    }
}

impl FromStr for Mode {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "cron" => Ok(Self::Cron),
            "event" => Ok(Self::Event),
            "all" => Ok(Self::All),
            other => Err(ConfigError::UnknownMode(other.to_owned())),
        }
    }
}

/// A service by its short name (`order`, `fulfillment`, `warehouse`).
///
/// # Errors
/// [`ConfigError::UnknownService`].
pub fn parse_service(name: &str) -> Result<Service, ConfigError> {
    Service::ALL
        .into_iter()
        .find(|s| s.name() == name)
        .ok_or_else(|| ConfigError::UnknownService(name.to_owned()))
}

/// The variable (or, with `_FILE`, the file) the database URL comes from.
pub const DATABASE_VARIABLE: &str = "CONVEYOR_DATABASE_URL";
/// The variable (or file) of the token the sidecar requires on its API.
pub const DAPR_API_TOKEN_VARIABLE: &str = "DAPR_API_TOKEN";
/// The variable (or file) of the token daprd sends on every callback.
pub const APP_API_TOKEN_VARIABLE: &str = "APP_API_TOKEN";

/// Why a worker cannot start with the configuration it was given; each message is one
/// sentence that says what to set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// No service was given.
    #[error(
        "no service given: set CONVEYOR_SERVICE (or --service) to order, fulfillment or warehouse"
    )]
    NoService,
    /// The service is not one of the catalog's.
    #[error(
        "unknown service {0:?}: set CONVEYOR_SERVICE (or --service) to order, fulfillment or warehouse"
    )]
    UnknownService(String),
    /// The mode is not one of the three.
    #[error(
        "unknown worker mode {0:?}: set CONVEYOR_WORKER_MODE (or --mode) to cron, event or all"
    )]
    UnknownMode(String),
    /// No database URL was given: a worker has no default, since replicas that each fell
    /// back to a file of their own would each keep their own inbox and run every cron tick.
    #[error(
        "no database given: set CONVEYOR_DATABASE_URL (or --database), or CONVEYOR_DATABASE_URL_FILE to a file holding it, to a postgres:// URL"
    )]
    NoDatabase,
    /// The database URL names no supported database (shown without its password).
    #[error(
        "the database URL {0:?} names neither PostgreSQL nor SQLite: set CONVEYOR_DATABASE_URL (or CONVEYOR_DATABASE_URL_FILE, or --database) to a postgres:// URL"
    )]
    UnsupportedDatabase(String),
    /// The database URL is set but empty (an empty secret, a variable set to nothing).
    #[error(
        "the database URL is empty: set CONVEYOR_DATABASE_URL, or CONVEYOR_DATABASE_URL_FILE to a file holding it, to a postgres:// URL"
    )]
    EmptyDatabase,
    /// A setting's `_FILE` could not be read, or both forms are set.
    #[error(transparent)]
    File(#[from] EnvFileError),
}

/// The database URL: `flag` when given, else [`DATABASE_VARIABLE`] or the file its `_FILE`
/// names.
///
/// # Errors
/// [`ConfigError::NoDatabase`], [`ConfigError::EmptyDatabase`],
/// [`ConfigError::UnsupportedDatabase`] or [`ConfigError::File`].
pub fn database_url(
    flag: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, ConfigError> {
    let url = match flag {
        Some(url) => url.to_owned(),
        None => env_file::read(DATABASE_VARIABLE, env)?.ok_or(ConfigError::NoDatabase)?,
    };
    if url.trim().is_empty() {
        return Err(ConfigError::EmptyDatabase);
    }
    if !["postgres://", "postgresql://", "sqlite:"]
        .iter()
        .any(|scheme| url.starts_with(scheme))
    {
        return Err(ConfigError::UnsupportedDatabase(
            conveyor_store::redact::url(&url),
        ));
    }
    Ok(url)
}

/// A token: `flag` when given, else `variable` or the file its `_FILE` names; an empty one
/// counts as none (no token checked or sent).
///
/// # Errors
/// [`ConfigError::File`].
pub fn token(
    flag: Option<&str>,
    variable: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<String>, ConfigError> {
    let value = match flag {
        Some(token) => Some(token.to_owned()),
        None => env_file::read(variable, env)?,
    };
    Ok(value.filter(|t| !t.is_empty()))
}

/// How subscriptions reach daprd.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Subscriptions {
    /// The worker lists them at `GET /dapr/subscribe`.
    #[default]
    Programmatic,
    /// `Subscription` resources are applied instead; `GET /dapr/subscribe` lists none, so
    /// no topic is subscribed twice.
    Declarative,
}

/// daprd's bulk subscribe, asked for in every subscription the worker lists: daprd gathers up
/// to `max_messages` events (or what arrives within `max_await_ms` of the first) into one call,
/// which the worker answers entry by entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BulkSubscribe {
    /// Most events in one call (daprd's `maxMessagesCount`).
    pub max_messages: u32,
    /// Longest wait for a call to fill, in milliseconds (daprd's `maxAwaitDurationMs`).
    pub max_await_ms: u32,
}

/// How the jobs' schedules reach daprd.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Schedules {
    /// One `bindings.cron` component per job: every replica's sidecar fires every tick, the
    /// worker runs it once (`POST /<job>`).
    #[default]
    CronBinding,
    /// Dapr's Jobs API (the Scheduler): the worker schedules its jobs at start and the
    /// Scheduler fires each tick at one replica (`POST /job/<job>`).
    Jobs,
}

impl Schedules {
    /// The flag value.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::CronBinding => "cron-binding",
            Self::Jobs => "jobs",
        }
    }
}

/// Retries and circuit breaker of the sidecar publisher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublisherSettings {
    /// Attempts per event (first included) before it counts as a failure.
    pub attempts: u32,
    /// Delay before the second attempt; doubles for each further one.
    pub backoff: Duration,
    /// Timeout of one publish request.
    pub request_timeout: Duration,
    /// Consecutive failed events that open the circuit.
    pub failure_threshold: u32,
    /// How long the circuit stays open before one trial publish.
    pub open_for: Duration,
}

impl Default for PublisherSettings {
    fn default() -> Self {
        Self {
            attempts: 3,
            backoff: Duration::from_millis(100),
            request_timeout: Duration::from_secs(5),
            failure_threshold: 3,
            open_for: Duration::from_secs(60),
        }
    }
}

/// Everything a worker needs besides its functions.
// Debug: below, by hand (the URL without its password, no tokens).
#[derive(Clone)]
pub struct WorkerConfig {
    /// The service (its app id is the worker's).
    pub service: Service,
    /// What it serves.
    pub mode: Mode,
    /// Database URL.
    pub database: String,
    /// The database pool's size and acquire timeout.
    pub pool: conveyor_store::PoolOptions,
    /// Apply the migrations at start (off where `conveyor migrate` is a step of its own).
    pub migrate: bool,
    /// The pub/sub component events come from and go to.
    pub pubsub: String,
    /// How daprd calls the app, and which sidecar API the worker publishes through.
    pub app_protocol: AppProtocol,
    /// The sidecar's HTTP port on 127.0.0.1.
    pub dapr_http_port: u16,
    /// The sidecar's gRPC port on 127.0.0.1.
    pub dapr_grpc_port: u16,
    /// Token the sidecar requires on its API (`DAPR_API_TOKEN`).
    pub dapr_api_token: Option<String>,
    /// Token daprd sends on every callback (`APP_API_TOKEN`); checked when set.
    pub app_api_token: Option<String>,
    /// Programmatic or declarative subscriptions.
    pub subscriptions: Subscriptions,
    /// Bulk subscribe settings listed with every subscription; `None`: one event per call.
    pub bulk_subscribe: Option<BulkSubscribe>,
    /// Cron bindings or the Jobs API.
    pub schedules: Schedules,
    /// The publisher's retries and circuit breaker.
    pub publisher: PublisherSettings,
    /// How often the outbox relay publishes what could not be published after commit.
    pub relay_every: Duration,
    /// How long shutdown waits for in-flight handlers.
    pub shutdown_timeout: Duration,
    /// "Now" (tests pin it).
    pub clock: Arc<dyn Clock>,
    /// Retention of inbox rows and stored events, and how often they are pruned.
    pub maintenance: conveyor_transport::maintenance::MaintenanceSettings,
    /// Append published events to the event store (`CONVEYOR_EVENT_STORE`).
    pub event_store: bool,
}

impl WorkerConfig {
    /// Defaults for `service`: its default mode, SQLite, sidecar on port 3500.
    #[must_use]
    pub fn new(service: Service) -> Self {
        Self {
            service,
            mode: Mode::default_for(service),
            database: conveyor_store::connect::LOCAL_DATABASE.to_owned(),
            pool: conveyor_store::PoolOptions::default(),
            migrate: true,
            pubsub: PUBSUB_NAME.to_owned(),
            app_protocol: AppProtocol::default(),
            dapr_http_port: DEFAULT_DAPR_HTTP_PORT,
            dapr_grpc_port: DEFAULT_DAPR_GRPC_PORT,
            dapr_api_token: None,
            app_api_token: None,
            subscriptions: Subscriptions::Programmatic,
            bulk_subscribe: None,
            schedules: Schedules::CronBinding,
            publisher: PublisherSettings::default(),
            relay_every: Duration::from_secs(1),
            shutdown_timeout: Duration::from_secs(25),
            clock: Arc::new(SystemClock),
            maintenance: conveyor_transport::maintenance::MaintenanceSettings::default(),
            event_store: true,
        }
    }

    /// The app id (`order-worker`, ...).
    #[must_use]
    pub fn app_id(&self) -> &'static str {
        self.service.app_id()
    }

    /// Where the sidecar's HTTP API listens.
    #[must_use]
    pub fn sidecar(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.dapr_http_port))
    }

    /// Where the sidecar's gRPC API listens.
    #[must_use]
    pub fn sidecar_grpc(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.dapr_grpc_port))
    }

    /// The sidecar API the worker publishes through (the one its app protocol names).
    #[must_use]
    pub fn publish_endpoint(&self) -> String {
        match self.app_protocol {
            AppProtocol::Http => format!("http://{}", self.sidecar()),
            AppProtocol::Grpc => format!("grpc://{}", self.sidecar_grpc()),
        }
    }
}

impl std::fmt::Debug for WorkerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerConfig")
            .field("service", &self.service)
            .field("mode", &self.mode)
            .field(
                "database",
                &conveyor_store::redact::Redacted(&self.database),
            )
            .field("pool", &self.pool)
            .field("pubsub", &self.pubsub)
            .field("app_protocol", &self.app_protocol)
            .field("dapr_http_port", &self.dapr_http_port)
            .field("dapr_grpc_port", &self.dapr_grpc_port)
            .field(
                "dapr_api_token",
                &self
                    .dapr_api_token
                    .as_ref()
                    .map(|_| conveyor_store::redact::MASK),
            )
            .field(
                "app_api_token",
                &self
                    .app_api_token
                    .as_ref()
                    .map(|_| conveyor_store::redact::MASK),
            )
            .field("subscriptions", &self.subscriptions)
            .field("bulk_subscribe", &self.bulk_subscribe)
            .field("schedules", &self.schedules)
            .field("relay_every", &self.relay_every)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_follow_the_seeds_and_select_functions() {
        assert_eq!(Mode::default_for(Service::Order), Mode::Cron);
        assert_eq!(Mode::default_for(Service::Fulfillment), Mode::Event);
        assert_eq!(Mode::default_for(Service::Warehouse), Mode::All);
        let all = conveyor_catalog::all();
        let cron = Mode::Cron.select(Service::Order, all.clone());
        assert!(!cron.is_empty());
        assert!(cron.iter().all(|f| f.spec().schedule().is_some()));
        let event = Mode::Event.select(Service::Order, all.clone());
        assert!(event.iter().all(|f| f.spec().schedule().is_none()));
        let both = Mode::All.select(Service::Order, all);
        assert_eq!(both.len(), cron.len() + event.len());
        assert_eq!("all".parse::<Mode>(), Ok(Mode::All));
        assert!("both".parse::<Mode>().is_err());
        assert_eq!(parse_service("warehouse"), Ok(Service::Warehouse));
        assert_eq!(
            parse_service("billing").unwrap_err().to_string(),
            "unknown service \"billing\": set CONVEYOR_SERVICE (or --service) to order, fulfillment or warehouse"
        );
        assert_eq!(
            "both".parse::<Mode>().unwrap_err().to_string(),
            "unknown worker mode \"both\": set CONVEYOR_WORKER_MODE (or --mode) to cron, event or all"
        );
    }

    #[test]
    fn debug_masks_the_password_and_the_tokens() {
        let secret = "pw-4711-never-shown";
        let mut worker = WorkerConfig::new(conveyor_runtime::Service::Order);
        worker.database = format!("postgres://app:{secret}@db/app");
        worker.app_api_token = Some(secret.to_owned());
        worker.dapr_api_token = Some(secret.to_owned());
        let text = format!("{worker:?}");
        assert!(!text.contains(secret), "{text}");
        assert!(text.contains("postgres://app:***@db/app"), "{text}");
    }
}
