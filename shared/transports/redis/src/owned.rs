//! Commands on entries that act only while this consumer still owns them in the group's pending
//! list, each one script so the check and the claim happen together:
//! - [`touch`]: `XCLAIM ... 0 ... JUSTID` on many entries at once, resetting their idle time
//!   (the heartbeat on live work: another instance's reclaim loop only takes entries idle
//!   longer than the processing timeout) without counting a delivery;
//! - [`claim`]: one entry, either just to check that it is still ours (resetting its idle
//!   time) or, for a retry, to take it with its fields and count the delivery.
//!
//! An entry another instance claimed meanwhile (this one was stalled past the processing
//! timeout) or that was acknowledged is left alone: ownership never flips back.

use std::sync::LazyLock;

use ::redis::aio::ConnectionLike;
use ::redis::{RedisResult, Script, Value};

/// Most ids sent in one [`touch`] script (Lua's `unpack` takes a few thousand at most).
pub const TOUCH_CHUNK: usize = 500;

/// `KEYS`: the stream; `ARGV`: group, consumer, then ids. Returns how many were this
/// consumer's and had their idle time reset.
const TOUCH_SCRIPT: &str = r"
local mine = {}
for i = 3, #ARGV do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if #p > 0 and p[1][2] == ARGV[2] then
    mine[#mine + 1] = ARGV[i]
  end
end
local n = #mine
if n == 0 then
  return 0
end
mine[n + 1] = 'JUSTID'
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, unpack(mine))
return n
";

/// `KEYS`: the stream; `ARGV`: group, consumer, id, `1` for `JUSTID` (idle time only) or `0`
/// (the entry, its delivery counted). Returns the `XCLAIM` reply, or an empty array when the
/// entry is not this consumer's.
const CLAIM_SCRIPT: &str = r"
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)
if #p == 0 or p[1][2] ~= ARGV[2] then
  return {}
end
if ARGV[4] == '1' then
  return redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'JUSTID')
end
return redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3])
";

static TOUCH: LazyLock<Script> = LazyLock::new(|| Script::new(TOUCH_SCRIPT));
static CLAIM: LazyLock<Script> = LazyLock::new(|| Script::new(CLAIM_SCRIPT));

/// Whose entries: the stream, the group (the function's name) and this consumer.
#[derive(Debug, Clone, Copy)]
pub struct Owner<'a> {
    /// The stream's full key.
    pub stream: &'a str,
    /// The consumer group.
    pub group: &'a str,
    /// The consumer that must own the entries.
    pub consumer: &'a str,
}

/// Resets the idle time of those of `ids` this consumer still owns (in chunks of
/// [`TOUCH_CHUNK`]); returns how many it did.
///
/// # Errors
/// The Redis error; chunks before it were touched.
pub async fn touch(
    con: &mut impl ConnectionLike,
    owner: Owner<'_>,
    ids: &[String],
) -> RedisResult<usize> {
    let mut touched = 0;
    for chunk in ids.chunks(TOUCH_CHUNK) {
        let mut invocation = TOUCH.prepare_invoke();
        invocation
            .key(owner.stream)
            .arg(owner.group)
            .arg(owner.consumer)
            .arg(chunk);
        let n: usize = invocation.invoke_async(con).await?;
        touched += n;
    }
    Ok(touched)
}

/// Claims entry `id` if this consumer still owns it: with `just_id`, only its idle time is
/// reset and the reply is the id; without, the reply is the entry and its delivery is counted.
/// An empty array when the entry is not this consumer's (claimed elsewhere, acknowledged or
/// gone).
///
/// # Errors
/// The Redis error.
pub async fn claim(
    con: &mut impl ConnectionLike,
    owner: Owner<'_>,
    id: &str,
    just_id: bool,
) -> RedisResult<Value> {
    CLAIM
        .key(owner.stream)
        .arg(owner.group)
        .arg(owner.consumer)
        .arg(id)
        .arg(if just_id { "1" } else { "0" })
        .invoke_async(con)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire;

    fn url() -> String {
        std::env::var("CONVEYOR_TEST_REDIS_URL")
            .unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
    }

    async fn cmd(con: &mut impl ConnectionLike, args: &[&str]) -> Value {
        ::redis::cmd(args[0])
            .arg(&args[1..])
            .query_async(con)
            .await
            .unwrap()
    }

    /// (consumer, idle ms, deliveries) of each pending entry, by id.
    async fn pending(con: &mut impl ConnectionLike, stream: &str) -> Vec<(String, i64, u32)> {
        let rows = cmd(con, &["XPENDING", stream, "g", "-", "+", "100"]).await;
        wire::pending(rows)
            .into_iter()
            .map(|p| (p.consumer, p.idle_ms, p.deliveries))
            .collect()
    }

    #[tokio::test]
    async fn only_the_owners_entries_are_touched_or_claimed() {
        let mut con = crate::connect_plain(&url()).await.unwrap();
        let stream = format!("test-owned-{:016x}", rand::random::<u64>());
        cmd(
            &mut con,
            &["XGROUP", "CREATE", &stream, "g", "0", "MKSTREAM"],
        )
        .await;
        let mut ids = Vec::new();
        for _ in 0..3 {
            ids.push(
                wire::text(cmd(&mut con, &["XADD", &stream, "*", "data", "{}"]).await).unwrap(),
            );
        }
        // a reads all three; b takes the last; the first is acknowledged.
        cmd(
            &mut con,
            &["XREADGROUP", "GROUP", "g", "a", "STREAMS", &stream, ">"],
        )
        .await;
        cmd(
            &mut con,
            &["XCLAIM", &stream, "g", "b", "0", &ids[2], "JUSTID"],
        )
        .await;
        cmd(&mut con, &["XACK", &stream, "g", &ids[0]]).await;
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;

        let a = Owner {
            stream: &stream,
            group: "g",
            consumer: "a",
        };
        assert_eq!(
            touch(&mut con, a, &ids).await.unwrap(),
            1,
            "only a's live entry"
        );
        let after = pending(&mut con, &stream).await;
        assert_eq!(after.len(), 2);
        assert_eq!(after[0].0, "a");
        assert_eq!(after[0].2, 1, "a touch counts no delivery");
        assert_eq!(after[1].0, "b", "b's entry stays b's");
        assert!(
            after[0].1 < after[1].1,
            "and only a's was refreshed: {after:?}"
        );

        let just = claim(&mut con, a, &ids[1], true).await.unwrap();
        assert_eq!(
            just,
            Value::Array(vec![Value::BulkString(ids[1].clone().into_bytes())])
        );
        let whole = claim(&mut con, a, &ids[1], false).await.unwrap();
        let key = std::sync::Arc::from(stream.as_str());
        assert_eq!(
            wire::entries(&key, whole).len(),
            1,
            "the entry with its fields"
        );
        assert_eq!(
            pending(&mut con, &stream).await[0].2,
            2,
            "that claim counted a delivery"
        );
        for id in [&ids[0], &ids[2]] {
            let refused = claim(&mut con, a, id, false).await.unwrap();
            assert_eq!(refused, Value::Array(Vec::new()), "{id} is not a's");
        }
        assert_eq!(pending(&mut con, &stream).await[1].0, "b");
        cmd(&mut con, &["DEL", &stream]).await;
    }
}
