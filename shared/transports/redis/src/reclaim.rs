//! Crash recovery: entries pending longer than the function's processing timeout (its timeout
//! plus a margin) are held by an instance that crashed or stalled. At start and then every
//! `reclaim_every`, `XPENDING ... IDLE` finds them, `XCLAIM` takes them over and they are
//! handled here; the delivery count from the pending list (this claim included) is the attempt
//! number, so an entry that keeps killing its consumers ends in the dead letters. Entries that no
//! longer exist in the stream (trimmed or deleted) are acknowledged away (see Dapr's
//! `removeMessagesThatNoLongerExistFromPending`).

use std::collections::HashMap;
use std::sync::Arc;

use ::redis::{RedisResult, Value};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::dispatch;
use super::received::Delivery;
use super::shared::{Shared, stopped};
use super::{has_code, wire};

/// Rounds of `XPENDING` per stream and check, so one check stays bounded.
const MAX_ROUNDS: usize = 10;

/// Checks for abandoned entries until `shutdown`, then waits for the handlers it started.
pub(super) async fn run(shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    let mut tasks = JoinSet::new();
    while !*shutdown.borrow() {
        while tasks.try_join_next().is_some() {}
        for stream in &shared.streams {
            match reclaim_stream(&shared, stream, &mut tasks, &shutdown).await {
                Ok(0) => {}
                Ok(n) => {
                    tracing::info!(function = shared.spec.name, stream = %stream, claimed = n, "claimed entries left pending by a crashed or stalled instance")
                }
                Err(e) if has_code(&e, "NOGROUP") => shared.ensure_groups().await,
                Err(e) => {
                    tracing::warn!(function = shared.spec.name, stream = %stream, error = %e, "pending check failed")
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(shared.settings.reclaim_every) => {}
            () = stopped(&mut shutdown) => {}
        }
    }
    while tasks.join_next().await.is_some() {}
}

async fn reclaim_stream(
    shared: &Arc<Shared>,
    stream: &str,
    tasks: &mut JoinSet<()>,
    shutdown: &watch::Receiver<bool>,
) -> RedisResult<usize> {
    let key: Arc<str> = Arc::from(stream);
    let min_idle = u64::try_from(shared.processing_timeout.as_millis()).unwrap_or(u64::MAX);
    let batch = shared.settings.batch.max(1);
    let mut con = shared.broker.connection();
    let mut claimed_total = 0;
    for _ in 0..MAX_ROUNDS {
        let rows: Value = ::redis::cmd("XPENDING")
            .arg(stream)
            .arg(shared.spec.name)
            .arg("IDLE")
            .arg(min_idle)
            .arg("-")
            .arg("+")
            .arg(batch)
            .query_async(&mut con)
            .await?;
        let pending = wire::pending(rows);
        let candidates: HashMap<String, u32> = pending
            .iter()
            .filter(|p| !shared.holds(stream, &p.id))
            .map(|p| (p.id.clone(), p.deliveries))
            .collect();
        if candidates.is_empty() {
            break;
        }
        let ids: Vec<&str> = candidates.keys().map(String::as_str).collect();
        let reply: Value = ::redis::cmd("XCLAIM")
            .arg(stream)
            .arg(shared.spec.name)
            .arg(&shared.settings.instance)
            .arg(min_idle)
            .arg(&ids)
            .query_async(&mut con)
            .await?;
        let claimed = wire::entries(&key, reply);
        for id in ids
            .iter()
            .filter(|id| !claimed.iter().any(|e| e.id == **id))
        {
            clear_if_gone(shared, &key, id, &mut con).await?;
        }
        claimed_total += claimed.len();
        // One batch: for an ordered function it is sorted by entry id, so the reclaimed entries
        // of one key join its queue in stream order.
        let deliveries = claimed
            .into_iter()
            .map(|entry| {
                let attempt = candidates
                    .get(&entry.id)
                    .copied()
                    .unwrap_or(0)
                    .saturating_add(1);
                Delivery::new(entry, attempt)
            })
            .collect();
        dispatch::spawn_batch(shared, tasks, deliveries, None, shutdown.clone()).await;
        if pending.len() < batch {
            break;
        }
    }
    Ok(claimed_total)
}

/// Acknowledges a pending entry that no longer exists in the stream (older servers keep such
/// entries pending forever; Redis 7 drops them on `XCLAIM`). An entry that still exists was
/// claimed by another instance and is left alone.
async fn clear_if_gone(
    shared: &Shared,
    stream: &Arc<str>,
    id: &str,
    con: &mut ::redis::aio::ConnectionManager,
) -> RedisResult<()> {
    let found: Value = ::redis::cmd("XRANGE")
        .arg(&**stream)
        .arg(id)
        .arg(id)
        .query_async(con)
        .await?;
    if wire::entries(stream, found).is_empty() {
        tracing::info!(stream = %stream, id, "pending entry no longer in the stream (trimmed); acknowledging it away");
        shared.acker.ack(stream, id);
    }
    Ok(())
}
