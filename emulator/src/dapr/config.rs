//! What a worker runs and how: its service, its mode (which of the service's functions it
//! serves), where its sidecar is, and the limits of its publisher and shutdown.

use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use conveyor_domain::{Clock, SystemClock};
use conveyor_runtime::cloudevent::PUBSUB_NAME;
use conveyor_runtime::{Function, Service};

/// The port daprd calls the app on (the seeds' `app-port`).
pub const DEFAULT_APP_PORT: u16 = 5005;
/// The sidecar's HTTP API port (`DAPR_HTTP_PORT`).
pub const DEFAULT_DAPR_HTTP_PORT: u16 = 3500;

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
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "cron" => Ok(Self::Cron),
            "event" => Ok(Self::Event),
            "all" => Ok(Self::All),
            other => Err(format!("unknown mode {other:?}: use cron, event or all")),
        }
    }
}

/// A service by its short name (`order`, `fulfillment`, `warehouse`).
///
/// # Errors
/// The unknown name.
pub fn parse_service(name: &str) -> Result<Service, String> {
    Service::ALL
        .into_iter()
        .find(|s| s.name() == name)
        .ok_or_else(|| format!("unknown service {name:?}: use order, fulfillment or warehouse"))
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
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// The service (its app id is the worker's).
    pub service: Service,
    /// What it serves.
    pub mode: Mode,
    /// Database URL.
    pub database: String,
    /// The pub/sub component events come from and go to.
    pub pubsub: String,
    /// The sidecar's HTTP port on 127.0.0.1.
    pub dapr_http_port: u16,
    /// Token the sidecar requires on its API (`DAPR_API_TOKEN`).
    pub dapr_api_token: Option<String>,
    /// Token daprd sends on every callback (`APP_API_TOKEN`); checked when set.
    pub app_api_token: Option<String>,
    /// Programmatic or declarative subscriptions.
    pub subscriptions: Subscriptions,
    /// The publisher's retries and circuit breaker.
    pub publisher: PublisherSettings,
    /// How often the outbox relay publishes what could not be published after commit.
    pub relay_every: Duration,
    /// How long shutdown waits for in-flight handlers.
    pub shutdown_timeout: Duration,
    /// "Now" (tests pin it).
    pub clock: Arc<dyn Clock>,
    /// Retention of inbox rows, and how often they are pruned.
    pub maintenance: crate::maintenance::MaintenanceSettings,
}

impl WorkerConfig {
    /// Defaults for `service`: its default mode, SQLite, sidecar on port 3500.
    #[must_use]
    pub fn new(service: Service) -> Self {
        Self {
            service,
            mode: Mode::default_for(service),
            database: crate::up::DEFAULT_DATABASE.to_owned(),
            pubsub: PUBSUB_NAME.to_owned(),
            dapr_http_port: DEFAULT_DAPR_HTTP_PORT,
            dapr_api_token: None,
            app_api_token: None,
            subscriptions: Subscriptions::Programmatic,
            publisher: PublisherSettings::default(),
            relay_every: Duration::from_secs(1),
            shutdown_timeout: Duration::from_secs(25),
            clock: Arc::new(SystemClock),
            maintenance: crate::maintenance::MaintenanceSettings::default(),
        }
    }

    /// The app id (`order-worker`, ...).
    #[must_use]
    pub fn app_id(&self) -> &'static str {
        self.service.app_id()
    }

    /// Where the sidecar listens.
    #[must_use]
    pub fn sidecar(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.dapr_http_port))
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
        let all = crate::catalog::all();
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
        assert!(parse_service("billing").is_err());
    }
}
