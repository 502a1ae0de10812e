//! The lease that makes one instance at a time consume an ordered function's group: the key
//! `<prefix>conveyor:lease:<function>` holds the holder's token (its instance id and a random
//! part) with a TTL. It is taken with `SET NX PX`, renewed every third of the TTL by a script
//! that extends it only while it still holds this token, and deleted the same way on a graceful
//! stop, so a standby takes over at once. When the holder dies the key expires and a standby,
//! trying every third of the TTL, takes it within about one TTL and a third.
//!
//! A holder that cannot renew for a whole TTL (Redis unreachable) or finds another token in the
//! key steps down: it stops reading and starting entries, lets the handlers already running
//! finish, and stands by again. Those few may overlap with the new holder's first entries of
//! their keys (the new holder takes over everything pending at once); a holder that dies or
//! stops gracefully leaves no such overlap.

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use ::redis::aio::ConnectionManager;
use ::redis::{RedisResult, Script, Value};
use tokio::sync::watch;

use super::shared::stopped;

/// `KEYS`: the lease; `ARGV`: token, TTL in ms. Extends the TTL if the key holds the token.
const RENEW_SCRIPT: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
";

/// `KEYS`: the lease; `ARGV`: token. Deletes the key if it holds the token.
const RELEASE_SCRIPT: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

static RENEW: LazyLock<Script> = LazyLock::new(|| Script::new(RENEW_SCRIPT));
static RELEASE: LazyLock<Script> = LazyLock::new(|| Script::new(RELEASE_SCRIPT));

/// One instance's claim on a lease key.
#[derive(Debug, Clone)]
pub struct Lease {
    con: ConnectionManager,
    key: String,
    token: String,
    ttl: Duration,
}

impl Lease {
    /// A lease on `key` for `instance`, kept `ttl` at a time (not taken yet).
    #[must_use]
    pub fn new(con: ConnectionManager, key: String, instance: &str, ttl: Duration) -> Self {
        Self {
            con,
            key,
            token: format!("{instance}:{:016x}", rand::random::<u64>()),
            ttl: ttl.max(Duration::from_millis(30)),
        }
    }

    /// How often the holder renews and a standby tries: a third of the TTL.
    #[must_use]
    pub fn every(&self) -> Duration {
        self.ttl / 3
    }

    /// The TTL.
    #[must_use]
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    fn ttl_ms(&self) -> u64 {
        u64::try_from(self.ttl.as_millis()).unwrap_or(u64::MAX)
    }

    /// `SET <key> <token> NX PX <ttl>`: whether this instance now holds the lease.
    ///
    /// # Errors
    /// The Redis error.
    pub async fn acquire(&mut self) -> RedisResult<bool> {
        let reply: Value = ::redis::cmd("SET")
            .arg(&self.key)
            .arg(&self.token)
            .arg("NX")
            .arg("PX")
            .arg(self.ttl_ms())
            .query_async(&mut self.con)
            .await?;
        Ok(!matches!(reply, Value::Nil))
    }

    /// Extends the lease by a TTL if this instance still holds it; `false` when it does not.
    ///
    /// # Errors
    /// The Redis error.
    pub async fn renew(&mut self) -> RedisResult<bool> {
        let renewed: i64 = RENEW
            .key(&self.key)
            .arg(&self.token)
            .arg(self.ttl_ms())
            .invoke_async(&mut self.con)
            .await?;
        Ok(renewed == 1)
    }

    /// Gives the lease up if this instance holds it; `false` when it did not.
    ///
    /// # Errors
    /// The Redis error.
    pub async fn release(&mut self) -> RedisResult<bool> {
        let deleted: i64 = RELEASE
            .key(&self.key)
            .arg(&self.token)
            .invoke_async(&mut self.con)
            .await?;
        Ok(deleted == 1)
    }

    /// Tries to take the lease every [`Lease::every`] until it is taken (`true`) or `shutdown`
    /// turns `true` (`false`).
    pub async fn wait_for(&mut self, shutdown: &mut watch::Receiver<bool>) -> bool {
        loop {
            if *shutdown.borrow() {
                return false;
            }
            match self.acquire().await {
                Ok(true) => return true,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(lease = %self.key, error = %e, "could not ask for the lease");
                }
            }
            tokio::select! {
                () = tokio::time::sleep(self.every()) => {}
                () = stopped(shutdown) => return false,
            }
        }
    }

    /// Renews the lease every [`Lease::every`] until `done` turns `true`. Turns `stop` to
    /// `true` when `shutdown` does, and when the lease is lost (another token in the key, or no
    /// renewal for a whole TTL); it stops renewing in the latter case. Returns whether the
    /// lease is still held.
    pub async fn keep(
        &mut self,
        mut shutdown: watch::Receiver<bool>,
        stop: &watch::Sender<bool>,
        mut done: watch::Receiver<bool>,
    ) -> bool {
        let mut renewed = Instant::now();
        loop {
            let stopping = *stop.borrow();
            tokio::select! {
                () = tokio::time::sleep(self.every()) => {}
                () = stopped(&mut done) => return true,
                () = stopped(&mut shutdown), if !stopping => {
                    let _ = stop.send(true);
                    continue;
                }
            }
            match self.renew().await {
                Ok(true) => renewed = Instant::now(),
                Ok(false) => {
                    tracing::warn!(lease = %self.key, "lease lost to another instance; standing by");
                    let _ = stop.send(true);
                    return false;
                }
                Err(e) if renewed.elapsed() >= self.ttl => {
                    tracing::warn!(lease = %self.key, error = %e, "lease not renewed for its whole TTL; standing by");
                    let _ = stop.send(true);
                    return false;
                }
                Err(e) => {
                    tracing::warn!(lease = %self.key, error = %e, "could not renew the lease; trying again");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url() -> String {
        std::env::var("CONVEYOR_TEST_REDIS_URL")
            .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
    }

    #[tokio::test]
    async fn one_holder_at_a_time_renewed_by_its_token_and_released_for_the_next() {
        let settings = crate::RedisSettings::new(&url());
        let con = settings.connect(Duration::from_secs(5)).await.unwrap();
        let key = format!("test-lease-{:016x}", rand::random::<u64>());
        let ttl = Duration::from_secs(30);
        let mut a = Lease::new(con.clone(), key.clone(), "a", ttl);
        let mut b = Lease::new(con.clone(), key.clone(), "b", ttl);

        assert!(a.acquire().await.unwrap());
        assert!(!b.acquire().await.unwrap(), "held by a");
        assert!(a.renew().await.unwrap());
        assert!(!b.renew().await.unwrap(), "b's token is not in the key");
        assert!(!b.release().await.unwrap(), "nor can b delete it");
        assert!(a.release().await.unwrap());
        assert!(b.acquire().await.unwrap(), "free once released");
        assert!(!a.renew().await.unwrap(), "a lost it");

        // b stops renewing (dies): after the TTL the key is gone and a takes it.
        let mut con = con;
        let _: () = ::redis::cmd("PEXPIRE")
            .arg(&key)
            .arg(1)
            .query_async(&mut con)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let (_never, mut shutdown) = watch::channel(false);
        assert!(a.wait_for(&mut shutdown).await, "a takes the expired lease");
        assert!(!b.renew().await.unwrap());

        // a holder that finds another token steps down and says so.
        let _: () = ::redis::cmd("SET")
            .arg(&key)
            .arg("someone-else")
            .query_async(&mut con)
            .await
            .unwrap();
        let short = Lease::new(con.clone(), key.clone(), "a", Duration::from_millis(60));
        let mut short = Lease {
            token: a.token.clone(),
            ..short
        };
        let (stop, stopping) = watch::channel(false);
        let (_done, done) = watch::channel(false);
        assert!(!short.keep(shutdown.clone(), &stop, done).await, "lost");
        assert!(*stopping.borrow(), "told to stop");
        let _: () = ::redis::cmd("DEL")
            .arg(&key)
            .query_async(&mut con)
            .await
            .unwrap();
    }
}
