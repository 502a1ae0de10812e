//! Stream entries on the wire. Replies are read by hand, tolerant of what daprd and other
//! writers produce: fields are looked up by name (their order is not fixed), `metadata` may be
//! absent, values may arrive as bulk or simple strings, and both RESP2 arrays and RESP3 maps are
//! accepted. An entry is written as daprd writes it ([`xadd`]).

use std::sync::Arc;

use ::redis::{Cmd, Value};

/// `XADD <key> MAXLEN ~ <maxlen> * data <body> metadata {}`, the entry daprd writes.
#[must_use]
pub fn xadd(key: &str, maxlen: usize, body: &[u8]) -> Cmd {
    let mut cmd = ::redis::cmd("XADD");
    cmd.arg(key)
        .arg("MAXLEN")
        .arg("~")
        .arg(maxlen)
        .arg("*")
        .arg("data")
        .arg(body)
        .arg("metadata")
        .arg("{}");
    cmd
}

/// One stream entry as read from a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The stream's full key.
    pub stream: Arc<str>,
    /// The entry id (`<ms>-<seq>`).
    pub id: String,
    /// The `data` field: the CloudEvent JSON (or whatever was written, poison included).
    pub data: Option<Vec<u8>>,
    /// The `topic` field conveyor writes into inbox entries (absent in topic streams).
    pub topic: Option<String>,
}

/// One entry of an extended `XPENDING` reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    /// The entry id.
    pub id: String,
    /// The consumer holding it.
    pub consumer: String,
    /// Milliseconds since it was last delivered.
    pub idle_ms: i64,
    /// Deliveries so far.
    pub deliveries: u32,
}

/// The bytes of a string-like value.
#[must_use]
pub fn bytes(value: Value) -> Option<Vec<u8>> {
    match value {
        Value::BulkString(b) => Some(b),
        Value::SimpleString(s) => Some(s.into_bytes()),
        Value::VerbatimString { text, .. } => Some(text.into_bytes()),
        Value::Int(n) => Some(n.to_string().into_bytes()),
        Value::Okay => Some(b"OK".to_vec()),
        _ => None,
    }
}

/// A string-like value as text (lossy for invalid UTF-8).
#[must_use]
pub fn text(value: Value) -> Option<String> {
    bytes(value).map(|b| {
        String::from_utf8(b).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    })
}

/// The bytes of a string-like value, borrowed (for matching a field name without copying it).
fn name_of(value: &Value) -> Option<&[u8]> {
    match value {
        Value::BulkString(b) => Some(b),
        Value::SimpleString(s) => Some(s.as_bytes()),
        Value::VerbatimString { text, .. } => Some(text.as_bytes()),
        _ => None,
    }
}

/// An integer value, or a string holding one.
#[must_use]
pub fn int(value: Value) -> Option<i64> {
    match value {
        Value::Int(n) => Some(n),
        other => text(other)?.parse().ok(),
    }
}

/// Calls `each` with every name/value pair of a flat `[name, value, ...]` array or a map.
fn for_each_pair(value: Value, mut each: impl FnMut(Value, Value)) {
    match value {
        Value::Map(map) => map.into_iter().for_each(|(k, v)| each(k, v)),
        Value::Array(items) => {
            let mut it = items.into_iter();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                each(k, v);
            }
        }
        _ => {}
    }
}

/// Name/value pairs of a flat `[name, value, ...]` array or a map.
#[must_use]
pub fn pairs(value: Value) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for_each_pair(value, |k, v| {
        if let Some(k) = text(k) {
            out.push((k, v));
        }
    });
    out
}

/// One `[id, [field, value, ...]]` element; `None` for an entry deleted since it was
/// delivered (nil, or nil fields).
fn entry(stream: &Arc<str>, value: Value) -> Option<Entry> {
    let Value::Array(parts) = value else {
        return None;
    };
    let mut parts = parts.into_iter();
    let id = text(parts.next()?)?;
    let fields = parts.next()?;
    if matches!(fields, Value::Nil) {
        return None;
    }
    let mut entry = Entry {
        stream: Arc::clone(stream),
        id,
        data: None,
        topic: None,
    };
    // Names are matched by their bytes: nothing is copied for fields conveyor does not read.
    for_each_pair(fields, |name, v| match name_of(&name) {
        Some(b"data") => entry.data = bytes(v),
        Some(b"topic") => entry.topic = text(v),
        _ => {}
    });
    Some(entry)
}

/// The entries of an `XCLAIM`, `XRANGE` or `XREVRANGE` reply on `stream`.
#[must_use]
pub fn entries(stream: &Arc<str>, value: Value) -> Vec<Entry> {
    match value {
        Value::Array(items) => items.into_iter().filter_map(|v| entry(stream, v)).collect(),
        _ => Vec::new(),
    }
}

/// The rows of an extended `XPENDING key group [IDLE ms] start end count` reply.
#[must_use]
pub fn pending(value: Value) -> Vec<Pending> {
    let Value::Array(rows) = value else {
        return Vec::new();
    };
    rows.into_iter()
        .filter_map(|row| {
            let Value::Array(cols) = row else {
                return None;
            };
            let mut cols = cols.into_iter();
            Some(Pending {
                id: text(cols.next()?)?,
                consumer: text(cols.next()?)?,
                idle_ms: int(cols.next()?)?,
                deliveries: u32::try_from(int(cols.next()?)?).unwrap_or(u32::MAX),
            })
        })
        .collect()
}

/// The time part of an entry id: when a server-assigned id was added.
#[must_use]
pub fn id_millis(id: &str) -> Option<i64> {
    id.split('-').next()?.parse().ok()
}

/// An entry id as `(ms, seq)`, for ordering entries of several streams; unparsable ids sort
/// last.
#[must_use]
pub fn id_order(id: &str) -> (u64, u64) {
    let id = id.as_bytes();
    let (ms, seq) = match id.iter().position(|b| *b == b'-') {
        Some(dash) => (&id[..dash], &id[dash + 1..]),
        None => (id, &b"0"[..]),
    };
    (
        decimal(ms).unwrap_or(u64::MAX),
        decimal(seq).unwrap_or(u64::MAX),
    )
}

/// Decimal digits as a number (`None` for no digits, anything else, or an overflow): every
/// delivery parses its entry's id, and `split_once` with `str::parse` cost several times this.
fn decimal(digits: &[u8]) -> Option<u64> {
    match digits.len() {
        0 => None,
        // Up to 19 digits cannot overflow: no check per digit.
        1..20 => {
            let mut n = 0u64;
            let mut other = false;
            for &b in digits {
                let digit = b.wrapping_sub(b'0');
                other |= digit > 9;
                n = n.wrapping_mul(10).wrapping_add(u64::from(digit));
            }
            (!other).then_some(n)
        }
        _ => digits.iter().try_fold(0u64, |n, &b| {
            let digit = b.wrapping_sub(b'0');
            if digit > 9 {
                return None;
            }
            n.checked_mul(10)?.checked_add(u64::from(digit))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_ids_by_time_then_sequence() {
        let mut ids = ["1700-10", "1700-9", "1699-20", "x"];
        ids.sort_by_key(|id| id_order(id));
        assert_eq!(ids, ["1699-20", "1700-9", "1700-10", "x"]);
    }

    #[test]
    fn reads_ids_as_redis_writes_them_and_nothing_else() {
        assert_eq!(id_order("1764870000123-0"), (1_764_870_000_123, 0));
        assert_eq!(
            id_order("18446744073709551615-18446744073709551615"),
            (u64::MAX, u64::MAX)
        );
        assert_eq!(id_order("42"), (42, 0));
        for bad in [
            "",
            "-1",
            "1-",
            "+1-0",
            "1-+0",
            "1a-0",
            "18446744073709551616-0",
        ] {
            let (ms, seq) = id_order(bad);
            assert!(ms == u64::MAX || seq == u64::MAX, "{bad}");
        }
    }

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn reads_fields_by_name_in_any_order_with_or_without_metadata() {
        let reply = Value::Array(vec![
            Value::Array(vec![
                bulk("1-0"),
                Value::Array(vec![bulk("metadata"), bulk("{}"), bulk("data"), bulk("{}")]),
            ]),
            Value::Array(vec![
                bulk("2-0"),
                Value::Array(vec![bulk("data"), Value::SimpleString("x".into())]),
            ]),
            Value::Array(vec![bulk("3-0"), Value::Nil]),
        ]);
        let got = entries(&Arc::from("t"), reply);
        assert_eq!(got.len(), 2, "the deleted entry is skipped");
        assert_eq!(got[0].data.as_deref(), Some(&b"{}"[..]));
        assert_eq!(got[1].data.as_deref(), Some(&b"x"[..]));
        assert_eq!(&*got[1].stream, "t");
        assert!(entries(&Arc::from("t"), Value::Nil).is_empty());
    }

    #[test]
    fn parses_pending_rows_and_id_times() {
        let rows = Value::Array(vec![Value::Array(vec![
            bulk("5-1"),
            bulk("c"),
            Value::Int(1200),
            Value::Int(3),
        ])]);
        let p = pending(rows);
        assert_eq!(p[0].deliveries, 3);
        assert_eq!(p[0].idle_ms, 1200);
        assert_eq!(id_millis("1795323382638-0"), Some(1_795_323_382_638));
    }
}
