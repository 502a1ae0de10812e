//! The envelope's fast path: a body in the form conveyor and daprd write it (compact JSON, no
//! escape sequence and no control character anywhere in it) is read field by field, each
//! string found with one `memchr` for its closing quote, instead of through serde's generic
//! struct visitor. `data` and unknown fields are still parsed (and checked) by serde_json.
//!
//! Anything else, valid or not, is left to serde_json: [`decode`] returns `None` whenever it
//! is not sure, and returns an event only where serde_json would return the same one (the
//! tests check that on every prefix and many mutations of real envelopes).

use serde::Deserialize;
use serde_json::value::RawValue;

use super::{CloudEvent, SPEC_VERSION};

/// `text` decoded as serde_json would decode it, or `None` when it is not in the plain form
/// (or is not a CloudEvent at all).
pub(super) fn decode(text: &str) -> Option<CloudEvent> {
    if !plain(text.as_bytes()) {
        return None;
    }
    let mut event = CloudEvent {
        causationid: None,
        correlationid: None,
        data: None,
        data_base64: None,
        datacontenttype: None,
        dataschema: None,
        id: String::new(),
        pubsubname: None,
        replayof: None,
        source: String::new(),
        specversion: String::new(),
        time: None,
        topic: None,
        traceid: None,
        traceparent: None,
        tracestate: None,
        ty: String::new(),
    };
    let mut cursor = Cursor { text, pos: 0 };
    let mut seen = Seen::default();
    cursor.eat(b'{')?;
    if cursor.eat(b'}').is_none() {
        loop {
            let key = cursor.string()?;
            cursor.eat(b':')?;
            match slot(&mut event, key) {
                Some((bit, slot)) => {
                    seen.once(bit)?;
                    match slot {
                        Slot::Required(s) => *s = cursor.string()?.to_owned(),
                        Slot::Optional(s) => *s = cursor.optional_string()?,
                        Slot::Data(d) => *d = cursor.optional_raw()?.map(ToOwned::to_owned),
                    }
                }
                // Unknown fields are skipped, as serde skips them (any JSON value).
                None => {
                    cursor.raw()?;
                }
            }
            match cursor.next()? {
                b',' => {}
                b'}' => break,
                _ => return None,
            }
        }
    }
    cursor.skip_spaces();
    // The whole body is one object, and `id` (the one field without a default) is there.
    if cursor.pos != text.len() || !seen.has(ID) {
        return None;
    }
    if !seen.has(SPECVERSION) {
        SPEC_VERSION.clone_into(&mut event.specversion);
    }
    Some(event)
}

/// Where a field's value goes.
enum Slot<'e> {
    /// A string field without `Option` (`null` is an error there, as in serde).
    Required(&'e mut String),
    /// A string or `null`.
    Optional(&'e mut Option<String>),
    /// `data`: any JSON value, `null` for none.
    Data(&'e mut Option<Box<RawValue>>),
}

/// Bits of [`Seen`] that are looked at after the object.
const ID: u8 = 4;
const SPECVERSION: u8 = 7;

/// The envelope field named `key` (its bit in [`Seen`] and where its value goes), `None` for
/// a field the envelope does not have.
fn slot<'e>(event: &'e mut CloudEvent, key: &str) -> Option<(u8, Slot<'e>)> {
    Some(match key {
        "correlationid" => (0, Slot::Optional(&mut event.correlationid)),
        "data" => (1, Slot::Data(&mut event.data)),
        "data_base64" => (2, Slot::Optional(&mut event.data_base64)),
        "datacontenttype" => (3, Slot::Optional(&mut event.datacontenttype)),
        "id" => (ID, Slot::Required(&mut event.id)),
        "pubsubname" => (5, Slot::Optional(&mut event.pubsubname)),
        "source" => (6, Slot::Required(&mut event.source)),
        "specversion" => (SPECVERSION, Slot::Required(&mut event.specversion)),
        "time" => (8, Slot::Optional(&mut event.time)),
        "topic" => (9, Slot::Optional(&mut event.topic)),
        "traceid" => (10, Slot::Optional(&mut event.traceid)),
        "traceparent" => (11, Slot::Optional(&mut event.traceparent)),
        "tracestate" => (12, Slot::Optional(&mut event.tracestate)),
        "type" => (13, Slot::Required(&mut event.ty)),
        "causationid" => (14, Slot::Optional(&mut event.causationid)),
        "dataschema" => (15, Slot::Optional(&mut event.dataschema)),
        "replayof" => (16, Slot::Optional(&mut event.replayof)),
        _ => return None,
    })
}

/// No control character (JSON allows none inside strings, and between tokens only whitespace,
/// which the compact form does not use) and no backslash (so every string is its bytes between
/// two quotes).
fn plain(bytes: &[u8]) -> bool {
    // Without an early exit the loop is vectorised.
    let mut odd = 0u8;
    for &b in bytes {
        odd |= u8::from(b < 0x20) | u8::from(b == b'\\');
    }
    odd == 0
}

/// The envelope's fields already read: a second occurrence is serde's "duplicate field" error.
#[derive(Default)]
struct Seen(u32);

impl Seen {
    fn has(&self, bit: u8) -> bool {
        self.0 & (1 << bit) != 0
    }

    /// Marks `bit`; `None` if it was marked already.
    fn once(&mut self, bit: u8) -> Option<()> {
        if self.has(bit) {
            return None;
        }
        self.0 |= 1 << bit;
        Some(())
    }
}

/// A position in a plain body.
struct Cursor<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn skip_spaces(&mut self) {
        while self.text.as_bytes().get(self.pos) == Some(&b' ') {
            self.pos += 1;
        }
    }

    /// The next byte after spaces, consumed.
    fn next(&mut self) -> Option<u8> {
        self.skip_spaces();
        let byte = *self.text.as_bytes().get(self.pos)?;
        self.pos += 1;
        Some(byte)
    }

    /// Consumes `byte` (after spaces) if it is next.
    fn eat(&mut self, byte: u8) -> Option<()> {
        self.skip_spaces();
        if self.text.as_bytes().get(self.pos) == Some(&byte) {
            self.pos += 1;
            Some(())
        } else {
            None
        }
    }

    /// A string: in a plain body, what lies between its quote and the next one.
    fn string(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let len = memchr::memchr(b'"', &self.text.as_bytes()[self.pos..])?;
        let value = self.text.get(self.pos..self.pos + len)?;
        self.pos += len + 1;
        Some(value)
    }

    /// `null` (`Some(None)`) or a string.
    fn optional_string(&mut self) -> Option<Option<String>> {
        if self.null() {
            Some(None)
        } else {
            self.string().map(|s| Some(s.to_owned()))
        }
    }

    /// `null` (`Some(None)`) or any other JSON value.
    fn optional_raw(&mut self) -> Option<Option<&'a RawValue>> {
        if self.null() {
            Some(None)
        } else {
            self.raw().map(Some)
        }
    }

    /// Consumes the literal `null` if it is next (what follows is checked by the caller).
    fn null(&mut self) -> bool {
        self.skip_spaces();
        let found = self.text.as_bytes()[self.pos..].starts_with(b"null");
        if found {
            self.pos += 4;
        }
        found
    }

    /// Any JSON value, parsed and checked by serde_json, borrowed from the body.
    fn raw(&mut self) -> Option<&'a RawValue> {
        self.skip_spaces();
        let rest = self.text.get(self.pos..)?;
        let mut de = serde_json::Deserializer::from_str(rest);
        let raw = <&RawValue>::deserialize(&mut de).ok()?;
        // The value is a slice of `rest`: its end is where the object goes on.
        let start = raw.get().as_ptr() as usize - rest.as_ptr() as usize;
        self.pos += start + raw.get().len();
        Some(raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Envelopes as conveyor, daprd and other publishers write them.
    const SAMPLES: &[&str] = &[
        r#"{"data":{"n":12345,"sent_us":1764870000123456},"datacontenttype":"application/json","dataschema":"schemas/bench.ping/v1.json","id":"019aeb5c-8f3e-7c41-9a2b-4d5e6f708192","pubsubname":"pubsub-redis","source":"bench","specversion":"1.0","time":"1970-01-01T00:00:00+00:00","topic":"bench.ping","traceid":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01","traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01","type":"bench.ping"}"#,
        r#"{"causationid":"e-0","correlationid":"c-1","data":{"order_id":"o-1","lines":[{"sku":"A","qty":2},{"sku":"B","qty":1.5e0}],"note":null,"ok":true},"id":"e-1","source":"order-worker","specversion":"1.0","tracestate":"","type":"payment.confirmed"}"#,
        r#"{ "id" : "e-2" , "data" : [1, 2, {"a": "b"}] , "extra": {"nested": [null, false]}, "type": "t" }"#,
        r#"{"id":"e-3","data":"{\"order_id\":\"o-2\"}","specversion":"1.0"}"#,
        r#"{"id":"e-4","data":null,"data_base64":"AAA=","specversion":"0.3"}"#,
        r#"{"id":"e-5","data":"héllo ✓","source":"ünïcode","type":"t"}"#,
    ];

    fn serde(text: &str) -> Result<CloudEvent, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The fast path decodes `text` exactly as serde_json does, or not at all.
    fn agrees(text: &str) {
        if let Some(fast) = decode(text) {
            match serde(text) {
                Ok(slow) => assert_eq!(fast.to_json(), slow.to_json(), "{text}"),
                Err(e) => panic!("fast path accepted what serde_json refuses ({e}): {text}"),
            }
        }
    }

    #[test]
    fn takes_the_plain_samples_and_agrees_with_serde_json() {
        for (i, text) in SAMPLES.iter().enumerate() {
            agrees(text);
            // The samples with a backslash take serde_json's path.
            assert_eq!(decode(text).is_some(), !text.contains('\\'), "sample {i}");
        }
        let event = decode(SAMPLES[0]).unwrap();
        assert_eq!(event.id, "019aeb5c-8f3e-7c41-9a2b-4d5e6f708192");
        assert_eq!(
            event.data.as_deref().map(RawValue::get),
            Some(r#"{"n":12345,"sent_us":1764870000123456}"#)
        );
        let daprd = decode(SAMPLES[4]).unwrap();
        assert!(daprd.data.is_none());
        assert_eq!(daprd.specversion, "0.3");
        assert_eq!(decode(SAMPLES[2]).unwrap().specversion, SPEC_VERSION);
    }

    #[test]
    fn agrees_with_serde_json_on_every_prefix_and_mutation() {
        const BYTES: &[u8] = b"\"{}[],: n1\\\x01x";
        for text in SAMPLES {
            for end in 0..=text.len() {
                if let Some(prefix) = text.get(..end) {
                    agrees(prefix);
                }
            }
            let bytes = text.as_bytes();
            for at in 0..bytes.len() {
                for &b in BYTES {
                    let mut changed = bytes.to_vec();
                    changed[at] = b;
                    if let Ok(changed) = String::from_utf8(changed) {
                        agrees(&changed);
                    }
                    let mut inserted = bytes.to_vec();
                    inserted.insert(at, b);
                    if let Ok(inserted) = String::from_utf8(inserted) {
                        agrees(&inserted);
                    }
                }
            }
        }
    }

    #[test]
    fn leaves_what_serde_json_refuses_to_it() {
        for text in [
            r#"{"id":"a","id":"b","data":1}"#,
            r#"{"data":1}"#,
            r#"{"id":null,"data":1}"#,
            r#"{"id":"a","source":null,"data":1}"#,
            r#"{"id":"a","time":5,"data":1}"#,
            r#"{"id":"a","data":1} x"#,
            r#"{"id":"a","data":nul}"#,
            r#"{"id":"a","data":1,}"#,
            r#"["id"]"#,
            "",
        ] {
            assert!(decode(text).is_none(), "{text}");
            assert!(serde(text).is_err(), "{text}");
        }
    }
}
