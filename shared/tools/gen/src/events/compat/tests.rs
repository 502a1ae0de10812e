//! The comparison on a small schema: what is compatible, and each kind of break, named.

use serde_json::{Value, json};

use super::compare;

fn order_schema() -> Value {
    json!({
        "$defs": {
            "Status": { "oneOf": [
                { "const": "pending", "type": "string" },
                { "const": "paid", "type": "string" }
            ]},
            "Line": {
                "type": "object",
                "properties": {
                    "sku": { "type": "string", "maxLength": 64 },
                    "qty": { "type": "integer", "minimum": 1 }
                },
                "required": ["sku", "qty"]
            }
        },
        "type": "object",
        "properties": {
            "order_id": { "type": "string" },
            "amount": { "type": "number" },
            "note": { "type": ["string", "null"] },
            "status": { "$ref": "#/$defs/Status" },
            "old_status": { "anyOf": [{ "$ref": "#/$defs/Status" }, { "type": "null" }] },
            "lines": { "type": "array", "items": { "$ref": "#/$defs/Line" } }
        },
        "required": ["order_id", "status"]
    })
}

fn changed(edit: impl FnOnce(&mut Value)) -> Vec<String> {
    let earlier = order_schema();
    let mut current = earlier.clone();
    edit(&mut current);
    compare(&earlier, &current)
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn the_same_schema_and_widenings_are_compatible() {
    assert!(changed(|_| {}).is_empty());
    let widened = changed(|s| {
        s["properties"]["coupon"] = json!({ "type": "string" });
        s["properties"]["note"]["type"] = json!(["string", "null", "integer"]);
        s["$defs"]["Status"]["oneOf"]
            .as_array_mut()
            .unwrap()
            .push(json!({ "const": "refunded", "type": "string" }));
        s["$defs"]["Line"]["properties"]["sku"]["maxLength"] = json!(128);
        s["$defs"]["Line"]["properties"]["qty"]["minimum"] = json!(0);
        s["required"] = json!(["order_id"]);
    });
    assert!(widened.is_empty(), "{widened:#?}");
    // An integer field that takes any number now is wider, not narrower.
    let earlier = json!({ "properties": { "n": { "type": "integer" } } });
    let current = json!({ "properties": { "n": { "type": "number" } } });
    assert!(compare(&earlier, &current).is_empty());
}

#[test]
fn a_removed_field_is_named() {
    let found = changed(|s| {
        s["properties"].as_object_mut().unwrap().remove("note");
    });
    assert_eq!(found, ["field `note` was removed"]);
    let nested = changed(|s| {
        s["$defs"]["Line"]["properties"]
            .as_object_mut()
            .unwrap()
            .remove("qty");
        s["$defs"]["Line"]["required"] = json!(["sku"]);
    });
    assert_eq!(nested, ["field `lines[].qty` was removed"]);
}

#[test]
fn a_newly_required_field_is_named() {
    let found = changed(|s| s["required"] = json!(["order_id", "status", "amount"]));
    assert_eq!(found, ["field `amount` is newly required"]);
    let added = changed(|s| {
        s["properties"]["coupon"] = json!({ "type": "string" });
        s["required"] = json!(["order_id", "status", "coupon"]);
    });
    assert_eq!(added, ["field `coupon` is newly required"]);
}

#[test]
fn a_narrowed_type_value_or_bound_is_named() {
    let found = changed(|s| s["properties"]["amount"]["type"] = json!("integer"));
    assert_eq!(
        found,
        ["field `amount` is narrowed: it no longer accepts number values"]
    );
    let nullable = changed(|s| s["properties"]["note"]["type"] = json!("string"));
    assert_eq!(
        nullable,
        ["field `note` is narrowed: it no longer accepts null values"]
    );
    // A status dropped from the enumeration: both fields that use it are narrowed (fields
    // are compared in name order).
    let value = changed(|s| {
        s["$defs"]["Status"]["oneOf"].as_array_mut().unwrap().pop();
    });
    assert_eq!(
        value,
        [
            "field `old_status` is narrowed: it no longer accepts the value \"paid\"",
            "field `status` is narrowed: it no longer accepts the value \"paid\""
        ]
    );
    let bound = changed(|s| s["$defs"]["Line"]["properties"]["sku"]["maxLength"] = json!(8));
    assert_eq!(
        bound,
        [
            "field `lines[].sku` is narrowed: it no longer accepts values beyond its new maxLength 8 (was 64)"
        ]
    );
    let closed = changed(|s| s["additionalProperties"] = json!(false));
    assert_eq!(
        closed,
        ["the payload is narrowed: it no longer accepts fields it does not list"]
    );
}
