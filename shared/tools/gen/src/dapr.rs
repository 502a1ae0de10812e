//! `dapr/`: everything Dapr and Kubernetes need to run the workers, generated from the catalog.
//!
//! | path | holds |
//! |---|---|
//! | `components/pubsub-redis.yaml` | the `pubsub.redis` component events travel on |
//! | `components/statestore.yaml` | a `state.redis` store on the same Redis |
//! | `components/<job>.yaml` | one `bindings.cron` input binding per job, scoped to its worker (not with `--schedules jobs`: the workers schedule their jobs through Dapr's Jobs API) |
//! | `resiliency.yaml` | retries with exponential backoff for deliveries, circuit breakers |
//! | `subscriptions/<function>.yaml` | declarative `Subscription`s, an alternative to `GET /dapr/subscribe` |
//! | `kubernetes/namespace.yaml` | the namespace every cluster resource above and below lives in |
//! | `kubernetes/<app-id>.yaml` | a ServiceAccount, Deployment, Service and NetworkPolicy per worker |
//! | `kubernetes/monitoring/prometheus-rule.yaml` | a `PrometheusRule` with the SLA alerts ([`alerts`]) |
//! | `kubernetes/monitoring/pod-monitor.yaml` | a `PodMonitor` that has the Prometheus Operator scrape every worker |
//! | `kubernetes/Dockerfile` | the worker image |
//! | `prometheus/rules.yml`, `prometheus/rules.test.yml` | the same alerting rules as a plain rules file, and their `promtool test rules` unit tests |
//! | `local/dapr.yaml`, `local/resources/` | the multi-app run file for `dapr run -f` and its components |
//!
//! Every file but the hand-written `README.md` belongs to the generator: [`write`] rewrites
//! them and removes stale ones, [`check`] reports drift. [`Options::default`] renders the
//! checked-in files; the options change only what the cluster sees.

pub mod alerts;
mod components;
mod kubernetes;
mod local;
pub mod rule_tests;

use std::path::{Path, PathBuf};

use conveyor_dapr::subscription::BulkJson;
use conveyor_dapr::{AppProtocol, BulkSubscribe, Schedules};
use conveyor_runtime::cloudevent::PUBSUB_NAME;
use conveyor_runtime::cron::CronError;
use conveyor_runtime::{FunctionSpec, Service};
use serde_json::{Value, json};

use super::{Files, check_owned, sorted, write_owned};
use components::{longest_timeout, max_deliveries};

/// The first line of every generated YAML file.
pub const HEADER: &str =
    "# Generated from the function catalog by `conveyor gen dapr`; do not edit.\n";
/// The state store component's name.
pub const STATESTORE: &str = "statestore";
/// Redis as the cluster sees it by default (the `redis` Helm release's primary).
pub const CLUSTER_REDIS: &str = "redis-master:6379";
/// Redis on a developer's machine (`dapr init` starts one).
pub const LOCAL_REDIS: &str = "localhost:6379";
/// The Kubernetes namespace of every cluster resource.
pub const NAMESPACE: &str = "conveyor";

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
    /// The Redis address given is not `host` or `host:port`.
    #[error("--redis-host {0:?} is not host or host:port: give e.g. redis-master:6379")]
    RedisHost(String),
    /// A file could not be serialised.
    #[error("cannot render YAML: {0}")]
    Yaml(#[from] serde_norway::Error),
    /// Writing failed.
    #[error("cannot write dapr/: {0}")]
    Io(#[from] std::io::Error),
}

/// What `conveyor gen dapr` may change in the cluster's files; the default renders the
/// checked-in ones. The local run file and its components always use the plain Redis on
/// localhost that `dapr init` starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Redis as the cluster's components and the workers' init containers reach it.
    pub redis_host: String,
    /// The cluster's components speak TLS to Redis (`enableTLS: "true"`), as managed Redis
    /// services with in-transit encryption require.
    pub redis_tls: bool,
    /// How each worker's sidecar calls it: the Deployments' `dapr.io/app-protocol`, which
    /// daprd's injector hands to the worker as `APP_PROTOCOL`, so the two always agree.
    pub app_protocol: AppProtocol,
    /// How the jobs are fired: one `bindings.cron` component per job (the default), or Dapr's
    /// Jobs API, which the workers (told by `CONVEYOR_SCHEDULES=jobs`) schedule themselves at
    /// start, so no component is generated for them.
    pub schedules: Schedules,
    /// daprd's bulk subscribe for every subscription: in the declarative `Subscription`s'
    /// `bulkSubscribe`, and for the programmatic ones in the workers' environment
    /// (`CONVEYOR_BULK_MAX_MESSAGES`, `CONVEYOR_BULK_MAX_AWAIT_MS`). `None`: one event per call.
    pub bulk_subscribe: Option<BulkSubscribe>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            redis_host: CLUSTER_REDIS.to_owned(),
            redis_tls: false,
            app_protocol: AppProtocol::Http,
            schedules: Schedules::CronBinding,
            bulk_subscribe: None,
        }
    }
}

impl Options {
    /// The first Redis host and its port (6379 when not given, as daprd assumes).
    ///
    /// # Errors
    /// [`GenError::RedisHost`] for an empty host or a port that is not a number.
    pub fn redis_endpoint(&self) -> Result<(&str, u16), GenError> {
        let bad = || GenError::RedisHost(self.redis_host.clone());
        let first = self.redis_host.split(',').next().unwrap_or_default().trim();
        let (host, port) = match first.rsplit_once(':') {
            Some((host, port)) => (host, port.parse().map_err(|_| bad())?),
            None => (first, 6379),
        };
        if host.is_empty() || host.contains(char::is_whitespace) {
            return Err(bad());
        }
        Ok((host, port))
    }
}

/// Which cluster a file is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    /// Kubernetes: every resource in [`NAMESPACE`], Redis as the options say.
    Kubernetes,
    /// `dapr run -f` on a laptop: Redis on localhost, no password, no namespace.
    Local,
}

/// A resource's `metadata`: its name, and in the cluster its namespace.
fn metadata(name: &str, target: Target) -> Value {
    match target {
        Target::Kubernetes => json!({ "name": name, "namespace": NAMESPACE }),
        Target::Local => json!({ "name": name }),
    }
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

fn resiliency(target: Target, specs: &[FunctionSpec]) -> Value {
    let handler = longest_timeout(specs).as_secs() + 10;
    json!({
        "apiVersion": "dapr.io/v1alpha1",
        "kind": "Resiliency",
        "metadata": metadata("conveyor", target),
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

/// The declarative subscriptions of a topic function, one per topic, with daprd's
/// `bulkSubscribe` (as the worker lists it programmatically) when `bulk` is given.
#[must_use]
pub fn subscriptions(spec: &FunctionSpec, bulk: Option<BulkSubscribe>) -> Vec<Value> {
    spec.topics()
        .iter()
        .map(|topic| {
            let mut subscription = json!({
                "apiVersion": "dapr.io/v2alpha1",
                "kind": "Subscription",
                "metadata": metadata(&subscription_name(spec.name, topic), Target::Kubernetes),
                "spec": {
                    "pubsubname": PUBSUB_NAME,
                    "topic": topic,
                    "routes": { "default": format!("/{}", spec.name) },
                    "deadLetterTopic": spec.dlq_name(),
                },
                "scopes": [spec.service.app_id()],
            });
            if let Some(bulk) = bulk {
                subscription["spec"]["bulkSubscribe"] = json!(BulkJson::from(bulk));
            }
            subscription
        })
        .collect()
}

fn components(
    files: &mut Files,
    target: Target,
    options: &Options,
    specs: &[FunctionSpec],
) -> Result<(), GenError> {
    let (dir, resiliency_file) = match target {
        Target::Kubernetes => ("components", "resiliency.yaml"),
        Target::Local => ("local/resources", "local/resources/resiliency.yaml"),
    };
    let path = |name: &str| PathBuf::from(format!("{dir}/{name}.yaml"));
    let pubsub = components::pubsub(target, options, specs);
    files.insert(path(PUBSUB_NAME), yaml_file(&[pubsub])?);
    let statestore = components::statestore(target, options);
    files.insert(path(STATESTORE), yaml_file(&[statestore])?);
    let bindings = options.schedules == Schedules::CronBinding;
    for spec in specs.iter().filter(|s| bindings && s.schedule().is_some()) {
        let binding = components::cron_binding(target, spec)?;
        files.insert(path(spec.name), yaml_file(&[binding])?);
    }
    let resiliency = yaml_file(&[resiliency(target, specs)])?;
    files.insert(PathBuf::from(resiliency_file), resiliency);
    Ok(())
}

/// Every generated file of `dapr/`, relative to it, for `specs`.
///
/// # Errors
/// [`GenError`] when a schedule does not parse, the options do not hold, or YAML cannot be
/// written.
pub fn render_specs(specs: &[FunctionSpec], options: &Options) -> Result<Files, GenError> {
    let mut files = Files::new();
    components(&mut files, Target::Kubernetes, options, specs)?;
    components(&mut files, Target::Local, options, specs)?;
    for spec in specs.iter().filter(|s| s.schedule().is_none()) {
        files.insert(
            PathBuf::from(format!("subscriptions/{}.yaml", spec.name)),
            yaml_file(&subscriptions(spec, options.bulk_subscribe))?,
        );
    }
    kubernetes::render(&mut files, options)?;
    // In a folder of their own: they need the Prometheus Operator's resource kinds, which
    // `kubectl apply -f dapr/kubernetes` (not recursive) must not require.
    files.insert(
        PathBuf::from("kubernetes/monitoring/prometheus-rule.yaml"),
        yaml_file(&[alerts::prometheus_rule(specs)])?,
    );
    files.insert(
        PathBuf::from("kubernetes/monitoring/pod-monitor.yaml"),
        yaml_file(&[alerts::pod_monitor()])?,
    );
    files.insert(
        PathBuf::from("prometheus/rules.yml"),
        yaml_file(&[alerts::rules_file(specs)])?,
    );
    files.insert(
        PathBuf::from("prometheus/rules.test.yml"),
        yaml_file(&[rule_tests::test_file(specs)])?,
    );
    Ok(files)
}

/// Every generated file of `dapr/` for the catalog.
///
/// # Errors
/// As [`render_specs`].
pub fn render(options: &Options) -> Result<Files, GenError> {
    render_specs(&conveyor_catalog::specs(), options)
}

/// Whether the generator owns a file of the folder: everything but the top-level README.
fn is_generated(rel: &Path) -> bool {
    rel != Path::new("README.md")
}

/// Writes `dapr/` into `dir`; returns the files written or removed.
///
/// # Errors
/// [`GenError`].
pub fn write(dir: &Path, options: &Options) -> Result<Vec<PathBuf>, GenError> {
    Ok(write_owned(dir, &render(options)?, &is_generated)?)
}

/// How `dir` differs from what [`render`] gives; empty when up to date.
#[must_use]
pub fn check(dir: &Path, options: &Options) -> Vec<String> {
    match render(options) {
        Ok(files) => check_owned(dir, &files, &is_generated),
        Err(e) => vec![e.to_string()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscriptions_carry_bulk_subscribe_only_when_it_is_given() {
        let spec = conveyor_catalog::specs()
            .into_iter()
            .find(|s| s.schedule().is_none())
            .unwrap();
        for subscription in subscriptions(&spec, None) {
            assert!(subscription["spec"].get("bulkSubscribe").is_none());
        }
        let bulk = BulkSubscribe {
            max_messages: 100,
            max_await_ms: 250,
        };
        let listed = subscriptions(&spec, Some(bulk));
        assert_eq!(listed.len(), spec.topics().len());
        for subscription in listed {
            assert_eq!(
                subscription["spec"]["bulkSubscribe"],
                json!({ "enabled": true, "maxMessagesCount": 100, "maxAwaitDurationMs": 250 })
            );
        }
        let options = Options {
            bulk_subscribe: Some(bulk),
            ..Options::default()
        };
        let files = render(&options).unwrap();
        let rendered = &files[&PathBuf::from(format!("subscriptions/{}.yaml", spec.name))];
        assert!(rendered.contains("maxMessagesCount: 100"), "{rendered}");
        let worker = &files[&PathBuf::from(format!("kubernetes/{}.yaml", spec.service.app_id()))];
        assert!(worker.contains("CONVEYOR_BULK_MAX_MESSAGES"), "{worker}");
        let plain = render(&Options::default()).unwrap();
        let worker = &plain[&PathBuf::from(format!("kubernetes/{}.yaml", spec.service.app_id()))];
        assert!(!worker.contains("CONVEYOR_BULK_MAX_MESSAGES"), "{worker}");
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
    fn the_redis_endpoint_is_the_first_host_with_its_port() {
        let endpoint = |host: &str| {
            Options {
                redis_host: host.to_owned(),
                ..Options::default()
            }
            .redis_endpoint()
            .map(|(h, p)| (h.to_owned(), p))
            .map_err(|e| e.to_string())
        };
        assert_eq!(
            endpoint("redis-master:6379"),
            Ok(("redis-master".to_owned(), 6379))
        );
        assert_eq!(
            endpoint("cache.example"),
            Ok(("cache.example".to_owned(), 6379))
        );
        assert_eq!(endpoint("a:6380,b:6380"), Ok(("a".to_owned(), 6380)));
        assert_eq!(
            endpoint("cache:tls"),
            Err(
                "--redis-host \"cache:tls\" is not host or host:port: give e.g. redis-master:6379"
                    .to_owned()
            )
        );
        assert!(endpoint(":6379").is_err());
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

    #[test]
    fn with_the_jobs_api_no_cron_binding_is_generated_and_the_workers_are_told() {
        let jobs = Options {
            schedules: Schedules::Jobs,
            ..Options::default()
        };
        let bindings = render(&Options::default()).unwrap();
        let scheduled = render(&jobs).unwrap();
        let job = conveyor_catalog::specs()
            .into_iter()
            .find(|s| s.schedule().is_some())
            .unwrap();
        for dir in ["components", "local/resources"] {
            let path = PathBuf::from(format!("{dir}/{}.yaml", job.name));
            assert!(bindings.contains_key(&path), "{}", path.display());
            assert!(!scheduled.contains_key(&path), "{}", path.display());
        }
        assert!(scheduled.contains_key(&PathBuf::from("components/pubsub-redis.yaml")));
        for (path, text) in [
            ("kubernetes/order-worker.yaml", "CONVEYOR_SCHEDULES"),
            ("local/dapr.yaml", "CONVEYOR_SCHEDULES"),
        ] {
            let path = PathBuf::from(path);
            assert!(!bindings[&path].contains(text), "{}", path.display());
            let file = &scheduled[&path];
            assert!(file.contains(text), "{}", path.display());
            assert!(file.contains("jobs"), "{}", path.display());
        }
    }
}
