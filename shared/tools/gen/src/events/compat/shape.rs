//! What a schema node accepts, and how a current node fails an earlier one: `$ref`s followed,
//! `anyOf`/`oneOf` alternatives summed up, properties, required fields, items and bounds
//! compared field by field.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::Break;

/// A schema document, for following `$ref`s.
#[derive(Clone, Copy)]
pub(super) struct Doc<'a>(pub(super) &'a Value);

impl<'a> Doc<'a> {
    /// `node` with its `$ref`s followed (local references only; a cycle stops after a few).
    fn resolve(self, mut node: &'a Value) -> &'a Value {
        for _ in 0..16 {
            let Some(pointer) = node
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix('#'))
            else {
                break;
            };
            match self.0.pointer(pointer) {
                Some(target) => node = target,
                None => break,
            }
        }
        node
    }

    /// The alternatives `node` stands for: its `anyOf`/`oneOf` branches (flattened), or itself.
    fn branches(self, node: &'a Value, out: &mut Vec<&'a Value>, depth: usize) {
        let node = self.resolve(node);
        let alternatives = ["anyOf", "oneOf"]
            .iter()
            .filter_map(|k| node.get(*k).and_then(Value::as_array))
            .flatten()
            .collect::<Vec<_>>();
        if alternatives.is_empty() || depth > 16 {
            out.push(node);
        } else {
            for b in alternatives {
                self.branches(b, out, depth + 1);
            }
        }
    }

    /// What `node` accepts, summed over its alternatives.
    fn shape(self, node: &'a Value) -> Shape<'a> {
        let mut branches = Vec::new();
        self.branches(node, &mut branches, 0);
        let mut shape = Shape::default();
        for b in branches {
            if let Some(value) = b.get("const") {
                shape.values.push(value.clone());
            } else if let Some(values) = b.get("enum").and_then(Value::as_array) {
                shape.values.extend(values.iter().cloned());
            } else {
                match b.get("type") {
                    Some(Value::String(t)) => {
                        shape.types.insert(t.clone());
                    }
                    Some(Value::Array(ts)) => {
                        shape
                            .types
                            .extend(ts.iter().filter_map(Value::as_str).map(str::to_owned));
                    }
                    _ if b.get("properties").is_some() => {
                        shape.types.insert("object".to_owned());
                    }
                    _ => shape.any = true,
                }
            }
            if let Some(props) = b.get("properties").and_then(Value::as_object) {
                shape
                    .properties
                    .extend(props.iter().map(|(k, v)| (k.as_str(), v)));
            }
            if let Some(required) = b.get("required").and_then(Value::as_array) {
                shape
                    .required
                    .extend(required.iter().filter_map(Value::as_str));
            }
            if b.get("additionalProperties") == Some(&Value::Bool(false)) {
                shape.closed = true;
            }
            if let Some(items) = b.get("items") {
                shape.items = Some(items);
            }
            for key in BOUNDS {
                if let Some(n) = b.get(key.0).and_then(Value::as_f64) {
                    shape.bounds.insert(key.0, n);
                }
            }
        }
        shape
    }
}

/// Numeric keywords, and whether a larger value narrows (a lower bound) or widens.
const BOUNDS: [(&str, bool); 6] = [
    ("minimum", true),
    ("exclusiveMinimum", true),
    ("minLength", true),
    ("minItems", true),
    ("maximum", false),
    ("maxLength", false),
];

/// What a schema node accepts.
#[derive(Default)]
struct Shape<'a> {
    /// No type restriction.
    any: bool,
    /// JSON types accepted freely.
    types: BTreeSet<String>,
    /// Values accepted one by one (`const`, `enum`).
    values: Vec<Value>,
    properties: BTreeMap<&'a str, &'a Value>,
    required: BTreeSet<&'a str>,
    /// `additionalProperties: false`.
    closed: bool,
    items: Option<&'a Value>,
    bounds: BTreeMap<&'static str, f64>,
}

impl Shape<'_> {
    fn accepts_type(&self, t: &str) -> bool {
        self.any || self.types.contains(t) || (t == "integer" && self.types.contains("number"))
    }

    fn accepts_value(&self, v: &Value) -> bool {
        self.values.contains(v) || self.accepts_type(json_type(v))
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

pub(super) fn compare_nodes(
    ed: Doc<'_>,
    earlier: &Value,
    cd: Doc<'_>,
    current: &Value,
    path: &str,
    breaks: &mut Vec<Break>,
    depth: usize,
) {
    if depth > 32 {
        return;
    }
    let (e, c) = (ed.shape(earlier), cd.shape(current));
    let narrowed = |what: String| Break::Narrowed {
        field: path.to_owned(),
        what,
    };
    if e.any && !c.any {
        breaks.push(narrowed(format!(
            "every value (only {})",
            c.types.iter().cloned().collect::<Vec<_>>().join(", ")
        )));
    }
    for t in &e.types {
        if !c.accepts_type(t) {
            breaks.push(narrowed(format!("{t} values")));
        }
    }
    for v in &e.values {
        if !c.accepts_value(v) {
            breaks.push(narrowed(format!("the value {v}")));
        }
    }
    for (key, lower) in BOUNDS {
        let (before, now) = (e.bounds.get(key), c.bounds.get(key));
        let tighter = match (before, now) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(b), Some(n)) => {
                if lower {
                    n > b
                } else {
                    n < b
                }
            }
        };
        if let (true, Some(now)) = (tighter, now) {
            let was = before.map_or_else(|| "none".to_owned(), f64::to_string);
            breaks.push(narrowed(format!(
                "values beyond its new {key} {now} (was {was})"
            )));
        }
    }
    if c.closed && !e.closed {
        breaks.push(narrowed("fields it does not list".to_owned()));
    }
    for (name, e_prop) in &e.properties {
        let field = join(path, name);
        match c.properties.get(name) {
            None => breaks.push(Break::Removed { field }),
            Some(c_prop) => compare_nodes(ed, e_prop, cd, c_prop, &field, breaks, depth + 1),
        }
    }
    for name in c.required.difference(&e.required) {
        breaks.push(Break::NewlyRequired {
            field: join(path, name),
        });
    }
    if let (Some(e_items), Some(c_items)) = (e.items, c.items) {
        compare_nodes(
            ed,
            e_items,
            cd,
            c_items,
            &format!("{path}[]"),
            breaks,
            depth + 1,
        );
    }
}
