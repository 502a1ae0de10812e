//! The work behind the subcommands that do not need a running emulator, and the printing of
//! what the operator commands get back.

use std::path::Path;
use std::sync::Arc;

use conveyor_domain::{Clock, SystemClock};
use conveyor_runtime::cron::Schedule;
use conveyor_runtime::{Function, FunctionSpec, Service, Trigger};
use serde_json::Value;

use super::client::ClientError;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// An operator command's call failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// Bad selection of functions.
    #[error("{0}")]
    Selection(String),
    /// The Redis TLS options cannot be used.
    #[error(transparent)]
    RedisTls(#[from] conveyor_redis::tls::TlsError),
    /// The store or the transport could not be opened.
    #[error(transparent)]
    Up(#[from] crate::up::UpError),
    /// The store or the transport named by an option could not be opened.
    #[error("{said}: {hint}")]
    Start {
        /// What failed, with its URL, and why.
        said: String,
        /// The options that set it.
        hint: &'static str,
        /// Why.
        #[source]
        source: crate::up::UpError,
    },
    /// I/O (the runtime).
    #[error(transparent)]
    Io(std::io::Error),
    /// The HTTP API's address cannot be listened on.
    #[error(
        "cannot listen on {address} ({source}): stop what uses it or choose another address with \
         --http or CONVEYOR_HTTP (127.0.0.1:0 picks a free port)"
    )]
    Listen {
        /// The address.
        address: std::net::SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP API's access settings are incomplete or wrong.
    #[error(transparent)]
    Access(#[from] crate::access::AccessError),
    /// The function did not handle the event.
    #[error("outcome: {0}")]
    NotHandled(String),
    /// The Dapr worker could not start or serve.
    #[error(transparent)]
    Worker(#[from] conveyor_dapr::WorkerError),
    /// The Dapr worker's configuration is wrong.
    #[error(transparent)]
    WorkerConfig(#[from] conveyor_dapr::ConfigError),
    /// The Dapr worker did not run.
    #[error(transparent)]
    WorkerRun(#[from] conveyor_dapr::cli::run::RunError),
    /// Generated files are stale or could not be written.
    #[error("{0}")]
    Gen(String),
    /// An SQS call failed.
    #[error(transparent)]
    Sqs(#[from] conveyor_sqs::SqsError),
    /// `conveyor migrate` failed.
    #[error(transparent)]
    Migrate(#[from] super::migrate::MigrateError),
    /// A retention variable does not parse.
    #[error(transparent)]
    Retention(#[from] conveyor_runtime::maintenance::RetentionError),
    /// `conveyor events replay` failed.
    #[error(transparent)]
    Replay(#[from] super::replay::ReplayCommandError),
}

/// The functions `--functions` / `--service` select (all when neither is given).
///
/// # Errors
/// An unknown function or service name.
pub fn select(
    all: Vec<Arc<dyn Function>>,
    names: &[String],
    service: Option<&str>,
) -> Result<Vec<Arc<dyn Function>>, CommandError> {
    let service = match service {
        None => None,
        Some(s) => Some(
            Service::ALL
                .into_iter()
                .find(|x| x.name() == s)
                .ok_or_else(|| {
                    CommandError::Selection(format!(
                        "unknown service {s:?} in --service (CONVEYOR_SERVICE): use order, \
                         fulfillment or warehouse"
                    ))
                })?,
        ),
    };
    for name in names {
        if !all.iter().any(|f| f.spec().name == name) {
            return Err(CommandError::Selection(format!(
                "unknown function {name:?} in --functions (CONVEYOR_FUNCTIONS): `conveyor \
                 functions` lists the names"
            )));
        }
    }
    let selected: Vec<_> = all
        .into_iter()
        .filter(|f| names.is_empty() || names.iter().any(|n| n == f.spec().name))
        .filter(|f| service.is_none_or(|s| f.spec().service == s))
        .collect();
    if selected.is_empty() && !names.is_empty() {
        return Err(CommandError::Selection(format!(
            "--functions {} and --service {} select no function together: drop one, or name \
             functions of that service",
            names.join(","),
            service.map_or("", |s| s.name())
        )));
    }
    Ok(selected)
}

/// A database or Redis URL without its password, for printing ([`conveyor_store::redact::url`]).
#[must_use]
pub fn redact(url: &str) -> String {
    conveyor_store::redact::url(url)
}

/// Resolves on Ctrl-C or SIGTERM (what Kubernetes sends).
pub async fn ctrl_c() {
    conveyor_transport::shutdown::signal().await;
}

/// `up --demo`: seeds the demo, then runs the COD job once a few seconds later so its part of
/// the story shows without waiting for the next five-minute tick.
///
/// # Errors
/// When seeding fails.
pub async fn start_demo(running: &crate::up::Running) -> Result<(), CommandError> {
    let run = running.deps.clock.now().millis().to_string();
    let demo_error = |e: crate::demo::DemoError| CommandError::Gen(e.to_string());
    let orders = crate::demo::seed(&running.deps, running.broker.as_ref(), &run)
        .await
        .map_err(demo_error)?;
    let ids: Vec<String> = orders.iter().map(ToString::to_string).collect();
    println!(
        "demo: products created, orders {} placed; payments follow in a second",
        ids.join(", ")
    );
    let (deps, broker, stats) = (
        running.deps.clone(),
        Arc::clone(&running.broker),
        Arc::clone(&running.stats),
    );
    let cod = running
        .functions
        .iter()
        .find(|f| f.spec().name == "order-cod-auto-confirm")
        .cloned();
    tokio::spawn(async move {
        // Let the warehouse reserve the new orders before their payments arrive.
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        if let Err(e) = crate::demo::pay(&deps, broker.as_ref(), &run, &orders).await {
            tracing::error!(error = %e, "demo payments failed");
        }
        let Some(job) = cod else { return };
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        let now = deps.clock.now();
        let mut meta = conveyor_runtime::Meta::for_tick("order-cod-auto-confirm", now, 1);
        meta.event_id = format!("order-cod-auto-confirm@demo-{}", now.millis()).into();
        if let Err(e) = conveyor_transport::tick::fire(job.as_ref(), &deps, meta, now, &stats).await
        {
            tracing::error!(error = %e, "demo COD run failed");
        }
    });
    Ok(())
}

/// `conveyor functions`.
pub fn print_functions(specs: &[FunctionSpec]) {
    let now = SystemClock.now();
    println!(
        "{:<38} {:<12} {:<8} TRIGGER",
        "FUNCTION", "SERVICE", "RETRIES"
    );
    for spec in specs {
        let trigger = match spec.trigger {
            Trigger::Topics(topics) => topics.join(", "),
            Trigger::Schedule(cron) => match Schedule::parse(cron) {
                Ok(s) => {
                    let next: Vec<String> =
                        s.upcoming(now, 2).iter().map(|t| t.to_rfc3339()).collect();
                    format!("cron \"{cron}\" UTC, next {}", next.join(", "))
                }
                Err(e) => format!("cron \"{cron}\": {e}"),
            },
        };
        println!(
            "{:<38} {:<12} {:<8} {trigger}",
            spec.name,
            spec.service.name(),
            spec.retry.max_deliveries
        );
    }
}

/// Pretty JSON to stdout.
pub fn print_json(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

/// Prints an invoke/cron outcome; anything but handled/duplicate is an error.
///
/// # Errors
/// [`CommandError::NotHandled`].
pub fn outcome(answer: &Value) -> Result<(), ClientError> {
    print_json(answer);
    match answer.get("outcome").and_then(Value::as_str) {
        Some("handled" | "duplicate") => Ok(()),
        other => Err(ClientError::Http(format!(
            "outcome {}",
            other.unwrap_or("unknown")
        ))),
    }
}

/// One line per dead letter.
pub fn print_dead_letters(letters: &Value) {
    let empty = Vec::new();
    let list = letters.as_array().unwrap_or(&empty);
    if list.is_empty() {
        println!("no dead letters");
    }
    for l in list {
        let field = |k: &str| {
            l.get(k)
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                .unwrap_or_default()
        };
        println!(
            "{}  {}  {}  attempts={}  {}  {}",
            field("id"),
            field("function"),
            field("topic"),
            field("attempts"),
            field("failed_at"),
            field("error")
        );
    }
}

/// `conveyor gen <what>`: write the generated files, or with `check` only report drift.
///
/// # Errors
/// Drift (with `check`) or a write failure.
pub fn generate(
    dir: &Path,
    check: bool,
    drift: impl Fn(&Path) -> Vec<String>,
    write: impl Fn(&Path) -> Result<Vec<std::path::PathBuf>, String>,
) -> Result<(), CommandError> {
    if check {
        let stale = drift(dir);
        if stale.is_empty() {
            return Ok(());
        }
        return Err(CommandError::Gen(format!(
            "{} is stale:\n{}",
            dir.display(),
            stale.join("\n")
        )));
    }
    let touched = write(dir).map_err(CommandError::Gen)?;
    for path in &touched {
        println!("wrote {}", dir.join(path).display());
    }
    println!("{} file(s) changed", touched.len());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords_only() {
        assert_eq!(
            redact("postgres://app:secret@db:5432/x"),
            "postgres://app:***@db:5432/x"
        );
        assert_eq!(
            redact("postgres://postgres@127.0.0.1/test"),
            "postgres://postgres@127.0.0.1/test"
        );
        assert_eq!(
            redact("sqlite://.conveyor/conveyor.db"),
            "sqlite://.conveyor/conveyor.db"
        );
    }
}
