//! A running worker: the store, the sidecar publisher, the outbox relay and the app daprd
//! calls (HTTP or gRPC, as its app protocol says), and its shutdown.
//!
//! Shutdown (SIGTERM from Kubernetes, or Ctrl-C) stops accepting connections, lets the
//! handlers in flight finish (up to the configured timeout, which must stay below the pod's
//! termination grace period), stops the maintenance loop (inbox rows past their retention,
//! see [`conveyor_transport::maintenance`]), gives the relay one last pass and closes the store.
//!
//! A worker that runs a saga orchestrator (a function subscribed to `saga.timer_fired`) also
//! polls the due-timer table ([`conveyor_runtime::saga::timers`], every 200 ms) and publishes
//! each timer that fell due through the sidecar, which delivers it to the orchestrator like any
//! event; several replicas take disjoint timers (PostgreSQL's `SKIP LOCKED`), and a timer taken
//! twice is handled once (its event id is fixed).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::serve::ListenerExt;
use conveyor_runtime::{Deps, Function, relay, saga};
use conveyor_store::Store;
use conveyor_transport::measure::Timed;
use conveyor_transport::metrics::Stats;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use super::app;
use super::config::{Schedules, WorkerConfig};
use super::jobs::api::{HttpJobsApi, JobsApi};
use super::jobs::register;
use super::protocol::AppProtocol;
use super::publisher::SidecarPublisher;
use super::state::WorkerState;

/// Why a worker could not start or serve.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] conveyor_store::StoreError),
    /// The migrations could not be applied at start (often: the role may not create tables).
    #[error("cannot apply the migrations at start: {0}")]
    Migrate(#[source] conveyor_store::StoreError),
    /// The listener failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// A started worker, ready to serve.
#[derive(Debug)]
pub struct Worker {
    /// Its configuration.
    pub config: WorkerConfig,
    /// Process dependencies (the publisher is the sidecar's).
    pub deps: Deps,
    /// The sidecar publisher (its circuit state).
    pub publisher: Arc<SidecarPublisher>,
    /// The routes' state.
    pub state: WorkerState,
    relay_stop: watch::Sender<bool>,
    relay: JoinHandle<()>,
    maintenance: JoinHandle<()>,
    registration: Option<JoinHandle<()>>,
    timers: Option<JoinHandle<()>>,
}

impl Worker {
    /// Opens the store, migrates it unless configured not to, and starts the relay for
    /// `functions` (already selected for the worker's service and mode).
    ///
    /// # Errors
    /// When the store cannot be opened or migrated.
    pub async fn start(
        config: WorkerConfig,
        functions: &[Arc<dyn Function>],
    ) -> Result<Self, WorkerError> {
        let store = Store::connect_with(&config.database, config.pool)
            .await?
            .with_event_store(config.event_store);
        if config.migrate {
            store.migrate().await.map_err(WorkerError::Migrate)?;
        } else {
            tracing::info!(
                "migrations skipped (CONVEYOR_MIGRATE=false): `conveyor migrate` applies them"
            );
        }
        // Published outbox rows are deleted in batches in the background.
        let store = store.sweeping_outbox();
        // The event store's partitions of today and the days ahead, before any handler appends.
        conveyor_transport::maintenance::prepare_event_store(&store, config.clock.now()).await;
        let publisher = Arc::new(SidecarPublisher::new(&config, functions));
        let stats = Arc::new(Stats::new());
        let deps = Deps {
            store,
            publisher: Timed::wrap(publisher.clone(), "dapr", &stats),
            clock: Arc::clone(&config.clock),
        };
        let state = WorkerState::new(&config, deps.clone(), functions, stats, publisher.clone());
        let (relay_stop, stop_rx) = watch::channel(false);
        let maintenance = tokio::spawn(conveyor_transport::maintenance::run(
            deps.store.clone(),
            Arc::clone(&deps.clock),
            config.maintenance,
            false,
            stop_rx.clone(),
        ));
        // With the Jobs API, the jobs are scheduled through the sidecar, which may not be up yet.
        let registration =
            (config.schedules == Schedules::Jobs && !state.jobs().is_empty()).then(|| {
                let api: Arc<dyn JobsApi> = Arc::new(HttpJobsApi::new(&config));
                let jobs = state.jobs().to_vec();
                let stop = stop_rx.clone();
                tokio::spawn(async move {
                    let backoff = Duration::from_millis(500);
                    if let Some(done) = register::keep_registering(api, jobs, backoff, stop).await {
                        tracing::info!(jobs = done.len(), "jobs scheduled with Dapr's Scheduler");
                    }
                })
            });
        // A saga orchestrator's timers: one poller serves every orchestrator of the worker.
        let timers = functions
            .iter()
            .find(|f| f.spec().topics().contains(&saga::TIMER_FIRED))
            .map(|orchestrator| {
                tokio::spawn(saga::timers::run(
                    deps.clone(),
                    orchestrator.spec().service.app_id(),
                    saga::timers::DEFAULT_EVERY,
                    stop_rx.clone(),
                ))
            });
        let relay = tokio::spawn(conveyor_transport::relay::run(
            deps.clone(),
            config.relay_every,
            stop_rx,
        ));
        Ok(Self {
            config,
            deps,
            publisher,
            state,
            relay_stop,
            relay,
            maintenance,
            registration,
            timers,
        })
    }

    /// The app daprd calls: the HTTP routes, or the gRPC services beside the HTTP probes.
    pub fn router(&self) -> Router {
        match self.config.app_protocol {
            AppProtocol::Http => app::router(self.state.clone()),
            AppProtocol::Grpc => super::grpc::router(self.state.clone()),
        }
    }

    /// Serves on `listener` until `shutdown` resolves, then shuts down gracefully.
    ///
    /// # Errors
    /// An I/O error of the server.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), WorkerError> {
        let (signalled_tx, signalled_rx) = oneshot::channel::<()>();
        // Answers go out at once: with Nagle's algorithm an HTTP/2 answer written in several
        // frames (headers, data, trailers) waits for the caller's delayed ACK, 40 ms per call
        // when few calls are in flight (measured on gRPC bulk deliveries).
        let listener = listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "cannot set TCP_NODELAY on a connection");
            }
        });
        let server = axum::serve(listener, self.router()).with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!("shutting down: no new deliveries, finishing those in flight");
            let _ = signalled_tx.send(());
        });
        let grace = self.config.shutdown_timeout;
        let overdue = async move {
            if signalled_rx.await.is_ok() {
                tokio::time::sleep(grace).await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            served = server => served?,
            () = overdue => tracing::warn!(?grace, "in-flight handlers did not finish in time; stopping anyway"),
        }
        self.stop().await;
        Ok(())
    }

    /// Stops the relay after one last pass and closes the store (queued deletions first).
    pub async fn stop(self) {
        let _ = self.relay_stop.send(true);
        if let Some(registration) = self.registration {
            let _ = registration.await;
        }
        let _ = self.relay.await;
        let _ = self.maintenance.await;
        if let Some(timers) = self.timers {
            let _ = timers.await;
        }
        // Rows already published must be gone before the last pass, which takes every row.
        self.deps.store.flush_outbox_deletes().await;
        let last = relay::relay_once(&self.deps, Duration::ZERO, conveyor_transport::relay::BATCH);
        match tokio::time::timeout(Duration::from_secs(5), last).await {
            Ok(Ok(n)) if n > 0 => tracing::info!(published = n, "published outbox leftovers"),
            Ok(Err(e)) => tracing::warn!(error = %e, "last relay pass failed"),
            _ => {}
        }
        self.deps.store.close().await;
    }
}
