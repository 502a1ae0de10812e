//! What the Redis transport tests share: a key prefix of their own on the test server (its keys
//! are deleted when the test ends, even when it fails), emulator settings for quick tests, and
//! purpose-built test functions.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use conveyor_domain::Timestamp;
use conveyor_domain::events::DomainEvent;
use conveyor_emulator::up::UpConfig;
use conveyor_redis::RedisSettings;
use conveyor_redis::dlq::LetterFields;
use conveyor_runtime::{Context, Function, FunctionSpec, HandlerError, Service, TopicHandler};
use redis::Value;
use redis::aio::MultiplexedConnection;
use serde::{Deserialize, Serialize};

pub(crate) use crate::functions::{Broken, FAST_RETRY, Flaky, Ping, eventually, ping, raw};

/// The test server (`CONVEYOR_TEST_REDIS_URL` overrides).
pub(crate) fn redis_url() -> String {
    std::env::var("CONVEYOR_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A random key prefix on the test server; its keys are deleted on drop.
pub(crate) struct TestRedis {
    pub(crate) prefix: String,
    pub(crate) con: MultiplexedConnection,
    client: redis::Client,
}

impl TestRedis {
    pub(crate) async fn new() -> Self {
        let client = redis::Client::open(redis_url()).unwrap();
        let con = conveyor_redis::connect_plain(&redis_url()).await.unwrap();
        Self {
            prefix: format!("test-{:016x}:", rand::random::<u64>()),
            con,
            client,
        }
    }

    /// Quick settings for one emulator instance named `instance`.
    pub(crate) fn settings(&self, instance: &str) -> RedisSettings {
        RedisSettings {
            prefix: self.prefix.clone(),
            instance: instance.to_owned(),
            block: Duration::from_millis(100),
            claim_margin: Duration::from_millis(200),
            reclaim_every: Duration::from_millis(100),
            ..RedisSettings::new(&redis_url())
        }
    }

    pub(crate) fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// Runs a raw command.
    pub(crate) async fn cmd(&self, args: &[&str]) -> Value {
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        cmd.query_async(&mut self.con.clone()).await.unwrap()
    }

    pub(crate) async fn xlen(&self, name: &str) -> i64 {
        match self.cmd(&["XLEN", &self.key(name)]).await {
            Value::Int(n) => n,
            other => panic!("XLEN answered {other:?}"),
        }
    }

    /// Entries of `name`'s stream, oldest first, as (id, field -> value).
    pub(crate) async fn entries(&self, name: &str) -> Vec<(String, Vec<(String, String)>)> {
        let Value::Array(items) = self.cmd(&["XRANGE", &self.key(name), "-", "+"]).await else {
            panic!("XRANGE is an array");
        };
        items
            .into_iter()
            .map(|item| {
                let Value::Array(mut parts) = item else {
                    panic!("entry")
                };
                let fields = parts.pop().unwrap();
                let id: String = redis::from_redis_value(parts.pop().unwrap()).unwrap();
                let flat: Vec<String> = redis::from_redis_value(fields).unwrap();
                (
                    id,
                    flat.chunks(2)
                        .map(|c| (c[0].clone(), c[1].clone()))
                        .collect(),
                )
            })
            .collect()
    }

    /// Writes a dead letter of `function` for a payment.confirmed CloudEvent with `event_id`
    /// (order id 7, a number: what fails decoding), as the consumer writes it, with `error`.
    pub(crate) async fn dead_letter(&self, function: &str, event_id: &str, error: &str) {
        let body = format!(
            r#"{{"id":"{event_id}","specversion":"1.0","source":"test","type":"payment.confirmed","data":{{"order_id":7}}}}"#
        );
        let mut cmd = redis::cmd("XADD");
        cmd.arg(self.key(&format!("{function}.dlq"))).arg("*");
        LetterFields {
            data: body.as_bytes(),
            error,
            function,
            attempts: 1,
            first_delivered_at: Timestamp::from_millis(1_000),
            failed_at: Timestamp::from_millis(2_000),
            topic: "payment.confirmed",
            event_id,
            source_id: "1-0",
        }
        .write(&mut cmd);
        let _: String = cmd.query_async(&mut self.con.clone()).await.unwrap();
    }

    /// A consumer `ghost` of `group` reads everything on `name`'s stream and vanishes without
    /// acknowledging (the group is created first if needed).
    pub(crate) async fn read_and_vanish(&self, name: &str, group: &str) {
        let stream = self.key(name);
        let _ = redis::cmd("XGROUP")
            .arg(&["CREATE", &stream, group, "0", "MKSTREAM"][..])
            .query_async::<Value>(&mut self.con.clone())
            .await;
        self.cmd(&[
            "XREADGROUP",
            "GROUP",
            group,
            "ghost",
            "COUNT",
            "100000",
            "STREAMS",
            &stream,
            ">",
        ])
        .await;
    }

    /// Entries of `name`'s stream pending in `group`.
    pub(crate) async fn pending(&self, name: &str, group: &str) -> i64 {
        match self.cmd(&["XPENDING", &self.key(name), group]).await {
            Value::Array(summary) => match summary.first() {
                Some(Value::Int(n)) => *n,
                other => panic!("XPENDING summary {other:?}"),
            },
            other => panic!("XPENDING answered {other:?}"),
        }
    }
}

impl TestRedis {
    /// `XINFO GROUPS` numbers (`pending`, `entries-read`, `lag`) of `group` on `name`'s stream.
    pub(crate) async fn group_info(&self, name: &str, group: &str) -> Vec<(String, i64)> {
        let Value::Array(groups) = self.cmd(&["XINFO", "GROUPS", &self.key(name)]).await else {
            panic!("XINFO GROUPS is an array");
        };
        for g in groups {
            let Value::Array(flat) = g else { continue };
            let mut out = Vec::new();
            let mut is_group = false;
            for pair in flat.chunks(2) {
                let k: String = redis::from_redis_value(pair[0].clone()).unwrap();
                match &pair[1] {
                    Value::Int(n) => out.push((k, *n)),
                    v => {
                        is_group |= k == "name"
                            && redis::from_redis_value::<String>(v.clone()).unwrap() == group
                    }
                }
            }
            if is_group {
                return out;
            }
        }
        panic!("no group {group} on {name}");
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        let Ok(mut con) = self.client.get_connection() else {
            return;
        };
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}*", self.prefix))
            .query(&mut con)
            .unwrap_or_default();
        if !keys.is_empty() {
            let _: Result<i64, _> = redis::cmd("DEL").arg(keys).query(&mut con);
        }
    }
}

pub(crate) fn config(
    dir: &tempfile::TempDir,
    functions: Vec<Arc<dyn Function>>,
    redis: RedisSettings,
) -> UpConfig {
    UpConfig {
        database: format!("sqlite://{}", dir.path().join("emu.db").display()),
        functions,
        relay_every: Duration::from_millis(200),
        redis: Some(redis),
        ..UpConfig::default()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Pong {
    pub(crate) n: u32,
}

impl DomainEvent for Pong {
    fn topic(&self) -> &'static str {
        "test.pong"
    }
}

/// Records every event it handles (id and attempt), optionally slowly, and answers each with a
/// `Pong`. Its processing timeout is short so crash recovery is quick to test.
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    pub(crate) seen: Arc<Mutex<Vec<(String, u32)>>>,
    pub(crate) started: Arc<AtomicU32>,
    pub(crate) pause: Duration,
}

impl TopicHandler for Recorder {
    type Payload = Ping;
    const SPEC: FunctionSpec = FunctionSpec {
        concurrency: 4,
        ..FunctionSpec::on_topics("test-recorder", Service::Order, &["test.ping"])
            .with_retry(FAST_RETRY)
            .with_timeout(Duration::from_millis(500))
    };

    async fn handle(&self, ping: Ping, cx: &mut Context<'_>) -> Result<(), HandlerError> {
        self.started.fetch_add(1, Ordering::SeqCst);
        if !self.pause.is_zero() {
            tokio::time::sleep(self.pause).await;
        }
        cx.publish(&Pong { n: ping.n })?;
        self.seen
            .lock()
            .unwrap()
            .push((cx.event_id().to_owned(), cx.attempt()));
        Ok(())
    }
}
