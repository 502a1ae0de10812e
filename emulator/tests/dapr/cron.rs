//! Cron bindings as daprd drives them: `OPTIONS /<job>` at start, then `POST /<job>` with an
//! empty body per firing. Every job of the service runs once per tick; overlapping firings of
//! one job do not run it twice at once.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use conveyor_catalog as catalog;
use conveyor_dapr::{Mode, WorkerConfig};
use conveyor_domain::{ManualClock, Timestamp};
use conveyor_runtime::{Function, Service, schedule};

use super::harness::{FakeSidecar, TestWorker, Tick, call, config};
use crate::functions::eventually;

async fn fire(worker: &TestWorker, job: &str) -> super::harness::Answer {
    call(
        "POST",
        &worker.url(&format!("/{job}")),
        &[
            ("content-type", "application/json"),
            ("readTimeUTC", "2026-11-22 10:05:00.003 +0000 UTC"),
            ("timeZone", "UTC"),
        ],
        b"",
    )
    .await
}

#[tokio::test]
async fn every_cron_binding_of_each_service_is_probed_and_runs_its_job_once_per_tick() {
    let sidecar = FakeSidecar::start().await;
    let at = Timestamp::parse_rfc3339("2026-11-22T10:05:00.003Z").unwrap();
    for service in Service::ALL {
        let functions = Mode::Cron.select(service, catalog::all());
        let jobs: Vec<&str> = functions.iter().map(|f| f.spec().name).collect();
        let config = WorkerConfig {
            clock: Arc::new(ManualClock::new(at)),
            ..config(service, Mode::Cron, &sidecar)
        };
        let worker = TestWorker::start(config, &functions).await;
        for job in &jobs {
            let probe = call("OPTIONS", &worker.url(&format!("/{job}")), &[], b"").await;
            assert_eq!(probe.status, 200, "{job}");
            let first = fire(&worker, job).await;
            assert_eq!(
                first.status,
                200,
                "{job}: {}",
                String::from_utf8_lossy(&first.body)
            );
            assert_eq!(first.json()["outcome"], "ticked", "{job}");
            // Another replica's sidecar (or a retried firing) for the same tick.
            let again = fire(&worker, job).await;
            assert_eq!(again.json()["outcome"], "duplicate", "{job}");
        }
        let metrics = call("GET", &worker.url("/metrics"), &[], b"").await;
        let text = String::from_utf8_lossy(&metrics.body);
        for job in &jobs {
            assert!(
                text.contains(&format!("conveyor_cron_runs_total{{function=\"{job}\"}} 1")),
                "{job}: {text}"
            );
        }
        worker.stop().await;
    }
}

#[tokio::test]
async fn overlapping_firings_of_one_job_run_it_once() {
    let sidecar = FakeSidecar::start().await;
    let job = Tick {
        pause: Duration::from_millis(400),
        ..Tick::default()
    };
    let runs = Arc::clone(&job.runs);
    let functions: Vec<Arc<dyn Function>> = vec![schedule(job)];
    let worker = TestWorker::start(config(Service::Order, Mode::Cron, &sidecar), &functions).await;
    let (a, b) = tokio::join!(fire(&worker, "test-tick"), fire(&worker, "test-tick"));
    let mut outcomes = vec![
        a.json()["outcome"].as_str().unwrap().to_owned(),
        b.json()["outcome"].as_str().unwrap().to_owned(),
    ];
    outcomes.sort();
    assert_eq!(outcomes, ["skipped", "ticked"]);
    assert_eq!((a.status, b.status), (200, 200));
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    // The run's event names the tick as its cause.
    let ticked = if a.json()["outcome"] == "ticked" {
        &a
    } else {
        &b
    };
    let tick_id = format!("test-tick@{}", ticked.json()["tick"].as_str().unwrap());
    eventually("the run's event", || async {
        !sidecar.accepted().is_empty()
    })
    .await;
    // Publishing is at least once (the relay may publish it again): every copy names the tick.
    for published in sidecar.accepted() {
        assert_eq!(published.body["causationid"], tick_id.as_str());
    }
    worker.stop().await;
}
