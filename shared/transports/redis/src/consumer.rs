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
//! pauses until one of them runs. So that the order holds across instances, an ordered function
//! is consumed by one instance at a time, the holder of its lease; the others stand by. A new
//! holder first claims what the previous one left pending, in id order, then reads on.

use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use conveyor_runtime::{Deps, Function, FunctionSpec};
use conveyor_transport::metrics::Stats;
use tokio::sync::{OwnedSemaphorePermit, watch};
use tokio::task::JoinSet;

use super::RedisSettings;
use super::acker::{self, Ack, Acker};
use super::broker::RedisBroker;
use super::dispatch;
use super::heartbeat;
use super::lease::Lease;
use super::reader::{ReadError, StreamReader};
use super::reclaim;
use super::shared::{self, Shared, stopped};
use super::wire::Entry;

/// Consumes `function`'s streams until `shutdown` turns `true`, then finishes the handlers that
/// are running and flushes their acknowledgements. A function with an ordering key is consumed
/// only while this instance holds its lease (see [`lease`](super::lease)); until then, and
/// again after losing it, the instance stands by.
pub async fn run(
    function: Arc<dyn Function>,
    deps: Deps,
    broker: Arc<RedisBroker>,
    stats: Arc<Stats>,
    mut shutdown: watch::Receiver<bool>,
) {
    let spec = function.spec();
    if spec.ordering_key.is_none() {
        consume(function, deps, broker, stats, shutdown, false).await;
        return;
    }
    let settings = broker.settings();
    let mut lease = Lease::new(
        broker.connection(),
        settings.lease_key(spec.name),
        &settings.instance,
        settings.lease_ttl,
    );
    while lease.wait_for(&mut shutdown).await {
        tracing::info!(function = spec.name, "holding the lease: consuming");
        // Turns true at shutdown or when the lease is lost; `done` once the consumer finished.
        let (stop, stopping) = watch::channel(false);
        let (finished, done) = watch::channel(false);
        let consuming = async {
            consume(
                Arc::clone(&function),
                deps.clone(),
                Arc::clone(&broker),
                Arc::clone(&stats),
                stopping,
                true,
            )
            .await;
            let _ = finished.send(true);
        };
        let ((), held) = tokio::join!(consuming, lease.keep(shutdown.clone(), &stop, done));
        if held {
            match lease.release().await {
                Ok(_) => tracing::info!(function = spec.name, "lease released"),
                Err(e) => {
                    tracing::warn!(function = spec.name, error = %e, "could not release the lease; it expires by itself")
                }
            }
        }
    }
}

/// Consumes until `shutdown`; `leased`: as the new holder of an ordered function's lease,
/// first taking over what is pending.
async fn consume(
    function: Arc<dyn Function>,
    deps: Deps,
    broker: Arc<RedisBroker>,
    stats: Arc<Stats>,
    mut shutdown: watch::Receiver<bool>,
    leased: bool,
) {
    let spec = function.spec();
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
    let ack_delay = ack_delay(broker.settings(), &spec);
    let (acker, acks) = Acker::start(broker.connection(), spec.name, ack_delay);
    let shared = Arc::new(Shared::new(function, deps, broker, stats, streams, acker));
    // The heartbeat outlives the loops: it keeps the entries of handlers still finishing fresh.
    let (done, beating) = watch::channel(false);
    let work = async {
        tokio::join!(
            read_loop(Arc::clone(&shared), reader, shutdown.clone(), leased),
            reclaim::run(Arc::clone(&shared), shutdown),
        );
        let _ = done.send(true);
    };
    tokio::join!(work, heartbeat::run(Arc::clone(&shared), beating));
    // Every handler has finished: what they queued is sent, then the task ends.
    shared.acker.close();
    let _ = acks.await;
}

/// How long an acknowledgement may wait to go out with others: the setting, but never more
/// than a tenth of the processing timeout. A handled entry leaves the heartbeat's care when
/// its acknowledgement is queued, so it must not wait long enough to look abandoned.
fn ack_delay(settings: &RedisSettings, spec: &FunctionSpec) -> Duration {
    settings
        .ack_delay
        .min(shared::processing_timeout(settings, spec) / 10)
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
    leased: bool,
) {
    let mut tasks = JoinSet::new();
    if leased {
        // Before anything new is read: each key continues in order from what is pending.
        reclaim::take_over(&shared, &mut tasks, &shutdown).await;
    }
    let mut failures = 0u32;
    // Entries read but not started yet, with the concurrency slot their read took.
    let mut ready: Option<(Vec<Entry>, OwnedSemaphorePermit)> = None;
    while !*shutdown.borrow() {
        while tasks.try_join_next().is_some() {}
        if shared.spec.ordering_key.is_some() {
            // The cap on entries waiting behind their keys counts these before reading more.
            dispatch::start_read(&shared, &mut tasks, ready.take(), &shutdown).await;
            shared.acker.release();
            if !shared.room_to_read(&mut shutdown).await {
                break;
            }
        }
        let permit = match Arc::clone(&shared.permits).try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                // No read can go out before a slot frees: the last read's entries start now,
                // so they are held (and kept fresh) while they wait for their slots.
                dispatch::start_read(&shared, &mut tasks, ready.take(), &shutdown).await;
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
        dispatch::start_read(&shared, &mut tasks, ready.take(), &shutdown).await;
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
