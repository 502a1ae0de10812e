//! Schema evolution: the checked-in `events/` (each topic's current schema, sample and sample
//! CloudEvent) is still accepted by the schemas the Rust types give now, and a copy of it broken
//! on purpose (as if an earlier revision had more fields, fewer required ones, wider types, or
//! a sample the current schema refuses) fails the check with the topic, version and field named,
//! and `gen events` then writes nothing.

use std::path::Path;

use conveyor_gen::events::{self, GenError, compat};
use conveyor_gen::write_tree;
use serde_json::{Value, json};

use super::{events_dir, rendered};

const TOPIC: &str = "payment.confirmed";

#[test]
fn the_checked_in_events_are_accepted_by_the_current_schemas() {
    let broken = compat::check(&events_dir(), &rendered());
    assert!(
        broken.is_empty(),
        "a schema changed incompatibly:\n  {}",
        broken.join("\n  ")
    );
}

/// A copy of the rendered `events/` in a temporary folder.
fn copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    write_tree(dir.path(), &rendered()).expect("written");
    dir
}

fn edit(dir: &Path, rel: &str, change: impl FnOnce(&mut Value)) {
    let path = dir.join(rel);
    let mut value: Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("JSON");
    change(&mut value);
    std::fs::write(&path, conveyor_gen::pretty_json(&value)).expect("write");
}

/// The check's findings after the checked-in schema of [`TOPIC`] was changed by `change` (the
/// rendered one, from the Rust type, stays as it is).
fn findings(change: impl FnOnce(&mut Value)) -> Vec<String> {
    let dir = copy();
    edit(dir.path(), &events::schema_path(TOPIC), change);
    compat::check(dir.path(), &rendered())
}

#[test]
fn a_field_the_earlier_revision_had_is_named_as_removed() {
    let found = findings(|s| {
        s["properties"]["legacy_reference"] = json!({ "type": "string" });
    });
    assert_eq!(
        found,
        ["payment.confirmed v1: field `legacy_reference` was removed"]
    );
}

#[test]
fn a_field_the_earlier_revision_did_not_require_is_named_as_newly_required() {
    let found = findings(|s| {
        let required = s["required"].as_array_mut().expect("required");
        required.retain(|f| f != "payment_id");
    });
    assert_eq!(
        found,
        ["payment.confirmed v1: field `payment_id` is newly required"]
    );
}

#[test]
fn a_type_the_earlier_revision_accepted_is_named_as_narrowed() {
    let found = findings(|s| s["properties"]["amount"]["type"] = json!(["number", "string"]));
    assert_eq!(
        found,
        ["payment.confirmed v1: field `amount` is narrowed: it no longer accepts string values"]
    );
    // Through a `$ref` into `$defs`: the order id's earlier length limit was looser.
    let found = findings(|s| s["$defs"]["OrderId"]["maxLength"] = json!(512));
    assert_eq!(
        found,
        [
            "payment.confirmed v1: field `order_id` is narrowed: it no longer accepts values beyond its new maxLength 128 (was 512)"
        ]
    );
}

#[test]
fn an_earlier_sample_the_current_schema_refuses_is_named_with_its_field() {
    let dir = copy();
    edit(dir.path(), &format!("samples/{TOPIC}.json"), |s| {
        s["amount"] = json!("49.99");
    });
    edit(dir.path(), &format!("cloudevents/{TOPIC}.json"), |e| {
        e["data"].as_object_mut().expect("data").remove("currency");
    });
    let found = compat::check(dir.path(), &rendered());
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(
        found[0].starts_with(
            "payment.confirmed v1: samples/payment.confirmed.json no longer validates at /amount:"
        ),
        "{found:#?}"
    );
    assert!(
        found[1].starts_with(
            "payment.confirmed v1: cloudevents/payment.confirmed.json data no longer validates at (the payload):"
        ) && found[1].contains("currency"),
        "{found:#?}"
    );
}

#[test]
fn gen_refuses_an_incompatible_schema_and_writes_nothing() {
    let dir = copy();
    let schema = events::schema_path(TOPIC);
    edit(dir.path(), &schema, |s| {
        s["properties"]["legacy_reference"] = json!({ "type": "string" });
    });
    let before = std::fs::read_to_string(dir.path().join(&schema)).expect("read");
    match events::write(dir.path()) {
        Err(GenError::Incompatible(found)) => {
            assert_eq!(
                found,
                ["payment.confirmed v1: field `legacy_reference` was removed"]
            );
        }
        other => panic!("expected the change to be refused: {other:?}"),
    }
    let after = std::fs::read_to_string(dir.path().join(&schema)).expect("read");
    assert_eq!(before, after, "nothing is written");
    let message = events::write(dir.path()).expect_err("refused").to_string();
    assert!(message.contains("next major version"), "{message}");
}

#[test]
fn a_schema_of_an_earlier_version_is_kept_as_it_is() {
    // An earlier major version (v0 stands for one here: every topic is at v1) is not the
    // generator's: neither drift nor removed.
    let dir = copy();
    let earlier = dir.path().join(format!("schemas/{TOPIC}/v0.json"));
    std::fs::write(&earlier, "{\"frozen\": true}\n").expect("write");
    assert!(!events::owns(Path::new(&format!(
        "schemas/{TOPIC}/v0.json"
    ))));
    assert!(events::owns(Path::new(&events::schema_path(TOPIC))));
    assert!(events::check(dir.path()).is_empty());
    assert!(events::write(dir.path()).expect("written").is_empty());
    assert!(earlier.exists());
}
