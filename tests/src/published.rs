//! What a child emulator published, read back from Redis: the topic streams under its key
//! prefix (`XRANGE`), and the check that the events of one order are exactly the expected ones,
//! in causal order.
//!
//! Events of one order are not totally ordered: after `orders.order.status_changed`, the
//! fulfillment and the warehouse react concurrently. An expected flow is therefore a list of
//! steps; each step's events may come in any order among themselves, but every event of a step
//! is published no earlier than any event of the steps before it (stream ids are server
//! milliseconds), and within one topic stream the order is exact.

use std::collections::HashMap;

use conveyor_domain::Timestamp;
use conveyor_runtime::CloudEvent;
use redis::aio::MultiplexedConnection;
use redis::streams::StreamRangeReply;
use serde_json::Value;

/// One stream entry.
#[derive(Debug, Clone)]
pub struct Published {
    /// The stream entry id (`<ms>-<seq>`).
    pub entry: (u64, u64),
    /// The topic (the stream key without the prefix).
    pub topic: String,
    /// The CloudEvent.
    pub event: Value,
}

impl Published {
    /// `data.<field>` as text.
    #[must_use]
    pub fn field(&self, field: &str) -> Option<&str> {
        self.event["data"][field].as_str()
    }

    /// `<topic>` plus what tells its events apart: the new status, or the product.
    #[must_use]
    pub fn signature(&self) -> String {
        match self
            .field("new_status")
            .or_else(|| self.field("product_id"))
        {
            Some(detail) if !self.topic.starts_with("payment.") => {
                format!("{} {detail}", self.topic)
            }
            _ => self.topic.clone(),
        }
    }
}

fn parse_id(id: &str) -> (u64, u64) {
    let (ms, seq) = id.split_once('-').unwrap_or((id, "0"));
    (ms.parse().unwrap_or(0), seq.parse().unwrap_or(0))
}

/// The streams of one key prefix.
#[derive(Clone)]
pub struct Streams {
    con: MultiplexedConnection,
    /// The prefix.
    pub prefix: String,
}

impl std::fmt::Debug for Streams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Streams")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl Streams {
    /// Connects to `url`.
    ///
    /// # Panics
    /// When Redis is unreachable.
    pub async fn connect(url: &str, prefix: &str) -> Self {
        // Whole streams are read back: a reply may take longer than the client's default.
        let con = conveyor_redis::connect_plain(url)
            .await
            .unwrap_or_else(|e| panic!("Redis at {url}: {e}"));
        Self {
            con,
            prefix: prefix.to_owned(),
        }
    }

    /// A command on this connection.
    ///
    /// # Panics
    /// On a Redis error.
    pub async fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> T {
        cmd.query_async(&mut self.con.clone())
            .await
            .unwrap_or_else(|e| panic!("redis: {e}"))
    }

    /// Every entry of `topic`'s stream, oldest first.
    pub async fn topic(&self, topic: &str) -> Vec<Published> {
        let reply: StreamRangeReply = self
            .query(
                redis::cmd("XRANGE")
                    .arg(format!("{}{topic}", self.prefix))
                    .arg("-")
                    .arg("+"),
            )
            .await;
        reply
            .ids
            .iter()
            .map(|id| {
                let data: String = id.get("data").unwrap_or_default();
                Published {
                    entry: parse_id(&id.id),
                    topic: topic.to_owned(),
                    event: serde_json::from_str(&data).unwrap_or(Value::String(data)),
                }
            })
            .collect()
    }

    /// The topics that have a stream under the prefix (inbox and dead-letter streams aside).
    pub async fn topics(&self) -> Vec<String> {
        let keys: Vec<String> = self
            .query(redis::cmd("KEYS").arg(format!("{}*", self.prefix)))
            .await;
        let mut topics = Vec::new();
        for key in keys {
            let kind: String = self.query(redis::cmd("TYPE").arg(&key)).await;
            let topic = key[self.prefix.len()..].to_owned();
            if kind == "stream" && !topic.ends_with(".dlq") && !topic.ends_with(".inbox") {
                topics.push(topic);
            }
        }
        topics
    }

    /// Every event of every topic, by stream id.
    pub async fn all(&self) -> Vec<Published> {
        let mut all = Vec::new();
        for topic in self.topics().await {
            all.extend(self.topic(&topic).await);
        }
        all.sort_by_key(|p| p.entry);
        all
    }

    /// Every event whose payload names `order_id`.
    pub async fn of_order(&self, order_id: &str) -> Vec<Published> {
        self.all()
            .await
            .into_iter()
            .filter(|p| p.field("order_id") == Some(order_id))
            .collect()
    }

    /// `XADD <prefix><topic> * data <body> metadata {}` for each body, pipelined.
    pub async fn add(&self, topic: &str, bodies: &[String]) {
        let key = format!("{}{topic}", self.prefix);
        for chunk in bodies.chunks(1000) {
            let mut pipe = redis::pipe();
            for body in chunk {
                pipe.cmd("XADD")
                    .arg(&key)
                    .arg("*")
                    .arg("data")
                    .arg(body)
                    .arg("metadata")
                    .arg("{}")
                    .ignore();
            }
            let () = pipe
                .query_async(&mut self.con.clone())
                .await
                .unwrap_or_else(|e| panic!("XADD {key}: {e}"));
        }
    }

    /// Length of `<prefix><name>` (a topic or `<function>.dlq`).
    pub async fn len(&self, name: &str) -> u64 {
        self.query(redis::cmd("XLEN").arg(format!("{}{name}", self.prefix)))
            .await
    }

    /// Deletes every key under the prefix.
    pub async fn clear(&self) {
        let keys: Vec<String> = self
            .query(redis::cmd("KEYS").arg(format!("{}*", self.prefix)))
            .await;
        if !keys.is_empty() {
            let () = self.query(redis::cmd("DEL").arg(&keys)).await;
        }
    }
}

/// A CloudEvent JSON for `payload` on `topic`, as an external publisher sends it.
///
/// # Panics
/// When the payload does not serialise.
#[must_use]
pub fn cloudevent(topic: &str, payload: &impl serde::Serialize, now: Timestamp) -> String {
    let mut event = CloudEvent::new(topic, "test-publisher", payload, now).expect("serialises");
    event.correlationid = Some(format!("corr-{}", event.id));
    event.to_json()
}

/// Asserts that `actual` is exactly the events of `steps`, in their order (see the module doc).
///
/// # Panics
/// When it is not.
pub fn assert_flow(actual: &[Published], steps: &[&[&str]]) {
    let seen: Vec<String> = actual.iter().map(Published::signature).collect();
    let mut want: Vec<String> = steps
        .iter()
        .flat_map(|s| s.iter().map(|e| (*e).to_owned()))
        .collect();
    let mut got = seen.clone();
    want.sort();
    got.sort();
    assert_eq!(got, want, "events published (by stream id): {seen:#?}");
    // Each event's step: the k-th event of a signature (in its stream's order) takes the k-th
    // occurrence of that signature among the steps.
    let mut slots: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, step) in steps.iter().enumerate() {
        for sig in *step {
            slots.entry(sig).or_default().push(i);
        }
    }
    let mut by_stream: Vec<&Published> = actual.iter().collect();
    by_stream.sort_by(|a, b| a.topic.cmp(&b.topic).then(a.entry.cmp(&b.entry)));
    let mut taken: HashMap<String, usize> = HashMap::new();
    let placed: Vec<(&Published, usize)> = by_stream
        .into_iter()
        .map(|p| {
            let sig = p.signature();
            let k = taken.entry(sig.clone()).or_insert(0);
            let step = slots[sig.as_str()][*k];
            *k += 1;
            (p, step)
        })
        .collect();
    for (a, sa) in &placed {
        for (b, sb) in &placed {
            if sa < sb {
                let ordered = if a.topic == b.topic {
                    a.entry < b.entry
                } else {
                    a.entry.0 <= b.entry.0
                };
                assert!(
                    ordered,
                    "{} (step {sa}) was published after {} (step {sb}): {seen:#?}",
                    a.signature(),
                    b.signature()
                );
            }
        }
    }
}
