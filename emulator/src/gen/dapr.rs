//! `dapr/`: everything Dapr and Kubernetes need to run the workers, generated from the catalog.
//!
//! | path | holds |
//! |---|---|
//! | `components/pubsub-redis.yaml` | the `pubsub.redis` component events travel on |
//! | `components/statestore.yaml` | a `state.redis` store on the same Redis |
//! | `components/<job>.yaml` | one `bindings.cron` input binding per job, scoped to its worker |
//! | `resiliency.yaml` | retries with exponential backoff for deliveries, circuit breakers |
//! | `subscriptions/<function>.yaml` | declarative `Subscription`s, an alternative to `GET /dapr/subscribe` |
//! | `kubernetes/<app-id>.yaml` | a Deployment (and a Service) per worker |
//! | `kubernetes/Dockerfile` | the worker image |
//! | `local/dapr.yaml`, `local/resources/` | the multi-app run file for `dapr run -f` and its components |
//!
//! Every file but the hand-written `README.md` belongs to the generator: [`write`] rewrites
//! them and removes stale ones, [`check`] reports drift.

mod kubernetes;

use std::path::{Path, PathBuf};
use std::time::Duration;

use conveyor_runtime::cloudevent::PUBSUB_NAME;
use conveyor_runtime::cron::{CronError, Schedule};
use conveyor_runtime::{FunctionSpec, Service};
use serde_json::{Value, json};

use super::{Files, check_owned, sorted, write_owned};

/// The first line of every generated YAML file.
pub const HEADER: &str =
    "# Generated from the function catalog by `conveyor gen dapr`; do not edit.\n";
/// The state store component's name.
pub const STATESTORE: &str = "statestore";
/// Redis as the cluster sees it (the `redis` Helm release's primary).
pub const CLUSTER_REDIS: &str = "redis-master:6379";
/// Redis on a developer's machine (`dapr init` starts one).
pub const LOCAL_REDIS: &str = "localhost:6379";

/// Why `dapr/` could not be rendered or written.
#[derive(Debug, thiserror::Error)]
pub enum GenError {
    /// A job's cron does not parse.
    #[error("{function}: {source}")]
    Cron {
        /// The job.
        function: String,
        /// The parse error.
        source: CronError,
    },
    /// A file could not be serialised.
    #[error("cannot render YAML: {0}")]
    Yaml(#[from] serde_norway::Error),
    /// Writing failed.
    #[error("cannot write dapr/: {0}")]
    Io(#[from] std::io::Error),
}

/// Which cluster the components point at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// Kubernetes: Redis by service name, its password from the `redis` secret.
    Kubernetes,
    /// `dapr run -f` on a laptop: Redis on localhost, no password.
    Local,
}

/// One YAML document with sorted keys.
///
/// # Errors
/// A serialisation error (not expected for JSON values).
pub fn yaml_doc(value: &Value) -> Result<String, serde_norway::Error> {
    serde_norway::to_string(&sorted(value))
}

/// A generated YAML file: the header, then the documents separated by `---`.
///
/// # Errors
/// As [`yaml_doc`].
pub fn yaml_file(docs: &[Value]) -> Result<String, serde_norway::Error> {
    let mut text = HEADER.to_owned();
    for (i, doc) in docs.iter().enumerate() {
        if i > 0 {
            text.push_str("---\n");
        }
        text.push_str(&yaml_doc(doc)?);
    }
    Ok(text)
}

/// The app ids of every worker.
#[must_use]
pub fn app_ids() -> Vec<&'static str> {
    Service::ALL.iter().map(|s| s.app_id()).collect()
}

fn meta(name: &str, value: impl Into<Value>) -> Value {
    json!({ "name": name, "value": value.into() })
}

fn redis_metadata(target: Target) -> Vec<Value> {
    match target {
        Target::Kubernetes => vec![
            meta("redisHost", CLUSTER_REDIS),
            json!({ "name": "redisPassword", "secretKeyRef": { "name": "redis", "key": "redis-password" } }),
        ],
        Target::Local => vec![meta("redisHost", LOCAL_REDIS), meta("redisPassword", "")],
    }
}

fn component(name: &str, kind: &str, metadata: &[Value], scopes: &[&str]) -> Value {
    json!({
        "apiVersion": "dapr.io/v1alpha1",
        "kind": "Component",
        "metadata": { "name": name },
        "spec": { "type": kind, "version": "v1", "metadata": metadata },
        "scopes": scopes,
    })
}

/// Longest handler timeout of the topic functions (bounds daprd's delivery timeout and the
/// pending time before Redis redelivers).
fn longest_timeout(specs: &[FunctionSpec]) -> Duration {
    specs
        .iter()
        .filter(|s| s.schedule().is_none())
        .map(|s| s.timeout)
        .max()
        .unwrap_or(Duration::from_secs(30))
}

fn pubsub(target: Target, specs: &[FunctionSpec]) -> Value {
    // Pending entries are redelivered only after every retry daprd makes inside one delivery
    // could have run: deliveries x (timeout + longest backoff). Bare milliseconds: daprd
    // ignores duration strings for redeliverInterval.
    let deliveries = u64::from(max_deliveries(specs));
    let per_try = longest_timeout(specs).as_secs() + 15;
    let processing_ms = deliveries * per_try * 1000;
    let mut metadata = redis_metadata(target);
    metadata.extend([
        meta("processingTimeout", processing_ms.to_string()),
        meta("redeliverInterval", "15000"),
        meta("queueDepth", "100"),
        meta("concurrency", "10"),
        meta("maxLenApprox", "100000"),
    ]);
    component(PUBSUB_NAME, "pubsub.redis", &metadata, &app_ids())
}

fn statestore(target: Target) -> Value {
    let mut metadata = redis_metadata(target);
    metadata.extend([meta("keyPrefix", "appid"), meta("actorStateStore", "false")]);
    component(STATESTORE, "state.redis", &metadata, &app_ids())
}

/// A job's `bindings.cron` component: named and routed after the job, scoped to its worker.
///
/// # Errors
/// [`GenError::Cron`] for a schedule that does not parse.
pub fn cron_binding(spec: &FunctionSpec) -> Result<Value, GenError> {
    let cron = spec.schedule().unwrap_or_default();
    let schedule = Schedule::parse(cron).map_err(|source| GenError::Cron {
        function: spec.name.to_owned(),
        source,
    })?;
    let metadata = vec![
        meta("schedule", schedule.to_dapr()),
        meta("route", format!("/{}", spec.name)),
    ];
    Ok(component(
        spec.name,
        "bindings.cron",
        &metadata,
        &[spec.service.app_id()],
    ))
}

fn max_deliveries(specs: &[FunctionSpec]) -> u32 {
    specs
        .iter()
        .filter(|s| s.schedule().is_none())
        .map(|s| s.retry.max_deliveries)
        .max()
        .unwrap_or(1)
        .max(1)
}

fn resiliency(specs: &[FunctionSpec]) -> Value {
    let handler = longest_timeout(specs).as_secs() + 10;
    json!({
        "apiVersion": "dapr.io/v1alpha1",
        "kind": "Resiliency",
        "metadata": { "name": "conveyor" },
        "scopes": app_ids(),
        "spec": {
            "policies": {
                "timeouts": { "handler": format!("{handler}s"), "sidecar": "5s" },
                "retries": {
                    // The worker answers DROP itself once an event reaches its function's max
                    // deliveries; daprd's budget is the same.
                    "deliveries": {
                        "policy": "exponential",
                        "maxInterval": "15s",
                        "maxRetries": max_deliveries(specs) - 1,
                    },
                    "redis": { "policy": "exponential", "maxInterval": "5s", "maxRetries": 3 },
                },
                "circuitBreakers": {
                    "app": { "maxRequests": 1, "interval": "60s", "timeout": "30s", "trip": "consecutiveFailures > 10" },
                    "redis": { "maxRequests": 1, "interval": "0s", "timeout": "60s", "trip": "consecutiveFailures > 5" },
                },
            },
            "targets": {
                "components": {
                    PUBSUB_NAME: {
                        "inbound": { "timeout": "handler", "retry": "deliveries", "circuitBreaker": "app" },
                        "outbound": { "timeout": "sidecar", "retry": "redis", "circuitBreaker": "redis" },
                    },
                    STATESTORE: {
                        "outbound": { "timeout": "sidecar", "retry": "redis", "circuitBreaker": "redis" },
                    },
                },
            },
        },
    })
}

/// The Kubernetes name of a (function, topic) subscription.
#[must_use]
pub fn subscription_name(function: &str, topic: &str) -> String {
    format!("{function}--{}", topic.replace(['.', '_'], "-"))
}

/// The declarative subscriptions of a topic function, one per topic.
#[must_use]
pub fn subscriptions(spec: &FunctionSpec) -> Vec<Value> {
    spec.topics()
        .iter()
        .map(|topic| {
            json!({
                "apiVersion": "dapr.io/v2alpha1",
                "kind": "Subscription",
                "metadata": { "name": subscription_name(spec.name, topic) },
                "spec": {
                    "pubsubname": PUBSUB_NAME,
                    "topic": topic,
                    "routes": { "default": format!("/{}", spec.name) },
                    "deadLetterTopic": spec.dlq_name(),
                },
                "scopes": [spec.service.app_id()],
            })
        })
        .collect()
}

fn components(
    files: &mut Files,
    dir: &str,
    target: Target,
    specs: &[FunctionSpec],
) -> Result<(), GenError> {
    let path = |name: &str| PathBuf::from(format!("{dir}/{name}.yaml"));
    files.insert(path(PUBSUB_NAME), yaml_file(&[pubsub(target, specs)])?);
    files.insert(path(STATESTORE), yaml_file(&[statestore(target)])?);
    for spec in specs.iter().filter(|s| s.schedule().is_some()) {
        files.insert(path(spec.name), yaml_file(&[cron_binding(spec)?])?);
    }
    Ok(())
}

/// Every generated file of `dapr/`, relative to it, for `specs`.
///
/// # Errors
/// [`GenError`] when a schedule does not parse or YAML cannot be written.
pub fn render_specs(specs: &[FunctionSpec]) -> Result<Files, GenError> {
    let mut files = Files::new();
    components(&mut files, "components", Target::Kubernetes, specs)?;
    components(&mut files, "local/resources", Target::Local, specs)?;
    let resiliency = yaml_file(&[resiliency(specs)])?;
    files.insert(PathBuf::from("resiliency.yaml"), resiliency.clone());
    files.insert(PathBuf::from("local/resources/resiliency.yaml"), resiliency);
    for spec in specs.iter().filter(|s| s.schedule().is_none()) {
        files.insert(
            PathBuf::from(format!("subscriptions/{}.yaml", spec.name)),
            yaml_file(&subscriptions(spec))?,
        );
    }
    kubernetes::render(&mut files)?;
    Ok(files)
}

/// Every generated file of `dapr/` for the catalog.
///
/// # Errors
/// As [`render_specs`].
pub fn render() -> Result<Files, GenError> {
    render_specs(&crate::catalog::specs())
}

/// Whether the generator owns a file of the folder: everything but the top-level README.
fn is_generated(rel: &Path) -> bool {
    rel != Path::new("README.md")
}

/// Writes `dapr/` into `dir`; returns the files written or removed.
///
/// # Errors
/// [`GenError`].
pub fn write(dir: &Path) -> Result<Vec<PathBuf>, GenError> {
    Ok(write_owned(dir, &render()?, &is_generated)?)
}

/// How `dir` differs from what [`render`] gives; empty when up to date.
#[must_use]
pub fn check(dir: &Path) -> Vec<String> {
    match render() {
        Ok(files) => check_owned(dir, &files, &is_generated),
        Err(e) => vec![e.to_string()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cron_binding_carries_the_dapr_schedule_and_its_workers_scope() {
        let job = FunctionSpec::on_schedule("warehouse-x", Service::Warehouse, "15 0 * * 1");
        let c = cron_binding(&job).unwrap();
        assert_eq!(c["metadata"]["name"], "warehouse-x");
        assert_eq!(c["spec"]["type"], "bindings.cron");
        assert_eq!(
            c["spec"]["metadata"][0],
            json!({ "name": "schedule", "value": "CRON_TZ=UTC 0 15 0 * * 1" })
        );
        assert_eq!(c["scopes"], json!(["warehouse-worker"]));
    }

    #[test]
    fn subscription_names_are_valid_kubernetes_names() {
        let name = subscription_name(
            "warehouse-order-status-changed",
            "orders.order.status_changed",
        );
        assert_eq!(
            name,
            "warehouse-order-status-changed--orders-order-status-changed"
        );
        assert!(name.len() <= 253);
        assert!(
            name.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        );
    }

    #[test]
    fn yaml_quotes_what_would_otherwise_not_be_a_string() {
        let text = yaml_doc(&json!({ "a": "true", "b": "5005", "c": "*/5 * * * *" })).unwrap();
        let back: Value = serde_norway::from_str(&text).unwrap();
        assert_eq!(
            back,
            json!({ "a": "true", "b": "5005", "c": "*/5 * * * *" })
        );
    }
}
