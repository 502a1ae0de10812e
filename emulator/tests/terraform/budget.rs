//! The connection budget: each function's concurrency times the pool size, summed, stays within
//! `database_max_connections` minus `database_reserved_connections`, and the plan fails (a
//! precondition) when it cannot.

use serde_json::{Value, json};

use super::model::Config;
use super::{config, names, specs, terraform_dir};
use conveyor_runtime::FunctionSpec;

/// A function's concurrency under the default budget (100 - 10 connections, pools of 2): jobs
/// keep the catalog's 1; topic functions share what the jobs leave, at least 2.
pub(crate) fn default_concurrency(spec: &FunctionSpec) -> u32 {
    let (budget, pool) = (100 - 10, 2);
    if spec.schedule().is_some() {
        return spec.concurrency;
    }
    let jobs: u32 = specs()
        .iter()
        .filter(|s| s.schedule().is_some())
        .map(|s| s.concurrency * pool)
        .sum();
    let topics = u32::try_from(names(|s| s.schedule().is_none()).len()).unwrap();
    let share = (budget - jobs) / (topics * pool);
    spec.concurrency.min(share).max(2)
}

fn budget_check(config: &Config) -> (bool, String) {
    let ty = "terraform_data";
    let name = "database_connection_budget";
    let condition = config.eval(ty, name, None, "lifecycle.precondition.condition");
    let message = config.eval(ty, name, None, "lifecycle.precondition.error_message");
    (
        condition.as_bool().expect("a boolean condition"),
        message.as_str().expect("a message").to_owned(),
    )
}

fn connections(config: &Config) -> u64 {
    specs()
        .iter()
        .map(|s| {
            let reserved = config.eval(
                "aws_lambda_function",
                "fn",
                Some(s.name),
                "reserved_concurrent_executions",
            );
            reserved.as_u64().expect("reserved concurrency")
        })
        .sum::<u64>()
        * config.vars["database_pool_size"].as_u64().unwrap()
}

#[test]
fn the_defaults_fit_the_budget_and_every_lambda_gets_its_pool_size() {
    let config = config();
    let (holds, _) = budget_check(&config);
    assert!(holds);
    assert!(connections(&config) <= 90, "{}", connections(&config));
    for spec in specs() {
        let key = Some(spec.name);
        let env = config.eval("aws_lambda_function", "fn", key, "environment.variables");
        assert_eq!(env["CONVEYOR_DB_POOL_SIZE"], "2");
        assert_eq!(
            config.eval(
                "aws_lambda_function",
                "fn",
                key,
                "reserved_concurrent_executions"
            ),
            default_concurrency(&spec),
            "{}",
            spec.name
        );
    }
}

#[test]
fn a_larger_database_gives_the_topic_functions_their_catalog_concurrency() {
    let config = Config::load(
        &terraform_dir(),
        &[("database_max_connections", json!(5000))],
    );
    assert!(budget_check(&config).0);
    for spec in specs().iter().filter(|s| s.schedule().is_none()) {
        let esm = config.eval(
            "aws_lambda_event_source_mapping",
            "queue",
            Some(spec.name),
            "scaling_config.maximum_concurrency",
        );
        assert_eq!(esm, json!(spec.concurrency.max(2)), "{}", spec.name);
    }
}

#[test]
fn a_budget_too_small_fails_the_plan_saying_what_to_change() {
    let config = Config::load(
        &terraform_dir(),
        &[
            ("database_max_connections", json!(40)),
            ("database_reserved_connections", json!(5)),
        ],
    );
    let (holds, message) = budget_check(&config);
    assert!(!holds);
    let needed = connections(&config);
    assert!(needed > 35, "{needed}");
    assert!(
        message.starts_with(&format!(
            "The functions could hold {needed} database connections"
        )),
        "{message}"
    );
    for what in [
        "database_max_connections (40) minus database_reserved_connections (5) leaves",
        "raise database_max_connections",
        "RDS Proxy",
        "lower database_pool_size",
    ] {
        assert!(message.contains(what), "{what}: {message}");
    }
}

#[test]
fn an_override_counts_against_the_budget() {
    let overrides = json!({ "order-payment-confirmed": 60 });
    let config = Config::load(
        &terraform_dir(),
        &[("function_concurrency", overrides.clone())],
    );
    let key = Some("order-payment-confirmed");
    assert_eq!(
        config.eval(
            "aws_lambda_function",
            "fn",
            key,
            "reserved_concurrent_executions"
        ),
        60
    );
    assert!(!budget_check(&config).0, "60 x 2 alone is over 90");
    let fits = Config::load(
        &terraform_dir(),
        &[
            ("function_concurrency", overrides),
            ("database_max_connections", json!(400)),
        ],
    );
    assert!(budget_check(&fits).0);
}

#[test]
fn the_functions_read_the_secret_by_its_arn_only() {
    let config = config();
    let arn = config.vars["database_secret_arn"]
        .as_str()
        .unwrap()
        .to_owned();
    for name in names(|_| true) {
        let doc = config.eval_doc("aws_iam_role_policy", "database_secret", &name, "policy");
        assert_eq!(
            doc["Statement"],
            json!([{ "Sid": "ReadDatabaseSecret", "Effect": "Allow",
                "Action": ["secretsmanager:GetSecretValue"], "Resource": [arn] }]),
            "{name}"
        );
    }
    let kms = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd";
    let config = Config::load(
        &terraform_dir(),
        &[
            ("database_secret_kms_key_arn", json!(kms)),
            ("database_url_options", json!("sslmode=verify-full")),
        ],
    );
    let key = "order-payment-confirmed";
    let doc = config.eval_doc("aws_iam_role_policy", "database_secret", key, "policy");
    let statements = doc["Statement"].as_array().unwrap();
    assert_eq!(statements.len(), 2);
    assert_eq!(
        statements[1],
        json!({ "Sid": "DecryptDatabaseSecret", "Effect": "Allow", "Action": ["kms:Decrypt"],
            "Resource": [kms],
            "Condition": { "StringEquals": { "kms:ViaService": "secretsmanager.eu-west-1.amazonaws.com" } } })
    );
    let env = config.eval(
        "aws_lambda_function",
        "fn",
        Some(key),
        "environment.variables",
    );
    assert_eq!(env["CONVEYOR_DATABASE_URL_OPTIONS"], "sslmode=verify-full");
    assert_eq!(env.get("DATABASE_URL"), None::<&Value>);
}
