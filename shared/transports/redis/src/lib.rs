//! The Redis Streams transport, wire-compatible with Dapr's `pubsub.redis`: a topic is the
//! stream `<prefix><topic>` holding `data` (the CloudEvent JSON) and `metadata` fields; every
//! function is one consumer group (group = function name, consumer = this instance's id) over
//! its topics' streams and its own inbox stream `<prefix><function>.inbox`, where redrive and
//! invoke write so that only that function sees an event again.
//!
//! Delivery is at-least-once: an entry is acknowledged only after it was handled or written to
//! the function's dead-letter stream `<prefix><function>.dlq`. A failing entry stays pending
//! while it waits for its retry; the delivery count Redis keeps in the pending list is the
//! attempt number. Every entry an instance holds has its idle time reset by a heartbeat, so
//! entries held by a crashed or stalled instance, and only those, are claimed again once idle
//! longer than the processing timeout. Several instances share a function's group; for a
//! function with an ordering key one of them at a time consumes it, chosen by a lease, and the
//! others stand by. Cron ticks fire once across instances through a lock key.
//!
//! # Layout
//! Each module imports only modules listed below it (none imports one that imports it back).
//! - [`consumer`] — one function's read loop, beside its reclaim loop; the lease for ordered ones
//! - [`lease`] — one instance at a time on an ordered function's group
//! - [`reclaim`] — claiming entries a crashed or stalled instance left pending
//! - [`dispatch`] — starting entries: in batches, in chunks of one invocation, one key at a time
//! - [`delivery`] — handling one entry: ack, retry while pending, or dead-letter
//! - [`heartbeat`] — keeping the entries this instance holds fresh, so no one claims live work
//! - [`shared`] — the state a function's loops and deliveries share, the entries held here
//! - [`received`] — an entry as received, its CloudEvent decoded once
//! - [`broker`] — publishing (pipelined `XADD`), the dead letters' port, depths
//! - [`dlq`] — dead-letter entries, listing and redrive
//! - [`owned`] — touching and claiming entries only while this consumer owns them
//! - [`acker`] — batched `XACK`s
//! - [`lock`] — the cross-instance tick lock
//! - [`retention`] — trimming the streams by age (`XTRIM MINID`)
//! - [`reader`] — the read loop's own connection: `XREADGROUP` replies parsed in place
//! - [`tls`] — `rediss://`: the trust and client certificate every connection uses
//! - [`resp`] — a cursor over RESP2 replies in a buffer
//! - [`wire`] — stream entries: replies read (fields by name, bytes or text), `XADD` written

pub mod acker;
pub mod broker;
pub mod consumer;
pub mod delivery;
pub mod dispatch;
pub mod dlq;
pub mod heartbeat;
pub mod lease;
pub mod lock;
pub mod owned;
pub mod reader;
pub mod received;
pub mod reclaim;
pub mod resp;
pub mod retention;
pub mod shared;
pub mod tls;
pub mod wire;

use std::time::Duration;

use ::redis::AsyncConnectionConfig;
use ::redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};

use self::tls::RedisTls;
use conveyor_transport::broker::BrokerError;

/// How the emulator uses Redis.
// Debug: below, by hand (the URL without its password).
#[derive(Clone, PartialEq, Eq)]
pub struct RedisSettings {
    /// `redis://host:port/db`, or `rediss://...` for TLS.
    pub url: String,
    /// For `rediss://`: the CA and client certificate (the public roots and none by default),
    /// shared by every connection.
    pub tls: RedisTls,
    /// Prepended to every key (like Dapr's namespace prefix); isolates environments and tests.
    pub prefix: String,
    /// This instance's consumer name; unique per running emulator.
    pub instance: String,
    /// Streams are trimmed to about this many entries (`MAXLEN ~`).
    pub maxlen: usize,
    /// Entries older than this are trimmed from the streams `conveyor up` uses, every few
    /// minutes ([`retention`]); `None` keeps them by length only.
    pub max_age: Option<Duration>,
    /// Most entries read per stream in one `XREADGROUP` (and pending entries checked at once).
    pub batch: usize,
    /// How long one `XREADGROUP` blocks waiting for entries (also the longest shutdown wait).
    pub block: Duration,
    /// Added to a function's timeout to give its processing timeout: entries pending longer
    /// are taken to be held by a crashed instance and are claimed again.
    pub claim_margin: Duration,
    /// When set, the processing timeout of every function instead of its timeout plus
    /// `claim_margin` (a short one makes recovery after a crash quick, at the risk of claiming
    /// entries a slow handler still works on; the inbox keeps their effects single).
    pub claim_after: Option<Duration>,
    /// How often pending entries are checked for crashed holders.
    pub reclaim_every: Duration,
    /// Longest an acknowledgement waits to be sent with others.
    pub ack_delay: Duration,
    /// How long a tick lock is kept.
    pub tick_lock_ttl: Duration,
    /// For a function with an ordering key: how long the lease that lets one instance at a
    /// time consume its group lasts without renewal (renewed every third of it). A standby
    /// takes over within about this long and a third after the holder dies.
    pub lease_ttl: Duration,
    /// For a function with an ordering key: most entries read and waiting behind their key's
    /// entry in flight; at this many, reading pauses until one of them runs (a key stuck in
    /// retries does not pull the rest of its stream into memory).
    pub max_waiting: usize,
    /// Most entries of one read a function with an inbox handles in one database transaction
    /// (one inbox statement, one outbox statement, one commit for all of them); 1 handles each
    /// entry in a transaction of its own.
    pub tx_batch: usize,
}

/// [`RedisSettings::tx_batch`] unless set.
pub const DEFAULT_TX_BATCH: usize = 32;

impl RedisSettings {
    /// Defaults for the server at `url`.
    #[must_use]
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            tls: RedisTls::default(),
            prefix: String::new(),
            instance: default_instance(),
            maxlen: 100_000,
            max_age: Some(retention::DEFAULT_MAX_AGE),
            batch: 100,
            block: Duration::from_secs(1),
            claim_margin: Duration::from_secs(5),
            claim_after: None,
            reclaim_every: Duration::from_secs(15),
            ack_delay: Duration::from_millis(5),
            tick_lock_ttl: Duration::from_secs(600),
            lease_ttl: Duration::from_secs(3),
            max_waiting: 10_000,
            tx_batch: DEFAULT_TX_BATCH,
        }
    }

    /// The key of topic `topic`'s stream.
    #[must_use]
    pub fn topic_key(&self, topic: &str) -> String {
        format!("{}{topic}", self.prefix)
    }

    /// The key of `function`'s inbox stream (redrive and invoke).
    #[must_use]
    pub fn inbox_key(&self, function: &str) -> String {
        format!("{}{function}.inbox", self.prefix)
    }

    /// The key of `function`'s dead-letter stream.
    #[must_use]
    pub fn dlq_key(&self, function: &str) -> String {
        format!("{}{function}.dlq", self.prefix)
    }

    /// The lock key of `job`'s tick in `minute` (`YYYY-MM-DDTHH:MM`).
    #[must_use]
    pub fn tick_key(&self, job: &str, minute: &str) -> String {
        format!("{}conveyor:tick:{job}:{minute}", self.prefix)
    }

    /// The key of the lease on `function`'s consumer group (ordered functions).
    #[must_use]
    pub fn lease_key(&self, function: &str) -> String {
        format!("{}conveyor:lease:{function}", self.prefix)
    }

    /// Connects a multiplexed, self-reconnecting connection whose replies may take up to
    /// `response_timeout`, and checks it with a `PING` (so a refused handshake, certificate or
    /// password shows here, naming the server, rather than at the first command).
    ///
    /// # Errors
    /// When the URL is invalid or the server cannot be reached or refuses the connection.
    pub async fn connect(
        &self,
        response_timeout: Duration,
    ) -> Result<ConnectionManager, BrokerError> {
        // A server that answers but refuses this client (its certificate, a client certificate,
        // the password, TLS expected) will not change its mind: that is reported at once. One
        // not up yet gets the manager's retries.
        let client = self.client()?;
        if let Err(e) = open_once(&client).await
            && !transient(&e)
        {
            return Err(self.connect_error(&e));
        }
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(response_timeout))
            .set_connection_timeout(Some(Duration::from_secs(5)))
            .set_number_of_retries(6)
            .set_max_delay(Duration::from_secs(2));
        let mut con = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(|e| self.connect_error(&e))?;
        ping(&mut con).await.map_err(|e| self.connect_error(&e))?;
        Ok(con)
    }

    /// A plain multiplexed connection (no reconnecting) whose replies may take up to
    /// [`PATIENT_REPLY`], checked with a `PING`.
    ///
    /// # Errors
    /// When the URL is invalid or the server cannot be reached or refuses the connection.
    pub async fn connect_once(&self) -> Result<MultiplexedConnection, BrokerError> {
        open_once(&self.client()?)
            .await
            .map_err(|e| self.connect_error(&e))
    }

    fn client(&self) -> Result<::redis::Client, BrokerError> {
        self.tls.client(&self.url).map_err(|e| BrokerError {
            transport: "redis",
            message: e.to_string(),
        })
    }

    /// A failure to connect, naming the server (never its credentials).
    fn connect_error(&self, e: &::redis::RedisError) -> BrokerError {
        BrokerError {
            transport: "redis",
            message: tls::explain(&tls::server(&self.url), &e.to_string()),
        }
    }
}

async fn open_once(client: &::redis::Client) -> ::redis::RedisResult<MultiplexedConnection> {
    let config = AsyncConnectionConfig::new()
        .set_response_timeout(Some(PATIENT_REPLY))
        .set_connection_timeout(Some(Duration::from_secs(5)));
    let mut con = client
        .get_multiplexed_async_connection_with_config(&config)
        .await?;
    ping(&mut con).await?;
    Ok(con)
}

/// Whether `e` may pass by waiting: the server is not listening yet, is slow, or is loading.
fn transient(e: &::redis::RedisError) -> bool {
    e.is_connection_refusal()
        || e.is_timeout()
        || matches!(e.retry_method(), ::redis::RetryMethod::WaitAndRetry)
}

async fn ping(con: &mut impl ::redis::aio::ConnectionLike) -> ::redis::RedisResult<()> {
    ::redis::cmd("PING").query_async::<()>(con).await
}

impl Default for RedisSettings {
    fn default() -> Self {
        Self::new("redis://127.0.0.1:6379")
    }
}

/// How long a one-off connection ([`connect_plain`]) waits for a reply: long enough for an
/// `XRANGE` of a whole test or bench stream on a loaded machine (the client's own default,
/// half a second, is not).
pub const PATIENT_REPLY: Duration = Duration::from_secs(60);

/// A plain multiplexed connection to `url` (no reconnecting, the public roots for `rediss://`)
/// whose replies may take up to [`PATIENT_REPLY`]: for the bench's clean-up and for tests that
/// read whole streams back. [`RedisSettings::connect_once`] takes TLS files.
///
/// # Errors
/// When the URL is invalid or the server cannot be reached.
pub async fn connect_plain(url: &str) -> Result<MultiplexedConnection, BrokerError> {
    RedisSettings::new(url).connect_once().await
}

/// `<hostname>-<pid>-<random>`: unique per process, readable in `XINFO CONSUMERS`.
#[must_use]
pub fn default_instance() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "conveyor".to_owned());
    format!(
        "{host}-{}-{:04x}",
        std::process::id(),
        rand::random::<u16>()
    )
}

/// A Redis failure as a transport error.
#[must_use]
pub fn redis_error(e: &::redis::RedisError) -> BrokerError {
    BrokerError {
        transport: "redis",
        message: e.to_string(),
    }
}

/// Whether the server answered with error `code` (`NOGROUP`, `BUSYGROUP`, ...).
#[must_use]
pub fn has_code(e: &::redis::RedisError, code: &str) -> bool {
    e.code() == Some(code) || e.to_string().contains(code)
}
impl std::fmt::Debug for RedisSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSettings")
            .field("url", &conveyor_store::redact::Redacted(&self.url))
            .field("prefix", &self.prefix)
            .field("instance", &self.instance)
            .field("maxlen", &self.maxlen)
            .field("max_age", &self.max_age)
            .field("batch", &self.batch)
            .field("block", &self.block)
            .finish_non_exhaustive()
    }
}
