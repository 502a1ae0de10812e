//! The JSON Schemas of `events/`, compiled once: every event the platform publishes must name
//! its topic's current schema in its `dataschema` and match it, and its envelope the CloudEvent
//! schema.

use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;

use conveyor_runtime::CloudEvent;
use serde_json::Value;

/// One validator per schema file, by the path an event's `dataschema` names
/// (`schemas/<topic>/v<major>.json`), and the envelope's.
#[derive(Debug)]
pub(crate) struct Schemas {
    topics: HashMap<String, jsonschema::Validator>,
    envelope: jsonschema::Validator,
}

fn compile(path: &Path) -> jsonschema::Validator {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let schema: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap_or_else(|e| panic!("{path:?} compiles: {e}"))
}

impl Schemas {
    /// The schemas of the checked-in `events/schemas/`, loaded on first use.
    ///
    /// # Panics
    /// When a schema is missing or does not compile.
    pub(crate) fn get() -> &'static Self {
        static SCHEMAS: OnceLock<Schemas> = OnceLock::new();
        SCHEMAS.get_or_init(|| {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/schemas");
            let mut topics = HashMap::new();
            for entry in std::fs::read_dir(&dir).expect("events/schemas") {
                let topic_dir = entry.expect("schema entry").path();
                if !topic_dir.is_dir() {
                    continue;
                }
                let topic = topic_dir
                    .file_name()
                    .and_then(|s| s.to_str())
                    .unwrap_or_default()
                    .to_owned();
                for version in std::fs::read_dir(&topic_dir).expect("a topic's schemas") {
                    let path = version.expect("schema file").path();
                    let file = path
                        .file_name()
                        .and_then(|s| s.to_str())
                        .unwrap_or_default();
                    topics.insert(format!("schemas/{topic}/{file}"), compile(&path));
                }
            }
            Self {
                topics,
                envelope: compile(&dir.join("cloudevent.json")),
            }
        })
    }

    /// What is wrong with `event`, one line each.
    #[must_use]
    pub(crate) fn check(&self, event: &CloudEvent) -> Vec<String> {
        let topic = event.topic_name();
        // The schema the event names, which must be its topic's current one.
        let named = event.dataschema.as_deref().unwrap_or_default();
        let Some(schema) = self.topics.get(named) else {
            return vec![format!(
                "{topic} {} names the schema {named:?}, which events/ does not hold",
                event.id
            )];
        };
        let current = conveyor_runtime::cloudevent::data_schema(topic);
        if current.as_deref() != Some(named) {
            return vec![format!(
                "{topic} {} names {named}, not its topic's current schema {current:?}",
                event.id
            )];
        }
        let envelope: Value = serde_json::from_str(&event.to_json()).expect("CloudEvent JSON");
        let Some(data) = event.data.as_deref() else {
            return vec![format!("{topic} {} has no data", event.id)];
        };
        let data: Value = serde_json::from_str(data.get()).expect("data JSON");
        let errors = |validator: &jsonschema::Validator, instance: &Value, what: &str| {
            validator
                .iter_errors(instance)
                .map(|e| format!("{topic} {what} {}: {e} at {}", event.id, e.instance_path))
                .collect::<Vec<_>>()
        };
        let mut found = errors(&self.envelope, &envelope, "envelope");
        found.extend(errors(schema, &data, "data"));
        found
    }
}
