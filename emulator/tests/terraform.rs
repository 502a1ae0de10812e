//! `infra/terraform`: the generated data equals what the generator renders and lists exactly
//! the catalog; every `.tf` file parses, and evaluated like a plan would evaluate it, gives each
//! function its Lambda, each topic function its queue, DLQ, rule and event source mapping, each
//! job its schedule, and each role only its own resources.
//!
//! `CONVEYOR_BLESS=1 cargo test -p conveyor-emulator --test emulator terraform::` rewrites the generated file.

#[path = "terraform/budget.rs"]
mod budget;
#[path = "terraform/jobs.rs"]
mod jobs;
#[path = "terraform/model.rs"]
mod model;
#[path = "terraform/resources.rs"]
mod resources;
#[path = "terraform/retention.rs"]
mod retention;
#[path = "terraform/security.rs"]
mod security;
#[path = "terraform/stand_ins.rs"]
mod stand_ins;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use conveyor_catalog as catalog;
use conveyor_gen::terraform::{self, DATA_FILE};
use conveyor_runtime::FunctionSpec;
use conveyor_runtime::cron::Schedule;
use serde_json::{Value, json};

use model::Config;

const REGENERATE: &str = "cargo run -p conveyor-emulator -- gen terraform";

pub(crate) fn terraform_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/terraform")
}

/// The configuration with default variables.
pub(crate) fn config() -> Config {
    Config::load(&terraform_dir(), &[])
}

pub(crate) fn specs() -> Vec<FunctionSpec> {
    catalog::specs()
}

pub(crate) fn names(filter: impl Fn(&FunctionSpec) -> bool) -> BTreeSet<String> {
    specs()
        .iter()
        .filter(|s| filter(s))
        .map(|s| s.name.to_owned())
        .collect()
}

#[test]
fn checked_in_data_matches_the_generator() {
    let dir = terraform_dir();
    if std::env::var_os("CONVEYOR_BLESS").is_some() {
        let touched = terraform::write(&dir).expect("infra/terraform written");
        eprintln!(
            "infra/terraform: {} file(s) written or removed",
            touched.len()
        );
    }
    let drift = terraform::check(&dir);
    assert!(
        drift.is_empty(),
        "infra/terraform is stale; run `{REGENERATE}` (or CONVEYOR_BLESS=1 cargo test -p conveyor-emulator --test emulator terraform::):\n  {}",
        drift.join("\n  ")
    );
}

#[test]
fn drift_is_detected_and_write_repairs_it_without_touching_hand_written_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let main_tf = dir.path().join("main.tf");
    std::fs::write(&main_tf, "# hand-written\n").expect("main.tf");
    assert_eq!(
        terraform::check(dir.path()),
        [format!("{DATA_FILE} is missing")]
    );
    assert_eq!(
        terraform::write(dir.path()).expect("written"),
        [PathBuf::from(DATA_FILE)]
    );
    assert!(terraform::check(dir.path()).is_empty());
    assert!(terraform::write(dir.path()).expect("rewritten").is_empty());

    std::fs::write(dir.path().join(DATA_FILE), "{}\n").expect("edit");
    std::fs::write(dir.path().join("old.tf.json"), "{}\n").expect("stale");
    let drift = terraform::check(dir.path());
    assert_eq!(
        drift,
        [
            format!("{DATA_FILE} differs from the generated file"),
            "old.tf.json is not generated any more".to_owned(),
        ]
    );
    assert_eq!(terraform::write(dir.path()).expect("repaired").len(), 2);
    assert!(terraform::check(dir.path()).is_empty());
    assert!(!dir.path().join("old.tf.json").exists());
    assert_eq!(
        std::fs::read_to_string(&main_tf).expect("kept"),
        "# hand-written\n"
    );
}

#[test]
fn rendering_is_deterministic() {
    let files = terraform::render().expect("renders");
    assert_eq!(files, terraform::render().expect("renders again"));
    assert_eq!(
        files.keys().collect::<Vec<_>>(),
        [Path::new(DATA_FILE)],
        "one generated file"
    );
}

/// The checked-in data lists exactly the catalog: names, kinds, topics, crons and their
/// EventBridge form, timeouts, memory, concurrency and deliveries.
#[test]
fn generated_data_lists_exactly_the_catalog() {
    let text = std::fs::read_to_string(terraform_dir().join(DATA_FILE)).expect("data file");
    assert!(
        !text.contains("${") && !text.contains("%{"),
        "no template sequences"
    );
    let data: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(
        data.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["//", "locals"]
    );
    let functions = data["locals"]["functions"].as_object().expect("functions");
    let listed: BTreeSet<String> = functions.keys().cloned().collect();
    assert_eq!(listed, names(|_| true));
    assert_eq!(listed.len(), 27);
    for spec in specs() {
        let f = &functions[spec.name];
        assert_eq!(f["service"], spec.service.name(), "{}", spec.name);
        assert_eq!(f["topics"], json!(spec.topics()), "{}", spec.name);
        assert_eq!(
            f["timeout_seconds"],
            spec.timeout.as_secs(),
            "{}",
            spec.name
        );
        assert_eq!(f["memory_mb"], spec.memory_mb, "{}", spec.name);
        assert_eq!(f["concurrency"], spec.concurrency, "{}", spec.name);
        assert_eq!(
            f["max_deliveries"], spec.retry.max_deliveries,
            "{}",
            spec.name
        );
        assert_eq!(f["ordering_key"], json!(spec.ordering_key), "{}", spec.name);
        match spec.schedule() {
            Some(cron) => {
                assert_eq!(f["kind"], "job");
                assert_eq!(f["cron"], cron);
                let expected = Schedule::parse(cron).unwrap().to_eventbridge().unwrap();
                assert_eq!(f["schedule_expression"], expected, "{}", spec.name);
                assert!(f["description"].as_str().unwrap().contains(cron));
            }
            None => {
                assert_eq!(f["kind"], "topic");
                assert!(!spec.topics().is_empty());
                assert_eq!(f["cron"], Value::Null);
                assert_eq!(f["schedule_expression"], Value::Null);
            }
        }
    }
}

#[test]
fn every_tf_file_parses_and_the_layout_is_as_documented() {
    let config = config();
    let files: Vec<&str> = config.files.keys().map(String::as_str).collect();
    assert_eq!(
        files,
        [
            "alarms.tf",
            "database.tf",
            "lambda.tf",
            "main.tf",
            "outputs.tf",
            "queues.tf",
            "schedules.tf",
            "variables.tf"
        ]
    );
    let readme = std::fs::read_to_string(terraform_dir().join("README.md")).expect("README");
    for file in files.iter().copied().chain([DATA_FILE]) {
        assert!(readme.contains(&format!("`{file}`")), "README names {file}");
    }
    let terraform_blocks = config.blocks("terraform");
    assert_eq!(terraform_blocks.len(), 1);
    let providers = terraform_blocks[0]
        .body()
        .blocks()
        .find(|b| b.identifier() == "required_providers")
        .expect("required_providers");
    let aws = stand_ins::to_json(
        &hcl::eval::Evaluate::evaluate(
            model::attr(providers.body(), "aws").expect("aws"),
            &hcl::eval::Context::new(),
        )
        .expect("constant"),
    );
    assert_eq!(
        aws,
        json!({ "source": "hashicorp/aws", "version": "~> 5.0" })
    );
}

#[test]
fn variables_and_outputs_are_the_documented_ones() {
    let config = config();
    let vars: BTreeSet<&str> = config.vars.keys().map(String::as_str).collect();
    for required in [
        "environment",
        "aws_region",
        "database_secret_arn",
        "database_secret_kms_key_arn",
        "database_url_options",
        "database_max_connections",
        "database_reserved_connections",
        "database_pool_size",
        "function_concurrency",
        "lambda_artifact_dir",
        "log_retention_days",
        "reserve_concurrency",
        "inbox_retention_days",
        "event_retention_days",
        "prune_batches",
    ] {
        assert!(vars.contains(required), "variable {required}");
    }
    assert_eq!(
        config.vars["lambda_artifact_dir"],
        "../../target/lambda".into()
    );
    assert_eq!(config.output("event_bus_name"), "test-conveyor");
    assert_eq!(
        config.output("event_bus_arn"),
        stand_ins::mock_arn("aws_cloudwatch_event_bus", "bus", None)
    );
    let queue_urls = config.output("queue_urls");
    let queue_names: BTreeSet<String> = queue_urls.as_object().unwrap().keys().cloned().collect();
    assert_eq!(queue_names, names(|s| s.schedule().is_none()));
    for (name, url) in queue_urls.as_object().unwrap() {
        assert_eq!(url, &json!(stand_ins::mock_url("queue", name)));
    }
    for output in ["dlq_urls", "function_arns", "function_names"] {
        let value = config.output(output);
        let keys: BTreeSet<String> = value.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, names(|_| true), "{output}");
    }
    assert_eq!(
        config.output("function_names")["order-payment-confirmed"],
        "test-order-payment-confirmed"
    );
}

/// `terraform fmt -check`, where a `terraform` binary is installed (it is optional).
#[test]
fn terraform_fmt_accepts_the_files() {
    let output = match Command::new("terraform")
        .args(["fmt", "-check", "-diff", "-no-color"])
        .current_dir(terraform_dir())
        .output()
    {
        Ok(output) => output,
        Err(e) => {
            eprintln!("note: terraform is not installed ({e}); skipped `terraform fmt -check`");
            return;
        }
    };
    assert!(
        output.status.success(),
        "terraform fmt -check failed; run `terraform fmt` in infra/terraform:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
