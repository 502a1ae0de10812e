//! The outbox relay loop of the long-running hosts (`conveyor up`, the Dapr worker): every
//! `every`, one bounded pass ([`conveyor_runtime::relay::relay_once`]) publishes the committed
//! outbox rows older than `every` that the handlers' own publish did not get out (a crash
//! between commit and publish, a broker that was down). The loop ends with the host's shutdown
//! signal; the host gives it one last pass itself if it wants one.

use std::time::Duration;

use conveyor_runtime::{Deps, relay};
use tokio::sync::watch;

/// Rows one relay pass publishes at most.
pub const BATCH: i64 = 500;

/// Runs relay passes every `every` until `stop` turns `true`.
pub async fn run(deps: Deps, every: Duration, mut stop: watch::Receiver<bool>) {
    while !*stop.borrow() {
        match relay::relay_once(&deps, every, BATCH).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(published = n, "relay published leftover outbox events"),
            Err(e) => tracing::warn!(error = %e, "relay failed"),
        }
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = stop.changed() => {}
        }
    }
}
