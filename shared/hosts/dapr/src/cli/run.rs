//! `conveyor-worker` (and `conveyor worker`): parse, configure, open the store, listen, serve
//! until SIGTERM, and say in one sentence what to fix when any of it fails.

use std::net::SocketAddr;
use std::sync::Arc;

use conveyor_runtime::Function;
use conveyor_runtime::maintenance::{Retention, RetentionError};
use conveyor_runtime::telemetry;

use super::args::{LogFormat, WorkerArgs};
use crate::{ConfigError, Worker, WorkerError};

/// Why the worker did not run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The configuration is wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A retention variable is wrong.
    #[error(transparent)]
    Retention(#[from] RetentionError),
    /// The event store switch is wrong.
    #[error(transparent)]
    EventStore(#[from] conveyor_runtime::event_store::SwitchError),
    /// The worker could not start or serve.
    #[error(transparent)]
    Worker(#[from] WorkerError),
    /// The database cannot be reached.
    #[error(
        "{source}: check CONVEYOR_DATABASE_URL (or the file CONVEYOR_DATABASE_URL_FILE names), that the server is reachable, and the user's password"
    )]
    Database {
        /// Why (the URL shown without its password).
        #[source]
        source: WorkerError,
    },
    /// The database role may not apply the migrations.
    #[error(
        "{source}: grant the worker's database role CREATE on the database, or apply the migrations with `conveyor migrate` as a role that may and start the worker with CONVEYOR_MIGRATE=false (or --migrate false)"
    )]
    Migration {
        /// Which migration failed and why.
        #[source]
        source: WorkerError,
    },
    /// The app address cannot be listened on.
    #[error(
        "cannot listen on {address} ({source}): stop what uses it or set CONVEYOR_APP_PORT (or --port) to another port, 0 for a free one"
    )]
    Listen {
        /// The address.
        address: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The process could not start its runtime or read its socket.
    #[error(transparent)]
    Io(std::io::Error),
}

/// Sets up the process's log lines in `format`.
pub fn init_logs(format: LogFormat) {
    telemetry::init(match format {
        LogFormat::Text => telemetry::LogFormat::Text,
        LogFormat::Json => telemetry::LogFormat::Json,
    });
}

/// Runs the worker `args` describe over `catalog` (every function; the worker keeps its
/// service's, in its mode) until SIGTERM or Ctrl-C.
///
/// # Errors
/// [`RunError`], each variant a sentence that names what to change.
pub fn run(args: &WorkerArgs, catalog: Vec<Arc<dyn Function>>) -> Result<(), RunError> {
    init_logs(args.log_format);
    let mut config = args.config()?;
    config.maintenance.retention = Retention::from_env()?;
    config.event_store = conveyor_runtime::event_store::enabled_from_env()?;
    let functions = config.mode.select(config.service, catalog);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(RunError::Io)?;
    runtime.block_on(async move {
        let worker = Worker::start(config, &functions)
            .await
            .map_err(|e| match e {
                WorkerError::Store(conveyor_store::StoreError::Connect { .. }) => {
                    RunError::Database { source: e }
                }
                WorkerError::Migrate(_) => RunError::Migration { source: e },
                other => other.into(),
            })?;
        let listener = tokio::net::TcpListener::bind(args.listen())
            .await
            .map_err(|source| RunError::Listen {
                address: args.listen(),
                source,
            })?;
        let address = listener.local_addr().map_err(RunError::Io)?;
        let c = &worker.config;
        println!(
            "conveyor worker {} (mode {}): {} subscription(s), {} job(s) as {}, database {}",
            c.app_id(),
            c.mode.name(),
            worker.state.subscriptions().len(),
            worker.state.bindings().len(),
            match c.schedules {
                crate::Schedules::CronBinding => "cron bindings",
                crate::Schedules::Jobs => "Dapr jobs",
            },
            conveyor_store::redact::url(&c.database)
        );
        println!(
            "app on {}://{address} for its sidecar; publishing through {}",
            c.app_protocol,
            c.publish_endpoint()
        );
        worker
            .serve(listener, conveyor_transport::shutdown::signal())
            .await?;
        println!("worker stopped");
        Ok(())
    })
}
