//! The Lambda host's schedule invocations, on SQLite and PostgreSQL: every input shape runs one
//! tick, a repeated tick runs once, failures carry stable error types, and each invocation
//! ends with a relay pass over what handlers left in the outbox.

use crate::support;

use conveyor_runtime::lambda::schedule::handle_tick;
use std::sync::Arc;

use conveyor_domain::ManualClock;
use conveyor_runtime::DeferredPublisher;
use conveyor_runtime::{Deps, MemoryPublisher, schedule, topic};
use conveyor_store::testing::TestDb;
use conveyor_store::{Backend, OutboxRow};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};
use support::probe::{Ending, Job, Probe, TICKED, Ticked, deps};

fn input(payload: Value) -> LambdaEvent<Value> {
    LambdaEvent::new(payload, Context::default())
}

fn ticks(publisher: &MemoryPublisher) -> Vec<(String, u32)> {
    publisher
        .events()
        .iter()
        .filter(|e| e.ty == TICKED)
        .map(|e| e.payload::<Ticked>().expect("Ticked decodes"))
        .map(|t| (t.scheduled, t.attempt))
        .collect()
}

#[tokio::test]
async fn every_schedule_input_shape_runs_one_tick() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let db = TestDb::of(backend).await;
        let (deps, publisher) = deps(db.store());
        let job = schedule(Job(Ending::Ok));
        let scheduler = json!({"scheduled_time": "2026-11-22T10:00:00Z", "attempt": "2"});
        let classic = json!({"version": "0", "id": "c-1", "detail-type": "Scheduled Event",
            "source": "aws.events", "account": "000000000000", "time": "2026-11-22T10:05:00Z",
            "region": "us-east-1", "resources": ["arn:aws:events:us-east-1:000000000000:rule/probe-job"],
            "detail": {}});
        let string_detail = json!({"version": "0", "id": "s-1", "detail-type": "Scheduled Event",
            "source": "aws.scheduler", "time": "2026-11-22T10:10:00Z", "detail": "{}"});

        let mut scheduled = Vec::new();
        for payload in [scheduler.clone(), classic, string_detail] {
            let done = handle_tick(job.as_ref(), &deps, input(payload))
                .await
                .unwrap_or_else(|e| panic!("{backend:?}: {e:?}"));
            assert_eq!(done["function"], "probe-job");
            assert_eq!(
                (done["duplicate"].clone(), done["processed"].clone()),
                (json!(false), json!(1))
            );
            assert_eq!(done["published"], 1);
            scheduled.push(done["scheduled"].as_str().unwrap().to_owned());
        }
        let times = ["10:00", "10:05", "10:10"].map(|t| format!("2026-11-22T{t}:00.000Z"));
        assert_eq!(scheduled, times);
        assert_eq!(
            ticks(&publisher),
            [
                (times[0].clone(), 2),
                (times[1].clone(), 1),
                (times[2].clone(), 1)
            ],
            "one run per tick; Scheduler's attempt number is the attempt"
        );
        // Each run's events name its tick as their cause.
        let causes: Vec<Option<String>> = publisher
            .events()
            .into_iter()
            .map(|e| e.causationid)
            .collect();
        let tick_ids = times.clone().map(|t| Some(format!("probe-job@{t}")));
        assert_eq!(causes, tick_ids);

        // The same tick again (a retry of the async invocation) does not run the job again.
        let again = handle_tick(job.as_ref(), &deps, input(scheduler))
            .await
            .unwrap();
        assert_eq!(again["duplicate"], true);
        assert_eq!(ticks(&publisher).len(), 3);

        // An input without a time runs the tick of "now".
        let now = handle_tick(job.as_ref(), &deps, input(json!({})))
            .await
            .unwrap();
        assert_eq!(now["scheduled"], "2026-11-22T10:00:00.000Z");
        assert_eq!(now["duplicate"], true, "10:00 has run already");
        db.close().await;
    }
}

#[tokio::test]
async fn failures_come_back_with_stable_error_types() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let db = TestDb::of(backend).await;
        let (deps, publisher) = deps(db.store());
        let tick = || input(json!({"scheduled_time": "2026-11-22T11:00:00Z"}));

        let retry = handle_tick(schedule(Job(Ending::Retry)).as_ref(), &deps, tick())
            .await
            .unwrap_err();
        assert_eq!(retry.error_type, "Conveyor.Retry", "{backend:?}");
        assert_eq!(retry.error_message, "database is restarting");

        let drop = handle_tick(schedule(Job(Ending::Drop)).as_ref(), &deps, tick())
            .await
            .unwrap_err();
        assert_eq!(drop.error_type, "Conveyor.Drop");
        assert_eq!(drop.error_message, "the job's configuration is invalid");

        let wrong = handle_tick(topic(Probe).as_ref(), &deps, tick())
            .await
            .unwrap_err();
        assert_eq!(wrong.error_type, "Conveyor.Drop");
        assert!(
            wrong.error_message.contains("is a topic function"),
            "{}",
            wrong.error_message
        );

        // Nothing was committed by the failed runs: the tick still runs once it can.
        let done = handle_tick(schedule(Job(Ending::Ok)).as_ref(), &deps, tick())
            .await
            .unwrap();
        assert_eq!(done["duplicate"], false);
        assert_eq!(ticks(&publisher).len(), 1);
        db.close().await;
    }
}

#[tokio::test]
async fn a_job_invocation_ends_by_publishing_what_handlers_left_in_the_outbox() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let db = TestDb::of(backend).await;
        let (deps, publisher) = deps(db.store());
        let now = deps.clock.now();
        // Two rows a handler committed but could not publish, long enough ago, and one staged
        // a moment ago by an invocation that may still publish it itself.
        let left: Vec<_> = ["left-1", "left-2"]
            .map(|id| OutboxRow::bare(id.to_owned(), "t".to_owned(), "{}".to_owned()))
            .to_vec();
        let young = OutboxRow::bare("young".to_owned(), "t".to_owned(), "{}".to_owned());
        let mut tx = db.store().begin().await.unwrap();
        tx.outbox_stage(&left, now.add_millis(-61_000))
            .await
            .unwrap();
        tx.outbox_stage(std::slice::from_ref(&young), now.add_millis(-1_000))
            .await
            .unwrap();
        tx.commit().await.unwrap();

        let done = handle_tick(
            schedule(Job(Ending::Ok)).as_ref(),
            &deps,
            input(json!({"scheduled_time": "2026-11-22T12:00:00Z"})),
        )
        .await
        .unwrap();
        assert_eq!(done["relayed"], 2, "{backend:?}");
        let ids: Vec<String> = publisher.rows().into_iter().map(|r| r.id).collect();
        assert!(ids.contains(&"left-1".to_owned()) && ids.contains(&"left-2".to_owned()));
        assert!(!ids.contains(&"young".to_owned()), "{ids:?}");
        assert_eq!(db.store().outbox_backlog().await.unwrap(), 1);

        // A failing job still relays; publishing deferred elsewhere relays nothing.
        let at = |ms| Deps {
            clock: Arc::new(ManualClock::new(now.add_millis(ms))),
            ..deps.clone()
        };
        let deferred = Deps {
            publisher: Arc::new(DeferredPublisher),
            ..at(1_000)
        };
        let aged = at(62_000);
        let tick = || input(json!({"scheduled_time": "2026-11-22T12:01:00Z"}));
        handle_tick(schedule(Job(Ending::Ok)).as_ref(), &deferred, tick())
            .await
            .unwrap();
        assert_eq!(
            db.store().outbox_backlog().await.unwrap(),
            2,
            "the tick's own event and young"
        );
        let failing = input(json!({"scheduled_time": "2026-11-22T12:02:00Z"}));
        handle_tick(schedule(Job(Ending::Retry)).as_ref(), &aged, failing)
            .await
            .unwrap_err();
        assert_eq!(db.store().outbox_backlog().await.unwrap(), 0);
        db.close().await;
    }
}
