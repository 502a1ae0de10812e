//! `prometheus/rules.test.yml`: `promtool test rules` unit tests of the generated alerting
//! rules ([`super::alerts`]). For each alert, series of two functions (two transports for the
//! publishing rule), one past the threshold and one just inside it, evaluated after the alert's
//! `for`: the alert fires for the first only.

use conveyor_runtime::{FunctionSpec, Service};
use serde_json::{Value, json};

use super::alerts;

/// When the alerts are evaluated: past every rule's window and `for`.
const EVAL_TIME: &str = "20m";
/// Samples per series, one a minute.
const SAMPLES: u32 = 30;

/// One unit test: the series, and the labels of the alerts expected to fire.
struct Case {
    alert: &'static str,
    name: String,
    series: Vec<(String, String)>,
    fires: Vec<Value>,
}

/// A series `metric{labels}` with `values` in promtool's expanding notation.
fn series(metric: &str, labels: &[(&str, &str)], values: String) -> (String, String) {
    let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    (format!("{metric}{{{}}}", labels.join(",")), values)
}

/// A counter (or bucket) growing by `per_minute` a minute from 0.
fn growing(per_minute: u32) -> String {
    format!("0+{per_minute}x{SAMPLES}")
}

/// A gauge holding `value`.
fn constant(value: u64) -> String {
    format!("{value}x{SAMPLES}")
}

/// A histogram's buckets for `key=value`: `counts` events a minute at or under each bound (the
/// last bound is `+Inf`).
fn histogram(
    metric: &str,
    key: &str,
    value: &str,
    counts: &[(&str, u32)],
) -> Vec<(String, String)> {
    counts
        .iter()
        .map(|(le, n)| {
            series(
                &format!("{metric}_bucket"),
                &[(key, value), ("le", le)],
                growing(*n),
            )
        })
        .collect()
}

/// The two topic functions of the order worker the tests use: the first crosses each
/// threshold, the second stays inside it.
fn two_functions(specs: &[FunctionSpec]) -> (&'static str, &'static str) {
    let mut names: Vec<&'static str> = specs
        .iter()
        .filter(|s| s.service == Service::Order && s.schedule().is_none())
        .map(|s| s.name)
        .collect();
    names.sort_unstable();
    (names[0], names[1])
}

fn cases(specs: &[FunctionSpec]) -> Vec<Case> {
    let (hot, calm) = two_functions(specs);
    let f = "function";
    let title = |alert: &str, what: &str| format!("{alert}: {hot} {what}, {calm} inside");
    let lag = "conveyor_event_lag_seconds";
    let handler = "conveyor_handler_seconds";
    let (received, dead, handled) = (
        "conveyor_events_received_total",
        "conveyor_events_dead_lettered_total",
        "conveyor_events_handled_total",
    );
    let mut out = vec![
        Case {
            alert: "ConveyorEventLagHigh",
            // p95: 10 + 0.95 * 20 = 29 s against 1 + 0.95 * 9 = 9.55 s.
            name: title("ConveyorEventLagHigh", "lags 10-30 s"),
            series: [
                histogram(
                    lag,
                    f,
                    hot,
                    &[("1.0", 0), ("10.0", 0), ("30.0", 10), ("+Inf", 10)],
                ),
                histogram(
                    lag,
                    f,
                    calm,
                    &[("1.0", 0), ("10.0", 10), ("30.0", 10), ("+Inf", 10)],
                ),
            ]
            .concat(),
            fires: vec![json!({ f: hot, "severity": "critical", "service": "order" })],
        },
        Case {
            alert: "ConveyorDeadLettersHigh",
            // Summed over the worker's pods: 300 + 201 = 501 against 500.
            name: title("ConveyorDeadLettersHigh", "has 501 over two pods"),
            series: vec![
                series(
                    "conveyor_dlq_depth",
                    &[(f, hot), ("pod", "order-worker-a")],
                    constant(300),
                ),
                series(
                    "conveyor_dlq_depth",
                    &[(f, hot), ("pod", "order-worker-b")],
                    constant(201),
                ),
                series(
                    "conveyor_dlq_depth",
                    &[(f, calm), ("pod", "order-worker-a")],
                    constant(500),
                ),
            ],
            fires: vec![json!({ f: hot, "severity": "critical", "service": "order" })],
        },
        Case {
            alert: "ConveyorProcessingSlow",
            // p95: 0.1 + 0.95 * 0.15 = 0.2425 s against 0.05 + 0.95 * 0.05 = 0.0975 s.
            name: title("ConveyorProcessingSlow", "takes 100-250 ms"),
            series: [
                histogram(
                    handler,
                    f,
                    hot,
                    &[("0.05", 0), ("0.1", 0), ("0.25", 10), ("+Inf", 10)],
                ),
                histogram(
                    handler,
                    f,
                    calm,
                    &[("0.05", 0), ("0.1", 10), ("0.25", 10), ("+Inf", 10)],
                ),
            ]
            .concat(),
            fires: vec![json!({ f: hot, "severity": "warning", "service": "order" })],
        },
        Case {
            alert: "ConveyorDeliverySuccessLow",
            // 1 - 2/1000 = 99.8 % against 1 - 1/2000 = 99.95 %.
            name: title("ConveyorDeliverySuccessLow", "dead-letters 0.2 %"),
            series: vec![
                series(received, &[(f, hot)], growing(1000)),
                series(dead, &[(f, hot)], growing(2)),
                series(received, &[(f, calm)], growing(2000)),
                series(dead, &[(f, calm)], growing(1)),
            ],
            fires: vec![json!({ f: hot, "severity": "critical", "service": "order" })],
        },
        Case {
            alert: "ConveyorProcessingSuccessLow",
            // 990/1000 = 99 % against 998/1000 = 99.8 %.
            name: title("ConveyorProcessingSuccessLow", "handles 99 %"),
            series: vec![
                series(received, &[(f, hot)], growing(1000)),
                series(handled, &[(f, hot)], growing(990)),
                series(received, &[(f, calm)], growing(1000)),
                series(handled, &[(f, calm)], growing(998)),
            ],
            fires: vec![json!({ f: hot, "severity": "warning", "service": "order" })],
        },
    ];
    let publish = "conveyor_publish_seconds";
    out.push(Case {
        alert: "ConveyorPublishingSlow",
        // p95: 0.01 + 0.95 * 0.015 = 24.25 ms against 0.005 + 0.95 * 0.005 = 9.75 ms.
        name: "ConveyorPublishingSlow: dapr publishes in 10-25 ms, redis inside".to_owned(),
        series: [
            histogram(
                publish,
                "transport",
                "dapr",
                &[("0.005", 0), ("0.01", 0), ("0.025", 10), ("+Inf", 10)],
            ),
            histogram(
                publish,
                "transport",
                "redis",
                &[("0.005", 0), ("0.01", 10), ("0.025", 10), ("+Inf", 10)],
            ),
        ]
        .concat(),
        fires: vec![json!({ "transport": "dapr", "severity": "warning" })],
    });
    out
}

/// The annotations `alert` has once its templates are filled in with `labels`.
fn annotations(specs: &[FunctionSpec], alert: &str, labels: &Value) -> Value {
    let rule = alerts::groups(specs)
        .into_iter()
        .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
        .find(|r| r["alert"] == alert)
        .unwrap_or_else(|| panic!("no rule {alert}"));
    let fill = |text: &str| {
        let mut text = text.to_owned();
        for key in ["function", "transport"] {
            if let Some(v) = labels[key].as_str() {
                text = text.replace(&format!("{{{{ $labels.{key} }}}}"), v);
            }
        }
        text
    };
    let a = &rule["annotations"];
    json!({
        "summary": fill(a["summary"].as_str().unwrap_or_default()),
        "description": fill(a["description"].as_str().unwrap_or_default()),
    })
}

/// The `promtool test rules` file, next to `rules.yml`.
#[must_use]
pub fn test_file(specs: &[FunctionSpec]) -> Value {
    let tests: Vec<Value> = cases(specs)
        .into_iter()
        .map(|case| {
            let expected: Vec<Value> = case
                .fires
                .iter()
                .map(|labels| {
                    json!({
                        "exp_labels": labels,
                        "exp_annotations": annotations(specs, case.alert, labels),
                    })
                })
                .collect();
            json!({
                "name": case.name,
                "interval": "1m",
                "input_series": case
                    .series
                    .iter()
                    .map(|(s, v)| json!({ "series": s, "values": v }))
                    .collect::<Vec<_>>(),
                "alert_rule_test": [{
                    "eval_time": EVAL_TIME,
                    "alertname": case.alert,
                    "exp_alerts": expected,
                }],
            })
        })
        .collect();
    json!({
        "rule_files": ["rules.yml"],
        "evaluation_interval": "1m",
        "tests": tests,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_alert_has_a_case_that_fires_once() {
        let specs = conveyor_catalog::specs();
        let file = test_file(&specs);
        let tested: Vec<&str> = file["tests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["alert_rule_test"][0]["alertname"].as_str().unwrap())
            .collect();
        let mut rules: Vec<String> = alerts::groups(&specs)
            .iter()
            .flat_map(|g| g["rules"].as_array().unwrap().clone())
            .map(|r| r["alert"].as_str().unwrap().to_owned())
            .collect();
        rules.sort();
        rules.dedup();
        let mut sorted_tested: Vec<&str> = tested.clone();
        sorted_tested.sort_unstable();
        assert_eq!(sorted_tested, rules);
        for t in file["tests"].as_array().unwrap() {
            assert_eq!(
                t["alert_rule_test"][0]["exp_alerts"]
                    .as_array()
                    .unwrap()
                    .len(),
                1
            );
        }
        let lag = &file["tests"][0]["alert_rule_test"][0]["exp_alerts"][0];
        assert_eq!(
            lag["exp_annotations"]["summary"],
            format!("{}: event lag p95 over 10 s", two_functions(&specs).0)
        );
    }
}
