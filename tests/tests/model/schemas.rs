//! The JSON Schemas of `events/`, compiled once: every event the platform publishes must match
//! its topic's schema, and its envelope the CloudEvent schema.

use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;

use conveyor_runtime::CloudEvent;
use serde_json::Value;

/// One validator per topic, and the envelope's.
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
                let path = entry.expect("schema file").path();
                let name = path
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .unwrap_or_default();
                if !matches!(name, "cloudevent" | "schedule") {
                    topics.insert(name.to_owned(), compile(&path));
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
        let Some(schema) = self.topics.get(topic) else {
            return vec![format!("{topic} has no schema in events/schemas")];
        };
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
