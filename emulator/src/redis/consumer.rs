//! One function's consumer on Redis Streams: a read loop (`XREADGROUP ... BLOCK` on a connection
//! of its own, over the function's topic streams and inbox), a reclaim loop, and an
//! acknowledging task. Entries are handled concurrently up to the function's concurrency.
//!
//! On shutdown the read loop stops reading, handlers already running finish, their
//! acknowledgements are flushed, and whatever was read but not handled stays pending for the
//! next instance: nothing unhandled is acknowledged.
//!
//! A function with an ordering key gets the entries of one key one at a time, in the order
//! they were added to their streams (entries of several topic streams are ordered by id, which
//! is the time Redis added them): while one is handled or waits for its retry, later entries
//! of its key wait in a queue of their own (holding no concurrency slot), and the next runs only
//! once it was acknowledged or dead-lettered. Different keys run concurrently, and entries
//! without the key run at once. At most `max_waiting` entries wait so; beyond that, reading
//! pauses until one of them runs. The order holds within one instance; entries of one key read
//! by two instances of the same function (or reclaimed from a crashed one) may overlap, so an
//! ordered function should run in one instance per consumer group.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use ::redis::aio::ConnectionManager;
use ::redis::{RedisResult, Value};
use conveyor_runtime::{Deps, Function, FunctionSpec};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;

use super::acker::Acker;
use super::broker::RedisBroker;
use super::delivery::{self, Delivery};
use super::wire::Entry;
use super::{RedisSettings, has_code, reclaim, wire};
use crate::stats::Stats;

/// What one function's read loop, reclaim loop and delivery tasks share.
#[derive(Debug)]
pub struct Shared {
    pub(super) function: Arc<dyn Function>,
    pub(super) spec: FunctionSpec,
    pub(super) deps: Deps,
    pub(super) stats: Arc<Stats>,
    pub(super) broker: Arc<RedisBroker>,
    pub(super) settings: RedisSettings,
    pub(super) streams: Vec<String>,
    pub(super) permits: Arc<Semaphore>,
    pub(super) acker: Acker,
    /// Entries this instance is handling, waiting to handle or waiting to retry.
    held: Mutex<HashSet<String>>,
    /// For an ordered function: per key in flight, the entries waiting behind it (with their
    /// `held` keys).
    waiting: Mutex<HashMap<String, VecDeque<(String, Delivery)>>>,
    /// Entries in `waiting`, and a signal when one leaves it.
    waiting_len: AtomicUsize,
    room: Notify,
    /// Entries pending longer than this are taken to be held by a crashed instance.
    pub(super) processing_timeout: Duration,
}

impl Shared {
    /// Whether this instance holds `stream`'s entry `id`.
    pub(super) fn holds(&self, stream: &str, id: &str) -> bool {
        let key = format!("{stream}\u{0}{id}");
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&key)
    }

    /// Starts handling a batch of entries in one task of `tasks`: they run concurrently inside
    /// it, each under a concurrency slot (`permit`, already taken, goes to the first), so a
    /// batch costs one task, not one per entry. Entries this instance already holds are skipped.
    pub(super) fn spawn_batch(
        self: &Arc<Self>,
        tasks: &mut JoinSet<()>,
        deliveries: Vec<Delivery>,
        mut permit: Option<OwnedSemaphorePermit>,
        shutdown: watch::Receiver<bool>,
    ) {
        let fresh: Vec<(String, Delivery)> = {
            let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
            deliveries
                .into_iter()
                .filter_map(|d| {
                    let key = d.entry.key();
                    held.insert(key.clone()).then_some((key, d))
                })
                .collect()
        };
        if fresh.is_empty() {
            return;
        }
        if let Some(field) = self.spec.ordering_key {
            self.spawn_ordered(tasks, fresh, field, permit, shutdown);
            return;
        }
        let shared = Arc::clone(self);
        tasks.spawn(async move {
            let shared = &shared;
            let mut running: FuturesUnordered<_> = fresh
                .into_iter()
                .map(|(key, delivery)| {
                    let (permit, shutdown) = (permit.take(), shutdown.clone());
                    async move {
                        delivery::deliver(shared, delivery, permit, shutdown).await;
                        key
                    }
                })
                .collect();
            while let Some(key) = running.next().await {
                shared.release(&key);
            }
        });
    }

    fn left_waiting(&self, n: usize) {
        if n > 0 {
            self.waiting_len.fetch_sub(n, Ordering::Relaxed);
            self.room.notify_waiters();
        }
    }

    /// Waits while [`RedisSettings::max_waiting`] entries wait behind their keys; `false` when
    /// shutdown came first.
    async fn room_to_read(&self, shutdown: &mut watch::Receiver<bool>) -> bool {
        while self.waiting_len.load(Ordering::Relaxed) >= self.settings.max_waiting.max(1) {
            // Re-checked at least every 100 ms: a notification may come between the check
            // and the wait.
            tokio::select! {
                () = self.room.notified() => {}
                () = tokio::time::sleep(Duration::from_millis(100)) => {}
                () = stopped(shutdown) => return false,
            }
        }
        true
    }

    fn release(&self, held_key: &str) {
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(held_key);
    }

    /// [`Shared::spawn_batch`] for an ordered function: entries in id order; one whose key is
    /// in flight joins that key's queue, the others start a run of their key (or run alone,
    /// without a key).
    fn spawn_ordered(
        self: &Arc<Self>,
        tasks: &mut JoinSet<()>,
        mut fresh: Vec<(String, Delivery)>,
        field: &str,
        mut permit: Option<OwnedSemaphorePermit>,
        shutdown: watch::Receiver<bool>,
    ) {
        fresh.sort_by_key(|(_, d)| wire::id_order(&d.entry.id));
        let mut starts = Vec::new();
        {
            let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
            for (held_key, delivery) in fresh {
                match ordering_key(&delivery, field) {
                    Some(key) => {
                        if let Some(queue) = waiting.get_mut(&key) {
                            queue.push_back((held_key, delivery));
                            self.waiting_len.fetch_add(1, Ordering::Relaxed);
                        } else {
                            waiting.insert(key.clone(), VecDeque::new());
                            starts.push((Some(key), held_key, delivery));
                        }
                    }
                    None => starts.push((None, held_key, delivery)),
                }
            }
        }
        if starts.is_empty() {
            return;
        }
        let shared = Arc::clone(self);
        tasks.spawn(async move {
            let shared = &shared;
            let mut running: FuturesUnordered<_> = starts
                .into_iter()
                .map(|(key, held_key, delivery)| {
                    let (permit, shutdown) = (permit.take(), shutdown.clone());
                    shared.run_key(key, held_key, delivery, permit, shutdown)
                })
                .collect();
            while running.next().await.is_some() {}
        });
    }

    /// Delivers `delivery`, then each entry that queued behind it under `key`, one at a time,
    /// until the queue is empty. At shutdown the queued entries are let go unhandled (they stay
    /// pending for the next instance).
    async fn run_key(
        &self,
        key: Option<String>,
        held_key: String,
        delivery: Delivery,
        mut permit: Option<OwnedSemaphorePermit>,
        shutdown: watch::Receiver<bool>,
    ) {
        let mut current = (held_key, delivery);
        loop {
            let (held_key, delivery) = current;
            delivery::deliver(self, delivery, permit.take(), shutdown.clone()).await;
            self.release(&held_key);
            let Some(key) = &key else { return };
            let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
            let next = if *shutdown.borrow() {
                None
            } else {
                waiting.get_mut(key).and_then(VecDeque::pop_front)
            };
            match next {
                Some(next) => {
                    self.left_waiting(1);
                    current = next;
                }
                None => {
                    let left = waiting.remove(key).unwrap_or_default();
                    self.left_waiting(left.len());
                    for (held_key, _) in left {
                        self.release(&held_key);
                    }
                    return;
                }
            }
        }
    }

    /// Creates the function's group on its streams (again, after a `NOGROUP`).
    pub(super) async fn ensure_groups(&self) {
        match self
            .broker
            .ensure_groups(self.spec.name, &self.streams)
            .await
        {
            Ok(()) => tracing::info!(function = self.spec.name, "consumer groups (re)created"),
            Err(e) => {
                tracing::warn!(function = self.spec.name, error = %e, "could not create consumer groups")
            }
        }
    }
}

/// The entry's ordering key: the field of its CloudEvent's data; `None` when the body is not a
/// CloudEvent or lacks the field (such an entry runs at once).
fn ordering_key(delivery: &Delivery, field: &str) -> Option<String> {
    let data = delivery.entry.data.as_deref()?;
    conveyor_runtime::CloudEvent::decode(data)
        .ok()?
        .data_field(field)
}

/// Returns once `shutdown` turns `true` (or its sender is gone).
pub(super) async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// Consumes `function`'s streams until `shutdown` turns `true`, then finishes the handlers that
/// are running and flushes their acknowledgements.
pub async fn run(
    function: Arc<dyn Function>,
    deps: Deps,
    broker: Arc<RedisBroker>,
    stats: Arc<Stats>,
    mut shutdown: watch::Receiver<bool>,
) {
    let spec = function.spec();
    let settings = broker.settings().clone();
    let streams = broker.streams(&spec);
    let reader = loop {
        match setup(&broker, &spec, &streams).await {
            Ok(con) => break con,
            Err(e) => {
                tracing::warn!(function = spec.name, error = %e, "cannot start consuming; retrying");
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    () = stopped(&mut shutdown) => return,
                }
            }
        }
    };
    let (acker, acks) = Acker::start(broker.connection(), spec.name, settings.ack_delay);
    let shared = Arc::new(Shared {
        permits: Arc::new(Semaphore::new(spec.concurrency.max(1) as usize)),
        processing_timeout: settings
            .claim_after
            .unwrap_or(spec.timeout + settings.claim_margin),
        held: Mutex::new(HashSet::new()),
        waiting: Mutex::new(HashMap::new()),
        waiting_len: AtomicUsize::new(0),
        room: Notify::new(),
        function,
        spec,
        deps,
        stats,
        broker,
        settings,
        streams,
        acker,
    });
    tokio::join!(
        read_loop(Arc::clone(&shared), reader, shutdown.clone()),
        reclaim::run(Arc::clone(&shared), shutdown),
    );
    drop(shared);
    let _ = acks.await;
}

/// A connection for blocking reads, and the groups.
async fn setup(
    broker: &RedisBroker,
    spec: &FunctionSpec,
    streams: &[String],
) -> Result<ConnectionManager, String> {
    let settings = broker.settings();
    let con = settings
        .connect(settings.block + Duration::from_secs(5))
        .await
        .map_err(|e| e.to_string())?;
    broker
        .ensure_groups(spec.name, streams)
        .await
        .map_err(|e| e.to_string())?;
    Ok(con)
}

async fn read_loop(
    shared: Arc<Shared>,
    mut con: ConnectionManager,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tasks = JoinSet::new();
    let mut failures = 0u32;
    while !*shutdown.borrow() {
        while tasks.try_join_next().is_some() {}
        if shared.spec.ordering_key.is_some() && !shared.room_to_read(&mut shutdown).await {
            break;
        }
        let permit = tokio::select! {
            p = Arc::clone(&shared.permits).acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            () = stopped(&mut shutdown) => break,
        };
        let count = (shared.permits.available_permits() + 1).min(shared.settings.batch.max(1));
        // Not raced against shutdown: a read abandoned mid-flight could still take entries.
        match read(&shared, &mut con, count).await {
            Ok(entries) => {
                failures = 0;
                let deliveries = entries.into_iter().map(|e| Delivery::new(e, 1)).collect();
                shared.spawn_batch(&mut tasks, deliveries, Some(permit), shutdown.clone());
            }
            Err(e) if has_code(&e, "NOGROUP") => {
                tracing::warn!(function = shared.spec.name, error = %e, "consumer group gone (Redis restarted or flushed?)");
                shared.ensure_groups().await;
            }
            Err(e) => {
                failures = failures.saturating_add(1);
                let pause = Duration::from_millis(100 * 2u64.pow(failures.min(6)))
                    .min(Duration::from_secs(5));
                tracing::warn!(function = shared.spec.name, error = %e, pause_ms = pause.as_millis(), "read failed; retrying");
                drop(permit);
                tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    () = stopped(&mut shutdown) => {}
                }
            }
        }
    }
    while tasks.join_next().await.is_some() {}
}

/// `XREADGROUP GROUP <function> <instance> COUNT n BLOCK ms STREAMS <streams...> > ...`.
async fn read(
    shared: &Shared,
    con: &mut ConnectionManager,
    count: usize,
) -> RedisResult<Vec<Entry>> {
    let mut cmd = ::redis::cmd("XREADGROUP");
    cmd.arg("GROUP")
        .arg(shared.spec.name)
        .arg(&shared.settings.instance)
        .arg("COUNT")
        .arg(count)
        .arg("BLOCK")
        .arg(
            u64::try_from(shared.settings.block.as_millis())
                .unwrap_or(u64::MAX)
                .max(1),
        )
        .arg("STREAMS")
        .arg(&shared.streams);
    for _ in &shared.streams {
        cmd.arg(">");
    }
    let reply: Value = cmd.query_async(con).await?;
    Ok(wire::read_reply(reply))
}
