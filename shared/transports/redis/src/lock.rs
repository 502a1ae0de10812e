//! The cross-instance tick lock: `SET <prefix>conveyor:tick:<job>:<minute> <instance> NX PX <ttl>`.
//! The first emulator to set the key fires the tick; the others skip it. (When emulators share a
//! database the inbox also deduplicates ticks; the lock covers separate databases.)

use ::redis::Value;
use ::redis::aio::ConnectionManager;
use conveyor_domain::Timestamp;
use conveyor_runtime::publish::BoxFuture;

use super::RedisSettings;
use conveyor_transport::tick::TickLock;

/// A tick lock on Redis.
#[derive(Debug, Clone)]
pub struct RedisTickLock {
    con: ConnectionManager,
    settings: RedisSettings,
}

impl RedisTickLock {
    /// A lock over `con`, keyed and timed by `settings`.
    #[must_use]
    pub fn new(con: ConnectionManager, settings: RedisSettings) -> Self {
        Self { con, settings }
    }

    /// The lock key of `job`'s tick at `tick` (by minute, UTC).
    #[must_use]
    pub fn key(&self, job: &str, tick: Timestamp) -> String {
        let minute = tick.as_datetime().format("%Y-%m-%dT%H:%MZ").to_string();
        self.settings.tick_key(job, &minute)
    }
}

impl TickLock for RedisTickLock {
    /// When Redis cannot be asked, the tick fires anyway: jobs tolerate an overlapping run
    /// better than a lost one.
    fn acquire<'a>(&'a self, job: &'a str, tick: Timestamp) -> BoxFuture<'a, bool> {
        Box::pin(async move {
            let ttl = u64::try_from(self.settings.tick_lock_ttl.as_millis()).unwrap_or(u64::MAX);
            let reply: Result<Value, _> = ::redis::cmd("SET")
                .arg(self.key(job, tick))
                .arg(&self.settings.instance)
                .arg("NX")
                .arg("PX")
                .arg(ttl.max(1))
                .query_async(&mut self.con.clone())
                .await;
            match reply {
                Ok(Value::Nil) => false,
                Ok(_) => true,
                Err(e) => {
                    tracing::warn!(job, error = %e, "tick lock unavailable; firing anyway");
                    true
                }
            }
        })
    }
}
