//! Command-line arguments.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

pub use conveyor_dapr::cli::args::{LogFormat, WorkerArgs};
use conveyor_dapr::cli::pool::PoolArgs;

use conveyor_redis::tls::{RedisTls, TlsError, TlsFiles};

/// Default HTTP address of `conveyor up`.
pub const DEFAULT_HTTP: &str = "127.0.0.1:8790";
/// Default API URL the operator commands talk to.
pub const DEFAULT_API: &str = "http://127.0.0.1:8790";

/// `conveyor`.
#[derive(Debug, Parser)]
#[command(
    name = "conveyor",
    version,
    about = "Run and operate conveyor's functions locally"
)]
pub struct Cli {
    /// The command; `up` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// What carries events between functions in `up`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Transport {
    /// In-process queue with state in the database (the default without `--redis`).
    Embedded,
    /// Redis Streams (the default with `--redis`).
    Redis,
    /// SQS queues: each topic function's queue is polled like Lambda's event source mapping.
    Sqs,
}

/// Where the SQS queues are: shared by `up --transport sqs` and `dlq redrive --sqs`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct SqsArgs {
    /// SQS and EventBridge endpoint (LocalStack, moto, ...); else AWS_ENDPOINT_URL_SQS /
    /// AWS_ENDPOINT_URL, else AWS itself. Credentials come from the standard AWS variables.
    #[arg(long, env = "CONVEYOR_SQS_ENDPOINT")]
    pub sqs_endpoint: Option<String>,
    /// AWS region (else AWS_REGION, AWS_DEFAULT_REGION, us-east-1).
    #[arg(long)]
    pub aws_region: Option<String>,
    /// Queue names are <prefix><function> and <prefix><function>-dlq; the Terraform in
    /// infra/terraform uses `<environment>-`, e.g. `dev-`.
    #[arg(long, env = "CONVEYOR_QUEUE_PREFIX", default_value = "")]
    pub queue_prefix: String,
}

/// Options of `up` for `--transport sqs`.
#[derive(Debug, Clone, clap::Args)]
pub struct SqsUpArgs {
    #[command(flatten)]
    pub queues: SqsArgs,
    /// EventBridge bus outgoing events are put on (its rules feed the queues); without one,
    /// events go straight to the queues of the subscribed functions.
    #[arg(long, env = "CONVEYOR_EVENT_BUS")]
    pub event_bus: Option<String>,
    /// Long-poll wait per receive, 0-20 s.
    #[arg(long, env = "CONVEYOR_SQS_WAIT_SECONDS", default_value_t = 20, value_parser = clap::value_parser!(i32).range(0..=20))]
    pub sqs_wait_seconds: i32,
    /// Messages per batch, 1-10.
    #[arg(long, env = "CONVEYOR_SQS_BATCH_SIZE", default_value_t = 10, value_parser = clap::value_parser!(i32).range(1..=10))]
    pub sqs_batch_size: i32,
    /// Create missing queues and DLQs as the Terraform does (for a local endpoint).
    #[arg(long, env = "CONVEYOR_SQS_CREATE_QUEUES")]
    pub sqs_create_queues: bool,
}

impl Default for SqsUpArgs {
    fn default() -> Self {
        Self {
            queues: SqsArgs::default(),
            event_bus: None,
            sqs_wait_seconds: 20,
            sqs_batch_size: 10,
            sqs_create_queues: false,
        }
    }
}

/// Options of `up`.
// Debug: in crate::redacted (the URLs without their passwords).
#[derive(Clone, clap::Args)]
pub struct UpArgs {
    /// Database URL: SQLite by default (no server needed), or postgres://...
    #[arg(long, env = "CONVEYOR_DATABASE_URL", default_value = crate::up::DEFAULT_DATABASE)]
    pub database: String,
    #[command(flatten)]
    pub pool: PoolArgs,
    /// The transport: embedded, redis (needs --redis) or sqs; by default redis when --redis is
    /// given, else embedded.
    #[arg(long, env = "CONVEYOR_TRANSPORT", value_enum)]
    pub transport: Option<Transport>,
    /// Redis Streams (Dapr `pubsub.redis` wire format) instead of the embedded broker.
    #[arg(long, env = "CONVEYOR_REDIS_URL")]
    pub redis: Option<String>,
    /// Key prefix on Redis (like Dapr's namespace prefix), to share one server.
    #[arg(long, env = "CONVEYOR_REDIS_PREFIX", default_value = "")]
    pub redis_prefix: String,
    #[command(flatten)]
    pub redis_tls: RedisTlsArgs,
    /// Approximate length streams are trimmed to (`MAXLEN ~`).
    #[arg(long, env = "CONVEYOR_REDIS_MAXLEN", default_value_t = 100_000)]
    pub redis_maxlen: usize,
    /// Days an entry is kept in the streams `up` uses (trimmed by age with `XTRIM MINID` every
    /// few minutes, beside the length bound); 0 keeps entries by length only.
    #[arg(long, env = "CONVEYOR_REDIS_RETENTION_DAYS", default_value_t = 30)]
    pub redis_retention_days: u32,
    /// Milliseconds an entry may stay idle in the pending list before it is taken to be held by
    /// a crashed or stalled instance and claimed again; by default each function's timeout plus
    /// 5 s. A live instance keeps the entries it works on fresh (every quarter of this), so a
    /// short delay claims no live work, only a dead instance's sooner.
    #[arg(long, env = "CONVEYOR_REDIS_CLAIM_AFTER_MS")]
    pub redis_claim_after_ms: Option<u64>,
    /// Milliseconds between checks for entries held by a crashed instance.
    #[arg(
        long,
        env = "CONVEYOR_REDIS_RECLAIM_EVERY_MS",
        default_value_t = 15_000
    )]
    pub redis_reclaim_every_ms: u64,
    /// For functions with an ordering key: most entries read and waiting behind their key;
    /// reading pauses beyond.
    #[arg(long, env = "CONVEYOR_REDIS_MAX_WAITING", default_value_t = 10_000)]
    pub redis_max_waiting: usize,
    /// Milliseconds the lease of an ordered function's group lasts unrenewed (renewed every
    /// third of it): one instance at a time consumes an ordered function, and a standby takes
    /// over within about this long after the holder dies.
    #[arg(long, env = "CONVEYOR_REDIS_LEASE_MS", default_value_t = 3_000, value_parser = clap::value_parser!(u64).range(30..))]
    pub redis_lease_ms: u64,
    /// Most entries of one read that a function with an inbox handles in one database
    /// transaction (1: a transaction per entry).
    #[arg(long, env = "CONVEYOR_REDIS_TX_BATCH", default_value_t = 32, value_parser = clap::value_parser!(u16).range(1..=512))]
    pub redis_tx_batch: u16,
    /// Run only these functions (comma-separated names).
    #[arg(long, env = "CONVEYOR_FUNCTIONS", value_delimiter = ',')]
    pub functions: Vec<String>,
    /// Run only the functions of this service (order, fulfillment, warehouse).
    #[arg(long, env = "CONVEYOR_SERVICE")]
    pub service: Option<String>,
    /// HTTP API and dashboard address; a non-loopback one needs --api-token or
    /// --http-insecure-no-token.
    #[arg(long, env = "CONVEYOR_HTTP", default_value = DEFAULT_HTTP, value_parser = parse_http)]
    pub http: SocketAddr,
    /// Token every HTTP request must carry (`Authorization: Bearer <token>`; the dashboard is
    /// opened once at /?token=<token>); required on a non-loopback --http.
    #[arg(long, env = "CONVEYOR_API_TOKEN", hide_env_values = true)]
    pub api_token: Option<String>,
    /// More names the HTTP API answers to (name, or name:port behind a port forward), besides
    /// its address and localhost; other Host headers are refused.
    #[arg(
        long = "http-allowed-host",
        env = "CONVEYOR_HTTP_ALLOWED_HOSTS",
        value_delimiter = ','
    )]
    pub http_allowed_hosts: Vec<String>,
    /// Serve a non-loopback --http without a token: anyone who can reach it drives the emulator.
    #[arg(long, env = "CONVEYOR_HTTP_INSECURE_NO_TOKEN")]
    pub http_insecure_no_token: bool,
    /// Log format.
    #[arg(long, env = "CONVEYOR_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Seed products and orders and publish payments, to watch the whole flow in the log.
    #[arg(long, env = "CONVEYOR_DEMO")]
    pub demo: bool,
    #[command(flatten)]
    pub sqs: SqsUpArgs,
    /// Append every published event to the event store (`false`: keep none, e.g. to measure
    /// what it costs).
    #[arg(long, env = "CONVEYOR_EVENT_STORE", default_value_t = true, action = clap::ArgAction::Set)]
    pub event_store: bool,
    /// Days the event store keeps an event (also read from the environment by the worker).
    #[arg(long, env = "CONVEYOR_EVENT_RETENTION_DAYS", value_parser = clap::value_parser!(u32).range(1..=36_500))]
    pub event_retention_days: Option<u32>,
}

impl Default for UpArgs {
    fn default() -> Self {
        Self {
            database: crate::up::DEFAULT_DATABASE.to_owned(),
            pool: PoolArgs::default(),
            functions: Vec::new(),
            service: None,
            transport: None,
            redis: None,
            redis_prefix: String::new(),
            redis_tls: RedisTlsArgs::default(),
            redis_maxlen: 100_000,
            redis_retention_days: 30,
            redis_claim_after_ms: None,
            redis_reclaim_every_ms: 15_000,
            redis_max_waiting: 10_000,
            redis_lease_ms: 3_000,
            redis_tx_batch: 32,
            http: DEFAULT_HTTP
                .parse()
                .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 8790))),
            api_token: None,
            http_allowed_hosts: Vec::new(),
            http_insecure_no_token: false,
            log_format: LogFormat::Text,
            demo: false,
            sqs: SqsUpArgs::default(),
            event_store: true,
            event_retention_days: None,
        }
    }
}

/// Where the operator commands find a running emulator.
// Debug: in crate::redacted (no token).
#[derive(Clone, clap::Args)]
pub struct ApiArgs {
    /// URL of a running `conveyor up`.
    #[arg(long, env = "CONVEYOR_API", default_value = DEFAULT_API)]
    pub api: String,
    /// The emulator's API token, sent as `Authorization: Bearer <token>`.
    #[arg(long, env = "CONVEYOR_API_TOKEN", hide_env_values = true)]
    pub api_token: Option<String>,
}

/// `--http`: an address and port; `localhost:<port>` is taken as `127.0.0.1:<port>`.
///
/// # Errors
/// A message naming the expected form.
pub fn parse_http(text: &str) -> Result<SocketAddr, String> {
    let local = text
        .strip_prefix("localhost:")
        .map(|port| format!("127.0.0.1:{port}"));
    local.as_deref().unwrap_or(text).parse().map_err(|_| {
        format!(
            "{text:?} is not an address and port: give one such as 127.0.0.1:8790 (the default), \
             127.0.0.1:0 for any free port, or 0.0.0.0:8790 with a token"
        )
    })
}

/// Where the commands that only need the transport (publish, dlq) act: on Redis directly when
/// `--redis` is given (no running emulator needed), else through a running `conveyor up`.
// Debug: in crate::redacted (the URL without its password).
#[derive(Clone, clap::Args)]
pub struct TransportArgs {
    #[command(flatten)]
    pub api: ApiArgs,
    /// Act on these Redis Streams directly (the ones a `conveyor up --redis` consumes).
    #[arg(long, env = "CONVEYOR_REDIS_URL")]
    pub redis: Option<String>,
    /// Key prefix on Redis, as given to `conveyor up --redis-prefix`.
    #[arg(long, env = "CONVEYOR_REDIS_PREFIX", default_value = "")]
    pub redis_prefix: String,
    #[command(flatten)]
    pub redis_tls: RedisTlsArgs,
}

/// The TLS files of a `rediss://` server: a private CA and a client certificate.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RedisTlsArgs {
    /// PEM file of the CA that signed the Redis server's certificate (rediss:// only); trusted
    /// instead of the public roots built into the binary.
    #[arg(long, env = "CONVEYOR_REDIS_CA_CERT")]
    pub redis_ca_cert: Option<PathBuf>,
    /// PEM client certificate (chain) for a Redis server that requires one (rediss:// only).
    #[arg(long, env = "CONVEYOR_REDIS_CLIENT_CERT")]
    pub redis_client_cert: Option<PathBuf>,
    /// PEM private key of --redis-client-cert.
    #[arg(long, env = "CONVEYOR_REDIS_CLIENT_KEY")]
    pub redis_client_key: Option<PathBuf>,
}

impl RedisTlsArgs {
    /// Reads the files once for the whole process and checks they fit `url`.
    ///
    /// # Errors
    /// A file that cannot be read or parsed, a certificate without its key, TLS files with a
    /// `redis://` URL, or `#insecure`.
    pub fn load(&self, url: &str) -> Result<RedisTls, TlsError> {
        let tls = RedisTls::load(&TlsFiles {
            ca_cert: self.redis_ca_cert.clone(),
            client_cert: self.redis_client_cert.clone(),
            client_key: self.redis_client_key.clone(),
        })?;
        tls.check(url)?;
        Ok(tls)
    }
}

/// Subcommands.
// Debug: in crate::redacted (URLs without their passwords).
#[derive(Subcommand)]
pub enum Command {
    /// Run every function of the catalog (or a subset) with the embedded broker.
    Up(UpArgs),
    /// List every function with its trigger and, for jobs, the next fire times.
    Functions,
    /// Publish an event to a topic (a sample payload or a full CloudEvent).
    Publish {
        /// The topic.
        topic: String,
        /// JSON file: a payload (wrapped into a CloudEvent) or a CloudEvent.
        #[arg(long)]
        data_file: PathBuf,
        #[command(flatten)]
        to: TransportArgs,
    },
    /// Run one function once, synchronously, and print the outcome.
    Invoke {
        /// The function.
        function: String,
        /// JSON file: payload or CloudEvent (jobs take none).
        #[arg(long)]
        data_file: Option<PathBuf>,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Cron jobs.
    Cron {
        #[command(subcommand)]
        command: CronCommand,
    },
    /// Dead letters.
    Dlq {
        #[command(subcommand)]
        command: DlqCommand,
    },
    /// Orchestrated sagas: list, show, abort, retry.
    Saga {
        #[command(subcommand)]
        command: SagaCommand,
    },
    /// Measure throughput, latency, CPU per event, time to ready and idle memory.
    Bench {
        /// Repetitions of each scenario.
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Events per throughput run.
        #[arg(long, default_value_t = 20_000)]
        events: u64,
        /// Events per latency run.
        #[arg(long, default_value_t = 2_000)]
        latency_events: u64,
        /// Publish rate of the latency runs, per second.
        #[arg(long, default_value_t = 1_000)]
        rate: u32,
        /// Redis for the Redis scenarios and the redis-benchmark ceiling (loopback only).
        #[arg(long, env = "CONVEYOR_REDIS_URL")]
        redis: Option<String>,
        /// Run only these scenario groups (comma-separated; all when omitted).
        #[arg(long, value_enum, value_delimiter = ',')]
        only: Vec<conveyor_bench::report::Scenario>,
        /// PostgreSQL for the payment flow (a URL whose database may create others; loopback).
        #[arg(long, env = "CONVEYOR_BENCH_POSTGRES")]
        postgres: Option<String>,
        /// Orders (and payments) per payment-flow run.
        #[arg(long, default_value_t = 20_000)]
        flow_events: u64,
        /// Checkouts per saga run (`--only saga`, with `--postgres`).
        #[arg(long, default_value_t = conveyor_bench::saga::DEFAULT_SAGAS)]
        sagas: u64,
        /// Where the release Lambda binaries are: `target/lambda` after `cargo lambda build
        /// --release`, or `target/release`.
        #[arg(long, default_value = "target/lambda")]
        lambda_dir: std::path::PathBuf,
    },
    /// Serve one service's functions to a Dapr sidecar (pub/sub subscriptions and cron
    /// bindings), publishing through the sidecar.
    Worker(WorkerArgs),
    /// Apply the database migrations and exit, for deployments that migrate in a step of their
    /// own (the functions then run with CONVEYOR_MIGRATE=false).
    Migrate {
        /// The database: postgres://... (or sqlite:...); else CONVEYOR_DATABASE_URL, or
        /// CONVEYOR_DATABASE_URL_FILE naming a file that holds it (a mounted secret).
        #[arg(long)]
        database: Option<String>,
        /// Also create the embedded broker's queue and dead-letter tables, for a database that
        /// a `conveyor up` on the embedded broker will use.
        #[arg(long)]
        embedded_broker: bool,
    },
    /// Regenerate checked-in files from the Rust types and the catalog.
    Gen {
        #[command(subcommand)]
        what: GenCommand,
    },
    /// The event store: replay stored events.
    Events {
        #[command(subcommand)]
        command: EventsCommand,
    },
}

/// `conveyor events ...`.
#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Delivers stored events of a topic and time range again, to every subscriber of the topic
    /// or to one function, through the function's own queue (no running emulator needed).
    Replay(ReplayArgs),
}

/// `conveyor events replay`.
// Debug: in crate::redacted (the URLs without their passwords).
#[derive(Clone, clap::Args)]
pub struct ReplayArgs {
    /// The topic whose events are replayed.
    #[arg(long)]
    pub topic: String,
    /// Events at or after this time (RFC 3339, e.g. 2026-12-05T10:00:00Z).
    #[arg(long, value_parser = parse_time)]
    pub from: conveyor_domain::Timestamp,
    /// Events before this time (RFC 3339).
    #[arg(long, value_parser = parse_time)]
    pub to: conveyor_domain::Timestamp,
    /// Deliver to this function only (else to every subscriber of the topic).
    #[arg(long)]
    pub function: Option<String>,
    /// Only the events of this flow.
    #[arg(long)]
    pub correlation_id: Option<String>,
    /// Deliver as new events (new ids, `replayof` naming the original) so they are handled
    /// again; by default the original ids go out and the inbox skips what was handled.
    #[arg(long)]
    pub as_new: bool,
    /// List what would be replayed; deliver and record nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Most events this run delivers; a replay with more left is continued by running it again.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    pub limit: u32,
    /// Events delivered between two records of the replay's progress.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub page: u16,
    /// Continue this replay (by default an unfinished replay of the same arguments continues).
    #[arg(long)]
    pub resume: Option<String>,
    /// The database holding the event store (and the embedded broker's queues).
    #[arg(long, env = "CONVEYOR_DATABASE_URL", default_value = crate::up::DEFAULT_DATABASE)]
    pub database: String,
    /// The transport the functions consume from (default: Redis with --redis, else embedded).
    #[arg(long, env = "CONVEYOR_TRANSPORT", value_enum)]
    pub transport: Option<Transport>,
    /// Redis server (`--transport redis`).
    #[arg(long, env = "CONVEYOR_REDIS_URL")]
    pub redis: Option<String>,
    /// Redis key prefix, as `up` uses it.
    #[arg(long, env = "CONVEYOR_REDIS_PREFIX", default_value = "")]
    pub redis_prefix: String,
    #[command(flatten)]
    pub redis_tls: RedisTlsArgs,
    #[command(flatten)]
    pub sqs: SqsArgs,
}

/// An RFC 3339 time.
pub fn parse_time(text: &str) -> Result<conveyor_domain::Timestamp, String> {
    conveyor_domain::Timestamp::parse_rfc3339(text)
        .map_err(|e| format!("{text:?} is not an RFC 3339 time such as 2026-12-05T10:00:00Z: {e}"))
}

/// `cron` subcommands.
#[derive(Debug, Subcommand)]
pub enum CronCommand {
    /// Run one tick of a job now.
    Run {
        /// The job.
        job: String,
        #[command(flatten)]
        api: ApiArgs,
    },
}

/// `dlq` subcommands.
#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// One line per dead letter (all functions, or one).
    List {
        /// Only this function.
        function: Option<String>,
        #[command(flatten)]
        to: TransportArgs,
    },
    /// Full entries of one function, bodies included.
    Show {
        /// The function.
        function: String,
        #[command(flatten)]
        to: TransportArgs,
    },
    /// Deliver dead letters again, to that function only.
    Redrive {
        /// The function.
        function: String,
        /// Only these entries (default: all of the function's).
        #[arg(long = "id")]
        ids: Vec<String>,
        /// Move the function's SQS DLQ back to its queue, directly on SQS (no running `up`
        /// needed): StartMessageMoveTask where the endpoint has it, else receive, send, delete.
        #[arg(long)]
        sqs: bool,
        #[command(flatten)]
        queues: SqsArgs,
        #[command(flatten)]
        to: TransportArgs,
    },
}

/// `saga` subcommands.
#[derive(Debug, Subcommand)]
pub enum SagaCommand {
    /// One line per saga, most recently changed first.
    List {
        /// Only sagas in this status (running, compensating, completed, compensated, failed).
        #[arg(long)]
        status: Option<String>,
        /// Only sagas of this definition (such as order-checkout).
        #[arg(long)]
        definition: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = crate::sagas::DEFAULT_LIMIT)]
        limit: usize,
        #[command(flatten)]
        to: SagaTarget,
    },
    /// One saga: its steps, attempts, deadline and compensation path.
    Show {
        /// The saga's id (the checkout saga's is the order's id).
        id: String,
        /// Its definition, when sagas of several definitions share the id.
        #[arg(long)]
        definition: Option<String>,
        #[command(flatten)]
        to: SagaTarget,
    },
    /// Abort a running saga: what its steps did is undone, latest first.
    Abort {
        /// The saga's id.
        id: String,
        /// Why (kept as the saga's failure).
        #[arg(long)]
        reason: Option<String>,
        /// Its definition, when sagas of several definitions share the id.
        #[arg(long)]
        definition: Option<String>,
        #[command(flatten)]
        to: SagaTarget,
    },
    /// Retry a failed saga: its compensation that gave up is sent again, with a fresh budget.
    Retry {
        /// The saga's id.
        id: String,
        /// Its definition, when sagas of several definitions share the id.
        #[arg(long)]
        definition: Option<String>,
        #[command(flatten)]
        to: SagaTarget,
    },
}

/// Where `conveyor saga` finds the sagas: a running emulator's API, or a database.
#[derive(Debug, Clone, clap::Args)]
pub struct SagaTarget {
    /// The emulator's API.
    #[command(flatten)]
    pub api: ApiArgs,
    /// Work on this database directly (postgres://... or sqlite:...) instead of an emulator's
    /// API: the sagas of the Dapr workers or the Lambdas that share it. An abort's or a retry's
    /// commands stay in its outbox, for the relay of the host that runs the orchestrator.
    #[arg(long, conflicts_with = "api")]
    pub database: Option<String>,
    /// With --database, for an orchestrator on Lambda: its own queue's URL (its
    /// CONVEYOR_SAGA_TIMER_QUEUE_URL), where an abort or a retry arms the timer it sets as a
    /// delay message (the AWS settings come from the environment, as the Lambda's do). Without
    /// it the timer is left to the hosts' due-timer poller (Dapr worker, `conveyor up`).
    #[arg(long, requires = "database")]
    pub saga_timer_queue: Option<String>,
}

/// `gen` subcommands.
#[derive(Debug, Subcommand)]
pub enum GenCommand {
    /// events/: JSON Schemas, samples, CloudEvents, SQS and schedule events.
    Events {
        /// The events folder.
        #[arg(long, default_value = "events", env = "CONVEYOR_EVENTS_DIR")]
        dir: PathBuf,
        /// Only report drift; exit 1 if the folder is stale.
        #[arg(long)]
        check: bool,
    },
    /// infra/terraform/functions.tf.json: the catalog as Terraform data.
    Terraform {
        /// The Terraform folder.
        #[arg(
            long,
            default_value = "infra/terraform",
            env = "CONVEYOR_TERRAFORM_DIR"
        )]
        dir: PathBuf,
        /// Only report drift; exit 1 if the file is stale.
        #[arg(long)]
        check: bool,
    },
    /// dapr/: components, cron bindings, resiliency, subscriptions, Kubernetes manifests and
    /// the multi-app run file.
    Dapr {
        /// The dapr folder.
        #[arg(long, default_value = "dapr", env = "CONVEYOR_DAPR_DIR")]
        dir: PathBuf,
        /// Only report drift; exit 1 if the folder is stale.
        #[arg(long)]
        check: bool,
        /// Redis (host:port) as the cluster's components and the workers' init containers
        /// reach it.
        #[arg(long, default_value = conveyor_gen::dapr::CLUSTER_REDIS)]
        redis_host: String,
        /// The cluster's pub/sub component and state store speak TLS to Redis
        /// (`enableTLS: "true"`); the local run file's components stay plain.
        #[arg(long)]
        redis_tls: bool,
        /// How the sidecars call the workers: the Deployments' `dapr.io/app-protocol` (http
        /// or grpc), which the workers follow through APP_PROTOCOL.
        #[arg(long, default_value = "http")]
        app_protocol: conveyor_dapr::AppProtocol,
        /// How the jobs are fired: cron-binding (one `bindings.cron` component per job, fired
        /// on every replica) or jobs (no components: the workers schedule their jobs through
        /// Dapr's Jobs API at start, and the Scheduler fires each tick at one replica).
        #[arg(long, value_enum, default_value = "cron-binding")]
        schedules: conveyor_dapr::Schedules,
        /// Events daprd may gather into one bulk delivery: the declarative Subscriptions'
        /// `bulkSubscribe` and the workers' CONVEYOR_BULK_MAX_MESSAGES; 0 (the default)
        /// delivers them one by one.
        #[arg(long, default_value_t = 0)]
        bulk_max_messages: u32,
        /// Milliseconds daprd waits for a bulk delivery to fill (with --bulk-max-messages).
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
        bulk_max_await_ms: u32,
    },
}
