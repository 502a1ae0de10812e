//! The database of one test: a SQLite file of its own that every incarnation of the host opens
//! (a crash restarts the host on the same file), with the table the suite's functions record
//! their effects in.

use conveyor_store::{Store, sqlx};

/// The effects table.
pub(crate) const EFFECTS: &str = "conformance_effects";

/// One effect: which function took it, for which event, on which delivery, and what the event
/// names as its cause (its `causationid`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Effect {
    pub(crate) function: String,
    pub(crate) event_id: String,
    pub(crate) key: String,
    pub(crate) n: u32,
    pub(crate) attempt: u32,
    pub(crate) caused_by: Option<String>,
}

/// A test's database; the file goes when it is dropped.
#[derive(Debug)]
pub(crate) struct Db {
    url: String,
    _dir: tempfile::TempDir,
}

impl Db {
    /// A fresh file with the effects table (the hosts apply their own migrations at start).
    pub(crate) async fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let url = format!("sqlite://{}", dir.path().join("conformance.db").display());
        let store = Store::connect(&url).await.expect("the test database opens");
        sqlx::query(&format!(
            "CREATE TABLE {EFFECTS} (seq INTEGER PRIMARY KEY AUTOINCREMENT, function TEXT NOT NULL, \
             event_id TEXT NOT NULL, key TEXT NOT NULL, n INTEGER NOT NULL, attempt INTEGER NOT NULL, \
             caused_by TEXT)"
        ))
        .execute(store.pool())
        .await
        .expect("the effects table is created");
        store.close().await;
        Self { url, _dir: dir }
    }

    /// The URL every host of the test opens.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// Every committed effect, in the order they were committed.
    pub(crate) async fn effects(&self) -> Vec<Effect> {
        let store = Store::connect(&self.url)
            .await
            .expect("the test database opens");
        let rows: Vec<(String, String, String, i64, i64, Option<String>)> =
            sqlx::query_as(&format!(
                "SELECT function, event_id, key, n, attempt, caused_by FROM {EFFECTS} ORDER BY seq"
            ))
            .fetch_all(store.pool())
            .await
            .expect("the effects are read");
        store.close().await;
        rows.into_iter()
            .map(|(function, event_id, key, n, attempt, caused_by)| Effect {
                function,
                event_id,
                key,
                n: u32::try_from(n).expect("a small number"),
                attempt: u32::try_from(attempt).expect("a small count"),
                caused_by,
            })
            .collect()
    }
}
