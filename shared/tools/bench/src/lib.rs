//! conveyor-bench: `conveyor bench`. Throughput and latency of a no-op function (decode, call,
//! acknowledge: at-least-once intact; a stateless function, so no inbox) on the embedded broker
//! and on Redis Streams (over plain TCP and over TLS), the worker's CPU time per event, the
//! payment flow and the orchestrated checkout saga on PostgreSQL, the Dapr host under a load
//! generator playing daprd, the emulator's time to ready and idle memory, the Lambda binaries'
//! cold start, and `redis-benchmark`'s XADD rate on the same machine as the ceiling.
//! Every load is bounded and stops by itself.
//!
//! The bench sits below the emulator: it starts what it measures through its [`emulator`] port,
//! which the `conveyor` binary fills in with `up`'s own start.
//!
//! # Layout
//! - [`emulator`] — the port: start an emulator, publish, read its metrics, stop it
//! - [`plan`] — what a run measures
//! - [`report`] — runs the plan, prints the Markdown report
//! - [`dapr`] — the Dapr host under a load generator that plays daprd
//! - [`flow`] — the payment flow on PostgreSQL
//! - [`saga`] — the checkout saga on PostgreSQL: sagas ended per second
//! - [`instances`] — the Redis drain with several instances on one consumer group
//! - [`lambda`] — the Lambda binaries' sizes and spawn to first poll
//! - [`process`] — whole processes: start-up, idle memory, the XADD ceiling
//! - [`tls`] — Redis over TLS beside plain TCP

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use conveyor_domain::Timestamp;
use conveyor_domain::events::{Validate, ValidationError};
use conveyor_runtime::{
    CloudEvent, Context, Function, FunctionSpec, HandlerError, Service, TopicHandler,
};
use conveyor_store::OutboxRow;
use serde::{Deserialize, Serialize};

use conveyor_domain::SystemClock;
use conveyor_runtime::Publisher;
use conveyor_store::Store;

use conveyor_embedded::broker::EmbeddedBroker;
use conveyor_embedded::consumer::ConsumerSettings;
use conveyor_redis::RedisSettings;
use conveyor_redis::broker::RedisBroker;
use conveyor_redis::tls::RedisTls;

use crate::emulator::{Emulator, Running, Setup};

pub mod dapr;
pub mod emulator;
pub mod flow;
pub mod instances;
pub mod lambda;
pub mod plan;
pub mod process;
pub mod report;
pub mod saga;
pub mod store_cost;
pub mod tls;

/// Most events one run publishes.
pub const MAX_EVENTS: usize = 2_000_000;

/// The bench topic.
pub const TOPIC: &str = "bench.ping";

/// One bench event: its number and when it was published (µs since the epoch).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ping {
    /// Sequence number.
    pub n: u64,
    /// Publish time in µs since the Unix epoch.
    pub sent_us: u64,
}

impl Validate for Ping {
    fn validate(&self) -> Result<(), ValidationError> {
        Ok(())
    }
}

/// What the no-op function records: how many it handled and, for a latency run, each event's
/// publish-to-handler time (a throughput run keeps none, so its handler only counts).
#[derive(Debug, Default)]
pub struct Recorder {
    handled: AtomicU64,
    keeps_latencies: bool,
    latencies_us: std::sync::Mutex<Vec<u64>>,
    /// The count the bench waits for (0: none), and the signal when it is reached, so the bench
    /// does not poll the count while it measures the process's CPU.
    target: AtomicU64,
    reached: tokio::sync::Notify,
}

impl Recorder {
    /// A recorder that also keeps each event's latency.
    #[must_use]
    pub fn timing() -> Self {
        Self {
            keeps_latencies: true,
            ..Self::default()
        }
    }

    /// A recorder that signals when it has counted `events`.
    #[must_use]
    pub fn until(events: u64) -> Self {
        Self {
            target: AtomicU64::new(events),
            ..Self::default()
        }
    }
}

/// The no-op function, with `C` handlers in flight at most (the concurrency is part of a
/// function's declaration, so each setting is its own type).
#[derive(Debug, Default, Clone)]
pub struct Noop<const C: u32 = 512>(pub Arc<Recorder>);

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

impl<const C: u32> TopicHandler for Noop<C> {
    type Payload = Ping;
    const SPEC: FunctionSpec = FunctionSpec {
        concurrency: C,
        ..FunctionSpec::on_topics("bench-noop", Service::Order, &[TOPIC]).stateless()
    };

    async fn handle(&self, ping: Ping, _cx: &mut Context<'_>) -> Result<(), HandlerError> {
        if self.0.keeps_latencies {
            let latency = now_us().saturating_sub(ping.sent_us);
            self.0
                .latencies_us
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(latency);
        }
        let handled = self.0.handled.fetch_add(1, Ordering::Relaxed) + 1;
        if handled == self.0.target.load(Ordering::Relaxed) {
            self.0.reached.notify_one();
        }
        Ok(())
    }
}

pub(crate) fn ping(n: u64) -> OutboxRow {
    let payload = Ping {
        n,
        sent_us: now_us(),
    };
    CloudEvent::new(TOPIC, "bench", &payload, Timestamp::from_millis(0))
        .expect("a Ping always serialises")
        .into_outbox_row()
}

/// CPU seconds this process has used, from `/proc/self/stat` (Linux): in user space and in the
/// kernel (system calls, page faults, interrupts handled on its behalf).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CpuTime {
    /// User-space seconds.
    pub user: f64,
    /// Kernel seconds.
    pub system: f64,
}

impl CpuTime {
    /// What the process has used so far (zero where `/proc` cannot be read).
    #[must_use]
    pub fn now() -> Self {
        std::fs::read_to_string("/proc/self/stat")
            .map(|stat| Self::parse(&stat))
            .unwrap_or_default()
    }

    /// The times of a `stat(5)` line: utime and stime, fields 14 and 15, in clock ticks (100 per
    /// second on Linux).
    pub(crate) fn parse(stat: &str) -> Self {
        // The command name (field 2) may hold spaces and parentheses: fields count from its end.
        let Some((_, after)) = stat.rsplit_once(')') else {
            return Self::default();
        };
        let mut fields = after.split_whitespace().skip(11);
        let mut ticks = || {
            fields
                .next()
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
                / 100.0
        };
        Self {
            user: ticks(),
            system: ticks(),
        }
    }

    /// The time used between `earlier` and this.
    #[must_use]
    pub fn since(self, earlier: Self) -> Self {
        Self {
            user: self.user - earlier.user,
            system: self.system - earlier.system,
        }
    }

    /// User and kernel seconds together.
    #[must_use]
    pub fn total(self) -> f64 {
        self.user + self.system
    }
}

/// One throughput run's result.
#[derive(Debug, Clone, Copy)]
pub struct Throughput {
    /// Events handled per second, publish to last ack.
    pub events_per_second: f64,
    /// Process CPU per event over the drain, µs.
    pub cpu_us_per_event: f64,
    /// The part of it spent in the kernel, µs.
    pub kernel_us_per_event: f64,
    /// The largest resident set of this process (the emulator and the bench's recorder) seen
    /// during the drain, MB.
    pub peak_rss_mb: f64,
}

impl Throughput {
    /// The figures of `events` handled in `elapsed_s` seconds with `cpu` spent by the process,
    /// its largest resident set `peak_rss_mb`.
    #[must_use]
    pub fn of(events: u64, elapsed_s: f64, cpu: CpuTime, peak_rss_mb: f64) -> Self {
        #[allow(clippy::cast_precision_loss)]
        let per = events.max(1) as f64;
        Self {
            events_per_second: per / elapsed_s,
            cpu_us_per_event: cpu.total() * 1e6 / per,
            kernel_us_per_event: cpu.system * 1e6 / per,
            peak_rss_mb,
        }
    }
}

/// One latency run's result.
#[derive(Debug, Clone, Copy)]
pub struct Latency {
    /// Median publish -> handler start, ms.
    pub p50_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
}

/// Which transport a scenario runs on.
#[derive(Debug, Clone)]
pub enum Transport {
    /// The embedded broker on a SQLite file.
    Embedded,
    /// Redis Streams at this URL (inbox on a SQLite file).
    Redis(String),
    /// Redis Streams at this `rediss://` URL, trusting these TLS settings.
    RedisTls(String, RedisTls),
}

/// Deletes the streams a Redis run created (every key under its prefix).
pub(crate) async fn clean_up(transport: &Transport, prefix: &str) {
    let Some(settings) = redis_settings(transport, prefix, Tuning::default()) else {
        return;
    };
    let Ok(mut conn) = settings.connect_once().await else {
        return;
    };
    let keys: Vec<String> = ::redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(&mut conn)
        .await
        .unwrap_or_default();
    if !keys.is_empty() {
        let _: Result<(), _> = ::redis::cmd("DEL").arg(&keys).query_async(&mut conn).await;
    }
}

/// The knobs a throughput run turns: entries read at once and handlers in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tuning {
    /// Entries per read (`XREADGROUP COUNT`, or messages leased at once on the embedded broker).
    pub batch: usize,
    /// Handlers in flight at most.
    pub concurrency: Concurrency,
    /// On Redis, entries a function with an inbox handles in one transaction
    /// ([`RedisSettings::tx_batch`]).
    pub tx_batch: usize,
    /// Published events appended to the event store (the emulator's default).
    pub event_store: bool,
}

/// The concurrency limits the bench declares no-op functions with (a limit is part of a
/// function's declaration, so each is its own type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Concurrency {
    /// 16, the functions' default.
    Default,
    /// 512.
    Wide,
}

impl Concurrency {
    /// The limit.
    #[must_use]
    pub fn limit(self) -> u32 {
        match self {
            Self::Default => 16,
            Self::Wide => 512,
        }
    }
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            batch: 500,
            concurrency: Concurrency::Wide,
            tx_batch: conveyor_redis::DEFAULT_TX_BATCH,
            event_store: true,
        }
    }
}

impl Tuning {
    pub(crate) fn function(self, recorder: &Arc<Recorder>) -> Arc<dyn Function> {
        let recorder = Arc::clone(recorder);
        match self.concurrency {
            Concurrency::Default => conveyor_runtime::topic(Noop::<16>(recorder)),
            Concurrency::Wide => conveyor_runtime::topic(Noop::<512>(recorder)),
        }
    }
}

fn redis_settings(transport: &Transport, prefix: &str, tuning: Tuning) -> Option<RedisSettings> {
    match transport {
        Transport::Embedded => None,
        Transport::Redis(url) => Some(RedisSettings::new(url)),
        Transport::RedisTls(url, tls) => Some(RedisSettings {
            tls: tls.clone(),
            ..RedisSettings::new(url)
        }),
    }
    .map(|settings| RedisSettings {
        prefix: prefix.to_owned(),
        batch: tuning.batch,
        tx_batch: tuning.tx_batch,
        // Room for the whole backlog: trimming would drop events the run waits for.
        maxlen: MAX_EVENTS,
        ..settings
    })
}

fn database(dir: &std::path::Path) -> String {
    format!("sqlite://{}", dir.join("bench.db").display())
}

/// Starts `functions` on `database` over the transport.
async fn start(
    emulator: &dyn Emulator,
    transport: &Transport,
    database: &str,
    functions: Vec<Arc<dyn Function>>,
    prefix: &str,
    tuning: Tuning,
) -> Result<Box<dyn Running>, String> {
    emulator
        .start(Setup {
            database: database.to_owned(),
            functions,
            consumer: ConsumerSettings {
                batch: tuning.batch,
                idle_poll: Duration::from_millis(20),
            },
            redis: redis_settings(transport, prefix, tuning),
            event_store: tuning.event_store,
        })
        .await
}

/// Publishes a backlog of `events` (event `n` made by `make`) for `functions` before any
/// consumer runs, in batches of 500, through the transport's own publisher (a broker without
/// consumers).
async fn prefill(
    transport: &Transport,
    database: &str,
    prefix: &str,
    functions: &[Arc<dyn Function>],
    events: u64,
    make: impl Fn(u64) -> Result<OutboxRow, String>,
) -> Result<(), String> {
    let mut store = None;
    let publisher: Arc<dyn Publisher> = match redis_settings(transport, prefix, Tuning::default()) {
        Some(settings) => Arc::new(
            RedisBroker::connect(settings, functions)
                .await
                .map_err(|e| e.to_string())?,
        ),
        None => {
            let opened = Store::open(database).await.map_err(|e| e.to_string())?;
            opened
                .migrate_embedded_broker()
                .await
                .map_err(|e| e.to_string())?;
            store = Some(opened.clone());
            Arc::new(EmbeddedBroker::new(
                opened,
                Arc::new(SystemClock),
                functions,
            ))
        }
    };
    let mut n = 0;
    let mut published = Ok(());
    while n < events && published.is_ok() {
        let batch: Vec<OutboxRow> = (n..(n + 500).min(events))
            .map(&make)
            .collect::<Result<_, _>>()?;
        n += batch.len() as u64;
        published = publisher.publish(&batch).await.map_err(|e| e.to_string());
    }
    if let Some(store) = store {
        store.close().await;
    }
    published
}

/// Waits until `done()` reaches `count`, sampling this process's resident memory every 20 ms;
/// whether `count` was reached before `limit`, and the largest RSS seen (MB). With `reached`
/// (signalled when `count` is reached) it wakes only for the samples; without, it also looks at
/// `done()` every 2 ms.
async fn wait_until(
    done: impl Fn() -> u64,
    count: u64,
    limit: Duration,
    reached: Option<&tokio::sync::Notify>,
) -> (bool, f64) {
    let started = Instant::now();
    let (mut peak, mut sampled) = (process::rss_mb("self").unwrap_or(0.0), started);
    let pause = Duration::from_millis(if reached.is_some() { 20 } else { 2 });
    while done() < count {
        if started.elapsed() > limit {
            return (false, peak);
        }
        if sampled.elapsed() >= Duration::from_millis(20) {
            peak = peak.max(process::rss_mb("self").unwrap_or(0.0));
            sampled = Instant::now();
        }
        match reached {
            Some(signal) => {
                let _ = tokio::time::timeout(pause, signal.notified()).await;
            }
            None => tokio::time::sleep(pause).await,
        }
    }
    (true, peak.max(process::rss_mb("self").unwrap_or(0.0)))
}

/// Publishes a backlog of `events`, then starts the emulator and times the drain: from the
/// moment it is running until the last event is handled (at most 5 minutes). The CPU figure is
/// the process's CPU time over the drain, when nothing but the consumer runs in it.
///
/// # Errors
/// A start or publish failure, or the time limit.
pub async fn throughput(
    emulator: &dyn Emulator,
    transport: &Transport,
    events: u64,
    tuning: Tuning,
) -> Result<Throughput, String> {
    if events > MAX_EVENTS as u64 {
        return Err(format!("at most {MAX_EVENTS} events per run"));
    }
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let recorder = Arc::new(Recorder::until(events));
    let prefix = format!("bench-{}:", uuid::Uuid::new_v4().simple());
    let database = database(dir.path());
    let noop = [tuning.function(&Arc::new(Recorder::default()))];
    prefill(transport, &database, &prefix, &noop, events, |n| {
        Ok(ping(n))
    })
    .await?;
    let running = start(
        emulator,
        transport,
        &database,
        vec![tuning.function(&recorder)],
        &prefix,
        tuning,
    )
    .await?;
    let (cpu0, t0) = (CpuTime::now(), Instant::now());
    let (done, peak_rss_mb) = wait_until(
        || recorder.handled.load(Ordering::Relaxed),
        events,
        Duration::from_secs(300),
        Some(&recorder.reached),
    )
    .await;
    let (elapsed, cpu) = (t0.elapsed().as_secs_f64(), CpuTime::now().since(cpu0));
    running.shutdown().await;
    clean_up(transport, &prefix).await;
    if !done {
        return Err(format!(
            "only {} of {events} handled in 5 minutes",
            recorder.handled.load(Ordering::Relaxed)
        ));
    }
    Ok(Throughput::of(events, elapsed, cpu, peak_rss_mb))
}

/// Serves the emulator's HTTP API (dashboard included) on a loopback port and, until the
/// returned flag is set, loads the dashboard's live events view ten times a second: the
/// cursor, the newest 100 events and the functions with their totals (a page open in a browser
/// polls the cursor once a second and reloads the view when it moved).
async fn dashboard_readers(running: &dyn Running) -> Result<Arc<AtomicBool>, String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let base = format!("http://{address}");
    let stop = Arc::new(AtomicBool::new(false));
    let served = Arc::clone(&stop);
    let until = Box::pin(async move {
        while !served.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    tokio::spawn(running.serve(listener, until));
    let reading = Arc::clone(&stop);
    std::thread::spawn(move || {
        while !reading.load(Ordering::Relaxed) {
            for path in ["/api/cursor", "/api/events?limit=100", "/api/functions"] {
                let _ = ureq::get(format!("{base}{path}")).call();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    Ok(stop)
}

/// Publishes `events` one at a time at `rate` per second and reports publish -> handler start;
/// with `dashboard`, while the dashboard is read ten times a second ([`dashboard_readers`]).
///
/// # Errors
/// A start or publish failure, or the time limit.
pub async fn latency(
    emulator: &dyn Emulator,
    transport: &Transport,
    events: u64,
    rate: u32,
    dashboard: bool,
) -> Result<Latency, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let recorder = Arc::new(Recorder::timing());
    let prefix = format!("bench-{}:", uuid::Uuid::new_v4().simple());
    let tuning = Tuning::default();
    let running = start(
        emulator,
        transport,
        &database(dir.path()),
        vec![tuning.function(&recorder)],
        &prefix,
        tuning,
    )
    .await?;
    let readers = if dashboard {
        Some(dashboard_readers(running.as_ref()).await?)
    } else {
        None
    };
    let mut tick = tokio::time::interval(Duration::from_secs(1) / rate.max(1));
    for n in 0..events {
        tick.tick().await;
        running
            .broker()
            .publish(&[ping(n)])
            .await
            .map_err(|e| e.to_string())?;
    }
    let (done, _) = wait_until(
        || recorder.handled.load(Ordering::Relaxed),
        events,
        Duration::from_secs(60),
        None,
    )
    .await;
    if let Some(stop) = readers {
        stop.store(true, Ordering::Relaxed);
    }
    running.shutdown().await;
    clean_up(transport, &prefix).await;
    if !done {
        return Err("latency run did not finish".to_owned());
    }
    let mut all = recorder
        .latencies_us
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    all.sort_unstable();
    let at = |q: f64| {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let i = ((all.len() as f64 - 1.0) * q).round() as usize;
        #[allow(clippy::cast_precision_loss)]
        let ms = all.get(i).copied().unwrap_or(0) as f64 / 1000.0;
        ms
    };
    Ok(Latency {
        p50_ms: at(0.50),
        p99_ms: at(0.99),
    })
}

/// min / median / max of `values`.
#[must_use]
pub fn spread(values: &mut [f64]) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    match values {
        [] => (0.0, 0.0, 0.0),
        v => (v[0], v[v.len() / 2], v[v.len() - 1]),
    }
}

#[cfg(test)]
mod tests {
    use super::CpuTime;

    #[test]
    fn cpu_time_reads_utime_and_stime_after_the_command_name() {
        let stat = "4242 (tokio (rt) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 3";
        let cpu = CpuTime::parse(stat);
        assert_eq!(
            cpu,
            CpuTime {
                user: 2.5,
                system: 0.75
            }
        );
        assert!((cpu.total() - 3.25).abs() < 1e-9);
        assert_eq!(CpuTime::parse("garbage"), CpuTime::default());
    }
}
