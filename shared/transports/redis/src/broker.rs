//! Publishing to topic streams (one pipelined round trip per batch), each function's inbox,
//! consumer groups and depths; dead letters are in [`super::dlq`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ::redis::aio::ConnectionManager;
use ::redis::{RedisResult, Value};
use conveyor_runtime::publish::BoxFuture;
use conveyor_runtime::{Function, FunctionSpec, PublishError, Publisher};
use conveyor_store::OutboxRow;
use conveyor_store::queue::DeadLetter;

use super::wire::{self, xadd};
use super::{RedisSettings, dlq, has_code, redis_error};
use conveyor_transport::broker::{Broker, BrokerError};

/// The Redis Streams broker: where topics and functions live, and one shared connection.
#[derive(Debug)]
pub struct RedisBroker {
    settings: RedisSettings,
    con: ConnectionManager,
    subscribers: HashMap<&'static str, Vec<&'static str>>,
    consumers: Vec<FunctionSpec>,
}

impl RedisBroker {
    /// Connects and learns `functions`' subscriptions.
    ///
    /// # Errors
    /// When Redis cannot be reached.
    pub async fn connect(
        settings: RedisSettings,
        functions: &[Arc<dyn Function>],
    ) -> Result<Self, BrokerError> {
        let con = settings.connect(Duration::from_secs(5)).await?;
        let mut subscribers: HashMap<&'static str, Vec<&'static str>> = HashMap::new();
        let mut consumers = Vec::new();
        for f in functions {
            let spec = f.spec();
            if spec.topics().is_empty() {
                continue;
            }
            consumers.push(spec);
            for topic in spec.topics() {
                subscribers.entry(*topic).or_default().push(spec.name);
            }
        }
        Ok(Self {
            settings,
            con,
            subscribers,
            consumers,
        })
    }

    /// The settings.
    #[must_use]
    pub fn settings(&self) -> &RedisSettings {
        &self.settings
    }

    /// The shared (multiplexed) connection; never use it for blocking commands.
    #[must_use]
    pub fn connection(&self) -> ConnectionManager {
        self.con.clone()
    }

    /// The streams `spec` consumes: its topics' streams and its inbox.
    #[must_use]
    pub fn streams(&self, spec: &FunctionSpec) -> Vec<String> {
        let mut keys: Vec<String> = spec
            .topics()
            .iter()
            .map(|t| self.settings.topic_key(t))
            .collect();
        keys.push(self.settings.inbox_key(spec.name));
        keys
    }

    /// The streams whose entries this process keeps within the retention: every consumed
    /// topic's stream and every consumer's inbox, and the streams of `topics` (those it
    /// publishes to that no function of its own consumes), sorted, each once.
    #[must_use]
    pub fn retained_streams(&self, topics: &[&str]) -> Vec<String> {
        let mut keys: Vec<String> = self
            .consumers
            .iter()
            .flat_map(|spec| self.streams(spec))
            .chain(topics.iter().map(|t| self.settings.topic_key(t)))
            .collect();
        keys.sort();
        keys.dedup();
        keys
    }

    /// The topic an entry of `stream` was published to, when `stream` is a topic stream.
    #[must_use]
    pub fn topic_of(&self, spec: &FunctionSpec, stream: &str) -> Option<&'static str> {
        let topic = stream.strip_prefix(self.settings.prefix.as_str())?;
        spec.topics().iter().copied().find(|t| *t == topic)
    }

    /// Creates `group` on every stream (from the stream's start, creating the stream if
    /// needed); groups that exist are left alone.
    ///
    /// # Errors
    /// Any Redis error other than `BUSYGROUP`.
    pub async fn ensure_groups(&self, group: &str, streams: &[String]) -> RedisResult<()> {
        let mut pipe = ::redis::pipe();
        for key in streams {
            pipe.cmd("XGROUP")
                .arg("CREATE")
                .arg(key)
                .arg(group)
                .arg("0")
                .arg("MKSTREAM");
        }
        let results: Vec<RedisResult<Value>> = pipe
            .ignore_errors()
            .query_async(&mut self.connection())
            .await?;
        for r in results {
            match r {
                Err(e) if !has_code(&e, "BUSYGROUP") => return Err(e),
                _ => {}
            }
        }
        Ok(())
    }

    /// Writes a body to one function's inbox (invoke, or a redrive of an edited payload); only
    /// that function sees it. The body need not be a CloudEvent: poison is dead-lettered with
    /// its reason. Returns the entry id.
    ///
    /// # Errors
    /// The Redis error.
    pub async fn enqueue_for(
        &self,
        function: &str,
        topic: &str,
        body: &[u8],
    ) -> Result<String, BrokerError> {
        let mut cmd = xadd(
            &self.settings.inbox_key(function),
            self.settings.maxlen,
            body,
        );
        cmd.arg("topic").arg(topic);
        cmd.query_async(&mut self.connection())
            .await
            .map_err(|e| redis_error(&e))
    }

    /// What `spec`'s group has not acknowledged (pending) plus what it has not read yet (lag).
    async fn depth_of(&self, spec: &FunctionSpec) -> Result<i64, BrokerError> {
        self.group_count(spec, &["pending", "lag"]).await
    }

    /// The sum of the `wanted` fields of `spec`'s group in `XINFO GROUPS` over its streams. A
    /// field Redis does not know (a `lag` it cannot tell after trimming is nil) counts nothing.
    async fn group_count(&self, spec: &FunctionSpec, wanted: &[&str]) -> Result<i64, BrokerError> {
        let mut pipe = ::redis::pipe();
        for key in self.streams(spec) {
            pipe.cmd("XINFO").arg("GROUPS").arg(key);
        }
        let results: Vec<RedisResult<Value>> = pipe
            .ignore_errors()
            .query_async(&mut self.connection())
            .await
            .map_err(|e| redis_error(&e))?;
        let mut depth = 0;
        for groups in results.into_iter().flatten() {
            let Value::Array(groups) = groups else {
                continue;
            };
            for group in groups {
                let fields = wire::pairs(group);
                let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v);
                let is_ours = field("name")
                    .and_then(|v| wire::text(v.clone()))
                    .is_some_and(|n| n == spec.name);
                if is_ours {
                    for name in wanted {
                        if let Some(Value::Int(n)) = field(name) {
                            depth += n;
                        }
                    }
                }
            }
        }
        Ok(depth)
    }
}

impl Publisher for RedisBroker {
    fn publish<'a>(&'a self, events: &'a [OutboxRow]) -> BoxFuture<'a, Result<(), PublishError>> {
        Box::pin(async move {
            if events.is_empty() {
                return Ok(());
            }
            let mut pipe = ::redis::pipe();
            for row in events {
                pipe.add_command(xadd(
                    &self.settings.topic_key(&row.topic),
                    self.settings.maxlen,
                    row.body.as_bytes(),
                ));
            }
            let results: Vec<RedisResult<Value>> = pipe
                .ignore_errors()
                .query_async(&mut self.connection())
                .await
                .map_err(|e| PublishError::Transport {
                    target: "redis".to_owned(),
                    source: Box::new(e),
                })?;
            let mut failed_ids = Vec::new();
            let mut reason = String::new();
            for (row, result) in events.iter().zip(results) {
                if let Err(e) = result {
                    if reason.is_empty() {
                        reason = e.to_string();
                    }
                    failed_ids.push(row.id.clone());
                }
            }
            if failed_ids.is_empty() {
                Ok(())
            } else {
                Err(PublishError::Partial {
                    failed_ids,
                    total: events.len(),
                    reason,
                })
            }
        })
    }
}

impl Broker for RedisBroker {
    fn subscribers(&self, topic: &str) -> Vec<&'static str> {
        self.subscribers.get(topic).cloned().unwrap_or_default()
    }

    fn dead_letters<'a>(
        &'a self,
        function: Option<&'a str>,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<DeadLetter>, BrokerError>> {
        Box::pin(async move {
            let mut con = self.connection();
            if let Some(function) = function {
                return dlq::list(&mut con, &self.settings, function, limit).await;
            }
            let mut all = Vec::new();
            for spec in &self.consumers {
                all.extend(dlq::list(&mut con, &self.settings, spec.name, limit).await?);
            }
            all.sort_by(|a, b| {
                (b.failed_at, wire::id_millis(&b.id)).cmp(&(a.failed_at, wire::id_millis(&a.id)))
            });
            all.truncate(limit);
            Ok(all)
        })
    }

    fn redrive<'a>(
        &'a self,
        function: &'a str,
        ids: Option<&'a [String]>,
    ) -> BoxFuture<'a, Result<usize, BrokerError>> {
        Box::pin(async move {
            dlq::redrive(&mut self.connection(), &self.settings, function, ids).await
        })
    }

    fn deliver<'a>(
        &'a self,
        function: &'a str,
        events: &'a [OutboxRow],
    ) -> BoxFuture<'a, Result<usize, BrokerError>> {
        Box::pin(async move {
            if events.is_empty() {
                return Ok(0);
            }
            let inbox = self.settings.inbox_key(function);
            let mut pipe = ::redis::pipe();
            for row in events {
                let mut cmd = xadd(&inbox, self.settings.maxlen, row.body.as_bytes());
                cmd.arg("topic").arg(&row.topic);
                pipe.add_command(cmd);
            }
            let _: Vec<Value> = pipe
                .query_async(&mut self.connection())
                .await
                .map_err(|e| redis_error(&e))?;
            Ok(events.len())
        })
    }

    fn delete_dead_letters<'a>(
        &'a self,
        function: &'a str,
        ids: Option<&'a [String]>,
    ) -> BoxFuture<'a, Result<usize, BrokerError>> {
        Box::pin(
            async move { dlq::delete(&mut self.connection(), &self.settings, function, ids).await },
        )
    }

    fn edit_dead_letter<'a>(
        &'a self,
        function: &'a str,
        id: &'a str,
        body: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, BrokerError>> {
        Box::pin(async move {
            dlq::edit(&mut self.connection(), &self.settings, function, id, body).await
        })
    }

    fn dlq_depths(&self) -> BoxFuture<'_, Result<Vec<(String, i64)>, BrokerError>> {
        Box::pin(async move {
            let mut pipe = ::redis::pipe();
            for spec in &self.consumers {
                pipe.cmd("XLEN").arg(self.settings().dlq_key(spec.name));
            }
            let lengths: Vec<i64> = pipe
                .query_async(&mut self.connection())
                .await
                .map_err(|e| redis_error(&e))?;
            Ok(self
                .consumers
                .iter()
                .map(|s| s.name.to_owned())
                .zip(lengths)
                .collect())
        })
    }

    fn consumer_lags(&self) -> BoxFuture<'_, Result<Vec<(String, i64)>, BrokerError>> {
        Box::pin(async move {
            let mut out = Vec::with_capacity(self.consumers.len());
            for spec in &self.consumers {
                out.push((
                    spec.name.to_owned(),
                    self.group_count(spec, &["lag"]).await?,
                ));
            }
            Ok(out)
        })
    }

    fn depths(&self) -> BoxFuture<'_, Result<Vec<(String, i64)>, BrokerError>> {
        Box::pin(async move {
            let mut out = Vec::new();
            for spec in &self.consumers {
                let depth = self.depth_of(spec).await?;
                if depth > 0 {
                    out.push((spec.name.to_owned(), depth));
                }
            }
            out.sort();
            Ok(out)
        })
    }
}
