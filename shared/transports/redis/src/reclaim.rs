//! Crash recovery: entries pending longer than the function's processing timeout (its timeout
//! plus a margin, or the claim delay set) are held by an instance that crashed or stalled (a
//! live one keeps the entries it holds fresh, see the heartbeat). At start and then every
//! `reclaim_every`, `XPENDING ... IDLE` finds them, `XCLAIM` takes them over and they are
//! handled here; the delivery count from the pending list (this claim included) is the attempt
//! number, so an entry that keeps killing its consumers ends in the dead letters. Entries that no
//! longer exist in the stream (trimmed or deleted) are acknowledged away (see Dapr's
//! `removeMessagesThatNoLongerExistFromPending`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ::redis::{RedisResult, Value};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::dispatch;
use super::received::Delivery;
use super::shared::{Shared, stopped};
use super::{has_code, wire};

/// Rounds of `XPENDING` per stream and check, so one check stays bounded.
const MAX_ROUNDS: usize = 10;

/// Rounds per stream at a takeover, which claims everything pending (bounded all the same).
const MAX_TAKEOVER_ROUNDS: usize = 1_000;

/// Checks for abandoned entries until `shutdown`, then waits for the handlers it started.
pub(super) async fn run(shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    let mut tasks = JoinSet::new();
    let min_idle = shared.processing_timeout;
    // An ordered function's holder checks at least once per processing timeout (at most the
    // lease's TTL): what a holder that stepped down let go is taken soon.
    let period = if shared.spec.ordering_key.is_some() {
        shared.settings.reclaim_every.min(min_idle)
    } else {
        shared.settings.reclaim_every
    };
    while !*shutdown.borrow() {
        while tasks.try_join_next().is_some() {}
        for stream in &shared.streams {
            match reclaim_stream(&shared, stream, min_idle, MAX_ROUNDS).await {
                Ok(claimed) if claimed.is_empty() => {}
                Ok(claimed) => {
                    tracing::info!(function = shared.spec.name, stream = %stream, claimed = claimed.len(), "claimed entries left pending by a crashed or stalled instance");
                    // One batch: for an ordered function it is sorted by entry id, so the
                    // reclaimed entries of one key join its queue in stream order.
                    dispatch::spawn_batch(&shared, &mut tasks, claimed, None, shutdown.clone())
                        .await;
                }
                Err(e) if has_code(&e, "NOGROUP") => shared.ensure_groups().await,
                Err(e) => {
                    tracing::warn!(function = shared.spec.name, stream = %stream, error = %e, "pending check failed")
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(period) => {}
            () = stopped(&mut shutdown) => {}
        }
    }
    while tasks.join_next().await.is_some() {}
}

/// For an ordered function's new lease holder, before it reads anything new: claims every
/// entry pending in the group on all its streams, whoever held it (the previous holder died,
/// or released the lease once its handlers had finished), and starts them as one batch in id
/// order, so each key continues where it stopped. Returns how many were claimed.
pub(super) async fn take_over(
    shared: &Arc<Shared>,
    tasks: &mut JoinSet<()>,
    shutdown: &watch::Receiver<bool>,
) -> usize {
    let min_idle = Duration::ZERO;
    let mut claimed = Vec::new();
    for stream in &shared.streams {
        match reclaim_stream(shared, stream, min_idle, MAX_TAKEOVER_ROUNDS).await {
            Ok(mut some) => claimed.append(&mut some),
            Err(e) if has_code(&e, "NOGROUP") => shared.ensure_groups().await,
            Err(e) => {
                tracing::warn!(function = shared.spec.name, stream = %stream, error = %e, "pending check failed at takeover; the reclaim loop will retry")
            }
        }
    }
    let n = claimed.len();
    if n > 0 {
        tracing::info!(
            function = shared.spec.name,
            claimed = n,
            "took over the previous holder's pending entries"
        );
        claimed.sort_by_key(|d| wire::id_order(&d.entry.id));
        dispatch::spawn_batch(shared, tasks, claimed, None, shutdown.clone()).await;
    }
    n
}

/// Claims `stream`'s entries idle at least `min_idle` that this instance does not hold, in up
/// to `rounds` rounds of `XPENDING` and `XCLAIM`, each delivery with its attempt number.
async fn reclaim_stream(
    shared: &Arc<Shared>,
    stream: &str,
    min_idle: Duration,
    rounds: usize,
) -> RedisResult<Vec<Delivery>> {
    let key: Arc<str> = Arc::from(stream);
    let min_idle = u64::try_from(min_idle.as_millis()).unwrap_or(u64::MAX);
    let batch = shared.settings.batch.max(1);
    let mut con = shared.broker.connection();
    let mut deliveries = Vec::new();
    // Each round starts after the last entry the previous one saw.
    let mut from = "-".to_owned();
    for _ in 0..rounds {
        let rows: Value = ::redis::cmd("XPENDING")
            .arg(stream)
            .arg(shared.spec.name)
            .arg("IDLE")
            .arg(min_idle)
            .arg(&from)
            .arg("+")
            .arg(batch)
            .query_async(&mut con)
            .await?;
        let pending = wire::pending(rows);
        if let Some(last) = pending.last() {
            from = format!("({}", last.id);
        }
        let candidates: HashMap<String, u32> = pending
            .iter()
            .filter(|p| !shared.holds(stream, &p.id))
            .map(|p| (p.id.clone(), p.deliveries))
            .collect();
        if candidates.is_empty() {
            if pending.len() < batch {
                break;
            }
            continue;
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
        deliveries.extend(claimed.into_iter().map(|entry| {
            let attempt = candidates
                .get(&entry.id)
                .copied()
                .unwrap_or(0)
                .saturating_add(1);
            Delivery::new(entry, attempt)
        }));
        if pending.len() < batch {
            break;
        }
    }
    Ok(deliveries)
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
