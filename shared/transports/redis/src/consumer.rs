//! One function's consumer on Redis Streams: a read loop (`XREADGROUP ... BLOCK` on a connection
//! of its own, over the function's topic streams and inbox, sending the acknowledgements queued
//! since its last read in the same write), a reclaim loop, and an acknowledging task for what
//! is handled while the read loop waits. Entries are handled concurrently up to the function's
//! concurrency. The read loop sends its next read before it starts the entries of the last one
//! (so Redis prepares it meanwhile; an ordered function's entries start first, so its cap on
//! waiting entries holds), and they run in the read loop until one of them has to wait.
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
use std::task::Poll;
use std::time::Duration;

use conveyor_runtime::{Deps, Function, FunctionSpec, Idempotency};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;

use super::acker::{self, Ack, Acker};
use super::broker::RedisBroker;
use super::delivery::{self, Delivery};
use super::reader::{ReadError, StreamReader};
use super::wire::Entry;
use super::{RedisSettings, reclaim, wire};
use conveyor_transport::metrics::Stats;

/// An entry's identity among one function's streams: the stream's position and the id as
/// `(ms, seq)`.
type HeldKey = (usize, (u64, u64));

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
    held: Mutex<HashSet<HeldKey, foldhash::fast::RandomState>>,
    /// For an ordered function: per key in flight, the entries waiting behind it (with their
    /// `held` keys).
    waiting: Mutex<HashMap<String, VecDeque<(HeldKey, Delivery)>>>,
    /// Entries in `waiting`, and a signal when one leaves it.
    waiting_len: AtomicUsize,
    room: Notify,
    /// Entries pending longer than this are taken to be held by a crashed instance.
    pub(super) processing_timeout: Duration,
}

impl Shared {
    /// Whether this instance holds `stream`'s entry `id`.
    pub(super) fn holds(&self, stream: &str, id: &str) -> bool {
        let key = self.held_key(stream, id);
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&key)
    }

    /// The entry's identity among the function's streams, made without allocating.
    fn held_key(&self, stream: &str, id: &str) -> HeldKey {
        let stream = self
            .streams
            .iter()
            .position(|s| s == stream)
            .unwrap_or(usize::MAX);
        (stream, wire::id_order(id))
    }

    /// Starts handling a batch of entries in one task of `tasks`: they run concurrently inside
    /// it, each under a concurrency slot (`permit`, already taken, goes to the first), so a
    /// batch costs one task, not one per entry; entries handled one by one run here until one
    /// of them waits, and need no task if none does. Entries this instance already holds are
    /// skipped.
    pub(super) async fn spawn_batch(
        self: &Arc<Self>,
        tasks: &mut JoinSet<()>,
        deliveries: Vec<Delivery>,
        mut permit: Option<OwnedSemaphorePermit>,
        shutdown: watch::Receiver<bool>,
    ) {
        // Sized once: grown by doubling, a batch's vector was reallocated (and copied) several
        // times, each time on fresh memory.
        let mut fresh: Vec<(HeldKey, Delivery)> = Vec::with_capacity(deliveries.len());
        {
            let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
            for d in deliveries {
                let key = self.held_key(&d.entry.stream, &d.entry.id);
                if held.insert(key) {
                    fresh.push((key, d));
                }
            }
        }
        if fresh.is_empty() {
            return;
        }
        if let Some(field) = self.spec.ordering_key {
            self.spawn_ordered(tasks, fresh, field, permit, shutdown);
            return;
        }
        if self.together() > 1 {
            self.spawn_together(tasks, fresh, permit, shutdown);
            return;
        }
        let shared = Arc::clone(self);
        start(tasks, async move {
            let shared = &shared;
            let deliver = |(key, delivery): (HeldKey, Delivery), permit| {
                let shutdown = shutdown.clone();
                async move {
                    delivery::deliver(shared, delivery, permit, shutdown).await;
                    key
                }
            };
            // Each delivery is polled once where it starts, in place: most finish then (a
            // handler that does not wait) and cost no allocation. At the first that waits, the
            // rest start boxed in a set (each polled once as well), and it runs beside them.
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

    /// How many entries go to the function at once: [`RedisSettings::tx_batch`] for a
    /// function with an inbox, which handles them in one transaction; else 1.
    pub(super) fn together(&self) -> usize {
        if self.spec.idempotency == Idempotency::Inbox {
            self.settings.tx_batch.max(1)
        } else {
            1
        }
    }

    /// [`Shared::spawn_batch`] for a function that takes several entries at once: as many
    /// chunks as there are free concurrency slots (so a slow handler keeps its parallelism),
    /// more where a chunk would exceed [`Shared::together`] entries; each chunk runs under one
    /// slot and one invocation, and an entry that needs a retry then goes on alone.
    fn spawn_together(
        self: &Arc<Self>,
        tasks: &mut JoinSet<()>,
        fresh: Vec<(HeldKey, Delivery)>,
        mut permit: Option<OwnedSemaphorePermit>,
        shutdown: watch::Receiver<bool>,
    ) {
        let shared = Arc::clone(self);
        let chunks = self.chunks(fresh);
        tasks.spawn(async move {
            let shared = &shared;
            let mut running: FuturesUnordered<_> = chunks
                .into_iter()
                .map(|chunk| {
                    let (permit, mut shutdown) = (permit.take(), shutdown.clone());
                    async move {
                        let (keys, batch): (Vec<HeldKey>, Vec<Delivery>) =
                            chunk.into_iter().unzip();
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

    /// `items` cut into one chunk per free concurrency slot (counting the one the read took),
    /// or more where a chunk would exceed [`Shared::together`] items.
    fn chunks<T>(&self, items: Vec<T>) -> Vec<Vec<T>> {
        let slots = self.permits.available_permits() + 1;
        let count = items
            .len()
            .div_ceil(self.together())
            .max(slots.min(items.len()));
        even_chunks(items, count)
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

    fn release(&self, held_key: HeldKey) {
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&held_key);
    }

    /// [`Shared::spawn_batch`] for an ordered function: entries in id order; one whose key is
    /// in flight joins that key's queue, the others start a run of their key (or run alone,
    /// without a key).
    fn spawn_ordered(
        self: &Arc<Self>,
        tasks: &mut JoinSet<()>,
        mut fresh: Vec<(HeldKey, Delivery)>,
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
        let chunks = self.chunks(starts);
        tasks.spawn(async move {
            let shared = &shared;
            let mut running: FuturesUnordered<_> = chunks
                .into_iter()
                .map(|chunk| {
                    let (permit, shutdown) = (permit.take(), shutdown.clone());
                    shared.run_keys(chunk, permit, shutdown)
                })
                .collect();
            while running.next().await.is_some() {}
        });
    }

    /// Delivers the first entries of several keys together (one invocation), then, per key, the
    /// entry's retries and each entry that queued behind it, one at a time, until the key's
    /// queue is empty. At shutdown the queued entries are let go unhandled (they stay pending
    /// for the next instance).
    async fn run_keys(
        &self,
        starts: Vec<(Option<String>, HeldKey, Delivery)>,
        permit: Option<OwnedSemaphorePermit>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let (keys, batch): (Vec<_>, Vec<_>) = starts
            .into_iter()
            .map(|(key, held_key, delivery)| ((key, held_key), delivery))
            .unzip();
        let stepped = delivery::steps(self, batch, permit, &mut shutdown).await;
        let mut running = FuturesUnordered::new();
        for ((key, held_key), (delivery, step)) in keys.into_iter().zip(stepped) {
            let shutdown = shutdown.clone();
            running.push(async move {
                delivery::finish(self, delivery, step, shutdown.clone()).await;
                self.rest_of_key(key, held_key, shutdown).await;
            });
        }
        while running.next().await.is_some() {}
    }

    /// Once the entry `held_key` of `key` is done: releases it and delivers the entries that
    /// queued behind it, one at a time.
    async fn rest_of_key(
        &self,
        key: Option<String>,
        mut held_key: HeldKey,
        shutdown: watch::Receiver<bool>,
    ) {
        loop {
            self.release(held_key);
            let Some(key) = &key else { return };
            let next = {
                let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
                let next = if *shutdown.borrow() {
                    None
                } else {
                    waiting.get_mut(key).and_then(VecDeque::pop_front)
                };
                match next {
                    Some(next) => {
                        self.left_waiting(1);
                        next
                    }
                    None => {
                        let left = waiting.remove(key).unwrap_or_default();
                        self.left_waiting(left.len());
                        for (held_key, _) in left {
                            self.release(held_key);
                        }
                        return;
                    }
                }
            };
            let delivery;
            (held_key, delivery) = next;
            delivery::deliver(self, delivery, None, shutdown.clone()).await;
        }
    }

    /// Starts handling the entries of a read (with the slot the read took).
    async fn start_read(
        self: &Arc<Self>,
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
            self.spawn_batch(tasks, deliveries, Some(permit), shutdown.clone())
                .await;
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

/// `items` in order, cut into `count` chunks of even sizes (none when `items` is empty).
fn even_chunks<T>(items: Vec<T>, count: usize) -> Vec<Vec<T>> {
    let n = items.len();
    let count = count.clamp(usize::from(n > 0), n);
    let mut chunks = Vec::with_capacity(count);
    let mut items = items.into_iter();
    for i in 0..count {
        let size = n / count + usize::from(i < n % count);
        chunks.push(items.by_ref().take(size).collect());
    }
    chunks
}

/// The entry's ordering key: the field of its CloudEvent's data; `None` when the body is not a
/// CloudEvent or lacks the field (such an entry runs at once). The event decoded for it is the
/// one the delivery then runs ([`Delivery::event`]).
pub(super) fn ordering_key(delivery: &Delivery, field: &str) -> Option<String> {
    delivery.event().ok()?.data_field(field)
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
        held: Mutex::new(HashSet::default()),
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
    // Every handler has finished: what they queued is sent, then the task ends.
    shared.acker.close();
    let _ = acks.await;
}

/// A connection for blocking reads, and the groups.
async fn setup(
    broker: &RedisBroker,
    spec: &FunctionSpec,
    streams: &[String],
) -> Result<StreamReader, String> {
    let settings = broker.settings();
    let con = StreamReader::connect(
        &settings.url,
        &settings.tls,
        streams,
        settings.block + Duration::from_secs(5),
    )
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
    mut con: StreamReader,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tasks = JoinSet::new();
    let mut failures = 0u32;
    // Entries read but not started yet, with the concurrency slot their read took.
    let mut ready: Option<(Vec<Entry>, OwnedSemaphorePermit)> = None;
    while !*shutdown.borrow() {
        while tasks.try_join_next().is_some() {}
        if shared.spec.ordering_key.is_some() {
            // The cap on entries waiting behind their keys counts these before reading more.
            shared.start_read(&mut tasks, ready.take(), &shutdown).await;
            shared.acker.release();
            if !shared.room_to_read(&mut shutdown).await {
                break;
            }
        }
        let permit = match Arc::clone(&shared.permits).try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                shared.acker.release();
                tokio::select! {
                    p = Arc::clone(&shared.permits).acquire_owned() => match p {
                        Ok(p) => p,
                        Err(_) => break,
                    },
                    () = stopped(&mut shutdown) => break,
                }
            }
        };
        let count = ((shared.permits.available_permits() + 1) * shared.together())
            .min(shared.settings.batch.max(1));
        // The next read goes out (with the acknowledgements queued so far) before the entries of
        // the last one start, so Redis prepares it while they are handled. Not raced against
        // shutdown: a read abandoned mid-flight could still take entries.
        let acks = shared.acker.take();
        let sent = send_read(&shared, &mut con, count, &acks).await;
        // What the entries' handlers acknowledge now goes with the next read, if the reply to
        // this one is there by the time they are done.
        shared.acker.hold();
        shared.start_read(&mut tasks, ready.take(), &shutdown).await;
        let received = match sent {
            Ok(()) => {
                let mut receiving = std::pin::pin!(con.receive());
                match futures::poll!(receiving.as_mut()) {
                    Poll::Ready(received) => received,
                    Poll::Pending => {
                        shared.acker.release();
                        receiving.await
                    }
                }
            }
            Err(e) => Err(e),
        };
        match received {
            Ok(read) => {
                failures = 0;
                if let Some(error) = read.refused.first() {
                    tracing::warn!(
                        function = shared.spec.name,
                        error,
                        "ack refused; the entries will be delivered again and found in the inbox"
                    );
                }
                if !read.entries.is_empty() {
                    ready = Some((read.entries, permit));
                }
            }
            Err(e) => {
                // Sent or not, they go again (acknowledging twice is harmless).
                shared.acker.release();
                shared.acker.put_back(acks);
                drop(permit);
                if e.has_code("NOGROUP") {
                    tracing::warn!(function = shared.spec.name, error = %e, "consumer group gone (Redis restarted or flushed?)");
                    shared.ensure_groups().await;
                    continue;
                }
                failures = failures.saturating_add(1);
                let pause = Duration::from_millis(100 * 2u64.pow(failures.min(6)))
                    .min(Duration::from_secs(5));
                tracing::warn!(function = shared.spec.name, error = %e, pause_ms = pause.as_millis(), "read failed; retrying");
                tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    () = stopped(&mut shutdown) => {}
                }
            }
        }
    }
    // Entries read but not started stay pending, for the next instance.
    shared.acker.release();
    drop(ready);
    while tasks.join_next().await.is_some() {}
}

/// Sends `XREADGROUP GROUP <function> <instance> COUNT n BLOCK ms STREAMS <streams...> > ...`,
/// with an `XACK` per stream of `acks` before it in the same write.
async fn send_read(
    shared: &Shared,
    con: &mut StreamReader,
    count: usize,
    acks: &[Ack],
) -> Result<(), ReadError> {
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
    con.send(&acker::commands(shared.spec.name, acks), &cmd)
        .await
}

#[cfg(test)]
mod tests {
    use super::even_chunks;

    #[test]
    fn chunks_are_even_in_order_and_never_empty() {
        let sizes = |n: usize, count: usize| -> Vec<usize> {
            even_chunks((0..n).collect(), count)
                .iter()
                .map(Vec::len)
                .collect()
        };
        assert_eq!(sizes(10, 3), [4, 3, 3]);
        assert_eq!(sizes(3, 8), [1, 1, 1], "no more chunks than items");
        assert_eq!(sizes(5, 0), [5], "at least one chunk");
        assert!(sizes(0, 4).is_empty());
        let flat: Vec<usize> = even_chunks((0..7).collect(), 2).concat();
        assert_eq!(flat, (0..7).collect::<Vec<_>>());
    }
}
