//! The alerting rules of the Kubernetes deployment, generated from the catalog for the
//! platform's SLA thresholds, over the metrics the workers export (`conveyor_transport::metrics`):
//!
//! | alert | fires when | for |
//! |---|---|---|
//! | `ConveyorEventLagHigh` | a function's event lag p95 (`conveyor_event_lag_seconds`) is over 10 s | 2m |
//! | `ConveyorDeadLettersHigh` | a function's dead letters (`conveyor_dlq_depth`, summed over the pods) are over 500 | 1m |
//! | `ConveyorProcessingSlow` | a function's processing p95 (`conveyor_handler_seconds`) is over 100 ms | 5m |
//! | `ConveyorPublishingSlow` | the outbox publisher's p95 per call (`conveyor_publish_seconds`) is over 10 ms | 5m |
//! | `ConveyorDeliverySuccessLow` | under 99.9 % of a function's deliveries end other than dead-lettered | 5m |
//! | `ConveyorProcessingSuccessLow` | under 99.5 % of a function's deliveries are handled at the first try they get (not retried, not dead-lettered) | 5m |
//!
//! One group per worker holds the per-function rules of its topic functions (jobs are batch
//! work, outside the event SLAs), named by a `function=~` matcher built from the catalog; one
//! group holds the publishing rule. The same groups go into a `PrometheusRule`
//! (`kubernetes/monitoring/prometheus-rule.yaml`, for the Prometheus Operator, beside the
//! `PodMonitor` that has it scrape the workers) and into a plain rules file
//! (`prometheus/rules.yml`) that `promtool check rules` reads; `prometheus/rules.test.yml`
//! ([`super::rule_tests`]) unit-tests them with `promtool test rules`.

use conveyor_runtime::{FunctionSpec, Service};
use serde_json::{Value, json};

use super::{Target, metadata};
use crate::sla::{
    DELIVERY_SUCCESS, DLQ_DEPTH, EVENT_LAG_SECONDS, PROCESSING_P95_SECONDS, PROCESSING_SUCCESS,
    PUBLISHING_P95_SECONDS,
};

/// The window latency quantiles are computed over.
const LATENCY_WINDOW: &str = "5m";
/// The window success rates are computed over.
const RATE_WINDOW: &str = "15m";

/// The `PrometheusRule`'s name, and the label a Prometheus' `ruleSelector` can match.
pub const RULE_NAME: &str = "conveyor-slas";

/// The name of the group of `service`'s rules.
#[must_use]
pub fn group_name(service: Service) -> String {
    format!("conveyor-{}", service.app_id())
}

/// The name of the publishing rules' group.
pub const PUBLISHING_GROUP: &str = "conveyor-publishing";

/// A `function=~"a|b"` matcher for `names` (function names need no regex escaping: they are
/// lower-case letters, digits and dashes).
fn matcher(names: &[&str]) -> String {
    format!("function=~\"{}\"", names.join("|"))
}

fn p95(metric: &str, selector: &str, by: &str) -> String {
    format!(
        "histogram_quantile(0.95, sum by ({by}, le) (rate({metric}_bucket{{{selector}}}[{LATENCY_WINDOW}])))"
    )
}

fn rate(metric: &str, selector: &str) -> String {
    format!("sum by (function) (rate({metric}{{{selector}}}[{RATE_WINDOW}]))")
}

fn rule(alert: &str, expr: &str, wait: &str, severity: &str, summary: &str, text: &str) -> Value {
    json!({
        "alert": alert,
        "expr": expr,
        "for": wait,
        "labels": { "severity": severity },
        "annotations": { "summary": summary, "description": text },
    })
}

/// The per-function rules of `service` over the functions `selector` names; each alert
/// carries the service (which also keeps the groups' rules apart for `promtool`'s lint).
fn function_rules(service: Service, selector: &str) -> Vec<Value> {
    let received = rate("conveyor_events_received_total", selector);
    let mut rules = vec![
        rule(
            "ConveyorEventLagHigh",
            &format!(
                "{} > {EVENT_LAG_SECONDS}",
                p95("conveyor_event_lag_seconds", selector, "function")
            ),
            "2m",
            "critical",
            "{{ $labels.function }}: event lag p95 over 10 s",
            "Events reach the handler more than 10 s after their time (target: under 1 s).",
        ),
        rule(
            "ConveyorDeadLettersHigh",
            &format!("sum by (function) (conveyor_dlq_depth{{{selector}}}) > {DLQ_DEPTH}"),
            "1m",
            "critical",
            "{{ $labels.function }}: over 500 dead letters",
            "The function's dead letters exceed 500 (target: under 100): inspect and redrive them.",
        ),
        rule(
            "ConveyorProcessingSlow",
            &format!(
                "{} > {PROCESSING_P95_SECONDS}",
                p95("conveyor_handler_seconds", selector, "function")
            ),
            "5m",
            "warning",
            "{{ $labels.function }}: processing p95 over 100 ms",
            "The function's deliveries take over 100 ms at the 95th percentile.",
        ),
        rule(
            "ConveyorDeliverySuccessLow",
            &format!(
                "1 - {} / {received} < {DELIVERY_SUCCESS}",
                rate("conveyor_events_dead_lettered_total", selector)
            ),
            "5m",
            "critical",
            "{{ $labels.function }}: delivery success under 99.9 %",
            "Over 0.1 % of the function's deliveries end in the dead letters.",
        ),
        rule(
            "ConveyorProcessingSuccessLow",
            &format!(
                "{} / {received} < {PROCESSING_SUCCESS}",
                rate("conveyor_events_handled_total", selector)
            ),
            "5m",
            "warning",
            "{{ $labels.function }}: processing success under 99.5 %",
            "Over 0.5 % of the function's deliveries fail (retried or dead-lettered).",
        ),
    ];
    for rule in &mut rules {
        rule["labels"]["service"] = json!(service.name());
    }
    rules
}

fn publishing_rule() -> Value {
    rule(
        "ConveyorPublishingSlow",
        &format!(
            "{} > {PUBLISHING_P95_SECONDS}",
            p95("conveyor_publish_seconds", "", "transport")
        ),
        "5m",
        "warning",
        "{{ $labels.transport }}: publishing p95 over 10 ms",
        "Publish calls of the outbox publisher take over 10 ms at the 95th percentile.",
    )
}

/// The rule groups for `specs`: one per worker with topic functions, then publishing.
#[must_use]
pub fn groups(specs: &[FunctionSpec]) -> Vec<Value> {
    let mut groups: Vec<Value> = Service::ALL
        .iter()
        .filter_map(|&service| {
            let mut names: Vec<&str> = specs
                .iter()
                .filter(|s| s.service == service && s.schedule().is_none())
                .map(|s| s.name)
                .collect();
            names.sort_unstable();
            (!names.is_empty()).then(|| {
                json!({
                    "name": group_name(service),
                    "rules": function_rules(service, &matcher(&names)),
                })
            })
        })
        .collect();
    groups.push(json!({ "name": PUBLISHING_GROUP, "rules": [publishing_rule()] }));
    groups
}

/// The plain rules file (`prometheus/rules.yml`).
#[must_use]
pub fn rules_file(specs: &[FunctionSpec]) -> Value {
    json!({ "groups": groups(specs) })
}

/// The Prometheus Operator's `PrometheusRule` holding the same groups.
#[must_use]
pub fn prometheus_rule(specs: &[FunctionSpec]) -> Value {
    let mut meta = metadata(RULE_NAME, Target::Kubernetes);
    meta["labels"] = json!({
        "app.kubernetes.io/part-of": "conveyor",
        "prometheus": RULE_NAME,
    });
    json!({
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": meta,
        "spec": { "groups": groups(specs) },
    })
}

/// The Prometheus Operator's `PodMonitor`: every worker's `GET /metrics` on its `http` port.
#[must_use]
pub fn pod_monitor() -> Value {
    let mut meta = metadata("conveyor-workers", Target::Kubernetes);
    meta["labels"] = json!({ "app.kubernetes.io/part-of": "conveyor" });
    json!({
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": meta,
        "spec": {
            "selector": { "matchLabels": { "app.kubernetes.io/component": "worker" } },
            "podMetricsEndpoints": [{ "port": "http", "path": "/metrics", "interval": "30s" }],
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_worker_with_topic_functions_gets_its_rules_over_its_own_functions() {
        let specs = conveyor_catalog::specs();
        let groups = groups(&specs);
        assert_eq!(groups.len(), Service::ALL.len() + 1);
        let order = &groups[0];
        assert_eq!(order["name"], "conveyor-order-worker");
        let lag = order["rules"][0]["expr"].as_str().unwrap();
        assert!(lag.contains("order-payment-confirmed"), "{lag}");
        assert!(!lag.contains("order-cod-auto-confirm"), "a job: {lag}");
        assert!(!lag.contains("warehouse-"), "{lag}");
        assert!(lag.ends_with("> 10"), "{lag}");
        let alerts: Vec<&str> = order["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["alert"].as_str().unwrap())
            .collect();
        assert_eq!(
            alerts,
            [
                "ConveyorEventLagHigh",
                "ConveyorDeadLettersHigh",
                "ConveyorProcessingSlow",
                "ConveyorDeliverySuccessLow",
                "ConveyorProcessingSuccessLow"
            ]
        );
        assert_eq!(groups[3]["rules"][0]["alert"], "ConveyorPublishingSlow");
    }

    #[test]
    fn the_prometheus_rule_holds_the_rules_files_groups() {
        let specs = conveyor_catalog::specs();
        let rule = prometheus_rule(&specs);
        assert_eq!(rule["kind"], "PrometheusRule");
        assert_eq!(rule["metadata"]["namespace"], super::super::NAMESPACE);
        assert_eq!(rule["spec"]["groups"], rules_file(&specs)["groups"]);
    }
}
