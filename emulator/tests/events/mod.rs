//! `events/`: the checked-in files equal what the generator renders, every sample validates
//! against its schema and decodes into its Rust type, and the AWS shapes decode like the Lambda
//! adapter decodes them.
//!
//! `CONVEYOR_BLESS=1 cargo test -p conveyor-emulator --test emulator events::` rewrites `events/`.

use std::path::{Path, PathBuf};

use conveyor_domain::events::ALL_TOPICS;
use conveyor_gen::events;
use conveyor_gen::{Files, check_tree, write_tree};
use serde_json::Value;

mod aws;
mod compat;
mod validation;

const REGENERATE: &str = "cargo run -p conveyor-emulator -- gen events";

pub(crate) fn events_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../events")
}

pub(crate) fn rendered() -> Files {
    events::render().expect("events/ renders")
}

pub(crate) fn file(files: &Files, path: &str) -> Value {
    let text = files
        .get(Path::new(path))
        .unwrap_or_else(|| panic!("{path} is rendered"));
    assert!(text.ends_with("}\n"), "{path} ends with a newline");
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub(crate) fn validator(schema: &Value) -> jsonschema::Validator {
    jsonschema::options()
        .should_validate_formats(true)
        .build(schema)
        .unwrap_or_else(|e| panic!("schema compiles: {e}"))
}

/// Validation errors of `instance`, one line each.
pub(crate) fn errors(validator: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect()
}

pub(crate) fn assert_valid(validator: &jsonschema::Validator, instance: &Value, what: &str) {
    let errors = errors(validator, instance);
    assert!(
        errors.is_empty(),
        "{what} does not match its schema: {errors:#?}"
    );
}

#[test]
fn checked_in_files_match_the_generator() {
    let dir = events_dir();
    if std::env::var_os("CONVEYOR_BLESS").is_some() {
        let touched = events::write(&dir).expect("events/ written");
        eprintln!("events/: {} file(s) written or removed", touched.len());
    }
    let drift = events::check(&dir);
    assert!(
        drift.is_empty(),
        "events/ is stale; run `{REGENERATE}` (or CONVEYOR_BLESS=1 cargo test -p conveyor-emulator --test emulator events::):\n  {}",
        drift.join("\n  ")
    );
}

#[test]
fn drift_is_detected_and_write_repairs_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let files = rendered();
    assert_eq!(
        check_tree(dir.path(), &files).len(),
        files.len(),
        "every file missing"
    );
    write_tree(dir.path(), &files).expect("written");
    assert!(check_tree(dir.path(), &files).is_empty());
    assert!(
        write_tree(dir.path(), &files)
            .expect("rewritten")
            .is_empty()
    );

    let sample = dir.path().join("samples/payment.confirmed.json");
    std::fs::write(&sample, "{}\n").expect("edit");
    std::fs::remove_file(dir.path().join("schemas/cloudevent.json")).expect("remove");
    std::fs::write(dir.path().join("sqs/stale.json"), "{}").expect("extra");
    let drift = check_tree(dir.path(), &files);
    assert_eq!(drift.len(), 3, "{drift:#?}");
    assert!(
        drift
            .iter()
            .any(|d| d.contains("payment.confirmed.json differs"))
    );
    assert!(
        drift
            .iter()
            .any(|d| d.contains("cloudevent.json is missing"))
    );
    assert!(
        drift
            .iter()
            .any(|d| d.contains("stale.json is not generated"))
    );

    let touched = write_tree(dir.path(), &files).expect("repaired");
    assert_eq!(touched.len(), 3, "{touched:?}");
    assert!(check_tree(dir.path(), &files).is_empty());
    assert!(!dir.path().join("sqs/stale.json").exists());
}

#[test]
fn rendering_is_deterministic_and_covers_every_topic() {
    let files = rendered();
    assert_eq!(files, rendered());
    for topic in ALL_TOPICS {
        for dir in ["samples", "cloudevents", "sqs"] {
            assert!(files.contains_key(Path::new(&format!("{dir}/{topic}.json"))));
        }
        let schema = events::schema_path(topic);
        assert!(files.contains_key(Path::new(&schema)), "{schema}");
        // The sample CloudEvent names that schema.
        let event = file(&files, &format!("cloudevents/{topic}.json"));
        assert_eq!(event["dataschema"], schema.as_str());
        assert!(files.contains_key(Path::new(&format!("sqs/{topic}.eventbridge.json"))));
    }
    // 5 files per topic + 2 schemas + 3 schedule samples + README.
    assert_eq!(files.len(), ALL_TOPICS.len() * 5 + 6);
    let readme = &files[Path::new("README.md")];
    assert!(!readme.contains("{{"), "placeholder left in README");
    assert!(
        ALL_TOPICS
            .iter()
            .all(|t| readme.contains(&format!("| `{t}` |")))
    );
}
