//! Least privilege: each role may touch only its own function's log group, queue, DLQ and
//! Lambda, and the bus; checked on the evaluated policy documents, statement by statement.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::model::Config;
use super::stand_ins::{ACCOUNT_ID, REQUIRED_VARS, mock_arn};
use super::{config, specs};

/// A policy's statements as (Sid, actions, resources), after checking each allows.
fn statements(doc: &Value) -> Vec<(String, BTreeSet<String>, BTreeSet<String>)> {
    assert_eq!(doc["Version"], "2012-10-17");
    let as_set = |v: &Value| -> BTreeSet<String> {
        match v {
            Value::String(s) => BTreeSet::from([s.clone()]),
            Value::Array(items) => items
                .iter()
                .map(|i| i.as_str().unwrap().to_owned())
                .collect(),
            other => panic!("not a string list: {other}"),
        }
    };
    doc["Statement"]
        .as_array()
        .expect("statements")
        .iter()
        .map(|s| {
            assert_eq!(s["Effect"], "Allow", "{s}");
            assert!(
                s.get("NotAction").is_none() && s.get("NotResource").is_none(),
                "{s}"
            );
            let actions = as_set(&s["Action"]);
            assert!(
                actions.iter().all(|a| !a.contains('*')),
                "wildcard action in {s}"
            );
            (
                s["Sid"].as_str().unwrap().to_owned(),
                actions,
                as_set(&s["Resource"]),
            )
        })
        .collect()
}

/// Every stand-in ARN of another function's resources that `text` mentions.
fn foreign_arns(config: &Config, own: &str, text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (ty, name) in [
        ("aws_sqs_queue", "queue"),
        ("aws_sqs_queue", "dlq"),
        ("aws_lambda_function", "fn"),
        ("aws_cloudwatch_log_group", "fn"),
        ("aws_cloudwatch_event_rule", "topic"),
        ("aws_iam_role", "lambda"),
    ] {
        for key in config.keys(ty, name) {
            let arn = mock_arn(ty, name, Some(&key));
            if key != own && text.contains(&arn) {
                found.push(arn);
            }
        }
    }
    found
}

/// The one statement of a role's trust policy, after checking it allows `sts:AssumeRole`.
fn trust_statement(config: &Config, role: &str, key: &str) -> Value {
    let doc = config.eval_doc("aws_iam_role", role, key, "assume_role_policy");
    assert_eq!(doc["Version"], "2012-10-17");
    let [statement] = &doc["Statement"].as_array().expect("statements")[..] else {
        panic!("one trust statement in {doc}")
    };
    assert_eq!(statement["Effect"], "Allow");
    assert_eq!(statement["Action"], json!(["sts:AssumeRole"]));
    statement.clone()
}

#[test]
fn lambda_roles_reach_only_their_own_log_group_queue_dlq_and_the_bus() {
    let config = config();
    let bus = mock_arn("aws_cloudwatch_event_bus", "bus", None);
    for spec in specs() {
        let n = spec.name;
        let key = Some(n);
        let trust = trust_statement(&config, "lambda", n);
        assert_eq!(
            trust["Principal"],
            json!({ "Service": "lambda.amazonaws.com" })
        );
        let role_id = format!("id:aws_iam_role.lambda[{n}]");
        assert_eq!(
            config.eval("aws_iam_role_policy", "lambda", key, "role"),
            role_id
        );

        let doc = config.eval_doc("aws_iam_role_policy", "lambda", n, "policy");
        let mut granted: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (sid, actions, resources) in statements(&doc) {
            if sid == "WriteTraces" {
                assert!(
                    actions.iter().all(|a| a.starts_with("xray:")),
                    "{actions:?}"
                );
                assert_eq!(resources, BTreeSet::from(["*".to_owned()]));
                continue;
            }
            assert!(!resources.contains("*"), "{n} {sid}: no wildcard resource");
            for action in actions {
                granted
                    .entry(action)
                    .or_default()
                    .extend(resources.iter().cloned());
            }
        }
        let doc = config.eval_doc("aws_iam_role_policy", "database_secret", n, "policy");
        for (_, actions, resources) in statements(&doc) {
            for action in actions {
                granted
                    .entry(action)
                    .or_default()
                    .extend(resources.iter().cloned());
            }
        }
        if spec.schedule().is_none() {
            let doc = config.eval_doc("aws_iam_role_policy", "queue", n, "policy");
            assert_eq!(
                config.eval("aws_iam_role_policy", "queue", key, "role"),
                role_id
            );
            for (_, actions, resources) in statements(&doc) {
                for action in actions {
                    granted
                        .entry(action)
                        .or_default()
                        .extend(resources.iter().cloned());
                }
            }
        }
        let orchestrator = spec.topics().contains(&conveyor_runtime::saga::TIMER_FIRED);
        if orchestrator {
            let doc = config.eval_doc("aws_iam_role_policy", "saga_timers", n, "policy");
            assert_eq!(
                config.eval("aws_iam_role_policy", "saga_timers", key, "role"),
                role_id
            );
            for (_, actions, resources) in statements(&doc) {
                for action in actions {
                    granted
                        .entry(action)
                        .or_default()
                        .extend(resources.iter().cloned());
                }
            }
        }
        let own = |ty: &str, name: &str| BTreeSet::from([mock_arn(ty, name, key)]);
        let log_streams = BTreeSet::from([format!(
            "{}:*",
            mock_arn("aws_cloudwatch_log_group", "fn", key)
        )]);
        let mut expected = BTreeMap::from([
            ("logs:CreateLogStream".to_owned(), log_streams.clone()),
            ("logs:PutLogEvents".to_owned(), log_streams),
            ("events:PutEvents".to_owned(), BTreeSet::from([bus.clone()])),
            (
                "secretsmanager:GetSecretValue".to_owned(),
                BTreeSet::from([REQUIRED_VARS[2].1.to_owned()]),
            ),
            ("sqs:SendMessage".to_owned(), {
                // Its own DLQ, and every ordered function's FIFO queue (conveyor publishes
                // their events there directly), nothing else.
                let mut send = own("aws_sqs_queue", "dlq");
                send.extend(
                    specs()
                        .iter()
                        .filter(|s| s.ordering_key.is_some())
                        .map(|s| mock_arn("aws_sqs_queue", "queue", Some(s.name))),
                );
                // A saga orchestrator's own queue too: its timers wait there.
                if orchestrator {
                    send.extend(own("aws_sqs_queue", "queue"));
                }
                send
            }),
        ]);
        if spec.schedule().is_none() {
            for action in [
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
            ] {
                expected.insert(action.to_owned(), own("aws_sqs_queue", "queue"));
            }
        }
        assert_eq!(granted, expected, "{n}");
    }
}

#[test]
fn scheduler_roles_invoke_only_their_own_job() {
    let config = config();
    for spec in specs().iter().filter(|s| s.schedule().is_some()) {
        let n = spec.name;
        let key = Some(n);
        let trust = trust_statement(&config, "scheduler", n);
        assert_eq!(
            trust["Principal"],
            json!({ "Service": "scheduler.amazonaws.com" })
        );
        assert_eq!(
            trust["Condition"],
            json!({ "StringEquals": { "aws:SourceAccount": ACCOUNT_ID } })
        );
        let doc = config.eval_doc("aws_iam_role_policy", "scheduler", n, "policy");
        let granted: BTreeMap<BTreeSet<String>, BTreeSet<String>> = statements(&doc)
            .into_iter()
            .map(|(_, actions, resources)| (actions, resources))
            .collect();
        let set = |s: &str| BTreeSet::from([s.to_owned()]);
        assert_eq!(
            granted,
            BTreeMap::from([
                (
                    set("lambda:InvokeFunction"),
                    set(&mock_arn("aws_lambda_function", "fn", key))
                ),
                (
                    set("sqs:SendMessage"),
                    set(&mock_arn("aws_sqs_queue", "dlq", key))
                ),
            ]),
            "{n}"
        );
    }
}

/// No policy, trust or queue policy of a function names another function's resources, except
/// the ordered functions' queues, which every function may send to (`SendToOrderedQueues`).
#[test]
fn no_policy_names_another_functions_resources() {
    let ordered: BTreeSet<String> = specs()
        .iter()
        .filter(|s| s.ordering_key.is_some())
        .map(|s| mock_arn("aws_sqs_queue", "queue", Some(s.name)))
        .collect();
    let config = config();
    for spec in specs() {
        let n = spec.name;
        let mut docs = vec![
            ("aws_iam_role_policy", "lambda", "policy"),
            ("aws_iam_role", "lambda", "assume_role_policy"),
        ];
        if spec.schedule().is_some() {
            docs.extend([
                ("aws_iam_role_policy", "scheduler", "policy"),
                ("aws_iam_role", "scheduler", "assume_role_policy"),
            ]);
        } else {
            docs.extend([
                ("aws_iam_role_policy", "queue", "policy"),
                ("aws_sqs_queue_policy", "queue", "policy"),
                (
                    "aws_sqs_queue_redrive_allow_policy",
                    "dlq",
                    "redrive_allow_policy",
                ),
                ("aws_sqs_queue", "queue", "redrive_policy"),
            ]);
        }
        for (ty, name, attr) in docs {
            let text = config.eval(ty, name, Some(n), attr);
            let mut foreign = foreign_arns(&config, n, text.as_str().unwrap());
            if (ty, name) == ("aws_iam_role_policy", "lambda") {
                let doc: serde_json::Value = serde_json::from_str(text.as_str().unwrap()).unwrap();
                let ordered_sends: BTreeSet<String> = statements(&doc)
                    .into_iter()
                    .filter(|(sid, _, _)| sid == "SendToOrderedQueues")
                    .flat_map(|(_, _, resources)| resources)
                    .collect();
                assert_eq!(ordered_sends, ordered, "{n}: the ordered queues");
                foreign.retain(|arn| !ordered.contains(arn));
            }
            assert!(
                foreign.is_empty(),
                "{ty}.{name}[{n}].{attr} names {foreign:?}"
            );
        }
    }
}
