//! order-session-cleanup against SQLite and PostgreSQL, through the inbox/outbox pipeline.

use conveyor_domain::order::Session;
use conveyor_runtime::context::Meta;
use conveyor_runtime::{Handled, JobReport, ScheduleHandler, invoke};
use conveyor_testkit::{Harness, on_both_backends, seed};
use order_session_cleanup::{BATCH_SIZE, OrderSessionCleanup};

const DAY: i64 = 24 * 60;

/// Two runs of the job scheduled an hour apart, started together.
async fn overlapping_ticks(h: &Harness) -> (Handled, Handled) {
    let (t0, t1) = (h.now(), h.now().add_minutes(60));
    let name = OrderSessionCleanup::SPEC.name;
    let (m0, m1) = (Meta::for_tick(name, t0, 1), Meta::for_tick(name, t1, 1));
    let (a, b) = tokio::join!(
        invoke::run_tick(&OrderSessionCleanup, &h.deps, &m0, t0),
        invoke::run_tick(&OrderSessionCleanup, &h.deps, &m1, t1),
    );
    (a.unwrap(), b.unwrap())
}

#[tokio::test]
async fn deletes_sessions_expired_more_than_24_hours_ago_and_nothing_else() {
    on_both_backends(|h| async move {
        let now = h.now();
        seed::order::insert_sessions(
            h.store(),
            &[
                seed::order::session("ses-valid", now, -10),
                seed::order::session("ses-23h59", now, DAY - 1),
                seed::order::session("ses-24h01", now, DAY + 1),
                Session {
                    customer_id: None,
                    ..seed::order::session("ses-guest-3d", now, 3 * DAY)
                },
            ],
        )
        .await;

        let run = h.tick(&OrderSessionCleanup).await.unwrap();
        assert_eq!(
            run.report,
            Some(JobReport {
                processed: 2,
                more: false
            })
        );
        for (session, kept) in [
            ("ses-valid", true),
            ("ses-23h59", true),
            ("ses-24h01", false),
            ("ses-guest-3d", false),
        ] {
            let found = seed::order::load_session(h.store(), session).await;
            assert_eq!(found.is_some(), kept, "{session}");
        }
        assert!(run.produced.is_empty() && h.published().is_empty());

        // The same tick again is recognised; the next tick finds nothing to do.
        assert!(h.tick(&OrderSessionCleanup).await.unwrap().duplicate);
        h.advance_minutes(1);
        let next = h.tick(&OrderSessionCleanup).await.unwrap();
        assert_eq!(next.report, Some(JobReport::default()));

        // An hour later the 23h59 session is past its retention too.
        h.advance_minutes(59);
        let later = h.tick(&OrderSessionCleanup).await.unwrap();
        assert_eq!(
            later.report,
            Some(JobReport {
                processed: 1,
                more: false
            })
        );
        assert!(
            seed::order::load_session(h.store(), "ses-23h59")
                .await
                .is_none()
        );
        assert!(
            seed::order::load_session(h.store(), "ses-valid")
                .await
                .is_some()
        );
        assert!(h.published().is_empty());
        h
    })
    .await;
}

#[tokio::test]
async fn a_full_batch_stops_at_the_limit_and_the_next_tick_takes_the_rest() {
    on_both_backends(|h| async move {
        let sessions: Vec<Session> = (0..=BATCH_SIZE)
            .map(|i| seed::order::session(&format!("ses-{i:04}"), h.now(), 2 * DAY))
            .collect();
        seed::order::insert_sessions(h.store(), &sessions).await;

        let run = h.tick(&OrderSessionCleanup).await.unwrap();
        assert_eq!(
            run.report,
            Some(JobReport {
                processed: BATCH_SIZE as u64,
                more: true
            })
        );
        assert_eq!(seed::order::count_rows(h.store(), "sessions").await, 1);

        h.advance_minutes(60);
        let rest = h.tick(&OrderSessionCleanup).await.unwrap();
        assert_eq!(
            rest.report,
            Some(JobReport {
                processed: 1,
                more: false
            })
        );
        assert_eq!(seed::order::count_rows(h.store(), "sessions").await, 0);
        h
    })
    .await;
}

#[tokio::test]
async fn overlapping_runs_delete_each_session_once() {
    on_both_backends(|h| async move {
        let sessions: Vec<Session> = (0..50_i64)
            .map(|i| seed::order::session(&format!("ses-{i:02}"), h.now(), 2 * DAY + i))
            .collect();
        seed::order::insert_sessions(h.store(), &sessions).await;

        let (a, b) = overlapping_ticks(&h).await;
        let processed = |r: &Handled| r.report.unwrap().processed;
        assert_eq!(processed(&a) + processed(&b), 50);
        assert_eq!(seed::order::count_rows(h.store(), "sessions").await, 0);
        h
    })
    .await;
}
