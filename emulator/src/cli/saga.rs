//! `conveyor saga list | show | abort | retry`: a running emulator's sagas, through its HTTP
//! API ([`crate::sagas`]), or with `--database` the sagas on that database, through the same
//! [`Desk`] the API uses. `list` prints one line per saga, the others the saga as JSON.

use std::sync::Arc;

use conveyor_domain::SystemClock;
use conveyor_runtime::DeferredPublisher;
use conveyor_runtime::lambda::timers::TimerQueue;
use conveyor_runtime::saga::Operation;
use conveyor_runtime::{Deps, Function};
use conveyor_store::Store;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};

use super::args::{SagaCommand, SagaTarget};
use super::client::{self, ClientError};
use super::commands::print_json;
use crate::sagas::{self, Desk, Timers};

/// What a path segment or a query value keeps unescaped (RFC 3986's unreserved characters).
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn escape(text: &str) -> String {
    utf8_percent_encode(text, UNRESERVED).to_string()
}

fn query(pairs: &[(&str, Option<String>)]) -> String {
    let given: Vec<String> = pairs
        .iter()
        .filter_map(|(k, v)| {
            let v = v.as_deref().filter(|v| !v.is_empty())?;
            Some(format!("{k}={}", escape(v)))
        })
        .collect();
    if given.is_empty() {
        String::new()
    } else {
        format!("?{}", given.join("&"))
    }
}

fn path(id: &str, action: &str, definition: Option<String>) -> String {
    let q = query(&[("definition", definition)]);
    format!("/api/sagas/{}{action}{q}", escape(id))
}

/// Runs one `saga` subcommand: against the emulator at its `--api`, or, with `--database`,
/// straight on that database over the catalog's orchestrators.
///
/// # Errors
/// [`ClientError`]: unreachable, or the refusal (an unknown saga, an abort of a saga that is not
/// running, a retry of one that is not failed) with its reason.
pub fn run(command: SagaCommand) -> Result<(), ClientError> {
    let listing = matches!(command, SagaCommand::List { .. });
    let to = target(&command);
    let answer = if let Some(url) = to.database.clone() {
        let timers = to.saga_timer_queue.as_deref().map(TimerQueue::from_env);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ClientError::Database(e.to_string()))?;
        let functions = conveyor_catalog::all();
        runtime.block_on(on_database(&command, &url, &functions, timers.as_ref()))?
    } else {
        match command {
            SagaCommand::List {
                status,
                definition,
                limit,
                to,
            } => {
                let q = query(&[
                    ("status", status),
                    ("definition", definition),
                    ("limit", Some(limit.to_string())),
                ]);
                client::get(&to.api, &format!("/api/sagas{q}"))?
            }
            SagaCommand::Show { id, definition, to } => {
                client::get(&to.api, &path(&id, "", definition))?
            }
            SagaCommand::Abort {
                id,
                reason,
                definition,
                to,
            } => {
                let body = json!({ "reason": reason }).to_string().into_bytes();
                client::post(&to.api, &path(&id, "/abort", definition), Some(body))?
            }
            SagaCommand::Retry { id, definition, to } => {
                client::post(&to.api, &path(&id, "/retry", definition), None)?
            }
        }
    };
    if listing {
        print_sagas(&answer);
    } else {
        print_json(&answer);
    }
    Ok(())
}

fn target(command: &SagaCommand) -> &SagaTarget {
    match command {
        SagaCommand::List { to, .. }
        | SagaCommand::Show { to, .. }
        | SagaCommand::Abort { to, .. }
        | SagaCommand::Retry { to, .. } => to,
    }
}

/// Runs `command` on the database at `url` over the orchestrators among `functions`, without
/// an emulator: what the API answers. An abort's or a retry's commands are left in the
/// database's outbox (no transport is reached from here), for the relay of the host that runs
/// the orchestrator: the Dapr worker's (within a second), the Lambdas' (their next job
/// invocation), or `conveyor up`'s. The timer the action sets is armed on `timers` when given
/// (an orchestrator on Lambda, which no due-timer poller serves).
///
/// # Errors
/// [`ClientError::Database`]: the database cannot be reached, or the refusal with its reason.
pub async fn on_database(
    command: &SagaCommand,
    url: &str,
    functions: &[Arc<dyn Function>],
    timers: Option<&TimerQueue>,
) -> Result<Value, ClientError> {
    let store = Store::connect(url)
        .await
        .map_err(|e| ClientError::Database(e.to_string()))?;
    let deps = Deps {
        store: store.clone(),
        publisher: Arc::new(DeferredPublisher),
        clock: Arc::new(SystemClock),
    };
    let desk = match timers {
        Some(queue) => Desk::new(&deps, functions).arming(Timers::Queue(queue)),
        None => Desk::new(&deps, functions),
    };
    let answer = match command {
        SagaCommand::List {
            status,
            definition,
            limit,
            ..
        } => {
            desk.list(status.as_deref(), definition.as_deref(), Some(*limit))
                .await
        }
        SagaCommand::Show { id, definition, .. } => desk.show(id, definition.as_deref()).await,
        SagaCommand::Abort {
            id,
            reason,
            definition,
            ..
        } => {
            desk.act(
                id,
                definition.as_deref(),
                sagas::abort_operation(reason.clone()),
            )
            .await
        }
        SagaCommand::Retry { id, definition, .. } => {
            desk.act(id, definition.as_deref(), Operation::Retry).await
        }
    };
    store.close().await;
    answer.map_err(|e| ClientError::Database(e.message().to_owned()))
}

/// One line per saga.
pub fn print_sagas(list: &Value) {
    let empty = Vec::new();
    let list = list.as_array().unwrap_or(&empty);
    if list.is_empty() {
        println!("no sagas");
        return;
    }
    println!(
        "{:<28} {:<16} {:<13} {:<14} {:<26} UPDATED",
        "ID", "DEFINITION", "STATUS", "STEP", "DEADLINE"
    );
    for s in list {
        let field = |k: &str| s.get(k).and_then(Value::as_str).unwrap_or("-").to_owned();
        println!(
            "{:<28} {:<16} {:<13} {:<14} {:<26} {}",
            field("id"),
            field("definition"),
            field("status"),
            field("current_step_name"),
            field("deadline"),
            field("updated_at")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_escape_the_id_and_carry_only_the_filters_given() {
        assert_eq!(
            path("ord 1/x", "/abort", None),
            "/api/sagas/ord%201%2Fx/abort"
        );
        assert_eq!(
            path("ord-1", "", Some("order-checkout".into())),
            "/api/sagas/ord-1?definition=order-checkout"
        );
        assert_eq!(
            query(&[
                ("status", Some("failed".into())),
                ("definition", None),
                ("x", Some(String::new()))
            ]),
            "?status=failed"
        );
        assert_eq!(query(&[("status", None)]), "");
    }
}
