//! The outbox relay: publishes rows that were committed but not published (a crash or a
//! transport outage between commit and publish). Rows younger than the grace period are left to
//! the invocation that staged them.

use std::time::Duration;

use crate::context::Deps;
use crate::error::HandlerError;

/// Publishes up to `limit` committed rows older than `grace`. Returns how many were published.
/// On PostgreSQL concurrent relays claim disjoint rows.
///
/// # Errors
/// A store error; a transport failure is not an error here (the rows stay and their attempt
/// count grows).
pub async fn relay_once(deps: &Deps, grace: Duration, limit: i64) -> Result<usize, HandlerError> {
    let grace_ms = i64::try_from(grace.as_millis()).unwrap_or(i64::MAX);
    let cutoff = deps.clock.now().add_millis(-grace_ms);
    let mut tx = deps.store.begin().await?;
    let rows = tx.outbox_claim(cutoff, limit).await?;
    if rows.is_empty() {
        tx.commit().await?;
        return Ok(0);
    }
    let (sent, failed): (Vec<String>, Vec<String>) = match deps.publisher.publish(&rows).await {
        Ok(()) => (rows.iter().map(|r| r.id.clone()).collect(), Vec::new()),
        Err(e) => {
            let failed = e.unpublished(&rows);
            tracing::warn!(error = %e, left = failed.len(), "relay publish failed");
            rows.iter()
                .map(|r| r.id.clone())
                .partition(|id| !failed.contains(&id.as_str()))
        }
    };
    tx.outbox_delete(&sent).await?;
    tx.outbox_bump_attempts(&failed).await?;
    tx.commit().await?;
    Ok(sent.len())
}
