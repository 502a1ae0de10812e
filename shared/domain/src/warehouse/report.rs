//! Stock movement reports: the previous UTC day's or ISO week's movements per product and kind.

use chrono::{Datelike, Duration, NaiveTime};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::state::status_names;
use crate::warehouse::MovementSummary;
use crate::{ReportId, Timestamp};

/// Which period a report covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportKind {
    /// One UTC day.
    Daily,
    /// One ISO week, Monday 00:00 to Monday 00:00 UTC.
    Weekly,
}

status_names!(ReportKind {
    Daily => "daily",
    Weekly => "weekly",
});

/// A half-open interval of time, `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Period {
    /// First instant included.
    pub start: Timestamp,
    /// First instant after the period.
    pub end: Timestamp,
}

impl ReportKind {
    /// The last complete period before `at`: the previous UTC day, or the previous ISO week.
    #[must_use]
    pub fn previous_period(self, at: Timestamp) -> Period {
        let day = at.as_datetime().date_naive();
        let (current_start, length) = match self {
            Self::Daily => (day, Duration::days(1)),
            Self::Weekly => (
                day - Duration::days(i64::from(day.weekday().num_days_from_monday())),
                Duration::days(7),
            ),
        };
        let end = current_start.and_time(NaiveTime::MIN).and_utc();
        Period {
            start: Timestamp::from(end - length),
            end: Timestamp::from(end),
        }
    }
}

/// What a report says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ReportBody {
    /// The period covered.
    pub period: Period,
    /// Movements in the period, per product and kind (sorted).
    pub lines: Vec<MovementSummary>,
    /// How many movements in total.
    pub total_movements: u64,
}

/// A stored report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Id.
    pub id: ReportId,
    /// Daily or weekly (one report per kind and period start).
    pub kind: ReportKind,
    /// The period covered.
    pub period: Period,
    /// Its content.
    pub body: ReportBody,
    /// Written at.
    pub created_at: Timestamp,
}

impl Report {
    /// A report of `lines` over `period`.
    #[must_use]
    pub fn new(
        kind: ReportKind,
        period: Period,
        mut lines: Vec<MovementSummary>,
        now: Timestamp,
    ) -> Self {
        lines.sort_by(|a, b| (&a.product_id, a.kind).cmp(&(&b.product_id, b.kind)));
        Self {
            id: ReportId::generate(),
            kind,
            period,
            body: ReportBody {
                period,
                total_movements: lines.iter().map(|l| l.movements).sum(),
                lines,
            },
            created_at: now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ProductId;
    use crate::warehouse::MovementKind;

    fn at(text: &str) -> Timestamp {
        Timestamp::parse_rfc3339(text).unwrap()
    }

    #[test]
    fn daily_is_the_previous_utc_day() {
        let p = ReportKind::Daily.previous_period(at("2026-11-22T00:05:00Z"));
        assert_eq!(p.start, at("2026-11-21T00:00:00Z"));
        assert_eq!(p.end, at("2026-11-22T00:00:00Z"));
        let midnight = ReportKind::Daily.previous_period(at("2026-11-22T00:00:00Z"));
        assert_eq!(midnight, p);
        let late = ReportKind::Daily.previous_period(at("2026-11-22T23:59:59.999Z"));
        assert_eq!(late, p);
    }

    #[test]
    fn weekly_is_the_previous_iso_week_monday_to_monday() {
        // 2026-11-23 is a Monday.
        let expected = Period {
            start: at("2026-11-16T00:00:00Z"),
            end: at("2026-11-23T00:00:00Z"),
        };
        assert_eq!(
            ReportKind::Weekly.previous_period(at("2026-11-23T00:15:00Z")),
            expected
        );
        assert_eq!(
            ReportKind::Weekly.previous_period(at("2026-11-29T23:59:00Z")),
            expected,
            "Sunday still reports the week before"
        );
        assert_eq!(
            ReportKind::Weekly
                .previous_period(at("2026-11-22T12:00:00Z"))
                .end,
            at("2026-11-16T00:00:00Z")
        );
    }

    #[test]
    fn report_sorts_lines_and_counts() {
        let line = |sku: &str, kind, movements, units| MovementSummary {
            product_id: ProductId::parse(sku).unwrap(),
            kind,
            movements,
            units,
        };
        let p = ReportKind::Daily.previous_period(at("2026-11-22T00:05:00Z"));
        let r = Report::new(
            ReportKind::Daily,
            p,
            vec![
                line("sku-b", MovementKind::Reserve, 2, -3),
                line("sku-a", MovementKind::Return, 1, 1),
                line("sku-a", MovementKind::Reserve, 1, -2),
            ],
            at("2026-11-22T00:05:00Z"),
        );
        let order: Vec<_> = r
            .body
            .lines
            .iter()
            .map(|l| (l.product_id.as_str(), l.kind))
            .collect();
        assert_eq!(
            order,
            vec![
                ("sku-a", MovementKind::Reserve),
                ("sku-a", MovementKind::Return),
                ("sku-b", MovementKind::Reserve)
            ]
        );
        assert_eq!(r.body.total_movements, 4);
    }
}
