//! W3C trace context (`traceparent`) and correlation ids, carried from every incoming event to
//! every event it causes.

use std::fmt;

/// A parsed `traceparent`: `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`, kept as
/// lowercase hex digits in place (every event parses one and makes one: no allocation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceParent {
    trace_id: [u8; 32],
    parent_id: [u8; 16],
    flags: [u8; 2],
}

/// `text` as lowercase hex digits, if it is exactly `N` hex digits.
fn hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let bytes: [u8; N] = text.as_bytes().try_into().ok()?;
    bytes
        .iter()
        .all(u8::is_ascii_hexdigit)
        .then(|| bytes.map(|b| b.to_ascii_lowercase()))
}

fn nonzero(digits: &[u8]) -> bool {
    digits.iter().any(|b| *b != b'0')
}

/// Hex digits as text (they are ASCII by construction).
fn text(digits: &[u8]) -> &str {
    std::str::from_utf8(digits).unwrap_or_default()
}

impl TraceParent {
    /// Parses a version-00 traceparent; anything malformed (or all-zero ids) gives `None`.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.trim().split('-');
        let (version, trace_id, parent_id, flags) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || version != "00" {
            return None;
        }
        let parsed = Self {
            trace_id: hex(trace_id)?,
            parent_id: hex(parent_id)?,
            flags: hex(flags)?,
        };
        (nonzero(&parsed.trace_id) && nonzero(&parsed.parent_id)).then_some(parsed)
    }

    /// A new root trace (sampled).
    #[must_use]
    pub fn new_root() -> Self {
        let mut trace_id = [0u8; 32];
        uuid::Uuid::new_v4().simple().encode_lower(&mut trace_id);
        Self {
            trace_id,
            parent_id: new_span_id(),
            flags: *b"01",
        }
    }

    /// The context for work caused by this one: same trace, a new span whose parent is this.
    #[must_use]
    pub fn child(&self) -> Self {
        Self {
            trace_id: self.trace_id,
            parent_id: new_span_id(),
            flags: self.flags,
        }
    }

    /// The 32-hex trace id.
    #[must_use]
    pub fn trace_id(&self) -> &str {
        text(&self.trace_id)
    }

    /// The 16-hex span id of the sender.
    #[must_use]
    pub fn parent_id(&self) -> &str {
        text(&self.parent_id)
    }
}

fn new_span_id() -> [u8; 16] {
    let mut digits = [0u8; 32];
    uuid::Uuid::new_v4().simple().encode_lower(&mut digits);
    let mut id = [0u8; 16];
    id.copy_from_slice(&digits[..16]);
    id
}

impl fmt::Display for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "00-{}-{}-{}",
            self.trace_id(),
            self.parent_id(),
            text(&self.flags)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_valid_and_rejects_malformed() {
        let tp =
            TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
        assert_eq!(tp.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(
            tp.to_string(),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        );
        assert_eq!(
            TraceParent::parse("00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01")
                .unwrap()
                .to_string(),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "kept in lowercase"
        );
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
        ] {
            assert!(TraceParent::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn child_keeps_trace_and_changes_span() {
        let root = TraceParent::new_root();
        let child = root.child();
        assert_eq!(child.trace_id(), root.trace_id());
        assert_ne!(child.parent_id(), root.parent_id());
        assert_eq!(root.trace_id().len(), 32);
        assert_eq!(child.parent_id().len(), 16);
        assert_eq!(TraceParent::parse(&child.to_string()), Some(child));
    }
}
