//! What `terraform apply` creates per job, and the dead-letter queues and alarms of all: the
//! SLA alarms on each function's dead letters, oldest queued message, Lambda errors and throttles.

use conveyor_runtime::cron::Schedule;
use serde_json::{Value, json};

use super::model::Config;
use super::stand_ins::mock_arn;
use super::{config, names, specs, terraform_dir};

#[test]
fn every_job_has_a_schedule_with_a_dead_letter_queue() {
    let config = config();
    let jobs = names(|s| s.schedule().is_some());
    assert_eq!(jobs.len(), 12);
    for (ty, name) in [
        ("aws_scheduler_schedule", "job"),
        ("aws_iam_role", "scheduler"),
        ("aws_iam_role_policy", "scheduler"),
        ("aws_lambda_function_event_invoke_config", "job"),
    ] {
        assert_eq!(config.keys(ty, name), jobs, "{ty}.{name}");
    }
    for spec in specs() {
        let Some(cron) = spec.schedule() else {
            continue;
        };
        let key = Some(spec.name);
        let eval = |path: &str| config.eval("aws_scheduler_schedule", "job", key, path);
        let expected = Schedule::parse(cron).unwrap().to_eventbridge().unwrap();
        assert_eq!(eval("schedule_expression"), expected, "{}", spec.name);
        assert_eq!(eval("schedule_expression_timezone"), "UTC");
        assert_eq!(eval("flexible_time_window.mode"), "OFF");
        assert_eq!(eval("state"), "ENABLED");
        assert_eq!(eval("name"), format!("test-{}", spec.name));
        assert_eq!(eval("group_name"), "test-conveyor");
        assert_eq!(
            eval("target.arn"),
            mock_arn("aws_lambda_function", "fn", key)
        );
        assert_eq!(
            eval("target.role_arn"),
            mock_arn("aws_iam_role", "scheduler", key)
        );
        assert_eq!(
            eval("target.dead_letter_config.arn"),
            mock_arn("aws_sqs_queue", "dlq", key)
        );
        let retries = spec.retry.max_deliveries - 1;
        assert_eq!(eval("target.retry_policy.maximum_retry_attempts"), retries);
        // Written out, not jsonencode()d: Scheduler substitutes only unescaped placeholders.
        let input = eval("target.input");
        assert_eq!(
            input,
            r#"{"scheduled_time":"<aws.scheduler.scheduled-time>","attempt":"<aws.scheduler.attempt-number>"}"#
        );
        let input: Value = serde_json::from_str(input.as_str().unwrap()).expect("JSON input");
        assert!(input["scheduled_time"].is_string());

        let invoke =
            |path: &str| config.eval("aws_lambda_function_event_invoke_config", "job", key, path);
        assert_eq!(invoke("function_name"), format!("test-{}", spec.name));
        assert_eq!(invoke("maximum_retry_attempts"), retries.min(2));
        assert_eq!(
            invoke("destination_config.on_failure.destination"),
            mock_arn("aws_sqs_queue", "dlq", key)
        );
    }
    let disabled = Config::load(&terraform_dir(), &[("schedules_enabled", json!(false))]);
    let state = disabled.eval(
        "aws_scheduler_schedule",
        "job",
        Some("order-cart-cleanup"),
        "state",
    );
    assert_eq!(state, "DISABLED");
}

#[test]
fn every_dead_letter_queue_is_encrypted_and_alarmed() {
    let config = Config::load(
        &terraform_dir(),
        &[(
            "alarm_actions",
            json!(["arn:aws:sns:eu-west-1:123456789012:oncall"]),
        )],
    );
    for spec in specs() {
        let key = Some(spec.name);
        let dlq = |path: &str| config.eval("aws_sqs_queue", "dlq", key, path);
        let fifo = if spec.ordering_key.is_some() {
            ".fifo"
        } else {
            ""
        };
        assert_eq!(dlq("name"), format!("test-{}-dlq{fifo}", spec.name));
        assert_eq!(dlq("fifo_queue"), spec.ordering_key.is_some());
        assert_eq!(dlq("sqs_managed_sse_enabled"), true);
        assert_eq!(dlq("message_retention_seconds"), 1_209_600);
        let alarm = |path: &str| config.eval("aws_cloudwatch_metric_alarm", "dlq", key, path);
        assert_eq!(alarm("namespace"), "AWS/SQS");
        assert_eq!(alarm("metric_name"), "ApproximateNumberOfMessagesVisible");
        assert_eq!(
            alarm("dimensions"),
            json!({ "QueueName": format!("test-{}-dlq{fifo}", spec.name) })
        );
        assert_eq!(alarm("comparison_operator"), "GreaterThanThreshold");
        assert_eq!(alarm("threshold"), 0);
        assert_eq!(
            alarm("alarm_actions"),
            json!(["arn:aws:sns:eu-west-1:123456789012:oncall"])
        );
    }
}

#[test]
fn every_function_has_its_sla_alarms_at_the_generated_thresholds() {
    let config = Config::load(
        &terraform_dir(),
        &[(
            "alarm_actions",
            json!(["arn:aws:sns:eu-west-1:123456789012:oncall"]),
        )],
    );
    let topics = names(|s| s.schedule().is_none());
    assert_eq!(
        config.keys("aws_cloudwatch_metric_alarm", "oldest_message"),
        topics
    );
    let every = names(|_| true);
    for name in ["dlq_depth", "lambda_errors", "lambda_throttles"] {
        assert_eq!(
            config.keys("aws_cloudwatch_metric_alarm", name),
            every,
            "{name}"
        );
    }
    for spec in specs() {
        let key = Some(spec.name);
        let fifo = if spec.ordering_key.is_some() {
            ".fifo"
        } else {
            ""
        };
        let alarm =
            |name: &str, path: &str| config.eval("aws_cloudwatch_metric_alarm", name, key, path);
        assert_eq!(alarm("dlq_depth", "threshold"), 500);
        assert_eq!(
            alarm("dlq_depth", "dimensions"),
            json!({ "QueueName": format!("test-{}-dlq{fifo}", spec.name) })
        );
        for (name, metric) in [
            ("lambda_errors", "Errors"),
            ("lambda_throttles", "Throttles"),
        ] {
            assert_eq!(alarm(name, "namespace"), "AWS/Lambda");
            assert_eq!(alarm(name, "metric_name"), metric);
            assert_eq!(alarm(name, "threshold"), 0);
            assert_eq!(
                alarm(name, "dimensions"),
                json!({ "FunctionName": format!("test-{}", spec.name) })
            );
            assert_eq!(alarm(name, "comparison_operator"), "GreaterThanThreshold");
            assert_eq!(
                alarm(name, "alarm_actions"),
                json!(["arn:aws:sns:eu-west-1:123456789012:oncall"])
            );
        }
        if spec.schedule().is_none() {
            assert_eq!(alarm("oldest_message", "namespace"), "AWS/SQS");
            assert_eq!(
                alarm("oldest_message", "metric_name"),
                "ApproximateAgeOfOldestMessage"
            );
            assert_eq!(alarm("oldest_message", "threshold"), 10);
            assert_eq!(
                alarm("oldest_message", "dimensions"),
                json!({ "QueueName": format!("test-{}{fifo}", spec.name) })
            );
        }
    }
}
