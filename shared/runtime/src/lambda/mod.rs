//! The AWS Lambda host (feature `lambda`): one Lambda per function.
//!
//! A topic function receives SQS batches ([`sqs`]): every record is decoded on its own (a bare
//! CloudEvent, or one inside an EventBridge or SNS envelope), run through the inbox/outbox
//! pipeline, and the response lists exactly the records to retry. A `Drop`, and a `Retry` on
//! the function's last allowed delivery, go to the function's DLQ ([`dlq`]) with the reason and
//! count as handled. A job receives an EventBridge Scheduler input or a classic scheduled-event
//! envelope ([`schedule`]). Clients and configuration are built once per cold start ([`config`],
//! [`aws`]), the database URL read from a Secrets Manager secret ([`secret`]); events leave
//! through EventBridge ([`eventbridge`]), and those an ordered function takes also straight to
//! its FIFO queue ([`fifo`]). Each batch's metrics (event lag, processing time, outcomes) go
//! to CloudWatch as Embedded Metric Format log lines ([`emf`]). A saga orchestrator arms its
//! timers as SQS delay messages to its own queue ([`timers`]).

pub mod aws;
pub mod config;
mod config_error;
pub mod dlq;
pub mod emf;
mod env;
pub mod envelope;
pub mod eventbridge;
pub mod fifo;
pub mod schedule;
pub mod secret;
pub mod sqs;
pub mod timers;

use std::fmt;
use std::sync::Arc;

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

pub use lambda_runtime::Error;

use crate::handler::{
    OrchestratorFunction, ScheduleFunction, ScheduleHandler, TopicFunction, TopicHandler,
};
use crate::telemetry;
use config::LambdaConfig;

/// Stable `errorType` values reported to the Runtime API (never Rust type names).
pub mod error_type {
    /// A transient failure: the invocation may be retried.
    pub const RETRY: &str = "Conveyor.Retry";
    /// A permanent failure: retrying will not help.
    pub const DROP: &str = "Conveyor.Drop";
}

/// Runs a topic function as a Lambda fed by SQS.
///
/// # Errors
/// A configuration or connection error at cold start, or a Runtime API failure.
pub async fn run_topic<H: TopicHandler + fmt::Debug>(handler: H) -> Result<(), Error> {
    telemetry::init(telemetry::lambda_format());
    let config = LambdaConfig::from_env(H::SPEC.name)?;
    let host = Arc::new(
        sqs::SqsHost::new(
            Arc::new(TopicFunction(handler)),
            config.deps().await?,
            config.dead_letter(),
        )
        .with_metrics(Arc::new(emf::EmfStdout)),
    );
    // The payload is decoded by the host, not the runtime, so a payload that is not an SQS
    // event is answered with a stable errorType instead of a Rust type name.
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let host = Arc::clone(&host);
        // Boxed: the nested future is too deep for the compiler to lay out inline.
        Box::pin(async move { host.handle_invocation(event).await })
    }))
    .await
}

/// Runs a saga orchestrator as a Lambda fed by SQS, arming its saga's timers on its own queue
/// (`CONVEYOR_SAGA_TIMER_QUEUE_URL`, see [`timers`]).
///
/// # Errors
/// A configuration or connection error at cold start, or a Runtime API failure.
pub async fn run_orchestrator<H: crate::saga::Orchestrator + fmt::Debug>(
    handler: H,
) -> Result<(), Error> {
    const { crate::handler::assert_unordered(&H::SPEC) };
    telemetry::init(telemetry::lambda_format());
    let config = LambdaConfig::from_env(H::SPEC.name)?;
    let mut host = sqs::SqsHost::new(
        Arc::new(OrchestratorFunction(TopicFunction(handler))),
        config.deps().await?,
        config.dead_letter(),
    );
    match &config.timer_queue_url {
        Some(url) => host = host.with_timers(timers::TimerQueue::from_env(url)),
        None => tracing::error!(
            function = H::SPEC.name,
            "{} is not set: this orchestrator's saga timers will not fire",
            timers::TIMER_QUEUE_URL
        ),
    }
    let host = Arc::new(host);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let host = Arc::clone(&host);
        Box::pin(async move { host.handle_invocation(event).await })
    }))
    .await
}

/// Runs a job as a Lambda invoked by EventBridge Scheduler or a schedule rule.
///
/// # Errors
/// A configuration or connection error at cold start, or a Runtime API failure.
pub async fn run_schedule<H: ScheduleHandler + fmt::Debug>(handler: H) -> Result<(), Error> {
    telemetry::init(telemetry::lambda_format());
    let config = LambdaConfig::from_env(H::SPEC.name)?;
    let deps = config.deps().await?;
    let function = Arc::new(ScheduleFunction(handler));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let (function, deps) = (Arc::clone(&function), deps.clone());
        async move { schedule::handle_tick(function.as_ref(), &deps, event).await }
    }))
    .await
}
