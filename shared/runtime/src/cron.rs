//! Schedules: a 5-field Unix cron expression in UTC, its next fire times, and its translations
//! for EventBridge Scheduler (`cron(m h dom mon dow year)`, `?`, SUN=1) and for Dapr's
//! `bindings.cron` (seconds field, explicit UTC).

use std::fmt;
use std::str::FromStr;

use conveyor_domain::Timestamp;

/// Why an expression is not a usable schedule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CronError {
    /// Not exactly five fields.
    #[error(
        "cron expression {0:?} must have exactly 5 fields (minute hour day-of-month month day-of-week)"
    )]
    FieldCount(String),
    /// A field does not parse.
    #[error("cron expression {expr:?} is invalid: {reason}")]
    Invalid {
        /// The expression.
        expr: String,
        /// The parser's message.
        reason: String,
    },
    /// EventBridge cannot restrict day-of-month and day-of-week at once.
    #[error(
        "cron expression {0:?} restricts both day-of-month and day-of-week, which EventBridge cannot express"
    )]
    BothDayFields(String),
}

/// A parsed, validated schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    expr: String,
    fields: [String; 5],
    cron: croner::Cron,
}

impl Schedule {
    /// Parses a 5-field expression.
    ///
    /// # Errors
    /// [`CronError`] naming the problem.
    pub fn parse(expr: &str) -> Result<Self, CronError> {
        let parts: Vec<&str> = expr.split_whitespace().collect();
        let fields: [String; 5] = match parts.as_slice() {
            [a, b, c, d, e] => [
                (*a).to_owned(),
                (*b).to_owned(),
                (*c).to_owned(),
                (*d).to_owned(),
                (*e).to_owned(),
            ],
            _ => return Err(CronError::FieldCount(expr.to_owned())),
        };
        let cron = croner::Cron::from_str(expr).map_err(|e| CronError::Invalid {
            expr: expr.to_owned(),
            reason: e.to_string(),
        })?;
        Ok(Self {
            expr: parts.join(" "),
            fields,
            cron,
        })
    }

    /// The expression as written (whitespace normalised).
    #[must_use]
    pub fn expr(&self) -> &str {
        &self.expr
    }

    /// The first fire time strictly after `after`.
    #[must_use]
    pub fn next_after(&self, after: Timestamp) -> Option<Timestamp> {
        self.cron
            .find_next_occurrence(&whole_second(after).as_datetime(), false)
            .ok()
            .map(Timestamp::from)
    }

    /// The last fire time at or before `at`.
    #[must_use]
    pub fn latest_at_or_before(&self, at: Timestamp) -> Option<Timestamp> {
        self.cron
            .find_previous_occurrence(&whole_second(at).as_datetime(), true)
            .ok()
            .map(Timestamp::from)
    }

    /// The next `n` fire times after `after`.
    #[must_use]
    pub fn upcoming(&self, after: Timestamp, n: usize) -> Vec<Timestamp> {
        let mut out = Vec::with_capacity(n);
        let mut t = after;
        while out.len() < n {
            match self.next_after(t) {
                Some(next) => {
                    out.push(next);
                    t = next;
                }
                None => break,
            }
        }
        out
    }

    /// The EventBridge (rules and Scheduler) form: `cron(m h dom mon dow *)`, with `?` in the
    /// unrestricted day field and days of week as names (Unix 0 = AWS SUN = 1).
    ///
    /// # Errors
    /// [`CronError::BothDayFields`] when both day fields are restricted.
    pub fn to_eventbridge(&self) -> Result<String, CronError> {
        let [minute, hour, dom, month, dow] = &self.fields;
        let (dom, dow) = match (dom.as_str(), dow.as_str()) {
            (_, "*") => (dom.clone(), "?".to_owned()),
            ("*", _) => (
                "?".to_owned(),
                translate_dow(dow).map_err(|reason| self.invalid(reason))?,
            ),
            _ => return Err(CronError::BothDayFields(self.expr.clone())),
        };
        Ok(format!("cron({minute} {hour} {dom} {month} {dow} *)"))
    }

    /// The Dapr `bindings.cron` form: seconds first and the time zone pinned to UTC (daprd
    /// otherwise uses its process's local zone).
    #[must_use]
    pub fn to_dapr(&self) -> String {
        format!("CRON_TZ=UTC 0 {}", self.expr)
    }

    fn invalid(&self, reason: String) -> CronError {
        CronError::Invalid {
            expr: self.expr.clone(),
            reason,
        }
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.expr)
    }
}

/// `t` without its milliseconds: fire times fall on whole minutes, and the cron library keeps
/// the sub-second part of its starting point.
fn whole_second(t: Timestamp) -> Timestamp {
    Timestamp::from_millis(t.millis() - t.millis().rem_euclid(1_000))
}

const DAY_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

fn day_number(text: &str) -> Result<usize, String> {
    if let Some(i) = DAY_NAMES.iter().position(|d| d.eq_ignore_ascii_case(text)) {
        return Ok(i);
    }
    match text.parse::<usize>() {
        Ok(7) => Ok(0),
        Ok(n) if n < 7 => Ok(n),
        _ => Err(format!("{text:?} is not a day of week")),
    }
}

/// Rewrites a Unix day-of-week field with names, expanding steps and ranges that wrap past
/// Saturday so that no numbering difference can leak through.
fn translate_dow(field: &str) -> Result<String, String> {
    let mut out: Vec<String> = Vec::new();
    for item in field.split(',') {
        if let Some((day, nth)) = item.split_once('#') {
            out.push(format!("{}#{nth}", DAY_NAMES[day_number(day)?]));
            continue;
        }
        if let Some(day) = item.strip_suffix('L').filter(|d| !d.is_empty()) {
            out.push(format!("{}L", DAY_NAMES[day_number(day)?]));
            continue;
        }
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => (
                r,
                Some(
                    s.parse::<usize>()
                        .map_err(|_| format!("bad step in {item:?}"))?,
                ),
            ),
            None => (item, None),
        };
        let (start, end) = match range {
            "*" => (0, 6),
            r => match r.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (
                        day_number(a)?,
                        b.parse::<usize>()
                            .ok()
                            .filter(|&n| n == 7)
                            .map_or_else(|| day_number(b), Ok)?,
                    );
                    (a, b)
                }
                None if step.is_some() => (day_number(r)?, 6),
                None => (day_number(r)?, day_number(r)?),
            },
        };
        if end < start {
            return Err(format!("range {range:?} runs backwards"));
        }
        if step.is_none() && end <= 6 && end > start {
            out.push(format!("{}-{}", DAY_NAMES[start], DAY_NAMES[end]));
            continue;
        }
        let step = step.unwrap_or(1).max(1);
        out.extend(
            (start..=end)
                .step_by(step)
                .map(|d| DAY_NAMES[d % 7].to_owned()),
        );
    }
    out.dedup();
    Ok(out.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eb(expr: &str) -> String {
        Schedule::parse(expr).unwrap().to_eventbridge().unwrap()
    }

    #[test]
    fn translates_to_eventbridge() {
        assert_eq!(eb("0 * * * *"), "cron(0 * * * ? *)");
        assert_eq!(eb("*/30 * * * *"), "cron(*/30 * * * ? *)");
        assert_eq!(eb("* * * * *"), "cron(* * * * ? *)");
        assert_eq!(eb("0 9 * * 1-5"), "cron(0 9 ? * MON-FRI *)");
        assert_eq!(eb("15 0 * * 1"), "cron(15 0 ? * MON *)");
        assert_eq!(eb("0 0 * * 0"), "cron(0 0 ? * SUN *)");
        assert_eq!(eb("0 0 * * 7"), "cron(0 0 ? * SUN *)");
        assert_eq!(eb("0 0 * * 5-7"), "cron(0 0 ? * FRI,SAT,SUN *)");
        assert_eq!(eb("0 0 * * */2"), "cron(0 0 ? * SUN,TUE,THU,SAT *)");
        assert_eq!(eb("0 0 * * sat,sun"), "cron(0 0 ? * SAT,SUN *)");
        assert_eq!(eb("0 3 1 * *"), "cron(0 3 1 * ? *)");
    }

    #[test]
    fn rejects_what_eventbridge_cannot_express_and_malformed_input() {
        assert_eq!(
            Schedule::parse("0 0 1 * 1").unwrap().to_eventbridge(),
            Err(CronError::BothDayFields("0 0 1 * 1".into()))
        );
        assert!(matches!(
            Schedule::parse("0 * * *"),
            Err(CronError::FieldCount(_))
        ));
        assert!(matches!(
            Schedule::parse("0 0 * * * *"),
            Err(CronError::FieldCount(_))
        ));
        assert!(matches!(
            Schedule::parse("61 * * * *"),
            Err(CronError::Invalid { .. })
        ));
    }

    #[test]
    fn translates_to_dapr() {
        assert_eq!(
            Schedule::parse("*/5  * * * *").unwrap().to_dapr(),
            "CRON_TZ=UTC 0 */5 * * * *"
        );
    }

    #[test]
    fn computes_fire_times_in_utc() {
        let s = Schedule::parse("*/30 * * * *").unwrap();
        let t = Timestamp::parse_rfc3339("2026-11-22T10:10:00Z").unwrap();
        let next: Vec<String> = s.upcoming(t, 3).iter().map(|t| t.to_rfc3339()).collect();
        assert_eq!(
            next,
            [
                "2026-11-22T10:30:00.000Z",
                "2026-11-22T11:00:00.000Z",
                "2026-11-22T11:30:00.000Z"
            ]
        );
        assert_eq!(
            s.latest_at_or_before(t).unwrap().to_rfc3339(),
            "2026-11-22T10:00:00.000Z"
        );
        let with_millis = Timestamp::parse_rfc3339("2026-11-22T10:10:00.528Z").unwrap();
        assert_eq!(
            s.next_after(with_millis).unwrap().to_rfc3339(),
            "2026-11-22T10:30:00.000Z"
        );
        assert_eq!(
            s.latest_at_or_before(with_millis).unwrap().to_rfc3339(),
            "2026-11-22T10:00:00.000Z"
        );
        let weekly = Schedule::parse("15 0 * * 1").unwrap();
        // 2026-11-22 is a Sunday.
        assert_eq!(
            weekly.next_after(t).unwrap().to_rfc3339(),
            "2026-11-23T00:15:00.000Z"
        );
    }
}
