//! The hand-written schemas of `events/schemas/`: the CloudEvent envelope (whose Rust type keeps
//! `data` as raw JSON, so it has no derived schema) and the schedule inputs.

use serde_json::{Value, json};

const DRAFT: &str = "https://json-schema.org/draft/2020-12/schema";

/// `cloudevent.json`: the CloudEvents 1.0 envelope as conveyor and daprd write it. `data` is
/// checked against the topic's own schema separately.
pub(super) fn cloudevent() -> Value {
    let text = json!({ "type": "string" });
    json!({
        "$schema": DRAFT,
        "title": "CloudEvent",
        "description": "CloudEvents 1.0 JSON envelope of every conveyor event (daprd-compatible). `type` and `topic` carry the topic; `data` is the payload described by the schema `dataschema` names (schemas/<topic>/v<major>.json).",
        "type": "object",
        "required": ["id", "source", "specversion", "type", "data"],
        "properties": {
            "id": {
                "description": "Unique per event; stable across retries, hosts and redrives.",
                "type": "string",
                "minLength": 1
            },
            "source": {
                "description": "App id of the publisher (order-worker, payment-service, ...).",
                "type": "string",
                "minLength": 1
            },
            "specversion": { "const": "1.0" },
            "type": {
                "description": "The topic.",
                "type": "string",
                "minLength": 1
            },
            "data": {
                "description": "The payload: a JSON object, or a string holding one (text/plain publishers).",
                "type": ["object", "string"]
            },
            "correlationid": {
                "description": "Extension: the id shared by every event of one business flow.",
                "type": "string"
            },
            "causationid": {
                "description": "Extension: the id of the event whose handling published this one (for a job's events, the tick's id, `<job>@<scheduled minute>`). Absent on an event nothing in conveyor caused.",
                "type": "string",
                "minLength": 1
            },
            "dataschema": {
                "description": "The payload's schema and its major version: `schemas/<topic>/v<major>.json`, relative to the events/ folder.",
                "type": "string",
                "pattern": "^schemas/[^/]+/v[1-9][0-9]*\\.json$"
            },
            "data_base64": text,
            "datacontenttype": text,
            "pubsubname": text,
            "time": { "type": "string", "format": "date-time" },
            "topic": text,
            "traceid": text,
            "traceparent": text,
            "tracestate": text
        }
    })
}

/// `schedule.json`: what a cron function can receive on AWS, exactly one of: Scheduler's input
/// (`scheduled_time`), a scheduled rule's event (`detail` an object) or Scheduler's envelope
/// (`detail` a JSON string).
pub(super) fn schedule() -> Value {
    let time = json!({ "type": "string", "format": "date-time" });
    let resources = json!({ "type": "array", "items": { "type": "string" } });
    json!({
        "$schema": DRAFT,
        "title": "ScheduleEvent",
        "description": "Input of a cron function on AWS. The scheduled time is `scheduled_time`, else the envelope's `time`.",
        "oneOf": [
            {
                "title": "SchedulerInput",
                "description": "EventBridge Scheduler target input.",
                "type": "object",
                "required": ["scheduled_time"],
                "properties": { "scheduled_time": time },
                "not": { "required": ["detail-type"] }
            },
            {
                "title": "ScheduledRuleEvent",
                "description": "EventBridge scheduled rule without custom input.",
                "type": "object",
                "required": ["detail-type", "source", "time", "detail"],
                "properties": {
                    "detail-type": { "const": "Scheduled Event" },
                    "source": { "const": "aws.events" },
                    "time": time,
                    "resources": resources,
                    "detail": { "type": "object" }
                }
            },
            {
                "title": "SchedulerEnvelope",
                "description": "EventBridge Scheduler's own envelope; `detail` is a JSON string.",
                "type": "object",
                "required": ["detail-type", "source", "time", "detail"],
                "properties": {
                    "detail-type": { "const": "Scheduled Event" },
                    "source": { "const": "aws.scheduler" },
                    "time": time,
                    "resources": resources,
                    "detail": { "type": "string" }
                }
            }
        ]
    })
}
