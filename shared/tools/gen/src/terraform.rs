//! `infra/terraform/`: the catalog as data for the hand-written Terraform.
//!
//! The Terraform in that folder is static: every resource iterates with `for_each` over
//! `local.functions`, which the one generated file, [`DATA_FILE`], defines from
//! [`conveyor_catalog`]: per function its service, topics or cron (with the EventBridge form of the
//! cron), timeout, memory, concurrency and deliveries before the DLQ; and `local.alarm_thresholds`,
//! the SLA thresholds ([`crate::sla`]) the CloudWatch alarms of `alarms.tf` compare to. Adding a
//! function to the catalog and running `conveyor gen terraform` is all a deployment needs.
//!
//! Files of the folder ending in `.tf.json` belong to the generator: [`write`] replaces them and
//! [`check`] reports any that differ. Every other file (the `.tf` files, the README) is
//! hand-written and never touched.

use std::path::{Path, PathBuf};

use conveyor_runtime::FunctionSpec;
use conveyor_runtime::cron::{CronError, Schedule};
use serde_json::{Map, Value, json};

use super::{Files, pretty_json};

/// The generated file, relative to `infra/terraform`.
pub const DATA_FILE: &str = "functions.tf.json";

/// The suffix of every file the generator owns in the folder.
const GENERATED_SUFFIX: &str = ".tf.json";

/// The longest environment name `variables.tf` accepts.
pub const MAX_ENVIRONMENT_LEN: usize = 16;

/// The longest suffix a resource name gets after `<environment>-<function>` (the scheduler's
/// role); IAM role, Lambda, rule and schedule names are limited to 64 characters.
const LONGEST_NAME_SUFFIX: &str = "-scheduler";

/// The longest Lambda timeout.
const MAX_TIMEOUT_SECS: u64 = 900;

/// Why the Terraform data could not be rendered or written.
#[derive(Debug, thiserror::Error)]
pub enum GenError {
    /// A job's cron has no EventBridge form.
    #[error("{function}: {source}")]
    Cron {
        /// The function.
        function: String,
        /// The translation error.
        source: CronError,
    },
    /// A spec does not fit what Lambda, SQS or IAM accept.
    #[error("{function}: {reason}")]
    Unsupported {
        /// The function.
        function: String,
        /// What does not fit.
        reason: String,
    },
    /// Writing the files failed.
    #[error("cannot write the Terraform data: {0}")]
    Io(#[from] std::io::Error),
}

/// The Terraform view of one spec: the value `local.functions[name]` holds.
///
/// # Errors
/// [`GenError`] for a cron without EventBridge form, or a name, timeout, memory size or
/// delivery count AWS does not accept.
pub fn function_data(spec: &FunctionSpec) -> Result<Value, GenError> {
    let unsupported = |reason: String| GenError::Unsupported {
        function: spec.name.to_owned(),
        reason,
    };
    let longest = MAX_ENVIRONMENT_LEN + 1 + spec.name.len() + LONGEST_NAME_SUFFIX.len();
    if longest > 64 {
        return Err(unsupported(format!(
            "the name is too long for AWS resource names ({longest} > 64 characters)"
        )));
    }
    let timeout = spec.timeout.as_secs() + u64::from(spec.timeout.subsec_nanos() > 0);
    if !(1..=MAX_TIMEOUT_SECS).contains(&timeout) {
        return Err(unsupported(format!(
            "timeout {timeout} s is outside Lambda's 1..={MAX_TIMEOUT_SECS} s"
        )));
    }
    if !(128..=10_240).contains(&spec.memory_mb) {
        return Err(unsupported(format!(
            "memory {} MB is outside Lambda's 128..=10240 MB",
            spec.memory_mb
        )));
    }
    if !(1..=1000).contains(&spec.retry.max_deliveries) {
        return Err(unsupported(format!(
            "max deliveries {} is outside SQS's maxReceiveCount 1..=1000",
            spec.retry.max_deliveries
        )));
    }
    if spec.concurrency == 0 {
        return Err(unsupported("concurrency 0 would never run".to_owned()));
    }
    let (kind, expression, description) = match spec.schedule() {
        Some(cron) => {
            let eventbridge = Schedule::parse(cron)
                .and_then(|s| s.to_eventbridge())
                .map_err(|source| GenError::Cron {
                    function: spec.name.to_owned(),
                    source,
                })?;
            let description = format!("{} job, cron {cron} (UTC)", spec.service.name());
            ("job", Some(eventbridge), description)
        }
        None if spec.topics().is_empty() => {
            return Err(unsupported("neither topics nor a schedule".to_owned()));
        }
        None => {
            let description = format!(
                "{} consumer of {}",
                spec.service.name(),
                spec.topics().join(", ")
            );
            ("topic", None, description)
        }
    };
    Ok(json!({
        "service": spec.service.name(),
        "kind": kind,
        "description": template_literal(&description),
        "topics": spec.topics().iter().map(|t| template_literal(t)).collect::<Vec<_>>(),
        "cron": spec.schedule().map(template_literal),
        "schedule_expression": expression.as_deref().map(template_literal),
        "timeout_seconds": timeout,
        "memory_mb": spec.memory_mb,
        "concurrency": spec.concurrency,
        "max_deliveries": spec.retry.max_deliveries,
        "ordering_key": spec.ordering_key.map(template_literal),
    }))
}

/// The content of [`DATA_FILE`] for `specs`: a `locals` block with `functions`, keyed by name.
///
/// # Errors
/// The first [`GenError`] of [`function_data`].
pub fn data(specs: &[FunctionSpec]) -> Result<Value, GenError> {
    let mut functions = Map::new();
    for spec in specs {
        functions.insert(spec.name.to_owned(), function_data(spec)?);
    }
    Ok(json!({
        "//": "Generated from the function catalog by `conveyor gen terraform`; do not edit.",
        "locals": { "functions": functions, "alarm_thresholds": alarm_thresholds() },
    }))
}

/// What the CloudWatch alarms compare to: the age of a queue's oldest message (the event lag
/// SQS can tell), the dead letters per function, and the Lambda errors (crashes and time-outs:
/// a handler's failures are reported per message, not as errors) and throttles per 5 minutes.
#[must_use]
pub fn alarm_thresholds() -> Value {
    json!({
        "oldest_message_age_seconds": crate::sla::EVENT_LAG_SECONDS,
        "dlq_depth": crate::sla::DLQ_DEPTH,
        "lambda_errors": 0,
        "lambda_throttles": 0,
    })
}

/// The generated files of `infra/terraform`, relative to that folder.
///
/// # Errors
/// [`GenError`] when a spec cannot be expressed.
pub fn render() -> Result<Files, GenError> {
    let mut files = Files::new();
    let text = pretty_json(&data(&conveyor_catalog::specs())?);
    files.insert(PathBuf::from(DATA_FILE), text);
    Ok(files)
}

/// Writes the generated files into `dir` (the `infra/terraform` folder itself) and removes
/// generated files that are not rendered any more; hand-written files are left alone. Returns
/// the files written or removed.
///
/// # Errors
/// [`GenError`] when rendering or writing fails.
pub fn write(dir: &Path) -> Result<Vec<PathBuf>, GenError> {
    Ok(super::write_owned(dir, &render()?, &is_generated)?)
}

/// How the generated files in `dir` differ from what [`render`] gives: one line per missing,
/// different or stale file; empty when up to date.
#[must_use]
pub fn check(dir: &Path) -> Vec<String> {
    match render() {
        Ok(files) => super::check_owned(dir, &files, &is_generated),
        Err(e) => vec![e.to_string()],
    }
}

/// Whether the generator owns a file of the folder: top-level `*.tf.json` files only.
fn is_generated(rel: &Path) -> bool {
    rel.components().count() == 1 && rel.to_string_lossy().ends_with(GENERATED_SUFFIX)
}

/// `text` as a Terraform JSON string that means itself: in `.tf.json` files every string is a
/// template, so `${` and `%{` are escaped as `$${` and `%%{`.
#[must_use]
pub fn template_literal(text: &str) -> String {
    text.replace("${", "$${").replace("%{", "%%{")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use conveyor_runtime::{RetryPolicy, Service};

    use super::*;

    #[test]
    fn topic_and_job_specs_become_data() {
        let topic = FunctionSpec::on_topics("order-x", Service::Order, &["a.b", "c.d"]);
        let value = function_data(&topic).unwrap();
        assert_eq!(value["kind"], "topic");
        assert_eq!(value["topics"], json!(["a.b", "c.d"]));
        assert_eq!(value["cron"], Value::Null);
        assert_eq!(value["timeout_seconds"], 30);
        assert_eq!(value["max_deliveries"], 5);
        let job = FunctionSpec::on_schedule("warehouse-y", Service::Warehouse, "15 0 * * 1")
            .with_timeout(Duration::from_millis(1500));
        let value = function_data(&job).unwrap();
        assert_eq!(value["kind"], "job");
        assert_eq!(value["schedule_expression"], "cron(15 0 ? * MON *)");
        assert_eq!(value["timeout_seconds"], 2, "rounded up");
        assert_eq!(value["topics"], json!([]));
    }

    #[test]
    fn specs_aws_cannot_take_are_refused() {
        let base = FunctionSpec::on_topics("order-x", Service::Order, &["a"]);
        let too_long = FunctionSpec {
            name: "order-a-name-that-is-far-too-long-for-iam",
            ..base
        };
        let slow = base.with_timeout(Duration::from_secs(901));
        let endless = base.with_retry(RetryPolicy {
            max_deliveries: 0,
            ..RetryPolicy::DEFAULT
        });
        let both_days = FunctionSpec::on_schedule("order-j", Service::Order, "0 0 1 * 1");
        for spec in [too_long, slow, endless, both_days] {
            assert!(function_data(&spec).is_err(), "{}", spec.name);
        }
    }

    #[test]
    fn template_sequences_are_escaped() {
        assert_eq!(template_literal("a ${b} %{c}"), "a $${b} %%{c}");
        assert_eq!(template_literal("cron(0 * * * ? *)"), "cron(0 * * * ? *)");
    }
}
