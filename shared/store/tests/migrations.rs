//! The two migration sets: the core set creates no table of the embedded broker, the broker's
//! set adds them, and a database migrated before the split (versions 1 to 7, the broker's
//! included) upgrades without applying anything twice.

use conveyor_store::testing::TestDb;
use conveyor_store::{Backend, Store};

/// Every table of the database, `schema.table` on PostgreSQL.
async fn tables(store: &Store) -> Vec<String> {
    let sql = match store.backend() {
        Backend::Postgres => {
            "SELECT table_schema || '.' || table_name FROM information_schema.tables \
             WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1"
        }
        Backend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1"
        }
    };
    sqlx::query_scalar(sql)
        .fetch_all(store.pool())
        .await
        .unwrap()
}

async fn versions(store: &Store) -> Vec<i64> {
    sqlx::query_scalar("SELECT version FROM conveyor_migrations ORDER BY version")
        .fetch_all(store.pool())
        .await
        .unwrap()
}

fn names(applied: &[conveyor_store::migrate::Applied]) -> Vec<&'static str> {
    applied.iter().map(|m| m.name).collect()
}

#[tokio::test]
async fn the_core_set_has_no_broker_table_and_the_broker_set_adds_them() {
    let db = TestDb::empty_postgres().await;
    let store = db.store();
    let applied = store.migrate().await.unwrap();
    assert_eq!(
        names(&applied),
        [
            "0001_conveyor",
            "0002_orders",
            "0003_fulfillment",
            "0004_warehouse",
            "0007_refunds_notifications",
            "0008_inbox_received_at",
            "0010_sagas",
            "0012_event_store"
        ]
    );
    let core = tables(store).await;
    assert!(core.contains(&"conveyor.inbox".to_owned()), "{core:?}");
    assert!(core.contains(&"conveyor.outbox".to_owned()), "{core:?}");
    assert!(!core.contains(&"conveyor.queue".to_owned()), "{core:?}");
    assert!(
        !core.contains(&"conveyor.dead_letters".to_owned()),
        "{core:?}"
    );
    assert!(store.migrate().await.unwrap().is_empty(), "applied once");

    let applied = store.migrate_embedded_broker().await.unwrap();
    assert_eq!(
        names(&applied),
        [
            "0005_queue",
            "0006_queue_ordering",
            "0009_dead_letters_failed_at",
            "0011_queue_walk"
        ]
    );
    let all = tables(store).await;
    assert!(all.contains(&"conveyor.queue".to_owned()), "{all:?}");
    assert!(all.contains(&"conveyor.dead_letters".to_owned()), "{all:?}");
    assert_eq!(versions(store).await, (1..=12).collect::<Vec<_>>());
    db.close().await;
}

/// The SQL of versions 1 to 7, as every host applied it before the split.
fn before_the_split(backend: Backend) -> [&'static str; 7] {
    match backend {
        Backend::Postgres => [
            include_str!("../migrations/postgres/0001_conveyor.sql"),
            include_str!("../migrations/postgres/0002_orders.sql"),
            include_str!("../migrations/postgres/0003_fulfillment.sql"),
            include_str!("../migrations/postgres/0004_warehouse.sql"),
            include_str!("../migrations/postgres/0005_queue.sql"),
            include_str!("../migrations/postgres/0006_queue_ordering.sql"),
            include_str!("../migrations/postgres/0007_refunds_notifications.sql"),
        ],
        Backend::Sqlite => [
            include_str!("../migrations/sqlite/0001_conveyor.sql"),
            include_str!("../migrations/sqlite/0002_orders.sql"),
            include_str!("../migrations/sqlite/0003_fulfillment.sql"),
            include_str!("../migrations/sqlite/0004_warehouse.sql"),
            include_str!("../migrations/sqlite/0005_queue.sql"),
            include_str!("../migrations/sqlite/0006_queue_ordering.sql"),
            include_str!("../migrations/sqlite/0007_refunds_notifications.sql"),
        ],
    }
}

async fn migrate_as_before_the_split(store: &Store) {
    let record = match store.backend() {
        Backend::Postgres => {
            "CREATE TABLE public.conveyor_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)"
        }
        Backend::Sqlite => {
            "CREATE TABLE conveyor_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)"
        }
    };
    sqlx::raw_sql(record).execute(store.pool()).await.unwrap();
    for (i, sql) in before_the_split(store.backend()).into_iter().enumerate() {
        sqlx::raw_sql(sql).execute(store.pool()).await.unwrap();
        sqlx::query(
            "INSERT INTO conveyor_migrations (version, name, applied_at) VALUES ($1, $2, 0)",
        )
        .bind(i64::try_from(i + 1).unwrap())
        .bind(format!("{:04}", i + 1))
        .execute(store.pool())
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn a_database_migrated_before_the_split_upgrades_on_every_host() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Store::connect(&format!("sqlite://{}", dir.path().join("old.db").display()))
        .await
        .unwrap();
    let postgres = TestDb::empty_postgres().await;
    for store in [&sqlite, postgres.store()] {
        migrate_as_before_the_split(store).await;
        // A Lambda or the worker: only what is new in the core set.
        assert_eq!(
            names(&store.migrate().await.unwrap()),
            ["0008_inbox_received_at", "0010_sagas", "0012_event_store"]
        );
        // `conveyor up` on the embedded broker: its tables are there, only its new indexes run.
        assert_eq!(
            names(&store.migrate_embedded_broker().await.unwrap()),
            ["0009_dead_letters_failed_at", "0011_queue_walk"]
        );
        assert_eq!(versions(store).await, (1..=12).collect::<Vec<_>>());
    }
    sqlite.close().await;
    postgres.close().await;
}
