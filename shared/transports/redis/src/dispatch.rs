//! Starting the entries of a read or a reclaim: a batch runs in one task (entries handled one
//! by one run in place until one of them waits), a function with an inbox takes its entries in
//! chunks of one invocation each, and an ordered function's entries of one key go one at a time,
//! later ones waiting behind the key's entry in flight.

use std::sync::Arc;
use std::task::Poll;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::sync::{OwnedSemaphorePermit, watch};
use tokio::task::JoinSet;

use super::delivery;
use super::received::Delivery;
use super::shared::{HeldKey, KeyStart, Shared};
use super::wire::Entry;

/// Starts handling a batch of entries in one task of `tasks`: they run concurrently inside it,
/// each under a concurrency slot (`permit`, already taken, goes to the first), so a batch costs
/// one task, not one per entry; entries handled one by one run here until one of them waits,
/// and need no task if none does. Entries this instance already holds are skipped.
pub(super) async fn spawn_batch(
    shared: &Arc<Shared>,
    tasks: &mut JoinSet<()>,
    deliveries: Vec<Delivery>,
    mut permit: Option<OwnedSemaphorePermit>,
    shutdown: watch::Receiver<bool>,
) {
    let fresh = shared.hold(deliveries);
    if fresh.is_empty() {
        return;
    }
    if let Some(field) = shared.spec.ordering_key {
        spawn_ordered(shared, tasks, fresh, field, permit, shutdown);
        return;
    }
    if shared.together() > 1 {
        spawn_together(shared, tasks, fresh, permit, shutdown);
        return;
    }
    let shared = Arc::clone(shared);
    start(tasks, async move {
        let shared = &shared;
        let deliver = |(key, delivery): (HeldKey, Delivery), permit| {
            let shutdown = shutdown.clone();
            async move {
                delivery::deliver(shared, delivery, permit, shutdown).await;
                key
            }
        };
        // Each delivery is polled once where it starts, in place: most finish then (a handler
        // that does not wait) and cost no allocation. At the first that waits, the rest start
        // boxed in a set (each polled once as well), and it runs beside them.
        let mut fresh = fresh.into_iter();
        while let Some(next) = fresh.next() {
            let mut one = std::pin::pin!(deliver(next, permit.take()));
            if let Poll::Ready(key) = futures::poll!(one.as_mut()) {
                shared.release(key);
                continue;
            }
            let mut running = FuturesUnordered::new();
            for next in fresh.by_ref() {
                let mut other = Box::pin(deliver(next, None));
                match futures::poll!(other.as_mut()) {
                    Poll::Ready(key) => shared.release(key),
                    Poll::Pending => running.push(other),
                }
            }
            let rest = async {
                while let Some(key) = running.next().await {
                    shared.release(key);
                }
            };
            let (key, ()) = futures::join!(one, rest);
            shared.release(key);
        }
    })
    .await;
}

/// [`spawn_batch`] for a function that takes several entries at once: as many chunks as there
/// are free concurrency slots (so a slow handler keeps its parallelism), more where a chunk
/// would exceed [`Shared::together`] entries; each chunk runs under one slot and one
/// invocation, and an entry that needs a retry then goes on alone.
fn spawn_together(
    shared: &Arc<Shared>,
    tasks: &mut JoinSet<()>,
    fresh: Vec<(HeldKey, Delivery)>,
    mut permit: Option<OwnedSemaphorePermit>,
    shutdown: watch::Receiver<bool>,
) {
    let chunks = shared.chunks(fresh);
    let shared = Arc::clone(shared);
    tasks.spawn(async move {
        let shared = &shared;
        let mut running: FuturesUnordered<_> = chunks
            .into_iter()
            .map(|chunk| {
                let (permit, mut shutdown) = (permit.take(), shutdown.clone());
                async move {
                    let (keys, batch): (Vec<HeldKey>, Vec<Delivery>) = chunk.into_iter().unzip();
                    let stepped = delivery::steps(shared, batch, permit, &mut shutdown).await;
                    let mut retries = FuturesUnordered::new();
                    for (key, (delivery, step)) in keys.into_iter().zip(stepped) {
                        let shutdown = shutdown.clone();
                        retries.push(async move {
                            delivery::finish(shared, delivery, step, shutdown).await;
                            shared.release(key);
                        });
                    }
                    while retries.next().await.is_some() {}
                }
            })
            .collect();
        while running.next().await.is_some() {}
    });
}

/// [`spawn_batch`] for an ordered function: entries in id order; one whose key is in flight
/// joins that key's queue, the others start a run of their key (or run alone, without a key).
fn spawn_ordered(
    shared: &Arc<Shared>,
    tasks: &mut JoinSet<()>,
    fresh: Vec<(HeldKey, Delivery)>,
    field: &str,
    mut permit: Option<OwnedSemaphorePermit>,
    shutdown: watch::Receiver<bool>,
) {
    let starts = shared.queue_behind_keys(fresh, field);
    if starts.is_empty() {
        return;
    }
    let chunks = shared.chunks(starts);
    let shared = Arc::clone(shared);
    tasks.spawn(async move {
        let shared = &shared;
        let mut running: FuturesUnordered<_> = chunks
            .into_iter()
            .map(|chunk| {
                let (permit, shutdown) = (permit.take(), shutdown.clone());
                run_keys(shared, chunk, permit, shutdown)
            })
            .collect();
        while running.next().await.is_some() {}
    });
}

/// Delivers the first entries of several keys together (one invocation), then, per key, the
/// entry's retries and each entry that queued behind it, one at a time, until the key's queue
/// is empty. At shutdown the queued entries are let go unhandled (they stay pending for the
/// next instance).
async fn run_keys(
    shared: &Shared,
    starts: Vec<KeyStart>,
    permit: Option<OwnedSemaphorePermit>,
    mut shutdown: watch::Receiver<bool>,
) {
    let (keys, batch): (Vec<_>, Vec<_>) = starts
        .into_iter()
        .map(|(key, held_key, delivery)| ((key, held_key), delivery))
        .unzip();
    let stepped = delivery::steps(shared, batch, permit, &mut shutdown).await;
    let mut running = FuturesUnordered::new();
    for ((key, held_key), (delivery, step)) in keys.into_iter().zip(stepped) {
        let shutdown = shutdown.clone();
        running.push(async move {
            delivery::finish(shared, delivery, step, shutdown.clone()).await;
            rest_of_key(shared, key, held_key, shutdown).await;
        });
    }
    while running.next().await.is_some() {}
}

/// Once the entry `held_key` of `key` is done: releases it and delivers the entries that
/// queued behind it, one at a time.
async fn rest_of_key(
    shared: &Shared,
    key: Option<String>,
    mut held_key: HeldKey,
    shutdown: watch::Receiver<bool>,
) {
    loop {
        shared.release(held_key);
        let Some(key) = &key else { return };
        let Some((next_key, delivery)) = shared.next_of_key(key, *shutdown.borrow()) else {
            return;
        };
        held_key = next_key;
        delivery::deliver(shared, delivery, None, shutdown.clone()).await;
    }
}

/// Starts handling the entries of a read (with the slot the read took).
pub(super) async fn start_read(
    shared: &Arc<Shared>,
    tasks: &mut JoinSet<()>,
    read: Option<(Vec<Entry>, OwnedSemaphorePermit)>,
    shutdown: &watch::Receiver<bool>,
) {
    if let Some((entries, permit)) = read {
        // Received together: one reading of the clock for the whole read.
        let delivered = std::time::Instant::now();
        let deliveries = entries
            .into_iter()
            .map(|entry| Delivery::received_at(entry, 1, delivered))
            .collect();
        spawn_batch(shared, tasks, deliveries, Some(permit), shutdown.clone()).await;
    }
}

/// Runs `work` here until it first waits, and only then in a task of `tasks`: a batch whose
/// handlers do not wait is done without a task of its own (nor a wake-up of another thread).
/// Only for entries handled one by one: a function that takes several at once works in a
/// database transaction, which waits at once, and decoding its entries is better done on
/// another thread while this one reads.
async fn start(tasks: &mut JoinSet<()>, work: impl Future<Output = ()> + Send + 'static) {
    let mut work = Box::pin(work);
    if futures::poll!(work.as_mut()).is_pending() {
        tasks.spawn(work);
    }
}
