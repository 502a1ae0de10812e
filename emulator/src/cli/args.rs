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

/// Options of `up`.
#[derive(Debug, Clone, clap::Args)]
pub struct UpArgs {
    /// Database URL: SQLite by default (no server needed), or postgres://...
    #[arg(long, env = "CONVEYOR_DATABASE_URL", default_value = crate::up::DEFAULT_DATABASE)]
    pub database: String,
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
}

impl Default for UpArgs {
    fn default() -> Self {
        Self {
            database: crate::up::DEFAULT_DATABASE.to_owned(),
            functions: Vec::new(),
            service: None,
            redis: None,
            redis_prefix: String::new(),
            redis_maxlen: 100_000,
            http: DEFAULT_HTTP
                .parse()
                .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 8790))),
            log_format: LogFormat::Text,
            demo: false,
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
        /// Run only these scenario groups (comma-separated; all when omitted).
        #[arg(long, value_enum, value_delimiter = ',')]
        only: Vec<crate::bench::report::Scenario>,
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
