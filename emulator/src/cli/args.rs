//! Command-line arguments.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

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

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum LogFormat {
    /// Human-readable.
    #[default]
    Text,
    /// JSON lines.
    Json,
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
#[derive(Debug, Clone, clap::Args)]
pub struct UpArgs {
    /// Database URL: SQLite by default (no server needed), or postgres://...
    #[arg(long, env = "CONVEYOR_DATABASE_URL", default_value = crate::up::DEFAULT_DATABASE)]
    pub database: String,
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
    /// Approximate length streams are trimmed to (`MAXLEN ~`).
    #[arg(long, env = "CONVEYOR_REDIS_MAXLEN", default_value_t = 100_000)]
    pub redis_maxlen: usize,
    /// Run only these functions (comma-separated names).
    #[arg(long, env = "CONVEYOR_FUNCTIONS", value_delimiter = ',')]
    pub functions: Vec<String>,
    /// Run only the functions of this service (order, fulfillment, warehouse).
    #[arg(long, env = "CONVEYOR_SERVICE")]
    pub service: Option<String>,
    /// HTTP API address (loopback).
    #[arg(long, env = "CONVEYOR_HTTP", default_value = DEFAULT_HTTP)]
    pub http: SocketAddr,
    /// Log format.
    #[arg(long, env = "CONVEYOR_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Seed products and orders and publish payments, to watch the whole flow in the log.
    #[arg(long, env = "CONVEYOR_DEMO")]
    pub demo: bool,
    #[command(flatten)]
    pub sqs: SqsUpArgs,
}

impl Default for UpArgs {
    fn default() -> Self {
        Self {
            database: crate::up::DEFAULT_DATABASE.to_owned(),
            functions: Vec::new(),
            service: None,
            transport: None,
            redis: None,
            redis_prefix: String::new(),
            redis_maxlen: 100_000,
            http: DEFAULT_HTTP
                .parse()
                .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 8790))),
            log_format: LogFormat::Text,
            demo: false,
            sqs: SqsUpArgs::default(),
        }
    }
}

/// Where the operator commands find a running emulator.
#[derive(Debug, Clone, clap::Args)]
pub struct ApiArgs {
    /// URL of a running `conveyor up`.
    #[arg(long, env = "CONVEYOR_API", default_value = DEFAULT_API)]
    pub api: String,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
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
        api: ApiArgs,
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
    },
    /// Regenerate checked-in files from the Rust types and the catalog.
    Gen {
        #[command(subcommand)]
        what: GenCommand,
    },
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
        api: ApiArgs,
    },
    /// Full entries of one function, bodies included.
    Show {
        /// The function.
        function: String,
        #[command(flatten)]
        api: ApiArgs,
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
        api: ApiArgs,
    },
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
}
