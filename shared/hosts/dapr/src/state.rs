//! What the worker's routes share: the topic functions and jobs it serves, the delivery
//! counts, the ordering keys' locks, process dependencies and metrics. It sits below the routes
//! ([`super::app`]) and the handlers they call ([`super::delivery`], [`super::bindings`]).

use std::sync::Arc;

use conveyor_runtime::{Deps, Function};
use tokio::sync::Semaphore;

use super::attempts::Attempts;
use super::bindings::JobEntry;
use super::config::{BulkSubscribe, Mode, Schedules, Subscriptions, WorkerConfig};
use super::keys::KeyLocks;
use super::publisher::SidecarPublisher;
use super::subscription::Subscription;
use conveyor_transport::measure::Measured;
use conveyor_transport::metrics::Stats;

/// A topic function the worker serves.
#[derive(Debug)]
pub struct TopicEntry {
    /// The function.
    pub function: Arc<dyn Function>,
    /// Caps its invocations in flight at its spec's concurrency.
    pub limit: Semaphore,
}

/// What the routes share.
#[derive(Debug, Clone)]
pub struct WorkerState(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    deps: Deps,
    sidecar: Arc<SidecarPublisher>,
    stats: Arc<Stats>,
    pubsub: String,
    subscriptions: Subscriptions,
    bulk_subscribe: Option<BulkSubscribe>,
    schedules: Schedules,
    app_id: &'static str,
    mode: Mode,
    app_token: Option<String>,
    topics: Vec<Arc<TopicEntry>>,
    jobs: Vec<Arc<JobEntry>>,
    attempts: Attempts,
    keys: KeyLocks,
}

impl WorkerState {
    /// State over `functions` (already selected for the worker's service and mode), recording
    /// into `stats`; `sidecar` is the publisher in `deps` (for its circuit state).
    #[must_use]
    pub fn new(
        config: &WorkerConfig,
        deps: Deps,
        functions: &[Arc<dyn Function>],
        stats: Arc<Stats>,
        sidecar: Arc<SidecarPublisher>,
    ) -> Self {
        let (jobs, topics): (Vec<_>, Vec<_>) = functions
            .iter()
            .partition(|f| f.spec().schedule().is_some());
        Self(Arc::new(Inner {
            deps,
            sidecar,
            pubsub: config.pubsub.clone(),
            subscriptions: config.subscriptions,
            bulk_subscribe: config.bulk_subscribe,
            schedules: config.schedules,
            app_id: config.app_id(),
            mode: config.mode,
            app_token: config.app_api_token.clone().filter(|t| !t.is_empty()),
            topics: topics
                .into_iter()
                .map(|f| {
                    let permits = usize::try_from(f.spec().concurrency.max(1)).unwrap_or(1);
                    Arc::new(TopicEntry {
                        // Each event's lag is recorded as its handler starts.
                        function: Measured::wrap(Arc::clone(f), &stats),
                        limit: Semaphore::new(permits),
                    })
                })
                .collect(),
            jobs: jobs
                .into_iter()
                .map(|f| Arc::new(JobEntry::new(Arc::clone(f))))
                .collect(),
            attempts: Attempts::default(),
            keys: KeyLocks::default(),
            stats,
        }))
    }

    /// Process dependencies.
    #[must_use]
    pub fn deps(&self) -> &Deps {
        &self.0.deps
    }

    /// Metrics (`GET /metrics`).
    #[must_use]
    pub fn stats(&self) -> &Arc<Stats> {
        &self.0.stats
    }

    /// The sidecar publisher (its circuit state, for the metrics).
    #[must_use]
    pub fn sidecar(&self) -> &SidecarPublisher {
        &self.0.sidecar
    }

    /// Deliveries seen per (function, event id).
    pub(crate) fn attempts(&self) -> &Attempts {
        &self.0.attempts
    }

    /// The per-key locks of ordered functions.
    #[must_use]
    pub fn keys(&self) -> &KeyLocks {
        &self.0.keys
    }

    /// The subscriptions `GET /dapr/subscribe` and `ListTopicSubscriptions` list.
    #[must_use]
    pub fn subscriptions(&self) -> Vec<Subscription> {
        if self.0.subscriptions == Subscriptions::Declarative {
            return Vec::new();
        }
        let mut list = Vec::new();
        for entry in &self.0.topics {
            let spec = entry.function.spec();
            for topic in spec.topics() {
                list.push(Subscription {
                    pubsubname: self.0.pubsub.clone(),
                    topic: (*topic).to_owned(),
                    route: format!("/{}", spec.name),
                    dead_letter_topic: spec.dlq_name(),
                    bulk_subscribe: self.0.bulk_subscribe.map(Into::into),
                });
            }
        }
        list
    }

    /// The topic functions it serves.
    pub(crate) fn topics(&self) -> &[Arc<TopicEntry>] {
        &self.0.topics
    }

    /// The topic function served at `route` (`/<function>`).
    pub(crate) fn topic_at(&self, route: &str) -> Option<&Arc<TopicEntry>> {
        let name = route.strip_prefix('/').unwrap_or(route);
        self.0
            .topics
            .iter()
            .find(|e| e.function.spec().name == name)
    }

    /// The jobs it serves.
    #[must_use]
    pub fn jobs(&self) -> &[Arc<JobEntry>] {
        &self.0.jobs
    }

    /// The job called `name`, if it serves one.
    #[must_use]
    pub fn job(&self, name: &str) -> Option<&JobEntry> {
        self.0
            .jobs
            .iter()
            .find(|j| j.function.spec().name == name)
            .map(Arc::as_ref)
    }

    /// How its jobs are fired: cron bindings or the Jobs API.
    #[must_use]
    pub fn schedules(&self) -> Schedules {
        self.0.schedules
    }

    /// Its app id.
    #[must_use]
    pub fn app_id(&self) -> &'static str {
        self.0.app_id
    }

    /// Its mode.
    #[must_use]
    pub fn mode(&self) -> Mode {
        self.0.mode
    }

    /// The token daprd must present, if one is configured.
    pub(crate) fn app_token(&self) -> Option<&str> {
        self.0.app_token.as_deref()
    }

    /// The names of the jobs it serves (as cron bindings or through the Jobs API).
    #[must_use]
    pub fn bindings(&self) -> Vec<&'static str> {
        self.0.jobs.iter().map(|j| j.function.spec().name).collect()
    }
}
