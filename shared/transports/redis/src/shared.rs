//! What one function's read loop, reclaim loop and delivery tasks share: the function and its
//! dependencies, the connection, the concurrency slots, the acknowledger, and the entries this
//! instance holds (handling, waiting to handle, or waiting to retry), with, for an ordered
//! function, the entries waiting behind their key's entry in flight.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use conveyor_runtime::{Deps, Function, FunctionSpec, Idempotency};
use conveyor_transport::metrics::Stats;
use tokio::sync::{Notify, Semaphore, watch};

use super::RedisSettings;
use super::acker::Acker;
use super::broker::RedisBroker;
use super::received::Delivery;
use super::wire;

/// An entry's identity among one function's streams: the stream's position and the id as
/// `(ms, seq)`.
pub type HeldKey = (usize, (u64, u64));

/// The first entry of a key (or one without a key) to start now, for an ordered function: its
/// key, its identity, the entry.
pub type KeyStart = (Option<String>, HeldKey, Delivery);

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
    /// The state of `function`'s consumer of `streams` on `broker`, acknowledging through
    /// `acker`.
    pub(super) fn new(
        function: Arc<dyn Function>,
        deps: Deps,
        broker: Arc<RedisBroker>,
        stats: Arc<Stats>,
        streams: Vec<String>,
        acker: Acker,
    ) -> Self {
        let spec = function.spec();
        let settings = broker.settings().clone();
        Self {
            permits: Arc::new(Semaphore::new(spec.concurrency.max(1) as usize)),
            processing_timeout: processing_timeout(&settings, &spec),
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
        }
    }

    /// Whether this instance holds `stream`'s entry `id`.
    pub(super) fn holds(&self, stream: &str, id: &str) -> bool {
        let key = self.held_key(stream, id);
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&key)
    }

    /// The ids of the entries this instance holds, by stream (for the heartbeat that keeps
    /// them from looking abandoned).
    pub(super) fn held_by_stream(&self) -> Vec<(&str, Vec<String>)> {
        let mut by_stream: Vec<Vec<String>> = vec![Vec::new(); self.streams.len()];
        {
            let held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
            for (stream, (ms, seq)) in held.iter() {
                if let Some(ids) = by_stream.get_mut(*stream) {
                    ids.push(format!("{ms}-{seq}"));
                }
            }
        }
        self.streams
            .iter()
            .map(String::as_str)
            .zip(by_stream)
            .filter(|(_, ids)| !ids.is_empty())
            .collect()
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

    /// The deliveries of entries this instance did not hold yet, each with its identity, now
    /// held (the others are dropped: they are being handled here already).
    pub(super) fn hold(&self, deliveries: Vec<Delivery>) -> Vec<(HeldKey, Delivery)> {
        // Sized once: grown by doubling, a batch's vector was reallocated (and copied) several
        // times, each time on fresh memory.
        let mut fresh = Vec::with_capacity(deliveries.len());
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        for d in deliveries {
            let key = self.held_key(&d.entry.stream, &d.entry.id);
            if held.insert(key) {
                fresh.push((key, d));
            }
        }
        fresh
    }

    /// Lets go of an entry: it was acknowledged, dead-lettered, taken over or left pending.
    pub(super) fn release(&self, held_key: HeldKey) {
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&held_key);
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

    /// `items` cut into one chunk per free concurrency slot (counting the one the read took),
    /// or more where a chunk would exceed [`Shared::together`] items.
    pub(super) fn chunks<T>(&self, items: Vec<T>) -> Vec<Vec<T>> {
        let slots = self.permits.available_permits() + 1;
        let count = items
            .len()
            .div_ceil(self.together())
            .max(slots.min(items.len()));
        even_chunks(items, count)
    }

    /// For an ordered function ordering by `field`: each entry of `fresh` (in id order) whose
    /// key is in flight joins that key's queue; the others are returned, to start a run of
    /// their key (or to run alone, without a key).
    pub(super) fn queue_behind_keys(
        &self,
        mut fresh: Vec<(HeldKey, Delivery)>,
        field: &str,
    ) -> Vec<KeyStart> {
        fresh.sort_by_key(|(_, d)| wire::id_order(&d.entry.id));
        let mut starts = Vec::new();
        let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        for (held_key, delivery) in fresh {
            match delivery.ordering_key(field) {
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
        starts
    }

    /// The next entry waiting behind `key`'s entry that is done, which is now the key's entry
    /// in flight; `None` when none waits or `stopping` (the key is then no longer in flight,
    /// and the entries that waited are let go unhandled: they stay pending for the next
    /// instance).
    pub(super) fn next_of_key(&self, key: &str, stopping: bool) -> Option<(HeldKey, Delivery)> {
        let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        let next = if stopping {
            None
        } else {
            waiting.get_mut(key).and_then(VecDeque::pop_front)
        };
        if next.is_some() {
            self.left_waiting(1);
            return next;
        }
        let left = waiting.remove(key).unwrap_or_default();
        self.left_waiting(left.len());
        for (held_key, _) in left {
            self.release(held_key);
        }
        None
    }

    fn left_waiting(&self, n: usize) {
        if n > 0 {
            self.waiting_len.fetch_sub(n, Ordering::Relaxed);
            self.room.notify_waiters();
        }
    }

    /// Waits while [`RedisSettings::max_waiting`] entries wait behind their keys; `false` when
    /// shutdown came first.
    pub(super) async fn room_to_read(&self, shutdown: &mut watch::Receiver<bool>) -> bool {
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

/// How long an entry may stay idle before it is taken to be abandoned: the setting's claim
/// delay, or the function's timeout plus the margin. Live entries are kept fresh by the
/// heartbeat whatever their handler takes, so for an ordered function it is also at most the
/// lease's TTL: entries a holder that stepped down let go are taken by the next holder about
/// as soon as it holds the lease.
#[must_use]
pub fn processing_timeout(settings: &RedisSettings, spec: &FunctionSpec) -> Duration {
    let timeout = settings
        .claim_after
        .unwrap_or(spec.timeout + settings.claim_margin);
    if spec.ordering_key.is_some() {
        timeout.min(settings.lease_ttl)
    } else {
        timeout
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

/// Returns once `shutdown` turns `true` (or its sender is gone).
pub(super) async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
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
