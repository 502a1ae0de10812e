//! Storefront sessions, and when an expired one may be deleted.

use crate::{CustomerId, SessionId, Timestamp};

/// An expired session is kept this long (support can still trace a customer's last visit),
/// then the session cleanup deletes it.
pub const SESSION_RETENTION_HOURS: i64 = 24;

/// A storefront session, anonymous or signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Id.
    pub id: SessionId,
    /// The signed-in customer; `None` for a guest.
    pub customer_id: Option<CustomerId>,
    /// Started at.
    pub created_at: Timestamp,
    /// When it stops being valid.
    pub expires_at: Timestamp,
    /// The last request seen in it.
    pub last_seen_at: Timestamp,
}

impl Session {
    /// A session started at `at`, valid for `ttl_minutes`.
    #[must_use]
    pub fn start(
        id: SessionId,
        customer_id: Option<CustomerId>,
        at: Timestamp,
        ttl_minutes: i64,
    ) -> Self {
        Self {
            id,
            customer_id,
            created_at: at,
            expires_at: at.add_minutes(ttl_minutes),
            last_seen_at: at,
        }
    }

    /// At `now`, sessions that expired strictly before this instant may be deleted.
    #[must_use]
    pub fn purge_before(now: Timestamp) -> Timestamp {
        now.sub_hours(SESSION_RETENTION_HOURS)
    }

    /// Whether the session expired more than [`SESSION_RETENTION_HOURS`] before `now`.
    #[must_use]
    pub fn is_purgeable(&self, now: Timestamp) -> bool {
        self.expires_at < Self::purge_before(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deleted_only_more_than_24_hours_after_it_expired() {
        let now = Timestamp::parse_rfc3339("2026-11-22T10:00:00Z").unwrap();
        let session = |expired_minutes_ago: i64| {
            let start = now.add_minutes(-expired_minutes_ago - 30);
            Session::start(SessionId::parse("ses-1").unwrap(), None, start, 30)
        };
        assert_eq!(session(5).expires_at, now.add_minutes(-5));
        assert!(!session(-10).is_purgeable(now), "still valid");
        assert!(
            !session(23 * 60 + 59).is_purgeable(now),
            "expired 23h59 ago"
        );
        assert!(
            !session(24 * 60).is_purgeable(now),
            "exactly 24h is not more than 24h"
        );
        assert!(session(24 * 60 + 1).is_purgeable(now), "expired 24h01 ago");
    }
}
