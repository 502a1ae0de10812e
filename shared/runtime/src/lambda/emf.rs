//! The Lambda host's metrics, as CloudWatch Embedded Metric Format (EMF) log lines: after each
//! SQS batch, one JSON line per 100 records on stdout, which CloudWatch Logs turns into metrics
//! of namespace [`NAMESPACE`] with the dimension `function`, without an API call or an agent.
//!
//! | metric | unit | what |
//! |---|---|---|
//! | `EventLag` | Milliseconds | handler start minus the CloudEvent's `time`, per record |
//! | `ProcessingTime` | Milliseconds | one record's handling, per record |
//! | `Handled` | Count | records handled |
//! | `DuplicatesSkipped` | Count | records the inbox skipped as already handled |
//! | `Retried` | Count | records left to SQS to deliver again |
//! | `DeadLettered` | Count | records sent to the function's DLQ |
//!
//! The queue's own lag (`ApproximateAgeOfOldestMessage`), its DLQ depth and the Lambda's
//! errors and throttles are AWS's metrics already; `infra/terraform/alarms.tf` alarms on them.

use std::time::Duration;

use serde_json::{Value, json};

/// The CloudWatch namespace of the metrics.
pub const NAMESPACE: &str = "conveyor";

/// EMF takes at most this many values per metric in one document.
pub const MAX_VALUES: usize = 100;

/// How one record ended, as counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    /// Handled.
    Handled,
    /// Skipped by the inbox: handled before.
    Duplicate,
    /// Reported in `batchItemFailures`: SQS delivers it again.
    Retried,
    /// Sent to the DLQ.
    DeadLettered,
}

impl Counted {
    fn metric(self) -> &'static str {
        match self {
            Self::Handled => "Handled",
            Self::Duplicate => "DuplicatesSkipped",
            Self::Retried => "Retried",
            Self::DeadLettered => "DeadLettered",
        }
    }
}

/// One record's measurements.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Handler start minus the event's time; `None` for an event without a readable time.
    pub lag: Option<Duration>,
    /// The record's handling.
    pub took: Duration,
    /// How it ended.
    pub counted: Counted,
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The EMF documents of `function`'s `samples`, stamped `at_ms` (Unix milliseconds): one per
/// [`MAX_VALUES`] samples; none without samples.
#[must_use]
pub fn documents(function: &str, at_ms: i64, samples: &[Sample]) -> Vec<Value> {
    samples
        .chunks(MAX_VALUES)
        .map(|chunk| {
            let counts = [
                Counted::Handled,
                Counted::Duplicate,
                Counted::Retried,
                Counted::DeadLettered,
            ];
            let mut metrics = vec![
                json!({ "Name": "EventLag", "Unit": "Milliseconds" }),
                json!({ "Name": "ProcessingTime", "Unit": "Milliseconds" }),
            ];
            metrics.extend(
                counts
                    .iter()
                    .map(|c| json!({ "Name": c.metric(), "Unit": "Count" })),
            );
            let mut doc = json!({
                "_aws": {
                    "Timestamp": at_ms,
                    "CloudWatchMetrics": [{
                        "Namespace": NAMESPACE,
                        "Dimensions": [["function"]],
                        "Metrics": metrics,
                    }],
                },
                "function": function,
                "EventLag": chunk.iter().filter_map(|s| s.lag.map(millis)).collect::<Vec<_>>(),
                "ProcessingTime": chunk.iter().map(|s| millis(s.took)).collect::<Vec<_>>(),
            });
            for c in counts {
                doc[c.metric()] = json!(chunk.iter().filter(|s| s.counted == c).count());
            }
            doc
        })
        .collect()
}

/// Where the host hands each batch's samples.
pub trait BatchMetrics: Send + Sync + std::fmt::Debug {
    /// The samples of one batch of `function`, taken at `at_ms` (Unix milliseconds).
    fn batch(&self, function: &str, at_ms: i64, samples: &[Sample]);
}

/// Writes each batch's documents to stdout, one line each, where CloudWatch Logs reads them.
#[derive(Debug, Clone, Copy, Default)]
pub struct EmfStdout;

impl BatchMetrics for EmfStdout {
    fn batch(&self, function: &str, at_ms: i64, samples: &[Sample]) {
        for doc in documents(function, at_ms, samples) {
            println!("{doc}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(lag_ms: Option<u64>, counted: Counted) -> Sample {
        Sample {
            lag: lag_ms.map(Duration::from_millis),
            took: Duration::from_micros(2500),
            counted,
        }
    }

    #[test]
    fn a_batch_is_one_document_with_its_values_and_counts() {
        let samples = [
            sample(Some(120), Counted::Handled),
            sample(Some(12_000), Counted::Duplicate),
            sample(None, Counted::Retried),
            sample(Some(5), Counted::DeadLettered),
            sample(Some(7), Counted::Handled),
        ];
        let docs = documents("order-payment-confirmed", 1_700_000_000_000, &samples);
        assert_eq!(docs.len(), 1);
        let doc = &docs[0];
        assert_eq!(doc["_aws"]["Timestamp"], 1_700_000_000_000_i64);
        let directive = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "conveyor");
        assert_eq!(directive["Dimensions"], json!([["function"]]));
        let names: Vec<&str> = directive["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap())
            .collect();
        // Every metric the directive names has a value at the top level, as EMF requires.
        for name in &names {
            assert!(doc.get(*name).is_some(), "{name} in {doc}");
        }
        assert_eq!(doc["function"], "order-payment-confirmed");
        assert_eq!(doc["EventLag"], json!([120.0, 12_000.0, 5.0, 7.0]));
        assert_eq!(doc["ProcessingTime"].as_array().unwrap().len(), 5);
        assert_eq!(doc["ProcessingTime"][0], 2.5);
        assert_eq!(
            (
                &doc["Handled"],
                &doc["DuplicatesSkipped"],
                &doc["Retried"],
                &doc["DeadLettered"]
            ),
            (&json!(2), &json!(1), &json!(1), &json!(1))
        );
    }

    #[test]
    fn large_batches_are_split_at_the_emf_value_limit_and_empty_ones_emit_nothing() {
        let samples = vec![sample(Some(1), Counted::Handled); 250];
        let docs = documents("f", 0, &samples);
        let sizes: Vec<usize> = docs
            .iter()
            .map(|d| d["ProcessingTime"].as_array().unwrap().len())
            .collect();
        assert_eq!(sizes, [100, 100, 50]);
        assert_eq!(docs[2]["Handled"], 50);
        assert!(documents("f", 0, &[]).is_empty());
    }
}
