//! The worker's command-line options (every one with an environment fallback) and the
//! configuration they describe.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use clap::ValueEnum;
use conveyor_runtime::cloudevent::PUBSUB_NAME;
use conveyor_store::redact::{MASK, Redacted};

use super::pool::PoolArgs;
use super::values;
use crate::config::{
    self, BulkSubscribe, ConfigError, DEFAULT_APP_PORT, DEFAULT_DAPR_GRPC_PORT,
    DEFAULT_DAPR_HTTP_PORT, PublisherSettings, Schedules, Subscriptions, WorkerConfig,
    parse_service,
};
use crate::protocol::AppProtocol;

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum LogFormat {
    /// Human-readable.
    #[default]
    Text,
    /// JSON lines.
    Json,
}

/// Options of `worker`.
#[derive(Clone, clap::Args)]
pub struct WorkerArgs {
    /// The service whose functions to serve (order, fulfillment, warehouse); the app id is
    /// `<service>-worker`.
    #[arg(long, env = "CONVEYOR_SERVICE")]
    pub service: Option<String>,
    /// cron (jobs only), event (topic functions only) or all; by default order=cron,
    /// fulfillment=event, warehouse=all.
    #[arg(long, env = "CONVEYOR_WORKER_MODE")]
    pub mode: Option<String>,
    /// Database URL, postgres://... (sqlite:... for one worker on one machine); else
    /// CONVEYOR_DATABASE_URL, or CONVEYOR_DATABASE_URL_FILE naming a file that holds it (a
    /// mounted secret). Required: replicas must share one database.
    #[arg(long)]
    pub database: Option<String>,
    #[command(flatten)]
    pub pool: PoolArgs,
    /// Apply the database migrations at start; false where `conveyor migrate` runs as a step
    /// of its own and the worker's database role may not create tables.
    #[arg(long, env = "CONVEYOR_MIGRATE", default_value = "true", action = clap::ArgAction::Set,
          value_name = "true|false", value_parser = values::boolean("CONVEYOR_MIGRATE", "--migrate"))]
    pub migrate: bool,
    /// Address the app listens on for its sidecar (0.0.0.0 in a pod, for the kubelet's probes).
    #[arg(long, env = "CONVEYOR_APP_HOST", default_value = "127.0.0.1",
          value_parser = values::parsed::<IpAddr>("CONVEYOR_APP_HOST", "--host", "an IP address such as 127.0.0.1 or 0.0.0.0"))]
    pub host: IpAddr,
    /// The app port daprd calls (0 picks a free one).
    #[arg(long, env = "CONVEYOR_APP_PORT", default_value_t = DEFAULT_APP_PORT,
          value_parser = values::parsed::<u16>("CONVEYOR_APP_PORT", "--port", "a port number, 0 to 65535"))]
    pub port: u16,
    /// How daprd calls the app (the Deployment's `dapr.io/app-protocol`, which daprd's
    /// injector passes on as APP_PROTOCOL): http, or grpc (the AppCallback services on the
    /// app port; events are then published through the sidecar's gRPC API).
    #[arg(long, env = "APP_PROTOCOL", default_value = "http",
          value_parser = values::one_of::<AppProtocol>("APP_PROTOCOL", "--app-protocol"))]
    pub app_protocol: AppProtocol,
    /// The sidecar's HTTP API port on 127.0.0.1 (publishing with --app-protocol http).
    #[arg(long, env = "DAPR_HTTP_PORT", default_value_t = DEFAULT_DAPR_HTTP_PORT,
          value_parser = values::parsed::<u16>("DAPR_HTTP_PORT", "--dapr-http-port", "the sidecar's HTTP port number"))]
    pub dapr_http_port: u16,
    /// The sidecar's gRPC API port on 127.0.0.1 (publishing with --app-protocol grpc).
    #[arg(long, env = "DAPR_GRPC_PORT", default_value_t = DEFAULT_DAPR_GRPC_PORT,
          value_parser = values::parsed::<u16>("DAPR_GRPC_PORT", "--dapr-grpc-port", "the sidecar's gRPC port number"))]
    pub dapr_grpc_port: u16,
    /// Token for the sidecar's API (sent as `dapr-api-token`); else DAPR_API_TOKEN, or
    /// DAPR_API_TOKEN_FILE naming a file that holds it.
    #[arg(long)]
    pub dapr_api_token: Option<String>,
    /// Token daprd must send on every callback (callbacks without it get HTTP 401, or gRPC
    /// UNAUTHENTICATED); else APP_API_TOKEN, or APP_API_TOKEN_FILE naming a file that holds it.
    #[arg(long)]
    pub app_api_token: Option<String>,
    /// The pub/sub component.
    #[arg(long, env = "CONVEYOR_PUBSUB", default_value = PUBSUB_NAME)]
    pub pubsub: String,
    /// programmatic (listed at GET /dapr/subscribe) or declarative (Subscription resources
    /// applied instead; the worker lists none).
    #[arg(long, env = "CONVEYOR_SUBSCRIPTIONS", default_value = "programmatic",
          value_parser = values::one_of::<Subscriptions>("CONVEYOR_SUBSCRIPTIONS", "--subscriptions"))]
    pub subscriptions: Subscriptions,
    /// Events daprd may gather into one bulk delivery (its bulk subscribe, asked for in every
    /// subscription the worker lists); 0 (the default) delivers them one by one.
    #[arg(long, env = "CONVEYOR_BULK_MAX_MESSAGES", default_value_t = 0,
          value_parser = values::parsed::<u32>("CONVEYOR_BULK_MAX_MESSAGES", "--bulk-max-messages", "a number of events, 0 for no bulk delivery"))]
    pub bulk_max_messages: u32,
    /// Milliseconds daprd waits for a bulk delivery to fill.
    #[arg(long, env = "CONVEYOR_BULK_MAX_AWAIT_MS", default_value_t = 1000,
          value_parser = values::at_least_one::<u32>("CONVEYOR_BULK_MAX_AWAIT_MS", "--bulk-max-await-ms"))]
    pub bulk_max_await_ms: u32,
    /// cron-binding (a `bindings.cron` component per job fires it on every replica) or jobs
    /// (the worker schedules its jobs through Dapr's Jobs API at start; the Scheduler fires
    /// each tick at one replica). Must match what `conveyor gen dapr --schedules` generated.
    #[arg(long, env = "CONVEYOR_SCHEDULES", default_value = "cron-binding",
          value_parser = values::one_of::<Schedules>("CONVEYOR_SCHEDULES", "--schedules"))]
    pub schedules: Schedules,
    /// Attempts per event before a publish counts as failed.
    #[arg(long, env = "CONVEYOR_PUBLISH_ATTEMPTS", default_value_t = 3,
          value_parser = values::at_least_one::<u32>("CONVEYOR_PUBLISH_ATTEMPTS", "--publish-attempts"))]
    pub publish_attempts: u32,
    /// Consecutive failed publishes that open the circuit.
    #[arg(long, env = "CONVEYOR_BREAKER_FAILURES", default_value_t = 3,
          value_parser = values::at_least_one::<u32>("CONVEYOR_BREAKER_FAILURES", "--breaker-failures"))]
    pub breaker_failures: u32,
    /// Seconds the circuit stays open before one trial publish.
    #[arg(long, env = "CONVEYOR_BREAKER_OPEN_SECS", default_value_t = 60.0,
          value_parser = values::seconds("CONVEYOR_BREAKER_OPEN_SECS", "--breaker-open-secs"))]
    pub breaker_open_secs: f64,
    /// Milliseconds between outbox relay passes.
    #[arg(long, env = "CONVEYOR_RELAY_EVERY_MS", default_value_t = 1000,
          value_parser = values::at_least_one::<u64>("CONVEYOR_RELAY_EVERY_MS", "--relay-every-ms"))]
    pub relay_every_ms: u64,
    /// Seconds shutdown waits for in-flight handlers (keep it below the pod's grace period).
    #[arg(long, env = "CONVEYOR_SHUTDOWN_TIMEOUT_SECS", default_value_t = 25,
          value_parser = values::parsed::<u64>("CONVEYOR_SHUTDOWN_TIMEOUT_SECS", "--shutdown-timeout-secs", "a whole number of seconds"))]
    pub shutdown_timeout_secs: u64,
    /// Log format.
    #[arg(long, env = "CONVEYOR_LOG_FORMAT", default_value = "text",
          value_parser = values::one_of::<LogFormat>("CONVEYOR_LOG_FORMAT", "--log-format"))]
    pub log_format: LogFormat,
}

impl WorkerArgs {
    /// The worker configuration these options describe, the secrets read from the process's
    /// environment (`X` or the file `X_FILE` names).
    ///
    /// # Errors
    /// [`ConfigError`]: a missing or unknown service, an unknown mode, an empty database URL,
    /// a `_FILE` that cannot be read.
    pub fn config(&self) -> Result<WorkerConfig, ConfigError> {
        self.config_from(&|name| std::env::var(name).ok())
    }

    /// As [`Self::config`], with the secrets' variables looked up in `env`.
    ///
    /// # Errors
    /// As [`Self::config`].
    pub fn config_from(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<WorkerConfig, ConfigError> {
        let service = parse_service(self.service.as_deref().ok_or(ConfigError::NoService)?)?;
        let base = WorkerConfig::new(service);
        Ok(WorkerConfig {
            mode: self.mode.as_deref().map_or(Ok(base.mode), str::parse)?,
            database: config::database_url(self.database.as_deref(), env)?,
            pool: self.pool.options(),
            migrate: self.migrate,
            pubsub: self.pubsub.clone(),
            app_protocol: self.app_protocol,
            dapr_http_port: self.dapr_http_port,
            dapr_grpc_port: self.dapr_grpc_port,
            dapr_api_token: config::token(
                self.dapr_api_token.as_deref(),
                config::DAPR_API_TOKEN_VARIABLE,
                env,
            )?,
            app_api_token: config::token(
                self.app_api_token.as_deref(),
                config::APP_API_TOKEN_VARIABLE,
                env,
            )?,
            subscriptions: self.subscriptions,
            bulk_subscribe: (self.bulk_max_messages > 0).then_some(BulkSubscribe {
                max_messages: self.bulk_max_messages,
                max_await_ms: self.bulk_max_await_ms,
            }),
            schedules: self.schedules,
            publisher: PublisherSettings {
                attempts: self.publish_attempts.max(1),
                failure_threshold: self.breaker_failures.max(1),
                open_for: Duration::try_from_secs_f64(self.breaker_open_secs)
                    .unwrap_or(base.publisher.open_for),
                ..base.publisher
            },
            relay_every: Duration::from_millis(self.relay_every_ms.max(10)),
            shutdown_timeout: Duration::from_secs(self.shutdown_timeout_secs),
            ..base
        })
    }

    /// Where the app listens.
    #[must_use]
    pub fn listen(&self) -> SocketAddr {
        SocketAddr::new(self.host, self.port)
    }
}

// Debug by hand, as an allow list: the URL without its password, tokens never.
impl fmt::Debug for WorkerArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let token = |t: Option<&String>| t.map(|_| MASK);
        f.debug_struct("WorkerArgs")
            .field("service", &self.service)
            .field("mode", &self.mode)
            .field("database", &self.database.as_deref().map(Redacted))
            .field("host", &self.host)
            .field("port", &self.port)
            .field("app_protocol", &self.app_protocol)
            .field("dapr_http_port", &self.dapr_http_port)
            .field("dapr_grpc_port", &self.dapr_grpc_port)
            .field("dapr_api_token", &token(self.dapr_api_token.as_ref()))
            .field("app_api_token", &token(self.app_api_token.as_ref()))
            .field("pubsub", &self.pubsub)
            .field("schedules", &self.schedules)
            .finish_non_exhaustive()
    }
}
