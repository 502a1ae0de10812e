//! Retention by age: entries older than [`RedisSettings::max_age`](super::RedisSettings) are
//! trimmed from the streams this process uses, beside the length bound every `XADD` applies
//! (`MAXLEN ~`). A stream takes one trimming strategy per `XADD`, so the age is applied
//! separately: every few minutes, one pipelined `XTRIM <stream> MINID <id>` per stream, the id
//! being the server's time (`TIME`, the clock entry ids come from) less the age.
//!
//! The trim is exact: Redis frees whole nodes below the id and marks the older entries of the
//! node that straddles it deleted, so one run costs about the entries it removes, and none
//! older than the age remains. Trimmed entries still pending in a group stay in its pending
//! list (Redis keeps the reference); an entry that old was dead-lettered long before.

use std::time::Duration;

use ::redis::aio::ConnectionManager;
use ::redis::{Cmd, RedisResult, Value};
use tokio::sync::watch;

/// How long entries are kept unless configured otherwise: the platform's 30 days.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(30 * 24 * 60 * 60);
/// Time between trimming runs.
pub const EVERY: Duration = Duration::from_secs(5 * 60);

/// The smallest entry id kept at `now_ms` (the server's Unix milliseconds): entries written
/// `max_age` or longer ago have smaller ids.
#[must_use]
pub fn min_id(now_ms: u64, max_age: Duration) -> String {
    let age = u64::try_from(max_age.as_millis()).unwrap_or(u64::MAX);
    format!("{}-0", now_ms.saturating_sub(age))
}

/// `XTRIM <key> MINID <id>`: removes every entry of `key` with a smaller id.
#[must_use]
pub fn xtrim(key: &str, min_id: &str) -> Cmd {
    let mut cmd = ::redis::cmd("XTRIM");
    cmd.arg(key).arg("MINID").arg(min_id);
    cmd
}

/// The server's clock, in Unix milliseconds.
///
/// # Errors
/// The Redis error, or a `TIME` reply that is not two numbers.
pub async fn server_ms(con: &mut ConnectionManager) -> RedisResult<u64> {
    let (secs, micros): (u64, u64) = ::redis::cmd("TIME").query_async(con).await?;
    Ok(secs * 1000 + micros / 1000)
}

/// Trims each of `keys` once: removes the entries older than `max_age` by the server's clock
/// (a key that does not exist stays absent). Returns the entries removed.
///
/// # Errors
/// The first Redis error (streams trimmed before it stay trimmed).
pub async fn trim_once(
    con: &mut ConnectionManager,
    keys: &[String],
    max_age: Duration,
) -> RedisResult<u64> {
    if keys.is_empty() {
        return Ok(0);
    }
    let id = min_id(server_ms(con).await?, max_age);
    let mut pipe = ::redis::pipe();
    for key in keys {
        pipe.add_command(xtrim(key, &id));
    }
    let removed: Vec<Value> = pipe.query_async(con).await?;
    Ok(removed
        .iter()
        .map(|v| match v {
            Value::Int(n) => u64::try_from(*n).unwrap_or(0),
            _ => 0,
        })
        .sum())
}

/// Trims `keys` at once and then every `every`, until `shutdown` turns `true`. A failed run is
/// logged and the next one tries again.
pub async fn run(
    mut con: ConnectionManager,
    keys: Vec<String>,
    max_age: Duration,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    while !*shutdown.borrow() {
        match trim_once(&mut con, &keys, max_age).await {
            Ok(0) => {}
            Ok(removed) => tracing::info!(
                removed,
                streams = keys.len(),
                max_age_s = max_age.as_secs(),
                "trimmed stream entries past their retention"
            ),
            Err(e) => {
                tracing::warn!(error = %e, "trimming streams by age failed; trying again at the next run")
            }
        }
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_min_id_is_the_server_time_less_the_age() {
        let day = Duration::from_secs(86_400);
        assert_eq!(min_id(1_764_900_000_000, day), "1764813600000-0");
        assert_eq!(min_id(5, day), "0-0", "never below the first id");
        let cmd = xtrim("t", "9-0").get_packed_command();
        assert_eq!(
            String::from_utf8(cmd).unwrap(),
            "*4\r\n$5\r\nXTRIM\r\n$1\r\nt\r\n$5\r\nMINID\r\n$3\r\n9-0\r\n"
        );
    }
}
