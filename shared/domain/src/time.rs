//! Time: a UTC timestamp newtype and the `Clock` port, so jobs and tests choose "now".

use std::borrow::Cow;
use std::fmt;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

/// An instant in UTC with millisecond precision (what the stores keep), held as Unix
/// milliseconds: reading the clock and adding to it cost no calendar arithmetic, which only
/// text and [`Timestamp::as_datetime`] pay for. In JSON it is RFC 3339 text, as chrono writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

/// Milliseconds on either side of the epoch that are surely within chrono's range (years
/// -262,143 to 262,142); beyond them chrono decides.
const SURELY_IN_RANGE: i64 = 8_000_000_000_000_000;

impl Timestamp {
    /// From Unix milliseconds; out-of-range values clamp to the Unix epoch.
    #[must_use]
    pub fn from_millis(ms: i64) -> Self {
        if (-SURELY_IN_RANGE..=SURELY_IN_RANGE).contains(&ms)
            || DateTime::from_timestamp_millis(ms).is_some()
        {
            Self(ms)
        } else {
            Self(0)
        }
    }

    /// Unix milliseconds.
    #[must_use]
    pub fn millis(self) -> i64 {
        self.0
    }

    /// The chrono value.
    #[must_use]
    pub fn as_datetime(self) -> DateTime<Utc> {
        // In range by construction.
        DateTime::from_timestamp_millis(self.0).unwrap_or_default()
    }

    /// Parses RFC 3339 text (any offset), normalised to UTC and truncated to milliseconds.
    ///
    /// # Errors
    /// The chrono parse error.
    pub fn parse_rfc3339(text: &str) -> Result<Self, chrono::ParseError> {
        let dt = DateTime::parse_from_rfc3339(text)?;
        Ok(Self::from_millis(dt.timestamp_millis()))
    }

    /// RFC 3339 with millisecond precision and a `Z` suffix.
    #[must_use]
    pub fn to_rfc3339(self) -> String {
        self.as_datetime()
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    }

    /// This instant plus a (possibly negative) number of milliseconds.
    #[must_use]
    pub fn add_millis(self, ms: i64) -> Self {
        Self::from_millis(self.millis().saturating_add(ms))
    }

    /// This instant plus minutes.
    #[must_use]
    pub fn add_minutes(self, minutes: i64) -> Self {
        self.add_millis(minutes.saturating_mul(60_000))
    }

    /// This instant minus hours.
    #[must_use]
    pub fn sub_hours(self, hours: i64) -> Self {
        self.add_millis(hours.saturating_mul(-3_600_000))
    }

    /// This instant minus days.
    #[must_use]
    pub fn sub_days(self, days: i64) -> Self {
        self.sub_hours(days.saturating_mul(24))
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(value: DateTime<Utc>) -> Self {
        Self::from_millis(value.timestamp_millis())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.as_datetime().serialize(s)
    }
}

/// Any RFC 3339 text chrono reads, truncated to milliseconds.
impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        DateTime::<Utc>::deserialize(d).map(Self::from)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl JsonSchema for Timestamp {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed("Timestamp")
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "string", "format": "date-time"})
    }
}

/// The source of "now". Handlers and jobs never read the system clock directly.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current instant.
    fn now(&self) -> Timestamp;
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        // Straight to milliseconds: one calendar conversion instead of two.
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Timestamp::from_millis(i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX))
    }
}

/// A clock that tests set and advance by hand.
#[derive(Debug)]
pub struct ManualClock(Mutex<Timestamp>);

impl ManualClock {
    /// A clock stopped at `start`.
    #[must_use]
    pub fn new(start: Timestamp) -> Self {
        Self(Mutex::new(start))
    }

    /// Moves the clock to `to`.
    pub fn set(&self, to: Timestamp) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = to;
    }

    /// Moves the clock forward.
    pub fn advance_millis(&self, ms: i64) {
        let mut now = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *now = now.add_millis(ms);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_system_clock_reads_the_wall_clock_in_milliseconds() {
        let before = Utc::now().timestamp_millis();
        let now = SystemClock.now().millis();
        let after = Utc::now().timestamp_millis();
        assert!(
            (before..=after).contains(&now),
            "{before} <= {now} <= {after}"
        );
    }

    #[test]
    fn round_trips_through_millis_and_text() {
        let t = Timestamp::parse_rfc3339("2026-11-22T10:00:00.123+02:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-11-22T08:00:00.123Z");
        assert_eq!(Timestamp::from_millis(t.millis()), t);
        assert_eq!(t.sub_days(1).to_rfc3339(), "2026-11-21T08:00:00.123Z");
        assert_eq!(t.add_minutes(30).to_rfc3339(), "2026-11-22T08:30:00.123Z");
    }

    #[test]
    fn clamps_what_chrono_cannot_represent_to_the_epoch() {
        let max = DateTime::<Utc>::MAX_UTC.timestamp_millis();
        let min = DateTime::<Utc>::MIN_UTC.timestamp_millis();
        assert!(max > SURELY_IN_RANGE && min < -SURELY_IN_RANGE);
        assert_eq!(Timestamp::from_millis(max).millis(), max);
        assert_eq!(Timestamp::from_millis(min).millis(), min);
        assert_eq!(Timestamp::from_millis(max + 1).millis(), 0);
        assert_eq!(Timestamp::from_millis(i64::MIN).millis(), 0);
        assert_eq!(
            Timestamp::from_millis(max).as_datetime(),
            DateTime::<Utc>::MAX_UTC - chrono::Duration::nanoseconds(999_999)
        );
    }

    #[test]
    fn json_is_chronos_text_and_reads_back_to_the_millisecond() {
        let t = Timestamp::from_millis(1_764_870_000_123);
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, serde_json::to_string(&t.as_datetime()).unwrap());
        assert_eq!(json, "\"2025-12-04T17:40:00.123Z\"");
        assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), t);
        let finer: Timestamp =
            serde_json::from_str("\"2025-12-04T19:40:00.123999+02:00\"").unwrap();
        assert_eq!(finer, t);
        assert!(serde_json::from_str::<Timestamp>("\"yesterday\"").is_err());
        assert!(Timestamp::from_millis(-1) < Timestamp::from_millis(0));
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::new(Timestamp::from_millis(1_000));
        assert_eq!(clock.now().millis(), 1_000);
        clock.advance_millis(500);
        assert_eq!(clock.now().millis(), 1_500);
    }
}
