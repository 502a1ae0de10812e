//! Every sample, CloudEvent, SQS body and schedule input validates against its schema; broken
//! ones do not.

use conveyor_domain::events::ALL_TOPICS;
use serde_json::{Value, json};

use conveyor_gen::events;

use super::{assert_valid, errors, file, rendered, validator};

#[test]
fn schemas_are_draft_2020_12_without_ids() {
    let files = rendered();
    let schemas = files.keys().filter(|p| p.starts_with("schemas"));
    for path in schemas {
        let schema = file(&files, &path.to_string_lossy());
        assert_eq!(
            schema["$schema"], "https://json-schema.org/draft/2020-12/schema",
            "{path:?}"
        );
        assert!(!files[path].contains("\"$id\""), "{path:?} has an $id");
        jsonschema::draft202012::meta::validate(&schema)
            .unwrap_or_else(|e| panic!("{path:?} is not a valid schema: {e}"));
    }
}

#[test]
fn every_sample_and_envelope_validates_against_its_schema() {
    let files = rendered();
    let cloudevent_schema = validator(&file(&files, "schemas/cloudevent.json"));
    for topic in ALL_TOPICS {
        let schema = validator(&file(&files, &events::schema_path(topic)));
        let sample = file(&files, &format!("samples/{topic}.json"));
        assert_valid(&schema, &sample, &format!("samples/{topic}.json"));

        let event = file(&files, &format!("cloudevents/{topic}.json"));
        assert_valid(
            &cloudevent_schema,
            &event,
            &format!("cloudevents/{topic}.json"),
        );
        assert_valid(
            &schema,
            &event["data"],
            &format!("cloudevents/{topic}.json data"),
        );
        assert_eq!(
            event["data"], sample,
            "{topic}: CloudEvent data is the sample"
        );

        for name in [(*topic).to_owned(), format!("{topic}.eventbridge")] {
            let sqs = file(&files, &format!("sqs/{name}.json"));
            let body: Value = serde_json::from_str(sqs["Records"][0]["body"].as_str().unwrap())
                .unwrap_or_else(|e| panic!("sqs/{name}.json body is JSON: {e}"));
            let inner = if name.ends_with(".eventbridge") {
                body["detail"].clone()
            } else {
                body
            };
            assert_eq!(inner, event, "sqs/{name}.json carries the CloudEvent");
            assert_valid(&cloudevent_schema, &inner, &format!("sqs/{name}.json body"));
            assert_valid(&schema, &inner["data"], &format!("sqs/{name}.json data"));
        }
    }
    let schedule = validator(&file(&files, "schemas/schedule.json"));
    for name in ["scheduler", "scheduled-event", "scheduler-envelope"] {
        let sample = file(&files, &format!("schedule/{name}.json"));
        assert_valid(&schedule, &sample, &format!("schedule/{name}.json"));
    }
}

#[test]
fn schemas_reject_broken_payloads_and_envelopes() {
    let files = rendered();
    let schema = |topic: &str| validator(&file(&files, &events::schema_path(topic)));
    let sample = |topic: &str| file(&files, &format!("samples/{topic}.json"));
    let rejected = |validator: &jsonschema::Validator, instance: Value, what: &str| {
        assert!(
            !errors(validator, &instance).is_empty(),
            "{what} was accepted: {instance}"
        );
    };

    let mut no_order = sample("payment.confirmed");
    no_order.as_object_mut().unwrap().remove("order_id");
    rejected(
        &schema("payment.confirmed"),
        no_order,
        "payment without order_id",
    );
    let mut bad_currency = sample("payment.confirmed");
    bad_currency["currency"] = json!("US");
    rejected(
        &schema("payment.confirmed"),
        bad_currency,
        "two-letter currency",
    );

    let mut negative = sample("warehouse.reservation.created");
    negative["quantity"] = json!(-1);
    rejected(
        &schema("warehouse.reservation.created"),
        negative,
        "negative quantity",
    );
    let mut negative_line = sample("orders.order.status_changed");
    negative_line["items"][0]["quantity"] = json!(-2);
    rejected(
        &schema("orders.order.status_changed"),
        negative_line,
        "negative line",
    );
    let mut bad_status = sample("orders.order.status_changed");
    bad_status["new_status"] = json!("teleported");
    rejected(
        &schema("orders.order.status_changed"),
        bad_status,
        "unknown status",
    );
    let mut bad_time = sample("product.created");
    bad_time["timestamp"] = json!("yesterday");
    rejected(
        &schema("product.created"),
        bad_time,
        "non-RFC 3339 timestamp",
    );
    let mut blank_id = sample("order.return.completed");
    blank_id["return_id"] = json!("");
    rejected(&schema("order.return.completed"), blank_id, "empty id");

    let cloudevent = validator(&file(&files, "schemas/cloudevent.json"));
    let event = file(&files, "cloudevents/payment.confirmed.json");
    for (field, value) in [("specversion", json!("0.3")), ("id", json!(""))] {
        let mut broken = event.clone();
        broken[field] = value;
        rejected(&cloudevent, broken, field);
    }
    let mut no_data = event;
    no_data.as_object_mut().unwrap().remove("data");
    rejected(&cloudevent, no_data, "CloudEvent without data");

    let schedule = validator(&file(&files, "schemas/schedule.json"));
    rejected(
        &schedule,
        json!({ "job": "nightly" }),
        "custom input without time",
    );
    let mut wrong_source = file(&files, "schedule/scheduler-envelope.json");
    wrong_source["source"] = json!("aws.events");
    rejected(&schedule, wrong_source, "string detail from aws.events");
}
