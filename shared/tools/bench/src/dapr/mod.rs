//! The Dapr host (`conveyor worker`) under a load generator that plays daprd on loopback:
//! deliveries per second and the worker's CPU per delivery, of the no-op function and of the
//! payment flow on PostgreSQL, for each way daprd delivers.
//!
//! Each run starts a worker (the production [`conveyor_dapr::Worker`], its app token set as
//! the generated Deployments set it) for one function, prepares every request, then times the
//! calls from the first until the last answer; the worker's CPU over that window is its own
//! threads' ([`host`]). Deliveries are bounded by count: a run stops when every event is
//! answered. The payment flow publishes each order's status change after commit to the
//! sidecar stand-in, as in production.
//!
//! A row per [`Delivery`]: HTTP single (a `POST /<function>` per CloudEvent), HTTP bulk
//! (`com.dapr.event.sent.bulk` of [`daprd::BULK_ENTRIES`] entries), gRPC single
//! (`OnTopicEvent`) and gRPC bulk (`OnBulkTopicEvent` of as many entries), the worker started
//! with the matching `--app-protocol`.
//!
//! # Layout
//! - [`host`] — the worker on its own runtime, and its threads' CPU time
//! - [`daprd`] — the load generator and the sidecar's publish API

pub mod daprd;
pub mod host;

use std::sync::Arc;
use std::time::{Duration, Instant};

use conveyor_dapr::{AppProtocol, Mode, WorkerConfig};
use conveyor_domain::{Clock, SystemClock};
use conveyor_runtime::Service;
use conveyor_store::testing::TestDb;

use super::flow::{self, FUNCTION};
use super::{Recorder, TOPIC, Throughput, Tuning, ping};

/// How daprd delivers events to the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// One HTTP request per event.
    HttpSingle,
    /// HTTP bulk subscribe: one request per [`daprd::BULK_ENTRIES`] events.
    HttpBulk,
    /// One `OnTopicEvent` call per event.
    GrpcSingle,
    /// gRPC bulk subscribe: one `OnBulkTopicEvent` call per [`daprd::BULK_ENTRIES`] events.
    GrpcBulk,
}

impl Delivery {
    /// Every delivery the bench measures, in report order.
    pub const ALL: [Self; 4] = [
        Self::HttpSingle,
        Self::HttpBulk,
        Self::GrpcSingle,
        Self::GrpcBulk,
    ];

    /// Its name in the report.
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Self::HttpSingle => "HTTP single",
            Self::HttpBulk => "HTTP bulk (100 per request)",
            Self::GrpcSingle => "gRPC single",
            Self::GrpcBulk => "gRPC bulk (100 per call)",
        }
    }

    /// The app protocol the worker runs with.
    #[must_use]
    pub fn protocol(self) -> AppProtocol {
        match self {
            Self::HttpSingle | Self::HttpBulk => AppProtocol::Http,
            Self::GrpcSingle | Self::GrpcBulk => AppProtocol::Grpc,
        }
    }

    /// Requests daprd keeps in flight: `pubsub.redis`'s default (and the generated
    /// component's) 10 concurrent deliveries one at a time; a bulk request holds 100 events,
    /// so fewer.
    #[must_use]
    pub fn in_flight(self) -> usize {
        match self {
            Self::HttpSingle | Self::GrpcSingle => 10,
            Self::HttpBulk | Self::GrpcBulk => 2,
        }
    }
}

/// What runs in the worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    /// The no-op function (stateless: no inbox), its worker on a SQLite file.
    Noop,
    /// `order-payment-confirmed` on PostgreSQL: inbox, status change, outbox, commit, publish.
    PaymentFlow,
}

fn worker_config(delivery: Delivery, database: &str, sidecar: &daprd::Sidecar) -> WorkerConfig {
    WorkerConfig {
        mode: Mode::Event,
        database: database.to_owned(),
        app_protocol: delivery.protocol(),
        dapr_http_port: sidecar.port,
        dapr_grpc_port: sidecar.port,
        app_api_token: Some(daprd::APP_TOKEN.to_owned()),
        shutdown_timeout: Duration::from_secs(10),
        ..WorkerConfig::new(Service::Order)
    }
}

/// Delivers `events` no-op events `delivery`'s way and measures the worker.
///
/// # Errors
/// A start failure, or a delivery not answered `SUCCESS`.
pub async fn noop(delivery: Delivery, events: u64) -> Result<Throughput, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let database = format!("sqlite://{}", dir.path().join("dapr.db").display());
    let recorder = Arc::new(Recorder::until(events));
    let function = Tuning::default().function(&recorder);
    let route = format!("/{}", function.spec().name);
    let bodies: Vec<String> = (0..events).map(|n| ping(n).body).collect();
    let calls = daprd::calls(delivery, &bodies, TOPIC, &route)?;
    drop(bodies);
    let sidecar = daprd::Sidecar::start().await?;
    let worker =
        host::Hosted::start(worker_config(delivery, &database, &sidecar), vec![function]).await?;
    let measured = measure(delivery, &worker, &route, calls, events).await;
    worker.stop().await?;
    let handled = recorder.handled.load(std::sync::atomic::Ordering::Relaxed);
    let throughput = measured?;
    if handled != events {
        return Err(format!("the no-op handled {handled} of {events} events"));
    }
    Ok(throughput)
}

/// Seeds `events` orders in a fresh database on the server of `admin_url`, delivers a
/// `payment.confirmed` for each `delivery`'s way and measures the worker. The database is
/// dropped after.
///
/// # Errors
/// A database or start failure, or a delivery not answered `SUCCESS`.
pub async fn payment_flow(
    delivery: Delivery,
    admin_url: &str,
    events: u64,
) -> Result<Throughput, String> {
    let db = TestDb::create_postgres(admin_url).await.map_err(|e| {
        format!(
            "PostgreSQL at {}: {e}",
            conveyor_store::redact::url(admin_url)
        )
    })?;
    let result = payment_flow_on(delivery, &db, events).await;
    db.close().await;
    result
}

async fn payment_flow_on(
    delivery: Delivery,
    db: &TestDb,
    events: u64,
) -> Result<Throughput, String> {
    let function = conveyor_catalog::find(FUNCTION)
        .ok_or_else(|| format!("{FUNCTION} is not in the catalog"))?;
    let now = SystemClock.now();
    flow::seed(db, events, now).await?;
    let bodies: Vec<String> = (0..events)
        .map(|n| flow::payment(n, now).map(|row| row.body))
        .collect::<Result<_, _>>()?;
    let route = format!("/{FUNCTION}");
    let calls = daprd::calls(
        delivery,
        &bodies,
        conveyor_domain::events::payment::PAYMENT_CONFIRMED,
        &route,
    )?;
    drop(bodies);
    let sidecar = daprd::Sidecar::start().await?;
    let worker =
        host::Hosted::start(worker_config(delivery, db.url(), &sidecar), vec![function]).await?;
    let measured = measure(delivery, &worker, &route, calls, events).await;
    worker.stop().await?;
    let throughput = measured?;
    // Each payment changes its order's status once, and that change is published.
    if sidecar.published() != events {
        return Err(format!(
            "{} of {events} status changes were published",
            sidecar.published()
        ));
    }
    Ok(throughput)
}

/// Times `calls` against the worker from the first call to the last answer, with the
/// worker's CPU over that window.
async fn measure(
    delivery: Delivery,
    worker: &host::Hosted,
    route: &str,
    calls: Vec<daprd::Call>,
    events: u64,
) -> Result<Throughput, String> {
    let address = worker.address.to_string();
    let calls = Arc::new(calls);
    let (cpu0, t0) = (host::worker_cpu(), Instant::now());
    let delivered = daprd::drive(delivery, &address, route, calls, delivery.in_flight()).await?;
    let (elapsed, cpu) = (t0.elapsed().as_secs_f64(), host::worker_cpu().since(cpu0));
    if delivered != events {
        return Err(format!("{delivered} of {events} events delivered"));
    }
    let rss = super::process::rss_mb("self").unwrap_or(0.0);
    Ok(Throughput::of(events, elapsed, cpu, rss))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_no_op_delivery_is_answered_success_and_counted() {
        for delivery in Delivery::ALL {
            let t = noop(delivery, 250).await.unwrap();
            assert!(t.events_per_second > 0.0, "{delivery:?}: {t:?}");
            assert!(
                t.cpu_us_per_event >= t.kernel_us_per_event,
                "{delivery:?}: {t:?}"
            );
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_payment_is_handled_and_its_status_change_published() {
        let admin = std::env::var("CONVEYOR_TEST_DATABASE_URL")
            .unwrap_or_else(|_| conveyor_store::testing::DEFAULT_ADMIN_URL.to_owned());
        for delivery in Delivery::ALL {
            payment_flow(delivery, &admin, 120).await.unwrap();
        }
    }

    #[test]
    fn only_the_worker_threads_are_counted() {
        // Named apart from the worker threads of the tests running beside this one.
        const NAME: &str = "dapr-test-burn";
        let before = host::threads_cpu(NAME);
        // Each thread burns 0.2 s of its own CPU, then stays alive (an exited thread's time
        // leaves /proc) until it is measured.
        let (measured, done) = std::sync::mpsc::channel::<()>();
        let done = Arc::new(std::sync::Mutex::new(done));
        let burn = |name: &str| {
            let done = Arc::clone(&done);
            let (burnt, wait) = std::sync::mpsc::channel::<()>();
            let thread = std::thread::Builder::new()
                .name(name.to_owned())
                .spawn(move || {
                    let own = || {
                        std::fs::read_to_string("/proc/thread-self/stat")
                            .map(|s| crate::CpuTime::parse(&s).total())
                            .unwrap_or(1.0)
                    };
                    let mut x = 0u64;
                    while own() < 0.2 {
                        for _ in 0..100_000 {
                            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
                        }
                    }
                    let _ = burnt.send(());
                    let _ = done.lock().unwrap().recv();
                    x
                })
                .unwrap();
            (thread, wait)
        };
        let (worker, worker_burnt) = burn(NAME);
        let (other, other_burnt) = burn("bench-other");
        worker_burnt.recv().unwrap();
        other_burnt.recv().unwrap();
        let used = host::threads_cpu(NAME).since(before).total();
        drop(measured);
        worker.join().unwrap();
        other.join().unwrap();
        // One thread's 0.2 s, not two threads' 0.4 s (the clock ticks every 10 ms).
        assert!((0.19..0.3).contains(&used), "{used}");
    }
}
