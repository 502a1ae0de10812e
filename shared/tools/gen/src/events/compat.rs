//! Backward compatibility of a topic's schema within one major version: whatever the earlier
//! revision of the schema accepted, and every earlier sample, the current revision must still
//! accept. A field removed, a field newly required, or a field narrowed (a type, an enumerated
//! value or a bound no longer accepted) breaks the readers and writers of the version; such a
//! change needs the topic's next major version instead.
//!
//! The comparison is structural ([`compare`]): `$ref`s are followed into `$defs`, and
//! `anyOf`/`oneOf` alternatives are taken together (what any of them accepts). Patterns and
//! formats are not compared (whether one regular expression accepts all another does cannot be
//! told in general); the samples, validated against the current schema, catch what they show.
//!
//! # Layout
//! - `shape` — what a schema node accepts, and the field-by-field comparison
//! - `tests` — the comparison on a small schema

use std::fmt;
use std::path::Path;

use conveyor_domain::events::{ALL_TOPICS, schema_version};
use serde_json::Value;

use self::shape::{Doc, compare_nodes};
use super::schema_path;
use crate::Files;

mod shape;

/// How a current schema fails a reader or writer of its earlier revision, naming the field (a
/// dotted path from the payload; `[]` stands for the items of an array).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Break {
    /// The earlier revision had the field; the current one does not.
    Removed {
        /// The field.
        field: String,
    },
    /// The current revision requires a field the earlier one did not.
    NewlyRequired {
        /// The field.
        field: String,
    },
    /// The field accepts less than it did.
    Narrowed {
        /// The field (empty: the payload itself).
        field: String,
        /// What it no longer accepts.
        what: String,
    },
}

impl fmt::Display for Break {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Removed { field } => write!(f, "field `{field}` was removed"),
            Self::NewlyRequired { field } => write!(f, "field `{field}` is newly required"),
            Self::Narrowed { field, what } if field.is_empty() => {
                write!(f, "the payload is narrowed: it no longer accepts {what}")
            }
            Self::Narrowed { field, what } => {
                write!(
                    f,
                    "field `{field}` is narrowed: it no longer accepts {what}"
                )
            }
        }
    }
}

/// What `current` no longer accepts of what `earlier` accepted (two schema documents), one
/// [`Break`] each; empty when `current` is backward compatible with `earlier`.
#[must_use]
pub fn compare(earlier: &Value, current: &Value) -> Vec<Break> {
    let mut breaks = Vec::new();
    let (e, c) = (Doc(earlier), Doc(current));
    compare_nodes(e, earlier, c, current, "", &mut breaks, 0);
    breaks
}

/// The incompatibilities between the `events` folder `dir` (the earlier revision, as checked
/// in) and the rendered `files` (the current one), one line each naming the topic, the version
/// and the field: each topic's current schema against its checked-in revision of the same
/// version, and the checked-in sample and sample CloudEvent of that version against the
/// current schema. A topic whose version changed, or that has no checked-in schema yet, has
/// nothing to be compatible with.
#[must_use]
pub fn check(dir: &Path, files: &Files) -> Vec<String> {
    let mut found = Vec::new();
    for &topic in ALL_TOPICS {
        let path = schema_path(topic);
        let version = schema_version(topic).unwrap_or(1);
        let Some(current) = files
            .get(Path::new(&path))
            .and_then(|t| serde_json::from_str::<Value>(t).ok())
        else {
            found.push(format!("{topic}: {path} is not rendered"));
            continue;
        };
        let read = |rel: &str| -> Option<Value> {
            let text = std::fs::read_to_string(dir.join(rel)).ok()?;
            serde_json::from_str(&text).ok()
        };
        if let Some(earlier) = read(&path) {
            for b in compare(&earlier, &current) {
                found.push(format!("{topic} v{version}: {b}"));
            }
        }
        // The samples checked in are of the version their CloudEvent names (version 1 before
        // events named one).
        let event = read(&format!("cloudevents/{topic}.json"));
        let named = event
            .as_ref()
            .and_then(|e| e.get("dataschema"))
            .and_then(Value::as_str);
        if !named.map_or(version == 1, |named| named == path) {
            continue;
        }
        let validator = match jsonschema::options().build(&current) {
            Ok(v) => v,
            Err(e) => {
                found.push(format!(
                    "{topic} v{version}: the schema does not compile: {e}"
                ));
                continue;
            }
        };
        let samples = [
            (
                format!("samples/{topic}.json"),
                read(&format!("samples/{topic}.json")),
            ),
            (
                format!("cloudevents/{topic}.json data"),
                event.as_ref().and_then(|e| e.get("data")).cloned(),
            ),
        ];
        for (what, sample) in samples {
            let Some(sample) = sample else { continue };
            for e in validator.iter_errors(&sample) {
                let at = e.instance_path.to_string();
                let field = if at.is_empty() {
                    "(the payload)".to_owned()
                } else {
                    at
                };
                found.push(format!(
                    "{topic} v{version}: {what} no longer validates at {field}: {e}"
                ));
            }
        }
    }
    found
}

#[cfg(test)]
mod tests;
