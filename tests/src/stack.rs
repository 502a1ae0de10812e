//! One child emulator on Redis and PostgreSQL with everything of its own: a fresh database, a
//! fresh key prefix, a free port. Tests seed rows through [`Stack::store`] (the same database,
//! opened by the test) and read back rows and published events.

use std::future::Future;
use std::time::Duration;

use conveyor_store::Store;
use conveyor_store::testing::TestDb;

use crate::process::{Emulator, UpOptions};
use crate::published::Streams;

/// The shared Redis the tests use unless told otherwise.
#[must_use]
pub fn shared_redis() -> String {
    std::env::var("CONVEYOR_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A child emulator, its database and its streams.
#[derive(Debug)]
pub struct Stack {
    /// The database.
    pub db: TestDb,
    /// The streams under the prefix.
    pub streams: Streams,
    /// The child.
    pub up: Emulator,
    /// How it was started.
    pub options: UpOptions,
}

impl Stack {
    /// `conveyor up` running `functions` on the shared Redis and a fresh database.
    pub async fn start(functions: &[&str], extra: &[&str]) -> Self {
        let db = TestDb::postgres().await;
        let database = db.url().to_owned();
        Self::start_on(db, &database, &shared_redis(), functions, extra).await
    }

    /// As [`Stack::start`], with the child reaching `db` at `database` and Redis at `redis`.
    pub async fn start_on(
        db: TestDb,
        database: &str,
        redis: &str,
        functions: &[&str],
        extra: &[&str],
    ) -> Self {
        let prefix = format!("test-child-{}:", uuid::Uuid::new_v4().simple());
        let options = UpOptions {
            database: database.to_owned(),
            redis: Some(redis.to_owned()),
            prefix: prefix.clone(),
            functions: functions.iter().map(|f| (*f).to_owned()).collect(),
            extra: extra.iter().map(|a| (*a).to_owned()).collect(),
            env: Vec::new(),
        };
        let streams = Streams::connect(redis, &prefix).await;
        let up = Emulator::start(&options).await;
        Self {
            db,
            streams,
            up,
            options,
        }
    }

    /// The database, as the test sees it.
    #[must_use]
    pub fn store(&self) -> &Store {
        self.db.store()
    }

    /// Kills the child (SIGKILL) and starts a new one with the same options plus `extra`.
    pub async fn restart(&mut self, extra: &[&str]) {
        self.up.kill().await;
        let mut options = self.options.clone();
        options.extra.extend(extra.iter().map(|a| (*a).to_owned()));
        self.up = Emulator::start(&options).await;
    }

    /// Kills the child, deletes the prefix's keys and drops the database.
    pub async fn finish(mut self) {
        self.up.kill().await;
        self.streams.clear().await;
        self.db.close().await;
    }
}

/// Polls `check` every 50 ms until it holds.
///
/// # Panics
/// After `within`, naming `what`.
pub async fn eventually<F, Fut>(what: &str, within: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if check().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
