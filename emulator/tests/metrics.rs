//! The metrics `up` exports, scraped from `GET /metrics` after real traffic, on the embedded
//! broker and on Redis (on SQS: `sqs::metrics`): each event's lag, the publisher's calls per transport, the duplicates
//! the inbox skipped, and the consumer lag per function.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use conveyor_domain::{Clock, SystemClock, Timestamp};
use conveyor_emulator::access::Access;
use conveyor_emulator::api::{self, ApiState};
use conveyor_emulator::up::{self, Running, UpConfig};
use conveyor_runtime::{Context, Function, FunctionSpec, HandlerError, Service, TopicHandler};
use http_body_util::BodyExt;
use tower::ServiceExt;

use crate::functions::{Ping, event_row, eventually, ping};
use crate::redis_common::{self, Pong, TestRedis};

const LISTEN: &str = "127.0.0.1:8790";
const FUNCTION: &str = "test-metrics";

async fn scrape(state: &ApiState) -> String {
    let request = Request::builder()
        .uri("/metrics")
        .header("host", LISTEN)
        .body(Body::empty())
        .unwrap();
    let response = api::router(state.clone(), Access::local(LISTEN.parse().unwrap()))
        .oneshot(request)
        .await
        .unwrap();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// The value of the series named exactly `series` (name and labels), if scraped.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| v.trim().parse().expect("a sample is a number"))
}

fn series(name: &str, labels: &str) -> String {
    format!("conveyor_{name}{{{labels}}}")
}

fn of_function(name: &str) -> String {
    series(name, &format!("function=\"{FUNCTION}\""))
}

fn lag_bucket(le: &str) -> String {
    series(
        "event_lag_seconds_bucket",
        &format!("le=\"{le}\",function=\"{FUNCTION}\""),
    )
}

/// Answers each ping with a pong (through the outbox and the publisher).
#[derive(Debug, Default)]
struct Answer;

impl TopicHandler for Answer {
    type Payload = Ping;
    const SPEC: FunctionSpec = FunctionSpec::on_topics(FUNCTION, Service::Order, &["test.ping"])
        .with_timeout(Duration::from_secs(30));

    async fn handle(&self, ping: Ping, cx: &mut Context<'_>) -> Result<(), HandlerError> {
        cx.publish(&Pong { n: ping.n })
    }
}

pub(crate) fn answering() -> Arc<dyn Function> {
    conveyor_runtime::topic(Answer)
}

/// Takes a second over each ping, one at a time, well inside its timeout; stateless, so it
/// holds no database connection while it sleeps (on SQLite a scrape would wait for it).
#[derive(Debug, Default)]
struct Slow(Arc<AtomicU32>);

impl TopicHandler for Slow {
    type Payload = Ping;
    const SPEC: FunctionSpec = FunctionSpec {
        concurrency: 1,
        ..FunctionSpec::on_topics(FUNCTION, Service::Order, &["test.ping"])
            .with_timeout(Duration::from_secs(30))
            .stateless()
    };

    async fn handle(&self, _ping: Ping, _cx: &mut Context<'_>) -> Result<(), HandlerError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_secs(1)).await;
        Ok(())
    }
}

/// An event published half a century late, a fresh one, and the fresh one again (a duplicate
/// for the inbox): three lags, two of them under the 10 s threshold, one over; the handlers'
/// publishes through `transport`; nothing left for the consumer.
pub(crate) async fn lags_publishes_and_duplicates(running: &Running, transport: &str) {
    let state = running.api_state();
    let fresh = event_row("test.ping", "test", &Ping { n: 2 }, SystemClock.now());
    running
        .broker
        .publish(&[ping(1), fresh.clone()])
        .await
        .unwrap();
    let handled = series("events_handled_total", &format!("function=\"{FUNCTION}\""));
    eventually("both events to be handled", || async {
        value(&scrape(&state).await, &handled) == Some(2.0)
    })
    .await;
    running
        .broker
        .publish(std::slice::from_ref(&fresh))
        .await
        .unwrap();
    eventually("the duplicate to be skipped", || async {
        value(&scrape(&state).await, &handled) == Some(3.0)
    })
    .await;
    let text = scrape(&state).await;
    let read = |s: &str| value(&text, s).unwrap_or_else(|| panic!("{s} in {text}"));
    assert_eq!(read(&of_function("event_lag_seconds_count")), 3.0);
    assert_eq!(read(&lag_bucket("10.0")), 2.0, "{text}");
    assert_eq!(read(&lag_bucket("300.0")), 2.0, "{text}");
    assert_eq!(read(&lag_bucket("+Inf")), 3.0, "{text}");
    // The old event's lag is the time since the Unix epoch.
    let since_epoch = Timestamp::from_millis(0)
        .millis()
        .abs_diff(SystemClock.now().millis());
    let sum = read(&of_function("event_lag_seconds_sum"));
    assert!(sum >= since_epoch as f64 / 1000.0 - 60.0, "{sum}");
    assert_eq!(read(&of_function("events_duplicates_skipped_total")), 1.0);
    let publishes = series(
        "publish_seconds_count",
        &format!("transport=\"{transport}\""),
    );
    // The two handled events' outbox rows: one call, or one each when they ran apart.
    assert!((1.0..=2.0).contains(&read(&publishes)), "{text}");
    assert!(
        read(&series(
            "publish_seconds_sum",
            &format!("transport=\"{transport}\"")
        )) > 0.0,
        "{text}"
    );
    eventually("the consumer lag to come back to zero", || async {
        value(&scrape(&state).await, &of_function("consumer_lag")) == Some(0.0)
    })
    .await;
}

#[tokio::test]
async fn embedded_metrics_show_lag_publishes_duplicates_and_queue_depth() {
    let dir = tempfile::tempdir().unwrap();
    let started = Arc::new(AtomicU32::new(0));
    let running = up::start(UpConfig {
        database: format!("sqlite://{}", dir.path().join("metrics.db").display()),
        functions: vec![conveyor_runtime::topic(Slow(Arc::clone(&started)))],
        relay_every: Duration::from_millis(200),
        ..UpConfig::default()
    })
    .await
    .unwrap();
    let state = running.api_state();
    // While the handlers sleep, the queue holds every event: the embedded broker's consumer
    // lag is its queue depth.
    running
        .broker
        .publish(&(10..16).map(ping).collect::<Vec<_>>())
        .await
        .unwrap();
    eventually("a handler to start", || async {
        started.load(Ordering::SeqCst) > 0
    })
    .await;
    let text = scrape(&state).await;
    assert_eq!(
        value(&text, &of_function("consumer_lag")),
        Some(6.0),
        "{text}"
    );
    eventually("the queue to drain", || async {
        value(&scrape(&state).await, &of_function("consumer_lag")) == Some(0.0)
    })
    .await;
    running.shutdown().await;

    let dir = tempfile::tempdir().unwrap();
    let running = up::start(UpConfig {
        database: format!("sqlite://{}", dir.path().join("metrics.db").display()),
        functions: vec![answering()],
        relay_every: Duration::from_millis(200),
        ..UpConfig::default()
    })
    .await
    .unwrap();
    lags_publishes_and_duplicates(&running, "embedded").await;
    running.shutdown().await;
}

#[tokio::test]
async fn redis_metrics_show_lag_publishes_duplicates_and_group_lag() {
    let redis = TestRedis::new().await;
    let dir = tempfile::tempdir().unwrap();
    let running = up::start(redis_common::config(
        &dir,
        vec![answering()],
        redis.settings("metrics"),
    ))
    .await
    .unwrap();
    lags_publishes_and_duplicates(&running, "redis").await;
    running.shutdown().await;
}
