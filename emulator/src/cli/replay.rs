//! `conveyor events replay`: stored events delivered again, on the database and the transport
//! directly (no running emulator needed): the embedded broker's queues in the same database,
//! Redis (each function's inbox stream) or SQS (each function's queue). The work is
//! [`conveyor_transport::replay`]'s; this module builds its store and broker from the arguments
//! and reports what it did.

use std::sync::Arc;

use conveyor_domain::{Clock, SystemClock};
use conveyor_embedded::broker::EmbeddedBroker;
use conveyor_redis::RedisSettings;
use conveyor_redis::broker::RedisBroker;
use conveyor_runtime::Function;
use conveyor_sqs::SqsSettings;
use conveyor_sqs::broker::SqsBroker;
use conveyor_store::events::replays::ReplaySpec;
use conveyor_store::{Store, StoreError};
use conveyor_transport::broker::{Broker, BrokerError};
use conveyor_transport::replay::{self, ReplayError, ReplayOutcome, ReplayRequest};
use serde_json::{Value, json};

use super::args::{ReplayArgs, Transport};

/// Why a replay did not run (or stopped).
#[derive(Debug, thiserror::Error)]
pub enum ReplayCommandError {
    /// The database could not be opened or migrated.
    #[error("{0}: check --database (CONVEYOR_DATABASE_URL)")]
    Store(#[from] StoreError),
    /// The transport could not be reached.
    #[error("{0}: check --transport and its options")]
    Broker(#[from] BrokerError),
    /// The Redis TLS options cannot be used.
    #[error(transparent)]
    RedisTls(#[from] conveyor_redis::tls::TlsError),
    /// `--transport redis` without a URL.
    #[error("--transport redis needs a Redis URL: set --redis or CONVEYOR_REDIS_URL")]
    NoRedis,
    /// The replay itself.
    #[error(transparent)]
    Replay(#[from] ReplayError),
}

/// Runs one run of the replay `args` describe over the functions of `catalog` (the platform's
/// catalog in the binary).
///
/// # Errors
/// [`ReplayCommandError`].
pub async fn run(
    args: &ReplayArgs,
    catalog: &[Arc<dyn Function>],
) -> Result<ReplayOutcome, ReplayCommandError> {
    // Only the functions the replay may reach: the topic's subscribers (one, with --function).
    let functions: Vec<Arc<dyn Function>> = catalog
        .iter()
        .filter(|f| f.spec().topics().contains(&args.topic.as_str()))
        .filter(|f| args.function.as_deref().is_none_or(|n| n == f.spec().name))
        .cloned()
        .collect();
    let transport = args.transport.unwrap_or(if args.redis.is_some() {
        Transport::Redis
    } else {
        Transport::Embedded
    });
    let store = Store::connect(&args.database).await?;
    store.migrate().await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let broker: Arc<dyn Broker> = match transport {
        Transport::Embedded => {
            store.migrate_embedded_broker().await?;
            Arc::new(EmbeddedBroker::new(
                store.clone(),
                Arc::clone(&clock),
                &functions,
            ))
        }
        Transport::Redis => {
            let url = args.redis.as_deref().ok_or(ReplayCommandError::NoRedis)?;
            let settings = RedisSettings {
                tls: args.redis_tls.load(url)?,
                prefix: args.redis_prefix.clone(),
                ..RedisSettings::new(url)
            };
            Arc::new(RedisBroker::connect(settings, &functions).await?)
        }
        Transport::Sqs => {
            let settings = SqsSettings {
                queue_prefix: args.sqs.queue_prefix.clone(),
                ..SqsSettings::new(super::aws::aws_settings(&args.sqs, "SQS"))
            };
            Arc::new(
                SqsBroker::connect(settings, &functions)
                    .await
                    .map_err(BrokerError::from)?,
            )
        }
    };
    let request = ReplayRequest {
        spec: ReplaySpec {
            topic: args.topic.clone(),
            from: args.from,
            to: args.to,
            function: args.function.clone(),
            correlation_id: args.correlation_id.clone(),
            as_new: args.as_new,
        },
        resume: args.resume.clone(),
        limit: usize::try_from(args.limit).unwrap_or(usize::MAX),
        page: usize::from(args.page),
        dry_run: args.dry_run,
    };
    let now = clock.now();
    let new_id = format!("r{}-{:08x}", now.millis(), rand::random::<u32>());
    let outcome = replay::run(&store, broker.as_ref(), &request, &new_id, now).await;
    store.close().await;
    Ok(outcome?)
}

/// What a run did, as the command prints it.
#[must_use]
pub fn report(outcome: &ReplayOutcome, dry_run: bool) -> Value {
    let events: Vec<Value> = outcome
        .events
        .iter()
        .map(|e| {
            json!({
                "id": e.id, "delivered_as": e.delivered_as, "time": e.time.to_rfc3339(),
                "position": e.position.to_string(),
            })
        })
        .collect();
    json!({
        "replay": outcome.id,
        "dry_run": dry_run,
        "resumed": outcome.resumed,
        "targets": outcome.targets,
        "events": events,
        "this_run": outcome.events.len(),
        "replayed_in_all": outcome.total,
        "more": outcome.more,
    })
}
