//! Dead letters: the stream `<prefix><function>.dlq`, one entry per failed event with the
//! original `data` and the failure (error, function, attempts, first_delivered_at, failed_at,
//! topic, event_id, source_id). Redrive moves entries to the function's inbox stream, so only
//! that function sees them again. An entry can be deleted, or edited: a new entry with the new
//! `data` and the same failure fields replaces it.

use std::sync::{Arc, LazyLock};

use ::redis::aio::ConnectionLike;
use ::redis::{RedisResult, Script, ScriptInvocation, ToRedisArgs, Value};
use conveyor_domain::Timestamp;
use conveyor_store::queue::DeadLetter;

use super::wire::{self, xadd};
use super::{RedisSettings, redis_error};
use conveyor_transport::broker::BrokerError;

/// The fields conveyor writes into a dead-letter entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LetterFields<'a> {
    /// The original body.
    pub data: &'a [u8],
    /// Why.
    pub error: &'a str,
    /// The function that failed it.
    pub function: &'a str,
    /// Deliveries made.
    pub attempts: u32,
    /// When the entry entered its stream.
    pub first_delivered_at: Timestamp,
    /// When it was dead-lettered.
    pub failed_at: Timestamp,
    /// The topic.
    pub topic: &'a str,
    /// The CloudEvent id (empty when the body was not a CloudEvent).
    pub event_id: &'a str,
    /// The original entry id.
    pub source_id: &'a str,
}

/// Where [`LetterFields`] writes its `field value` pairs: an `XADD`, or the arguments of the
/// dead-letter script ([`dead_letter_owned`]).
pub trait FieldSink {
    /// Appends `name value`.
    fn field<V: ToRedisArgs>(&mut self, name: &'static str, value: V);
}

impl FieldSink for ::redis::Cmd {
    fn field<V: ToRedisArgs>(&mut self, name: &'static str, value: V) {
        self.arg(name).arg(value);
    }
}

impl FieldSink for ScriptInvocation<'_> {
    fn field<V: ToRedisArgs>(&mut self, name: &'static str, value: V) {
        self.arg(name).arg(value);
    }
}

impl LetterFields<'_> {
    /// Appends `field value ...` to an `XADD` (or the dead-letter script's arguments).
    pub fn write(&self, sink: &mut impl FieldSink) {
        sink.field("data", self.data);
        sink.field("error", self.error);
        sink.field("function", self.function);
        sink.field("attempts", self.attempts);
        sink.field("first_delivered_at", self.first_delivered_at.to_rfc3339());
        sink.field("failed_at", self.failed_at.to_rfc3339());
        sink.field("topic", self.topic);
        sink.field("event_id", self.event_id);
        sink.field("source_id", self.source_id);
    }
}

/// Writes the dead letter and acknowledges the entry in one step, and only while the entry is
/// still pending for this consumer: an entry another instance has claimed since (or already
/// acknowledged) is left to it, so two instances never both dead-letter one delivery.
/// `KEYS`: the stream, the dead-letter stream; `ARGV`: group, entry id, consumer, `MAXLEN`,
/// then the letter's fields.
const DEAD_LETTER_SCRIPT: &str = r"
local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
if #pending == 0 or pending[1][2] ~= ARGV[3] then
  return 0
end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*', unpack(ARGV, 5))
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
return 1
";

static DEAD_LETTER: LazyLock<Script> = LazyLock::new(|| Script::new(DEAD_LETTER_SCRIPT));

/// Where a delivery's dead letter goes and whose delivery it is.
#[derive(Debug, Clone, Copy)]
pub struct Owned<'a> {
    /// The stream the entry was read from.
    pub stream: &'a str,
    /// The consumer group (the function's name).
    pub group: &'a str,
    /// The consumer that must still own the entry (this instance).
    pub consumer: &'a str,
    /// The entry's id.
    pub id: &'a str,
    /// The dead-letter stream.
    pub dlq: &'a str,
    /// `MAXLEN ~` of the dead-letter stream.
    pub maxlen: usize,
}

/// Dead-letters `entry` with `letter` and acknowledges it, in one script, if `entry.consumer`
/// still owns it: `Ok(true)` when written, `Ok(false)` when the entry is no longer this
/// consumer's (claimed by another instance, or acknowledged), and nothing was written.
///
/// # Errors
/// The Redis error; nothing was written then either.
pub async fn dead_letter_owned(
    con: &mut impl ConnectionLike,
    entry: Owned<'_>,
    letter: &LetterFields<'_>,
) -> RedisResult<bool> {
    let mut invocation = DEAD_LETTER.prepare_invoke();
    invocation
        .key(entry.stream)
        .key(entry.dlq)
        .arg(entry.group)
        .arg(entry.id)
        .arg(entry.consumer)
        .arg(entry.maxlen);
    letter.write(&mut invocation);
    let written: i64 = invocation.invoke_async(con).await?;
    Ok(written == 1)
}

/// The dead letters of an `XRANGE`/`XREVRANGE` reply on a dead-letter stream.
#[must_use]
pub fn parse(value: Value) -> Vec<DeadLetter> {
    let Value::Array(items) = value else {
        return Vec::new();
    };
    items
        .into_iter()
        .filter_map(|item| {
            let Value::Array(parts) = item else {
                return None;
            };
            let mut parts = parts.into_iter();
            let id = wire::text(parts.next()?)?;
            let mut letter = DeadLetter {
                first_attempt_at: Timestamp::from_millis(wire::id_millis(&id).unwrap_or(0)),
                failed_at: Timestamp::from_millis(wire::id_millis(&id).unwrap_or(0)),
                id,
                function: String::new(),
                event_id: String::new(),
                topic: String::new(),
                body: String::new(),
                error: String::new(),
                attempts: 0,
            };
            for (name, v) in wire::pairs(parts.next()?) {
                let time = |v| wire::text(v).and_then(|t| Timestamp::parse_rfc3339(&t).ok());
                match name.as_str() {
                    "data" => letter.body = wire::text(v).unwrap_or_default(),
                    "error" => letter.error = wire::text(v).unwrap_or_default(),
                    "function" => letter.function = wire::text(v).unwrap_or_default(),
                    "topic" => letter.topic = wire::text(v).unwrap_or_default(),
                    "event_id" => letter.event_id = wire::text(v).unwrap_or_default(),
                    "attempts" => {
                        letter.attempts = wire::int(v)
                            .and_then(|n| u32::try_from(n).ok())
                            .unwrap_or(0);
                    }
                    "first_delivered_at" => {
                        letter.first_attempt_at = time(v).unwrap_or(letter.first_attempt_at);
                    }
                    "failed_at" => letter.failed_at = time(v).unwrap_or(letter.failed_at),
                    _ => {}
                }
            }
            Some(letter)
        })
        .collect()
}

/// The newest `limit` dead letters of `function`.
///
/// # Errors
/// The Redis error.
pub async fn list(
    con: &mut impl ConnectionLike,
    settings: &RedisSettings,
    function: &str,
    limit: usize,
) -> Result<Vec<DeadLetter>, BrokerError> {
    let count = limit.min(i64::MAX as usize);
    let reply: Value = ::redis::cmd("XREVRANGE")
        .arg(settings.dlq_key(function))
        .arg("+")
        .arg("-")
        .arg("COUNT")
        .arg(count)
        .query_async(con)
        .await
        .map_err(|e| redis_error(&e))?;
    Ok(parse(reply))
}

/// Moves `function`'s dead letters (all, or those in `ids`) to its inbox stream, in one
/// transaction. Returns how many were moved.
///
/// # Errors
/// The Redis error; nothing was moved.
pub async fn redrive(
    con: &mut impl ConnectionLike,
    settings: &RedisSettings,
    function: &str,
    ids: Option<&[String]>,
) -> Result<usize, BrokerError> {
    let dlq: Arc<str> = Arc::from(settings.dlq_key(function));
    let letters = match ids {
        None => {
            let reply: Value = ::redis::cmd("XRANGE")
                .arg(&*dlq)
                .arg("-")
                .arg("+")
                .query_async(con)
                .await
                .map_err(|e| redis_error(&e))?;
            wire::entries(&dlq, reply)
        }
        Some(ids) => {
            let mut pipe = ::redis::pipe();
            for id in ids {
                pipe.cmd("XRANGE").arg(&*dlq).arg(id).arg(id);
            }
            let replies: Vec<RedisResult<Value>> = pipe
                .ignore_errors()
                .query_async(con)
                .await
                .map_err(|e| redis_error(&e))?;
            replies
                .into_iter()
                .flatten()
                .flat_map(|r| wire::entries(&dlq, r))
                .collect()
        }
    };
    if letters.is_empty() {
        return Ok(0);
    }
    let inbox = settings.inbox_key(function);
    let mut pipe = ::redis::pipe();
    pipe.atomic();
    for letter in &letters {
        let mut cmd = xadd(
            &inbox,
            settings.maxlen,
            letter.data.as_deref().unwrap_or_default(),
        );
        cmd.arg("topic")
            .arg(letter.topic.as_deref().unwrap_or_default());
        pipe.add_command(cmd).ignore();
    }
    pipe.cmd("XDEL")
        .arg(&*dlq)
        .arg(letters.iter().map(|l| l.id.as_str()).collect::<Vec<_>>())
        .ignore();
    pipe.query_async::<()>(con)
        .await
        .map_err(|e| redis_error(&e))?;
    tracing::info!(
        function,
        redriven = letters.len(),
        "dead letters redriven to the function's inbox"
    );
    Ok(letters.len())
}

/// Deletes `function`'s dead letters (all, or those in `ids`). Returns how many.
///
/// # Errors
/// The Redis error.
pub async fn delete(
    con: &mut impl ConnectionLike,
    settings: &RedisSettings,
    function: &str,
    ids: Option<&[String]>,
) -> Result<usize, BrokerError> {
    let dlq = settings.dlq_key(function);
    let deleted: i64 = match ids {
        Some([]) => 0,
        Some(ids) => ::redis::cmd("XDEL")
            .arg(&dlq)
            .arg(ids)
            .query_async(con)
            .await
            .map_err(|e| redis_error(&e))?,
        None => {
            let (n,): (i64,) = ::redis::pipe()
                .atomic()
                .cmd("XLEN")
                .arg(&dlq)
                .cmd("DEL")
                .arg(&dlq)
                .ignore()
                .query_async(con)
                .await
                .map_err(|e| redis_error(&e))?;
            n
        }
    };
    Ok(usize::try_from(deleted).unwrap_or(0))
}

/// Replaces the `data` of one dead letter. A stream entry cannot change, so a new entry with the
/// same failure fields (and the event id of the new body) takes the old one's place, in one
/// transaction. Returns the new entry id, or `None` when `id` is not in the stream.
///
/// # Errors
/// The Redis error; nothing changed.
pub async fn edit(
    con: &mut impl ConnectionLike,
    settings: &RedisSettings,
    function: &str,
    id: &str,
    body: &str,
) -> Result<Option<String>, BrokerError> {
    let dlq = settings.dlq_key(function);
    let reply: Value = ::redis::cmd("XRANGE")
        .arg(&dlq)
        .arg(id)
        .arg(id)
        .query_async(con)
        .await
        .map_err(|e| redis_error(&e))?;
    let Value::Array(mut items) = reply else {
        return Ok(None);
    };
    let Some(Value::Array(parts)) = items.pop() else {
        return Ok(None);
    };
    let Some(fields) = parts.into_iter().nth(1) else {
        return Ok(None);
    };
    let event_id = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("id").and_then(|i| i.as_str()).map(str::to_owned));
    let mut cmd = ::redis::cmd("XADD");
    cmd.arg(&dlq).arg("*");
    for (name, value) in wire::pairs(fields) {
        let value = match (name.as_str(), &event_id) {
            ("data", _) => body.as_bytes().to_vec(),
            ("event_id", Some(new)) => new.as_bytes().to_vec(),
            _ => wire::bytes(value).unwrap_or_default(),
        };
        cmd.arg(name).arg(value);
    }
    let (new_id,): (String,) = ::redis::pipe()
        .atomic()
        .add_command(cmd)
        .cmd("XDEL")
        .arg(&dlq)
        .arg(id)
        .ignore()
        .query_async(con)
        .await
        .map_err(|e| redis_error(&e))?;
    Ok(Some(new_id))
}
