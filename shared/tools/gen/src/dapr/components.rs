//! Dapr components: the `pubsub.redis` component events travel on, a `state.redis` store on the
//! same Redis, and one `bindings.cron` input binding per job.
//!
//! The cluster's components reach Redis by the host the options give (the `redis` Helm
//! release's primary by default), with its password from the `redis` secret and, when asked,
//! over TLS; the local ones reach the plain Redis `dapr init` starts on localhost.

use std::time::Duration;

use conveyor_runtime::FunctionSpec;
use conveyor_runtime::cloudevent::PUBSUB_NAME;
use conveyor_runtime::cron::Schedule;
use serde_json::{Value, json};

use super::{GenError, LOCAL_REDIS, Options, STATESTORE, Target, app_ids, metadata};

fn meta(name: &str, value: impl Into<Value>) -> Value {
    json!({ "name": name, "value": value.into() })
}

fn redis_metadata(target: Target, options: &Options) -> Vec<Value> {
    match target {
        Target::Kubernetes => {
            let mut items = vec![
                meta("redisHost", options.redis_host.as_str()),
                json!({ "name": "redisPassword", "secretKeyRef": { "name": "redis", "key": "redis-password" } }),
            ];
            if options.redis_tls {
                items.push(meta("enableTLS", "true"));
            }
            items
        }
        Target::Local => vec![meta("redisHost", LOCAL_REDIS), meta("redisPassword", "")],
    }
}

fn component(target: Target, name: &str, kind: &str, items: &[Value], scopes: &[&str]) -> Value {
    json!({
        "apiVersion": "dapr.io/v1alpha1",
        "kind": "Component",
        "metadata": metadata(name, target),
        "spec": { "type": kind, "version": "v1", "metadata": items },
        "scopes": scopes,
    })
}

/// Longest handler timeout of the topic functions (bounds daprd's delivery timeout and the
/// pending time before Redis redelivers).
pub(super) fn longest_timeout(specs: &[FunctionSpec]) -> Duration {
    specs
        .iter()
        .filter(|s| s.schedule().is_none())
        .map(|s| s.timeout)
        .max()
        .unwrap_or(Duration::from_secs(30))
}

/// Most deliveries any topic function allows (at least 1).
pub(super) fn max_deliveries(specs: &[FunctionSpec]) -> u32 {
    specs
        .iter()
        .filter(|s| s.schedule().is_none())
        .map(|s| s.retry.max_deliveries)
        .max()
        .unwrap_or(1)
        .max(1)
}

/// The `pubsub.redis` component.
pub(super) fn pubsub(target: Target, options: &Options, specs: &[FunctionSpec]) -> Value {
    // Pending entries are redelivered only after every retry daprd makes inside one delivery
    // could have run: deliveries x (timeout + longest backoff). Bare milliseconds: daprd
    // ignores duration strings for redeliverInterval.
    let deliveries = u64::from(max_deliveries(specs));
    let per_try = longest_timeout(specs).as_secs() + 15;
    let processing_ms = deliveries * per_try * 1000;
    let mut items = redis_metadata(target, options);
    items.extend([
        meta("processingTimeout", processing_ms.to_string()),
        meta("redeliverInterval", "15000"),
        meta("queueDepth", "100"),
        meta("concurrency", "10"),
        meta("maxLenApprox", "100000"),
    ]);
    component(target, PUBSUB_NAME, "pubsub.redis", &items, &app_ids())
}

/// The `state.redis` component.
pub(super) fn statestore(target: Target, options: &Options) -> Value {
    let mut items = redis_metadata(target, options);
    items.extend([meta("keyPrefix", "appid"), meta("actorStateStore", "false")]);
    component(target, STATESTORE, "state.redis", &items, &app_ids())
}

/// A job's `bindings.cron` component: named and routed after the job, scoped to its worker.
///
/// # Errors
/// [`GenError::Cron`] for a schedule that does not parse.
pub(super) fn cron_binding(target: Target, spec: &FunctionSpec) -> Result<Value, GenError> {
    let cron = spec.schedule().unwrap_or_default();
    let schedule = Schedule::parse(cron).map_err(|source| GenError::Cron {
        function: spec.name.to_owned(),
        source,
    })?;
    let items = vec![
        meta("schedule", schedule.to_dapr()),
        meta("route", format!("/{}", spec.name)),
    ];
    Ok(component(
        target,
        spec.name,
        "bindings.cron",
        &items,
        &[spec.service.app_id()],
    ))
}

#[cfg(test)]
mod tests {
    use conveyor_runtime::Service;

    use super::*;

    fn item<'a>(component: &'a Value, name: &str) -> Option<&'a Value> {
        component["spec"]["metadata"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == name)
    }

    #[test]
    fn a_cron_binding_carries_the_dapr_schedule_and_its_workers_scope() {
        let job = FunctionSpec::on_schedule("warehouse-x", Service::Warehouse, "15 0 * * 1");
        let c = cron_binding(Target::Local, &job).unwrap();
        assert_eq!(c["metadata"], json!({ "name": "warehouse-x" }));
        assert_eq!(c["spec"]["type"], "bindings.cron");
        assert_eq!(
            c["spec"]["metadata"][0],
            json!({ "name": "schedule", "value": "CRON_TZ=UTC 0 15 0 * * 1" })
        );
        assert_eq!(c["scopes"], json!(["warehouse-worker"]));
        let c = cron_binding(Target::Kubernetes, &job).unwrap();
        assert_eq!(c["metadata"]["namespace"], "conveyor");
    }

    #[test]
    fn tls_is_asked_for_on_the_clusters_redis_only() {
        let plain = Options::default();
        let tls = Options {
            redis_tls: true,
            redis_host: "cache.example:6380".to_owned(),
            ..Options::default()
        };
        for c in [
            pubsub(Target::Kubernetes, &plain, &[]),
            statestore(Target::Kubernetes, &plain),
        ] {
            assert_eq!(item(&c, "enableTLS"), None);
            assert_eq!(item(&c, "redisHost").unwrap()["value"], "redis-master:6379");
        }
        for c in [
            pubsub(Target::Kubernetes, &tls, &[]),
            statestore(Target::Kubernetes, &tls),
        ] {
            assert_eq!(
                item(&c, "enableTLS"),
                Some(&json!({ "name": "enableTLS", "value": "true" }))
            );
            assert_eq!(
                item(&c, "redisHost").unwrap()["value"],
                "cache.example:6380"
            );
            assert_eq!(
                item(&c, "redisPassword").unwrap()["secretKeyRef"],
                json!({ "name": "redis", "key": "redis-password" })
            );
        }
        for c in [
            pubsub(Target::Local, &tls, &[]),
            statestore(Target::Local, &tls),
        ] {
            assert_eq!(item(&c, "enableTLS"), None);
            assert_eq!(item(&c, "redisHost").unwrap()["value"], LOCAL_REDIS);
        }
    }
}
