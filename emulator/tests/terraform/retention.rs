//! The inbox's retention on AWS: `inbox_retention_days` and `prune_batches` reach the
//! conveyor-maintenance Lambda (and no other function) as the variables the runtime reads, and
//! a retention shorter than SQS's 14 days fails the plan.

use hcl::eval::{Context, Evaluate};
use serde_json::{Value, json};

use conveyor_runtime::ScheduleHandler;
use conveyor_runtime::maintenance::{INBOX_RETENTION_DAYS, PRUNE_BATCHES};

use super::model::{Config, attr, labels};
use super::stand_ins::{functions, to_hcl};
use super::{config, specs, terraform_dir};

const MAINTENANCE: &str = conveyor_maintenance::ConveyorMaintenance::SPEC.name;

fn environment(config: &Config, function: &str) -> Value {
    config.eval(
        "aws_lambda_function",
        "fn",
        Some(function),
        "environment.variables",
    )
}

/// Whether `variable`'s validations hold for `value`, and their messages.
fn validate(config: &Config, variable: &str, value: &Value) -> (bool, Vec<String>) {
    let block = config
        .blocks("variable")
        .into_iter()
        .find(|b| labels::<1>(b) == [variable])
        .unwrap_or_else(|| panic!("no variable {variable}"));
    let mut vars = config.vars.clone();
    vars.insert(variable.to_owned(), to_hcl(value));
    let mut ctx = Context::new();
    for (name, def) in functions() {
        ctx.declare_func(name, def);
    }
    ctx.declare_var("var", hcl::Value::Object(vars));
    let mut holds = true;
    let mut messages = Vec::new();
    for validation in block
        .body()
        .blocks()
        .filter(|b| b.identifier() == "validation")
    {
        let eval = |key: &str| {
            attr(validation.body(), key)
                .expect("condition and message")
                .evaluate(&ctx)
                .unwrap_or_else(|e| panic!("{variable} validation {key}: {e}"))
        };
        holds &= eval("condition") == hcl::Value::Bool(true);
        messages.push(eval("error_message").as_str().unwrap().to_owned());
    }
    assert!(!messages.is_empty(), "{variable} has a validation");
    (holds, messages)
}

#[test]
fn only_the_maintenance_job_gets_the_retention_and_it_follows_the_variables() {
    assert!(specs().iter().any(|s| s.name == MAINTENANCE));
    let defaults = config();
    for spec in specs() {
        let env = environment(&defaults, spec.name);
        let (days, batches) = (&env[INBOX_RETENTION_DAYS], &env[PRUNE_BATCHES]);
        let events = &env["CONVEYOR_EVENT_RETENTION_DAYS"];
        if spec.name == MAINTENANCE {
            assert_eq!(
                (days, batches, events),
                (&json!("14"), &json!("10"), &json!("365"))
            );
        } else {
            assert_eq!(
                (days, batches, events),
                (&Value::Null, &Value::Null, &Value::Null),
                "{}",
                spec.name
            );
        }
    }
    let tuned = Config::load(
        &terraform_dir(),
        &[
            ("inbox_retention_days", json!(30)),
            ("prune_batches", json!(50)),
            ("event_retention_days", json!(90)),
        ],
    );
    let env = environment(&tuned, MAINTENANCE);
    assert_eq!(env["CONVEYOR_EVENT_RETENTION_DAYS"], "90");
    assert_eq!(env[INBOX_RETENTION_DAYS], "30");
    assert_eq!(env[PRUNE_BATCHES], "50");
}

#[test]
fn a_retention_shorter_than_sqs_keeps_messages_fails_the_plan() {
    let config = config();
    for (days, holds) in [(14.0, true), (90.0, true), (13.0, false), (14.5, false)] {
        let (held, messages) = validate(&config, "inbox_retention_days", &json!(days));
        assert_eq!(held, holds, "{days}");
        assert!(messages[0].contains("from 14 (SQS keeps a message up to 14 days"));
    }
    for (days, holds) in [(1.0, true), (365.0, true), (0.0, false), (2.5, false)] {
        let (held, _) = validate(&config, "event_retention_days", &json!(days));
        assert_eq!(held, holds, "{days}");
    }
    for (batches, holds) in [(1, true), (10, true), (0, false)] {
        let (held, _) = validate(&config, "prune_batches", &json!(batches));
        assert_eq!(held, holds, "{batches}");
    }
}
