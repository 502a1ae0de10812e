//! Jobs through Dapr's Jobs API, as daprd and its Scheduler drive them: the worker schedules
//! each of its jobs at start (once: a restart finds them alike and leaves them be; a sidecar
//! that refuses at first is asked again), and the Scheduler's trigger (`POST /job/<name>`)
//! runs the job through the pipeline, with its effects, once per tick. Over gRPC the trigger
//! is `OnJobEventAlpha1` (or the stable `OnJobEvent`), with the same answers.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use conveyor_catalog as catalog;
use conveyor_dapr::{Mode, Schedules, WorkerConfig};
use conveyor_domain::{ManualClock, Timestamp};
use conveyor_runtime::cron::Schedule;
use conveyor_runtime::{
    Context, Function, FunctionSpec, HandlerError, JobReport, ScheduleHandler, Service, schedule,
};
use serde_json::json;

use conveyor_dapr::grpc::proto::runtime::JobEventRequest;
use tonic::Code;

use super::grpc_harness::{Daprd, FakeDaprApi, grpc_config, with_token};
use super::harness::{Answer, Echoed, FakeSidecar, TestWorker, call, config};

const APP_TOKEN: &str = "app-token-for-the-test";
const SIDECAR_TOKEN: &str = "sidecar-token-for-the-test";

fn jobs_config(service: Service, sidecar: &FakeSidecar) -> WorkerConfig {
    WorkerConfig {
        schedules: Schedules::Jobs,
        app_api_token: Some(APP_TOKEN.to_owned()),
        dapr_api_token: Some(SIDECAR_TOKEN.to_owned()),
        ..config(service, Mode::Cron, sidecar)
    }
}

/// Waits (up to 10 s) until `done` holds.
async fn eventually(what: &str, done: impl Fn() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < Duration::from_secs(10), "{what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn trigger(worker: &TestWorker, job: &str, token: Option<&str>) -> Answer {
    let mut headers = vec![("content-type", "application/json")];
    if let Some(token) = token {
        headers.push(("dapr-api-token", token));
    }
    // daprd sends the job's data as the body; the worker needs only the name.
    call(
        "POST",
        &worker.url(&format!("/job/{job}")),
        &headers,
        br#"{"schedule":"@every 1m"}"#,
    )
    .await
}

#[tokio::test]
async fn every_job_is_scheduled_once_at_start_and_a_restart_leaves_them_alike() {
    let sidecar = FakeSidecar::start().await;
    // The sidecar's Scheduler is not reachable at first: the worker asks again.
    sidecar.refuse_schedules(1);
    let functions = Mode::Cron.select(Service::Warehouse, catalog::all());
    let expected: Vec<(String, String)> = functions
        .iter()
        .map(|f| {
            let spec = f.spec();
            let cron = Schedule::parse(spec.schedule().unwrap()).unwrap();
            (spec.name.to_owned(), cron.to_dapr())
        })
        .collect();
    assert!(expected.len() > 1);
    let worker = TestWorker::start(jobs_config(Service::Warehouse, &sidecar), &functions).await;
    eventually("every job scheduled", || {
        let calls = sidecar.job_calls();
        calls
            .iter()
            .filter(|c| c.method == "POST" && c.status == 204)
            .count()
            == expected.len()
    })
    .await;
    worker.stop().await;
    let held: Vec<(String, String)> = sidecar.jobs().into_iter().collect();
    let mut wanted = expected.clone();
    wanted.sort();
    assert_eq!(held, wanted);
    let first = sidecar.job_calls();
    let posts: Vec<_> = first.iter().filter(|c| c.method == "POST").collect();
    // One per job, and one more for the refused attempt.
    assert_eq!(posts.len(), expected.len() + 1, "{first:#?}");
    assert_eq!(posts[0].status, 500);
    for call in &first {
        assert_eq!(call.token.as_deref(), Some(SIDECAR_TOKEN), "{call:?}");
    }
    for post in &posts {
        assert_eq!(post.body["overwrite"], true, "{post:?}");
        assert!(
            post.body["schedule"]
                .as_str()
                .unwrap()
                .starts_with("CRON_TZ=UTC 0 ")
        );
    }

    // A restart (or a second replica) finds every job alike: it reads them and schedules none.
    let worker = TestWorker::start(jobs_config(Service::Warehouse, &sidecar), &functions).await;
    eventually("every job read back", || {
        sidecar.job_calls().len() == first.len() + expected.len()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    worker.stop().await;
    let again = &sidecar.job_calls()[first.len()..];
    assert!(
        again.iter().all(|c| c.method == "GET" && c.status == 200),
        "{again:#?}"
    );
    let read: Vec<&str> = again.iter().map(|c| c.name.as_str()).collect();
    let names: Vec<&str> = expected.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(read, names);
}

/// A job that announces each run: its effect is an event published after commit.
#[derive(Debug, Default)]
struct Announce {
    runs: Arc<AtomicU32>,
}

impl ScheduleHandler for Announce {
    const SPEC: FunctionSpec =
        FunctionSpec::on_schedule("test-announce", Service::Order, "*/5 * * * *");

    async fn run_once(
        &self,
        _scheduled: Timestamp,
        cx: &mut Context<'_>,
    ) -> Result<JobReport, HandlerError> {
        let n = self.runs.fetch_add(1, Ordering::SeqCst) + 1;
        cx.publish(&Echoed { n })?;
        Ok(JobReport::batch(1, 100))
    }
}

#[tokio::test]
async fn a_trigger_runs_the_job_with_its_effects_once_per_tick_and_is_refused_without_the_token() {
    let sidecar = FakeSidecar::start().await;
    let job = Announce::default();
    let runs = Arc::clone(&job.runs);
    let functions: Vec<Arc<dyn Function>> = vec![schedule(job)];
    let at = Timestamp::parse_rfc3339("2026-11-22T10:05:00.120Z").unwrap();
    let config = WorkerConfig {
        clock: Arc::new(ManualClock::new(at)),
        ..jobs_config(Service::Order, &sidecar)
    };
    let worker = TestWorker::start(config, &functions).await;

    for token in [None, Some("wrong")] {
        let refused = trigger(&worker, "test-announce", token).await;
        assert_eq!(refused.status, 401, "{token:?}");
    }
    assert_eq!(runs.load(Ordering::SeqCst), 0);

    let ran = trigger(&worker, "test-announce", Some(APP_TOKEN)).await;
    assert_eq!(ran.status, 200, "{}", String::from_utf8_lossy(&ran.body));
    let body = ran.json();
    assert_eq!(body["outcome"], "ticked");
    assert_eq!(body["tick"], "2026-11-22T10:05:00.000Z");
    assert_eq!(body["published"], 1);
    let published = sidecar.accepted();
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].topic, "test.echoed");
    assert_eq!(published[0].body["data"], json!({ "n": 1 }));
    assert_eq!(published[0].body["source"], "order-worker");

    // The Scheduler retrying the same trigger: the tick has run.
    let again = trigger(&worker, "test-announce", Some(APP_TOKEN)).await;
    assert_eq!(again.json()["outcome"], "duplicate");
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(sidecar.accepted().len(), 1);

    let unknown = trigger(&worker, "warehouse-nightly", Some(APP_TOKEN)).await;
    assert_eq!(unknown.status, 404);
    let error = unknown.json()["error"].as_str().unwrap().to_owned();
    assert!(
        error.contains("no job named \"warehouse-nightly\" in order-worker"),
        "{error}"
    );
    assert!(error.contains("it serves test-announce"), "{error}");
    assert!(
        error.contains("DELETE /v1.0/jobs/warehouse-nightly"),
        "{error}"
    );

    // Jobs fire through the Scheduler only: no cron binding route is served.
    let binding = call(
        "POST",
        &worker.url("/test-announce"),
        &[("dapr-api-token", APP_TOKEN)],
        b"",
    )
    .await;
    assert_eq!(binding.status, 404);
    worker.stop().await;
}

#[tokio::test]
async fn with_cron_bindings_nothing_is_scheduled_and_no_job_callback_is_served() {
    let sidecar = FakeSidecar::start().await;
    let functions = Mode::Cron.select(Service::Order, catalog::all());
    let config = config(Service::Order, Mode::Cron, &sidecar);
    assert_eq!(config.schedules, Schedules::CronBinding);
    let worker = TestWorker::start(config, &functions).await;
    let name = functions[0].spec().name;
    let answer = call("POST", &worker.url(&format!("/job/{name}")), &[], b"{}").await;
    assert_eq!(answer.status, 404);
    tokio::time::sleep(Duration::from_millis(200)).await;
    worker.stop().await;
    assert!(sidecar.job_calls().is_empty());
}

/// The request daprd sends a gRPC app when the Scheduler triggers `job`: its name, its data
/// (the schedule it was registered with, as a JSON `Any`) and `method: job/<name>`.
fn job_event(job: &str) -> JobEventRequest {
    JobEventRequest {
        name: job.to_owned(),
        data: Some(prost_types::Any {
            type_url: "type.googleapis.com/google.protobuf.Value".to_owned(),
            value: br#"{"schedule":"*/5 * * * *"}"#.to_vec(),
        }),
        method: format!("job/{job}"),
        content_type: String::new(),
        http_extension: None,
    }
}

#[tokio::test]
// `OnJobEventAlpha1` is deprecated in the protos, but sidecars before 1.18 call it.
#[allow(deprecated)]
async fn over_grpc_a_trigger_runs_the_job_once_per_tick_and_the_token_and_the_name_are_checked() {
    // The jobs are scheduled through the HTTP Jobs API; the events go out through gRPC.
    let sidecar = FakeSidecar::start().await;
    let api = FakeDaprApi::start().await;
    let job = Announce::default();
    let runs = Arc::clone(&job.runs);
    let functions: Vec<Arc<dyn Function>> = vec![schedule(job)];
    let at = Timestamp::parse_rfc3339("2026-11-22T10:05:00.120Z").unwrap();
    let config = WorkerConfig {
        clock: Arc::new(ManualClock::new(at)),
        schedules: Schedules::Jobs,
        app_api_token: Some(APP_TOKEN.to_owned()),
        dapr_http_port: sidecar.port,
        ..grpc_config(Service::Order, Mode::Cron, &api)
    };
    let worker = TestWorker::start(config, &functions).await;
    let mut daprd = Daprd::connect(&worker.base).await;

    for token in [None, Some("wrong")] {
        let refused = daprd
            .alpha
            .on_job_event_alpha1(with_token(job_event("test-announce"), token))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::Unauthenticated, "{token:?}");
        let refused = daprd
            .app
            .on_job_event(with_token(job_event("test-announce"), token))
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::Unauthenticated, "{token:?}");
    }
    assert_eq!(runs.load(Ordering::SeqCst), 0);

    daprd
        .alpha
        .on_job_event_alpha1(with_token(job_event("test-announce"), Some(APP_TOKEN)))
        .await
        .expect("the tick runs");
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    let published = api.accepted();
    assert_eq!(published.len(), 1, "{published:#?}");
    assert_eq!(published[0].call, "PublishEvent");
    assert_eq!(published[0].topic, "test.echoed");
    assert_eq!(published[0].body["data"], json!({ "n": 1 }));
    assert_eq!(published[0].body["source"], "order-worker");

    // The Scheduler retrying the trigger, on either name: the tick has run.
    daprd
        .app
        .on_job_event(with_token(job_event("test-announce"), Some(APP_TOKEN)))
        .await
        .expect("a duplicate is answered as done");
    daprd
        .alpha
        .on_job_event_alpha1(with_token(job_event("test-announce"), Some(APP_TOKEN)))
        .await
        .expect("a duplicate is answered as done");
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(api.accepted().len(), 1);

    for unknown in [
        daprd
            .alpha
            .on_job_event_alpha1(with_token(job_event("warehouse-nightly"), Some(APP_TOKEN)))
            .await
            .unwrap_err(),
        daprd
            .app
            .on_job_event(with_token(job_event("warehouse-nightly"), Some(APP_TOKEN)))
            .await
            .unwrap_err(),
    ] {
        assert_eq!(unknown.code(), Code::NotFound);
        let message = unknown.message();
        assert!(
            message.contains("no job named \"warehouse-nightly\" in order-worker"),
            "{message}"
        );
        assert!(message.contains("it serves test-announce"), "{message}");
        assert!(
            message.contains("DELETE /v1.0/jobs/warehouse-nightly"),
            "{message}"
        );
    }
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    worker.stop().await;
}

#[tokio::test]
// `OnJobEventAlpha1` is deprecated in the protos, but sidecars before 1.18 call it.
#[allow(deprecated)]
async fn over_grpc_a_failed_tick_is_internal_so_the_scheduler_retries_it() {
    let sidecar = FakeSidecar::start().await;
    let api = FakeDaprApi::start().await;
    let functions: Vec<Arc<dyn Function>> = vec![schedule(Failing)];
    let config = WorkerConfig {
        schedules: Schedules::Jobs,
        dapr_http_port: sidecar.port,
        ..grpc_config(Service::Order, Mode::Cron, &api)
    };
    let worker = TestWorker::start(config, &functions).await;
    let mut daprd = Daprd::connect(&worker.base).await;
    for _ in 0..2 {
        let failed = daprd
            .alpha
            .on_job_event_alpha1(job_event("test-failing"))
            .await
            .unwrap_err();
        assert_eq!(failed.code(), Code::Internal);
        assert!(
            failed.message().contains("warehouse is on fire"),
            "{}",
            failed.message()
        );
    }
    worker.stop().await;
}

/// A job whose every run fails.
#[derive(Debug, Default)]
struct Failing;

impl ScheduleHandler for Failing {
    const SPEC: FunctionSpec =
        FunctionSpec::on_schedule("test-failing", Service::Order, "*/5 * * * *");

    async fn run_once(
        &self,
        _scheduled: Timestamp,
        _cx: &mut Context<'_>,
    ) -> Result<JobReport, HandlerError> {
        Err(HandlerError::retry("warehouse is on fire"))
    }
}
