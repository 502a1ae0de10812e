//! The top-level scalar fields of a CloudEvent's `data`, read in one pass: strings, numbers and
//! booleans kept as text (as [`super::CloudEvent::data_field`] gives them), anything nested
//! skipped without being built.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// `data`'s scalar fields in the order they come; a field given twice keeps its last value (as
/// a JSON map would), and one whose last value is not a scalar is left out.
pub(super) struct Scalars(pub(super) Vec<(String, String)>);

impl<'de> Deserialize<'de> for Scalars {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ScalarsVisitor)
    }
}

struct ScalarsVisitor;

impl<'de> Visitor<'de> for ScalarsVisitor {
    type Value = Scalars;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalars, A::Error> {
        let mut fields: Vec<(String, String)> = Vec::new();
        while let Some(name) = map.next_key::<String>()? {
            let Scalar(value) = map.next_value()?;
            let at = fields.iter().position(|(field, _)| *field == name);
            match (at, value) {
                (Some(at), Some(value)) => fields[at].1 = value,
                (Some(at), None) => {
                    fields.remove(at);
                }
                (None, Some(value)) => fields.push((name, value)),
                (None, None) => {}
            }
        }
        Ok(Scalars(fields))
    }
}

/// One field's value as text, `None` for null, an array or an object (skipped).
struct Scalar(Option<String>);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
        Ok(Scalar(Some(v.to_string())))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
        Ok(Scalar(Some(v.to_string())))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
        Ok(Scalar(Some(v.to_string())))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
        // Printed as serde_json prints a number.
        Ok(Scalar(
            serde_json::Number::from_f64(v).map(|n| n.to_string()),
        ))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
        Ok(Scalar(Some(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Scalar, E> {
        Ok(Scalar(Some(v)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Scalar, E> {
        Ok(Scalar(None))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalar(None))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar(None))
    }
}
