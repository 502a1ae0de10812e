//! Live work is never claimed: while this instance holds an entry (handling it, waiting for a
//! concurrency slot, for its retry, or behind its ordering key's entry in flight) its idle time
//! in the pending list is reset every quarter of the processing timeout ([`owned::touch`]: one
//! script per stream with held entries, only for entries still this instance's). Another
//! instance's reclaim loop takes entries idle longer than the processing timeout, so it takes
//! only those of an instance that is gone or stalled. A handler cannot hold an entry past the
//! function's timeout: the invocation is cut off there.
//!
//! The heartbeat runs until every handler of the consumer has finished (not just until
//! shutdown is asked), so entries still being finished at shutdown are not claimed meanwhile.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::owned::{self, Owner};
use super::shared::{Shared, stopped};

/// Shortest time between two heartbeats.
const MIN_EVERY: Duration = Duration::from_millis(10);

/// How often held entries are refreshed for a processing timeout of `timeout`: a quarter of
/// it, so three heartbeats can be late or fail before an entry looks abandoned.
#[must_use]
pub fn every(timeout: Duration) -> Duration {
    (timeout / 4).max(MIN_EVERY)
}

/// Refreshes the entries `shared` holds until `done` turns `true`.
pub(super) async fn run(shared: Arc<Shared>, mut done: watch::Receiver<bool>) {
    let period = every(shared.processing_timeout);
    loop {
        tokio::select! {
            () = tokio::time::sleep(period) => {}
            () = stopped(&mut done) => return,
        }
        beat(&shared).await;
    }
}

/// One heartbeat over every stream with held entries.
async fn beat(shared: &Shared) {
    let mut con = shared.broker.connection();
    for (stream, ids) in shared.held_by_stream() {
        let owner = Owner {
            stream,
            group: shared.spec.name,
            consumer: &shared.settings.instance,
        };
        match owned::touch(&mut con, owner, &ids).await {
            Ok(touched) if touched < ids.len() => tracing::debug!(
                function = shared.spec.name,
                stream,
                held = ids.len(),
                touched,
                "some held entries are no longer this instance's (claimed elsewhere or acknowledged)"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(
                function = shared.spec.name,
                stream,
                error = %e,
                "heartbeat failed; held entries may look abandoned if it keeps failing"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quarter_of_the_timeout_with_a_floor() {
        assert_eq!(every(Duration::from_secs(2)), Duration::from_millis(500));
        assert_eq!(every(Duration::from_millis(8)), MIN_EVERY);
    }
}
