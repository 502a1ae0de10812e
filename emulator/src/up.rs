//! `conveyor up`: every selected function of the catalog in one process, on the embedded broker
//! (or Redis Streams, or SQS queues, when configured) and the store (a SQLite file under `.conveyor/` unless a
//! database URL is given).
//!
//! The embedded broker's tables are created only when `up` runs on that broker; every
//! transport gets the maintenance loop ([`conveyor_transport::maintenance`]) that prunes inbox rows (and the
//! embedded broker's dead letters) past their retention. On Redis the streams are also trimmed
//! by age ([`conveyor_redis::retention`]).
//! When a saga orchestrator runs, so does the poller that fires its timers
//! ([`conveyor_runtime::saga::timers`]); on SQS there is none, as on Lambda: the orchestrator's
//! host arms each timer as a delay message on its own queue ([`conveyor_sqs::poller`]).

use std::sync::Arc;
use std::time::Duration;

use conveyor_domain::{Clock, SystemClock};
use conveyor_runtime::cron::Schedule;
use conveyor_runtime::saga;
use conveyor_runtime::{Deps, Function, Publisher, Trigger};
use conveyor_store::{PoolOptions, Store};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::eventlog::record::{Recorded, RecordingBroker};
use crate::scheduler;
use conveyor_embedded::broker::EmbeddedBroker;
use conveyor_embedded::consumer::{self, ConsumerSettings};
use conveyor_redis::RedisSettings;
use conveyor_redis::broker::RedisBroker;
use conveyor_redis::lock::RedisTickLock;
use conveyor_sqs::SqsSettings;
use conveyor_sqs::broker::SqsBroker;
use conveyor_sqs::poller::{self, EventSource};
use conveyor_transport::broker::{Broker, BrokerError};
use conveyor_transport::maintenance::{self, MaintenanceSettings};
use conveyor_transport::measure::{Measured, Timed};
use conveyor_transport::metrics::Stats;
use conveyor_transport::tick::TickLock;

use crate::eventlog::EventLog;
use crate::http::SagaTimers;

/// Where state lives by default.
pub const DEFAULT_DATABASE: &str = conveyor_store::connect::LOCAL_DATABASE;

/// What `up` runs.
// Debug: in crate::redacted (the URL without its password).
#[derive(Clone)]
pub struct UpConfig {
    /// Database URL.
    pub database: String,
    /// The database pool's size and acquire timeout.
    pub pool: PoolOptions,
    /// The functions to run.
    pub functions: Vec<Arc<dyn Function>>,
    /// On the embedded broker, the functions whose queues keep what is published to their
    /// topics whether or not this process runs them (the catalog, from the CLI), as a Redis
    /// consumer group or an SQS queue does; the running functions always are. Empty: only the
    /// running functions'.
    pub subscribers: Vec<Arc<dyn Function>>,
    /// Consumer polling (embedded broker).
    pub consumer: ConsumerSettings,
    /// How often the outbox relay looks for unpublished events.
    pub relay_every: Duration,
    /// Redis Streams instead of the embedded broker; cron ticks then fire once across instances.
    pub redis: Option<RedisSettings>,
    /// SQS queues (a local event source mapping) instead; takes precedence over `redis`.
    pub sqs: Option<SqsSettings>,
    /// The clock handlers and jobs read; the system clock when `None` (tests pass a manual one).
    pub clock: Option<Arc<dyn Clock>>,
    /// Retention of inbox rows, dead letters and stored events, and how often they are pruned.
    pub maintenance: MaintenanceSettings,
    /// Append published events to the event store.
    pub event_store: bool,
}

impl Default for UpConfig {
    fn default() -> Self {
        Self {
            database: DEFAULT_DATABASE.to_owned(),
            pool: PoolOptions::default(),
            functions: Vec::new(),
            subscribers: Vec::new(),
            consumer: ConsumerSettings::default(),
            relay_every: Duration::from_secs(1),
            redis: None,
            sqs: None,
            clock: None,
            maintenance: MaintenanceSettings::default(),
            event_store: true,
        }
    }
}

/// Why `up` could not start.
#[derive(Debug, thiserror::Error)]
pub enum UpError {
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] conveyor_store::StoreError),
    /// The transport could not be reached.
    #[error(transparent)]
    Broker(#[from] BrokerError),
}

/// A running emulator.
#[derive(Debug)]
pub struct Running {
    /// Process-wide dependencies.
    pub deps: Deps,
    /// The broker.
    pub broker: Arc<dyn Broker>,
    /// Metrics.
    pub stats: Arc<Stats>,
    /// Recent events, attempts and runs, for the dashboard.
    pub events: Arc<EventLog>,
    /// The functions.
    pub functions: Vec<Arc<dyn Function>>,
    /// On SQS, each saga orchestrator's queue, where its timers are armed.
    saga_timers: Arc<SagaTimers>,
    shutdown: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

/// Opens the store, builds the broker and starts consumers, schedulers and the relay.
///
/// # Errors
/// When the store cannot be opened or Redis cannot be reached.
pub async fn start(mut config: UpConfig) -> Result<Running, UpError> {
    // Published outbox rows are deleted in batches in the background, not one statement each;
    // a SQLite file's log is checkpointed in the background, not by a commit that must wait.
    let store = Store::open_with(&config.database, config.pool)
        .await?
        .sweeping_outbox()
        .checkpointing_in_background(&config.database)
        .await?
        .with_event_store(config.event_store);
    let clock: Arc<dyn Clock> = config
        .clock
        .clone()
        .unwrap_or_else(|| Arc::new(SystemClock));
    // The event store's partitions of today and the days ahead, before any handler appends.
    conveyor_transport::maintenance::prepare_event_store(&store, clock.now()).await;
    let events = Arc::new(EventLog::new());
    let stats = Arc::new(Stats::with_journal(events.clone()));
    // Every invocation, whichever host runs it, lands in the dashboard's event log, and every
    // event's lag in the metrics.
    config.functions = config
        .functions
        .into_iter()
        .map(|f| Measured::wrap(Recorded::wrap(f, &events), &stats))
        .collect();
    let (shutdown, watch_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let transport = match (&config.sqs, &config.redis) {
        (Some(settings), _) => Transport::Sqs(Arc::new(
            SqsBroker::connect(settings.clone(), &config.functions)
                .await
                .map_err(BrokerError::from)?,
        )),
        (None, Some(settings)) => Transport::Redis(Arc::new(
            RedisBroker::connect(settings.clone(), &config.functions).await?,
        )),
        // The queue keeps wall-clock time even when handlers read a test's clock: retries and
        // leases fall due in real time. Only this transport needs the queue's tables.
        (None, None) => {
            store.migrate_embedded_broker().await?;
            Transport::Embedded(Arc::new(EmbeddedBroker::new(
                store.clone(),
                Arc::new(SystemClock),
                &queues(&config.functions, &config.subscribers),
            )))
        }
    };
    let broker = recording(transport.broker(), &events);
    let publisher: Arc<dyn Publisher> = Timed::wrap(broker.clone(), transport.name(), &stats);
    let deps = Deps {
        store,
        publisher,
        clock,
    };
    let lock = transport.tick_lock();
    for function in &config.functions {
        let (f, d, st, rx) = (
            Arc::clone(function),
            deps.clone(),
            Arc::clone(&stats),
            watch_rx.clone(),
        );
        match function.spec().trigger {
            Trigger::Topics(_) => {
                transport.spawn_consumer(&mut tasks, f, d, st, config.consumer, rx)
            }
            Trigger::Schedule(_) => {
                tasks.spawn(scheduler::run_with_lock(f, d, st, lock.clone(), rx));
            }
        }
    }
    if let Transport::Redis(b) = &transport
        && let Some(max_age) = b.settings().max_age
    {
        // Age retention of the streams this process uses, and of every topic the platform
        // publishes to (those no function here consumes included).
        let keys = b.retained_streams(conveyor_domain::events::ALL_TOPICS);
        tasks.spawn(conveyor_redis::retention::run(
            b.connection(),
            keys,
            max_age,
            conveyor_redis::retention::EVERY,
            watch_rx.clone(),
        ));
    }
    // A saga orchestrator's timers: the due-timer table polled here, each firing published to
    // the orchestrator as an event (one poller serves every orchestrator; timers carry their
    // saga's definition). Not on SQS: there, as on Lambda, they are SQS delay messages.
    if let Some(orchestrator) = config
        .functions
        .iter()
        .find(|f| f.spec().topics().contains(&saga::TIMER_FIRED))
        .filter(|_| !matches!(transport, Transport::Sqs(_)))
    {
        tasks.spawn(saga::timers::run(
            deps.clone(),
            orchestrator.spec().service.app_id(),
            saga::timers::DEFAULT_EVERY,
            watch_rx.clone(),
        ));
    }
    tasks.spawn(maintenance::run(
        deps.store.clone(),
        Arc::clone(&deps.clock),
        config.maintenance,
        matches!(transport, Transport::Embedded(_)),
        watch_rx.clone(),
    ));
    tasks.spawn(conveyor_transport::relay::run(
        deps.clone(),
        config.relay_every,
        watch_rx,
    ));
    Ok(Running {
        saga_timers: Arc::new(transport.saga_timers(&config.functions)),
        deps,
        broker,
        stats,
        events,
        functions: config.functions,
        shutdown,
        tasks,
    })
}

/// The broker as the emulator uses it: events it accepts are logged for the dashboard.
fn recording(broker: Arc<dyn Broker>, events: &Arc<EventLog>) -> Arc<RecordingBroker> {
    Arc::new(RecordingBroker::new(broker, events))
}

/// The broker `up` runs on, and how it consumes a function's topics.
enum Transport {
    Embedded(Arc<EmbeddedBroker>),
    Redis(Arc<RedisBroker>),
    Sqs(Arc<SqsBroker>),
}

impl Transport {
    fn broker(&self) -> Arc<dyn Broker> {
        match self {
            Self::Embedded(b) => b.clone(),
            Self::Redis(b) => b.clone(),
            Self::Sqs(b) => b.clone(),
        }
    }

    /// Its name in the publish metrics' `transport` label.
    fn name(&self) -> &'static str {
        match self {
            Self::Embedded(_) => "embedded",
            Self::Redis(_) => "redis",
            Self::Sqs(_) => "sqs",
        }
    }

    /// On SQS, where each saga orchestrator arms its timers: its own queue. Empty elsewhere
    /// (the due-timer poller fires them).
    fn saga_timers(&self, functions: &[Arc<dyn Function>]) -> SagaTimers {
        let Self::Sqs(b) = self else {
            return SagaTimers::new();
        };
        functions
            .iter()
            .filter_map(|f| {
                let name = f.spec().name;
                let queues = b.queues(name)?;
                Some((name, poller::timer_queue(f.as_ref(), b.settings(), queues)?))
            })
            .collect()
    }

    /// On Redis a tick fires once across every instance sharing the server.
    fn tick_lock(&self) -> Option<Arc<dyn TickLock>> {
        match self {
            Self::Redis(b) => Some(Arc::new(RedisTickLock::new(
                b.connection(),
                b.settings().clone(),
            ))),
            Self::Embedded(_) | Self::Sqs(_) => None,
        }
    }

    fn spawn_consumer(
        &self,
        tasks: &mut JoinSet<()>,
        function: Arc<dyn Function>,
        deps: Deps,
        stats: Arc<Stats>,
        settings: ConsumerSettings,
        shutdown: watch::Receiver<bool>,
    ) {
        match self {
            Self::Embedded(b) => {
                tasks.spawn(consumer::run(
                    function,
                    deps,
                    Arc::clone(b),
                    stats,
                    settings,
                    shutdown,
                ));
            }
            Self::Redis(b) => {
                tasks.spawn(conveyor_redis::consumer::run(
                    function,
                    deps,
                    Arc::clone(b),
                    stats,
                    shutdown,
                ));
            }
            Self::Sqs(b) => {
                if let Some(queues) = b.queues(function.spec().name) {
                    let source =
                        EventSource::new(function, deps, b.settings(), queues.clone(), stats);
                    tasks.spawn(poller::run(source, shutdown));
                }
            }
        }
    }
}

impl Running {
    /// The state the HTTP API serves.
    #[must_use]
    pub fn api_state(&self) -> crate::api::ApiState {
        crate::api::ApiState {
            deps: self.deps.clone(),
            broker: self.broker.clone(),
            stats: Arc::clone(&self.stats),
            events: Arc::clone(&self.events),
            functions: self.functions.clone(),
            saga_timers: Arc::clone(&self.saga_timers),
        }
    }

    /// Stops leasing and ticking, lets in-flight handlers and ticks finish, then returns.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        while self.tasks.join_next().await.is_some() {}
        self.deps.store.flush_outbox_deletes().await;
        self.deps.store.close().await;
    }

    /// What `up` prints at start: functions, topics, schedules.
    #[must_use]
    pub fn summary(&self) -> String {
        let now = self.deps.clock.now();
        let mut out = String::new();
        for f in &self.functions {
            let spec = f.spec();
            let line = match spec.trigger {
                Trigger::Topics(topics) => {
                    format!("  {:<38} <- {}\n", spec.name, topics.join(", "))
                }
                Trigger::Schedule(cron) => {
                    let next = Schedule::parse(cron)
                        .ok()
                        .and_then(|s| s.next_after(now))
                        .map(|t| t.to_rfc3339())
                        .unwrap_or_default();
                    format!("  {:<38} cron \"{cron}\" UTC, next {next}\n", spec.name)
                }
            };
            out.push_str(&line);
        }
        out
    }
}

/// The functions with a queue on the embedded broker: those `running`, then the other
/// `subscribers`, each name once.
fn queues(
    running: &[Arc<dyn Function>],
    subscribers: &[Arc<dyn Function>],
) -> Vec<Arc<dyn Function>> {
    let mut all = running.to_vec();
    for f in subscribers {
        if !all.iter().any(|r| r.spec().name == f.spec().name) {
            all.push(Arc::clone(f));
        }
    }
    all
}
