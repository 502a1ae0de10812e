//! What `terraform apply` creates per function and per topic function, instance by instance.

use std::collections::BTreeSet;

use serde_json::json;

use super::budget::default_concurrency;
use super::model::Config;
use super::stand_ins::{REQUIRED_VARS, mock_arn, mock_url};
use super::{config, names, specs, terraform_dir};

#[test]
fn every_function_has_its_lambda() {
    let config = config();
    let all = names(|_| true);
    for (ty, name) in [
        ("aws_lambda_function", "fn"),
        ("aws_cloudwatch_log_group", "fn"),
        ("aws_iam_role", "lambda"),
        ("aws_iam_role_policy", "lambda"),
        ("aws_sqs_queue", "dlq"),
        ("aws_cloudwatch_metric_alarm", "dlq"),
    ] {
        assert_eq!(config.keys(ty, name), all, "{ty}.{name}");
    }
    for spec in specs() {
        let key = Some(spec.name);
        let eval = |path: &str| config.eval("aws_lambda_function", "fn", key, path);
        assert_eq!(eval("function_name"), format!("test-{}", spec.name));
        assert_eq!(eval("runtime"), "provided.al2023");
        assert_eq!(eval("architectures"), json!(["arm64"]));
        assert_eq!(eval("handler"), "bootstrap");
        let zip = format!("../../target/lambda/{}/bootstrap.zip", spec.name);
        assert_eq!(eval("filename"), zip);
        assert_eq!(eval("source_code_hash"), format!("sha256-of:{zip}"));
        assert_eq!(eval("memory_size"), spec.memory_mb);
        assert_eq!(eval("timeout"), spec.timeout.as_secs());
        assert_eq!(
            eval("reserved_concurrent_executions"),
            default_concurrency(&spec)
        );
        assert_eq!(eval("role"), mock_arn("aws_iam_role", "lambda", key));
        let mut variables = eval("environment.variables");
        let routes: serde_json::Value = serde_json::from_str(
            variables["CONVEYOR_ORDERED_ROUTES"]
                .as_str()
                .expect("every function gets the ordered routes"),
        )
        .unwrap();
        variables
            .as_object_mut()
            .unwrap()
            .remove("CONVEYOR_ORDERED_ROUTES");
        let mut expected = json!({
            "CONVEYOR_DATABASE_SECRET_ARN": REQUIRED_VARS[2].1,
            "CONVEYOR_DB_POOL_SIZE": "2",
            "CONVEYOR_EVENT_BUS": "test-conveyor",
            "CONVEYOR_DLQ_URL": mock_url("dlq", spec.name),
            "CONVEYOR_MIGRATE": "true",
        });
        // The maintenance job's retention (see retention.rs).
        if spec.name == "conveyor-maintenance" {
            expected["CONVEYOR_INBOX_RETENTION_DAYS"] = json!("14");
            expected["CONVEYOR_EVENT_RETENTION_DAYS"] = json!("365");
            expected["CONVEYOR_PRUNE_BATCHES"] = json!("10");
        }
        // A saga orchestrator's own queue, where it arms its timers; only there.
        if spec.topics().contains(&conveyor_runtime::saga::TIMER_FIRED) {
            expected["CONVEYOR_SAGA_TIMER_QUEUE_URL"] = json!(mock_url("queue", spec.name));
        }
        assert_eq!(variables, expected, "{}", spec.name);
        // Every ordered function's queue, its topics and key; nothing else.
        let ordered: Vec<serde_json::Value> = specs()
            .iter()
            .filter(|s| s.ordering_key.is_some())
            .map(|s| {
                json!({
                    "queue_url": mock_url("queue", s.name),
                    "topics": s.topics(),
                    "key": s.ordering_key,
                })
            })
            .collect();
        let mut routes = routes.as_array().unwrap().clone();
        routes.sort_by_key(|r| r["queue_url"].as_str().unwrap().to_owned());
        let mut ordered = ordered;
        ordered.sort_by_key(|r| r["queue_url"].as_str().unwrap().to_owned());
        assert_eq!(routes, ordered, "{}", spec.name);
        assert_eq!(eval("tracing_config.mode"), "Active");
        assert_eq!(
            eval("logging_config.log_group"),
            format!("/aws/lambda/test-{}", spec.name)
        );
        let retention = config.eval("aws_cloudwatch_log_group", "fn", key, "retention_in_days");
        assert_eq!(retention, 30);
    }
    assert_eq!(
        config.keys("aws_iam_role_policy_attachment", "vpc"),
        BTreeSet::new(),
        "no VPC by default"
    );
}

#[test]
fn variables_switch_reserved_concurrency_tracing_migrations_and_the_vpc() {
    let config = Config::load(
        &terraform_dir(),
        &[
            ("reserve_concurrency", json!(false)),
            ("tracing_mode", json!("PassThrough")),
            ("migrate_on_cold_start", json!(false)),
            ("lambda_artifact_dir", json!("/builds/lambda")),
            ("vpc_subnet_ids", json!(["subnet-1"])),
            ("environment", json!("prod")),
        ],
    );
    let key = Some("warehouse-reservation-expiry");
    let eval = |path: &str| config.eval("aws_lambda_function", "fn", key, path);
    assert_eq!(eval("reserved_concurrent_executions"), -1);
    assert_eq!(eval("tracing_config.mode"), "PassThrough");
    assert_eq!(eval("environment.variables")["CONVEYOR_MIGRATE"], "false");
    assert_eq!(eval("function_name"), "prod-warehouse-reservation-expiry");
    assert_eq!(
        eval("filename"),
        "/builds/lambda/warehouse-reservation-expiry/bootstrap.zip"
    );
    assert_eq!(
        config.keys("aws_iam_role_policy_attachment", "vpc"),
        names(|_| true)
    );
}

#[test]
fn every_topic_function_has_queue_dlq_mapping_and_rule() {
    let config = config();
    let topic_functions = names(|s| s.schedule().is_none());
    assert_eq!(topic_functions.len(), 15);
    for (ty, name) in [
        ("aws_sqs_queue", "queue"),
        ("aws_sqs_queue_redrive_allow_policy", "dlq"),
        ("aws_sqs_queue_policy", "queue"),
        ("aws_cloudwatch_event_rule", "topic"),
        ("aws_lambda_event_source_mapping", "queue"),
        ("aws_iam_role_policy", "queue"),
    ] {
        assert_eq!(config.keys(ty, name), topic_functions, "{ty}.{name}");
    }
    // Ordered functions' rules target their FIFO queue with a fixed group; the others plainly.
    let ordered = names(|s| s.ordering_key.is_some());
    assert_eq!(
        config.keys("aws_cloudwatch_event_target", "ordered"),
        ordered
    );
    let plain: BTreeSet<String> = topic_functions.difference(&ordered).cloned().collect();
    assert_eq!(config.keys("aws_cloudwatch_event_target", "topic"), plain);
    for spec in specs().iter().filter(|s| s.schedule().is_none()) {
        let n = spec.name;
        let key = Some(n);
        let queue = |path: &str| config.eval("aws_sqs_queue", "queue", key, path);
        let is_ordered = spec.ordering_key.is_some();
        let fifo = if is_ordered { ".fifo" } else { "" };
        assert_eq!(queue("name"), format!("test-{n}{fifo}"));
        assert_eq!(queue("fifo_queue"), is_ordered);
        assert_eq!(queue("content_based_deduplication"), is_ordered);
        assert!(
            queue("visibility_timeout_seconds").as_u64().unwrap() >= 6 * spec.timeout.as_secs()
        );
        assert_eq!(queue("sqs_managed_sse_enabled"), true);
        assert_eq!(
            config.eval_doc("aws_sqs_queue", "queue", n, "redrive_policy"),
            json!({
                "deadLetterTargetArn": mock_arn("aws_sqs_queue", "dlq", key),
                "maxReceiveCount": spec.retry.max_deliveries,
            })
        );
        assert_eq!(
            config.eval_doc(
                "aws_sqs_queue_redrive_allow_policy",
                "dlq",
                n,
                "redrive_allow_policy"
            ),
            json!({
                "redrivePermission": "byQueue",
                "sourceQueueArns": [mock_arn("aws_sqs_queue", "queue", key)],
            })
        );

        let esm = |path: &str| config.eval("aws_lambda_event_source_mapping", "queue", key, path);
        assert_eq!(
            esm("event_source_arn"),
            mock_arn("aws_sqs_queue", "queue", key)
        );
        assert_eq!(
            esm("function_name"),
            mock_arn("aws_lambda_function", "fn", key)
        );
        assert_eq!(
            esm("function_response_types"),
            json!(["ReportBatchItemFailures"])
        );
        assert_eq!(esm("batch_size"), 10);
        assert_eq!(
            esm("maximum_batching_window_in_seconds"),
            if is_ordered { json!(null) } else { json!(1) },
            "FIFO queues take no batching window"
        );
        assert_eq!(
            esm("scaling_config.maximum_concurrency"),
            default_concurrency(spec)
        );

        let pattern = config.eval_doc("aws_cloudwatch_event_rule", "topic", n, "event_pattern");
        if is_ordered {
            // Outside producers only: conveyor's own events reach the FIFO queue directly.
            assert_eq!(
                pattern,
                json!({
                    "detail-type": spec.topics(),
                    "source": [{ "anything-but": ["order-worker", "fulfillment-worker", "warehouse-worker"] }],
                }),
                "{n}"
            );
        } else {
            assert_eq!(pattern, json!({ "detail-type": spec.topics() }), "{n}");
        }
        let rule = |path: &str| config.eval("aws_cloudwatch_event_rule", "topic", key, path);
        assert_eq!(rule("event_bus_name"), "test-conveyor");
        let target_name = if is_ordered { "ordered" } else { "topic" };
        let target =
            |path: &str| config.eval("aws_cloudwatch_event_target", target_name, key, path);
        if is_ordered {
            assert_eq!(target("sqs_target.message_group_id"), "external");
        }
        assert_eq!(target("rule"), format!("test-{n}"));
        assert_eq!(target("event_bus_name"), "test-conveyor");
        assert_eq!(target("arn"), mock_arn("aws_sqs_queue", "queue", key));
        assert_eq!(target("input_path"), "$.detail");

        let policy = config.eval_doc("aws_sqs_queue_policy", "queue", n, "policy");
        let queue_url = config.eval("aws_sqs_queue_policy", "queue", key, "queue_url");
        assert_eq!(queue_url, format!("id:aws_sqs_queue.queue[{n}]"));
        assert_eq!(
            policy["Statement"],
            json!([{
                "Sid": "OwnRuleSends",
                "Effect": "Allow",
                "Principal": { "Service": "events.amazonaws.com" },
                "Action": ["sqs:SendMessage"],
                "Resource": [mock_arn("aws_sqs_queue", "queue", key)],
                "Condition": { "ArnEquals": {
                    "aws:SourceArn": mock_arn("aws_cloudwatch_event_rule", "topic", key)
                } },
            }])
        );
    }
}

/// Every topic the catalog subscribes to reaches exactly its subscribers' queues.
#[test]
fn every_subscription_has_a_rule_to_its_queue() {
    let config = config();
    for spec in specs() {
        for topic in spec.topics() {
            let routed: BTreeSet<String> = config
                .keys("aws_cloudwatch_event_rule", "topic")
                .into_iter()
                .filter(|n| {
                    let pattern =
                        config.eval_doc("aws_cloudwatch_event_rule", "topic", n, "event_pattern");
                    pattern["detail-type"]
                        .as_array()
                        .unwrap()
                        .contains(&json!(topic))
                })
                .collect();
            let subscribers: BTreeSet<String> = conveyor_catalog::subscribers(topic)
                .iter()
                .map(|f| f.spec().name.to_owned())
                .collect();
            assert_eq!(routed, subscribers, "{topic}");
            assert!(routed.contains(spec.name));
        }
    }
}

/// The multi-topic functions get one rule each, matching all their topics.
#[test]
fn notification_dispatch_and_order_compensation_have_one_rule_for_all_their_topics() {
    let config = config();
    for (name, topics) in [
        (
            "notification-dispatch",
            json!([
                "orders.order.status_changed",
                "payment.confirmed",
                "payment.failed",
                "warehouse.reservation.expiring"
            ]),
        ),
        (
            "order-compensation",
            json!([
                "warehouse.reservation.failed",
                "fulfillment.creation_failed"
            ]),
        ),
    ] {
        assert!(
            config
                .keys("aws_cloudwatch_event_rule", "topic")
                .contains(name),
            "{name} has a rule"
        );
        let pattern = config.eval_doc("aws_cloudwatch_event_rule", "topic", name, "event_pattern");
        assert_eq!(pattern["detail-type"], topics, "{name}");
        let target_name = if name == "order-compensation" {
            "ordered"
        } else {
            "topic"
        };
        let target =
            |path: &str| config.eval("aws_cloudwatch_event_target", target_name, Some(name), path);
        assert_eq!(
            target("arn"),
            mock_arn("aws_sqs_queue", "queue", Some(name))
        );
    }
}
