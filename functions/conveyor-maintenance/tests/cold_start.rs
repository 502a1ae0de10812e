//! The real conveyor-maintenance binary against a local Lambda Runtime API and a fresh, empty
//! PostgreSQL database: its cold start migrates the way every Lambda's does (the same
//! configuration code), which creates the production schema and none of the embedded broker's
//! tables, and its tick prunes inbox rows past the retention set in its environment.

#[path = "../../../shared/runtime/tests/support/runtime_api.rs"]
mod runtime_api;

use std::process::Stdio;

use conveyor_domain::Timestamp;
use conveyor_store::testing::TestDb;
use runtime_api::{Outcome, RuntimeApi, WAIT};
use serde_json::json;
use tokio::process::Command;

async fn tables(db: &TestDb) -> Vec<String> {
    conveyor_store::sqlx::query_scalar(
        "SELECT table_schema || '.' || table_name FROM information_schema.tables \
         WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1",
    )
    .fetch_all(db.store().pool())
    .await
    .unwrap()
}

#[tokio::test]
async fn a_cold_start_creates_the_production_schema_and_a_tick_prunes_the_inbox() {
    let db = TestDb::empty_postgres().await;
    assert!(tables(&db).await.is_empty());
    let mut api = RuntimeApi::start().await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_conveyor-maintenance"))
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", &api.address)
        .env("AWS_LAMBDA_FUNCTION_NAME", "conveyor-maintenance")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("DATABASE_URL", db.url())
        .env("CONVEYOR_PUBLISH", "outbox")
        .env("CONVEYOR_INBOX_RETENTION_DAYS", "3")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn the function binary");

    // The first invocation is answered after the cold start, migrations included.
    let scheduled = Timestamp::parse_rfc3339("2026-11-22T10:00:00Z").unwrap();
    let outcome = api
        .invoke(json!({ "scheduled_time": scheduled.to_rfc3339() }))
        .await;
    assert!(matches!(outcome, Outcome::Response(_)), "{outcome:?}");
    let created = tables(&db).await;
    for table in [
        "conveyor.inbox",
        "conveyor.outbox",
        "orders.orders",
        "fulfillment.fulfillments",
        "warehouse.inventory",
        "public.conveyor_migrations",
    ] {
        assert!(created.contains(&table.to_owned()), "{table}: {created:?}");
    }
    for table in ["conveyor.queue", "conveyor.dead_letters"] {
        assert!(!created.contains(&table.to_owned()), "{table}: {created:?}");
    }

    // Rows 4 and 2 days before the next tick: with a retention of 3 days, the older goes.
    let mut tx = db.store().begin().await.unwrap();
    tx.inbox_claim("some-function", "old", scheduled.sub_days(3))
        .await
        .unwrap();
    tx.inbox_claim("some-function", "young", scheduled.sub_days(1))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let next = scheduled.add_minutes(24 * 60);
    let Outcome::Response(report) = api
        .invoke(json!({ "scheduled_time": next.to_rfc3339() }))
        .await
    else {
        panic!("the tick failed");
    };
    assert_eq!(report["more"], false, "{report}");
    let left: Vec<String> = conveyor_store::sqlx::query_scalar(
        "SELECT event_id FROM inbox WHERE function = 'some-function'",
    )
    .fetch_all(db.store().pool())
    .await
    .unwrap();
    assert_eq!(left, ["young"]);

    assert!(child.try_wait().unwrap().is_none(), "the function exited");
    child.start_kill().unwrap();
    tokio::time::timeout(WAIT, child.wait())
        .await
        .expect("the function stops when killed")
        .unwrap();
    db.close().await;
}
