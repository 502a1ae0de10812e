//! The worker and its database in production: with migrations switched off it creates nothing
//! (a separate `conveyor migrate` step does, under a role the worker does not need), and a pool
//! that gives no connection within its acquire timeout makes a delivery `RETRY`, never `DROP`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use clap::Parser;
use conveyor_dapr::{Mode, Worker, WorkerConfig, WorkerError};
use conveyor_emulator::cli::args::{Cli, Command};
use conveyor_runtime::{Function, Service, topic};
use conveyor_store::testing::TestDb;
use conveyor_store::{Backend, PoolOptions, Store};
use serde_json::json;

use super::harness::{FakeSidecar, TestWorker, config, dapr_event, deliver};
use crate::functions::Flaky;

/// Every table of the database outside PostgreSQL's own schemas.
async fn tables(store: &Store) -> Vec<String> {
    conveyor_store::sqlx::query_scalar(
        "SELECT table_schema || '.' || table_name FROM information_schema.tables \
         WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1",
    )
    .fetch_all(store.pool())
    .await
    .unwrap()
}

/// Takes `store`'s connection as soon as the worker's relay or maintenance pass gives it back.
async fn hold(
    store: &Store,
) -> conveyor_store::sqlx::pool::PoolConnection<conveyor_store::sqlx::Any> {
    for _ in 0..50 {
        if let Ok(connection) = store.pool().acquire().await {
            return connection;
        }
    }
    panic!("the worker never gave its connection back");
}

/// The worker's one function, test-flaky, and the count of its calls.
fn flaky_function() -> (Vec<Arc<dyn Function>>, Arc<AtomicU32>) {
    let flaky = Flaky::default();
    let calls = Arc::clone(&flaky.calls);
    (vec![topic(flaky)], calls)
}

#[tokio::test]
async fn with_migrations_off_a_fresh_database_stays_empty_until_conveyor_migrate_runs() {
    let db = TestDb::empty_postgres().await;
    let sidecar = FakeSidecar::start().await;
    let (functions, calls) = flaky_function();
    let worker = TestWorker::on(
        WorkerConfig {
            database: db.url().to_owned(),
            migrate: false,
            ..config(Service::Order, Mode::Event, &sidecar)
        },
        &functions,
    )
    .await;
    assert_eq!(tables(db.store()).await, Vec::<String>::new());

    // Without its tables a delivery is retried (the migrations may be on their way), not lost.
    let ping = dapr_event("e-1", "test.ping", &json!({ "n": 1 }));
    assert_eq!(
        deliver(&worker, "/test-flaky", &ping).await.dapr_status(),
        "RETRY"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0);

    // What `conveyor migrate` applies: the core set; the worker then handles the redelivery.
    db.store().migrate().await.unwrap();
    assert_eq!(
        deliver(&worker, "/test-flaky", &ping).await.dapr_status(),
        "SUCCESS"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    worker.stop().await;
    db.close().await;
}

/// `url` with `role` as its user and no password (the test server trusts loopback logins).
fn as_role(url: &str, role: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let host = rest.split_once('@').map_or(rest, |(_, host)| host);
    format!("{scheme}://{role}@{host}")
}

async fn run(store: &Store, sql: &str) {
    conveyor_store::sqlx::raw_sql(sql)
        .execute(store.pool())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// What a deployment gives its workers: a role that reads and writes the tables `conveyor
/// migrate` created in every schema of `store`'s database, and may create nothing.
async fn grant_rows_only(store: &Store, role: &str) {
    for schema in ["public", "conveyor", "orders", "fulfillment", "warehouse"] {
        run(
            store,
            &format!(
                "GRANT USAGE ON SCHEMA {schema} TO {role}; \
                 GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role}; \
                 GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {role}"
            ),
        )
        .await;
    }
}

#[tokio::test]
async fn a_role_without_ddl_rights_runs_the_worker_once_conveyor_migrate_has_run() {
    let db = TestDb::empty_postgres().await;
    let role = format!("conveyor_rows_{:016x}", rand::random::<u64>());
    run(db.store(), &format!("CREATE ROLE {role} LOGIN")).await;
    let sidecar = FakeSidecar::start().await;
    let (functions, calls) = flaky_function();
    let worker_config = |migrate: bool| WorkerConfig {
        database: as_role(db.url(), &role),
        migrate,
        ..config(Service::Order, Mode::Event, &sidecar)
    };

    // Migrating at start needs rights the role does not have.
    let refused = Worker::start(worker_config(true), &functions)
        .await
        .expect_err("the role may not create tables");
    assert!(matches!(refused, WorkerError::Migrate(_)), "{refused:?}");
    assert!(
        refused.to_string().contains("permission denied"),
        "{refused}"
    );

    // The binary says so in one line, with what to do.
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_conveyor"))
        .args(["worker", "--service", "order", "--port", "0"])
        .env("CONVEYOR_DATABASE_URL", as_role(db.url(), &role))
        .env_remove("CONVEYOR_MIGRATE")
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: cannot apply the migrations at start: "),
        "{stderr}"
    );
    assert!(
        stderr
            .trim_end()
            .ends_with("start the worker with CONVEYOR_MIGRATE=false (or --migrate false)"),
        "{stderr}"
    );

    // The migrations as a step of their own, by a role that may; the worker without them.
    db.store().migrate().await.unwrap();
    grant_rows_only(db.store(), &role).await;
    let worker = TestWorker::on(worker_config(false), &functions).await;
    let ping = dapr_event("e-1", "test.ping", &json!({ "n": 1 }));
    assert_eq!(
        deliver(&worker, "/test-flaky", &ping).await.dapr_status(),
        "SUCCESS"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    worker.stop().await;
    run(
        db.store(),
        &format!("DROP OWNED BY {role}; DROP ROLE {role}"),
    )
    .await;
    db.close().await;
}

#[tokio::test]
async fn a_delivery_that_gets_no_connection_in_time_is_retried_never_dropped() {
    let db = TestDb::postgres().await;
    let sidecar = FakeSidecar::start().await;
    let (functions, calls) = flaky_function();
    let worker = TestWorker::on(
        WorkerConfig {
            database: db.url().to_owned(),
            pool: PoolOptions::new(1).with_acquire_timeout(Duration::from_millis(200)),
            ..config(Service::Order, Mode::Event, &sidecar)
        },
        &functions,
    )
    .await;

    // The pool's only connection is taken: the handler never runs, daprd is told to retry.
    let held = hold(&worker.store).await;
    let ping = dapr_event("e-1", "test.ping", &json!({ "n": 1 }));
    assert_eq!(
        deliver(&worker, "/test-flaky", &ping).await.dapr_status(),
        "RETRY"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0);

    // Given back, the redelivery is handled.
    drop(held);
    assert_eq!(
        deliver(&worker, "/test-flaky", &ping).await.dapr_status(),
        "SUCCESS"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    worker.stop().await;
    db.close().await;
}

#[test]
fn the_migrate_switch_and_the_acquire_timeout_parse_strictly() {
    let parse = |argv: &[&str]| {
        let full = ["conveyor", "worker", "--service", "order", "--database"]
            .into_iter()
            .chain(["postgres://worker@db/conveyor"])
            .chain(argv.iter().copied());
        match Cli::try_parse_from(full).map(|cli| cli.command) {
            Ok(Some(Command::Worker(args))) => Ok(args.config().unwrap()),
            Ok(other) => panic!("not a worker: {other:?}"),
            Err(e) => Err(e.to_string()),
        }
    };
    let default = parse(&[]).unwrap();
    assert!(default.migrate);
    assert_eq!(default.pool, PoolOptions::default());
    let tuned = parse(&["--migrate", "false", "--db-acquire-timeout-ms", "250"]).unwrap();
    assert!(!tuned.migrate);
    assert_eq!(
        tuned.pool.acquire_timeout(Backend::Postgres),
        Duration::from_millis(250)
    );
    for (argv, says) in [
        (
            ["--migrate", "no"],
            "set CONVEYOR_MIGRATE (or --migrate) to true or false",
        ),
        (
            ["--db-acquire-timeout-ms", "0"],
            "set CONVEYOR_DB_ACQUIRE_TIMEOUT_MS (or --db-acquire-timeout-ms) to a whole number of at least 1",
        ),
    ] {
        let error = parse(&argv).unwrap_err();
        let first = error.lines().next().unwrap();
        assert!(first.ends_with(says), "{error}");
    }

    let up = Cli::try_parse_from(["conveyor", "up", "--db-acquire-timeout-ms", "300"]).unwrap();
    let Some(Command::Up(args)) = up.command else {
        panic!("not up");
    };
    assert_eq!(
        args.pool.options().acquire_timeout(Backend::Sqlite),
        Duration::from_millis(300)
    );
}
