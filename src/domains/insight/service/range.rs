//! Ranges of the analytics: `range: {from, to}` or a `preset`, validated (BAD_USER_INPUT with
//! the field: from before to, at most 2 years).

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

use crate::{
    domains::insight::types::{DateRangeInput, LocalDaysInput, RangePreset},
    error::{AppError, AppResult},
};

/// The longest range (2 years, one of them leap).
pub const MAX_RANGE_DAYS: i64 = 731;

/// A validated range `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// Start (inclusive).
    pub from: DateTime<Utc>,
    /// End (exclusive).
    pub to: DateTime<Utc>,
}

impl Range {
    /// The period of the same length that ends where this one starts.
    pub fn previous_from(&self) -> DateTime<Utc> {
        self.from - (self.to - self.from)
    }

    /// The preset's days up to `now`.
    pub fn preset(p: RangePreset, now: DateTime<Utc>) -> Range {
        Range {
            from: now - Duration::days(days(p)),
            to: now,
        }
    }
}

fn days(preset: RangePreset) -> i64 {
    match preset {
        RangePreset::Last7Days => 7,
        RangePreset::Last30Days => 30,
        RangePreset::Last90Days => 90,
        RangePreset::Last365Days => 365,
    }
}

/// Checks `[from, to)`: from before to, at most [`MAX_RANGE_DAYS`].
pub fn check(r: DateRangeInput, field: &str) -> AppResult<Range> {
    if r.from >= r.to {
        return Err(AppError::invalid(
            format!("{field}.to"),
            "must be after from",
        ));
    }
    if r.to - r.from > Duration::days(MAX_RANGE_DAYS) {
        return Err(AppError::invalid(
            format!("{field}.from"),
            "the range may span at most 2 years",
        ));
    }
    Ok(Range {
        from: r.from,
        to: r.to,
    })
}

/// Exactly one of `range` and `preset` (a preset ends `now`); `default` when both are absent
/// and there is one.
pub fn resolve(
    range: Option<DateRangeInput>,
    preset: Option<RangePreset>,
    default: Option<RangePreset>,
    now: DateTime<Utc>,
) -> AppResult<Range> {
    match (
        range,
        preset.or(if range.is_none() { default } else { None }),
    ) {
        (Some(r), None) => check(r, "range"),
        (None, Some(p)) => Ok(Range::preset(p, now)),
        (Some(_), Some(_)) => Err(AppError::invalid(
            "preset",
            "give either range or preset, not both",
        )),
        (None, None) => Err(AppError::invalid("range", "give a range or a preset")),
    }
}

/// The instant local midnight starts `day` in `tz` (the first instant after a gap).
fn local_midnight(tz: Tz, day: NaiveDate) -> DateTime<Utc> {
    let mut t = day.and_time(chrono::NaiveTime::MIN);
    for _ in 0..4 {
        if let Some(at) = tz.from_local_datetime(&t).earliest() {
            return at.with_timezone(&Utc);
        }
        t += Duration::minutes(30);
    }
    day.and_time(chrono::NaiveTime::MIN).and_utc()
}

/// Local days `from..=to` in `tz` as `[from's midnight, the midnight after to)`.
pub fn local_days(d: LocalDaysInput, tz: Tz, field: &str) -> AppResult<Range> {
    if d.from > d.to {
        return Err(AppError::invalid(
            format!("{field}.to"),
            "must not be before from",
        ));
    }
    if (d.to - d.from).num_days() >= MAX_RANGE_DAYS {
        return Err(AppError::invalid(
            format!("{field}.from"),
            "the range may span at most 2 years",
        ));
    }
    let after = d.to.succ_opt().unwrap_or(d.to);
    Ok(Range {
        from: local_midnight(tz, d.from),
        to: local_midnight(tz, after),
    })
}

/// Exactly one of `range`, `preset` and `days` (local days in the organization's zone `tz`).
pub fn resolve_in(
    range: Option<DateRangeInput>,
    preset: Option<RangePreset>,
    days: Option<LocalDaysInput>,
    tz: Tz,
    now: DateTime<Utc>,
) -> AppResult<Range> {
    match (days, range.is_some() || preset.is_some()) {
        (Some(d), false) => local_days(d, tz, "days"),
        (Some(_), true) => Err(AppError::invalid(
            "days",
            "give one of range, preset and days",
        )),
        (None, _) => resolve(range, preset, None, now),
    }
}

/// A period as the arguments gave it: exactly one of a range, a preset or local days.
#[derive(Debug, Clone, Copy, Default)]
pub struct Period {
    /// `range: {from, to}`.
    pub range: Option<DateRangeInput>,
    /// `preset`.
    pub preset: Option<RangePreset>,
    /// `days: {from, to}` in the organization's time zone.
    pub days: Option<LocalDaysInput>,
}

impl Period {
    /// The range, with local days read in `tz` (see [`resolve_in`]).
    pub fn resolve(self, tz: Tz, now: DateTime<Utc>) -> AppResult<Range> {
        resolve_in(self.range, self.preset, self.days, tz, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_checked() {
        let now = Utc::now();
        let ok = DateRangeInput {
            from: now - Duration::days(10),
            to: now,
        };
        assert_eq!(resolve(Some(ok), None, None, now).unwrap().from, ok.from);
        let backwards = DateRangeInput { from: now, to: now };
        assert!(resolve(Some(backwards), None, None, now).is_err());
        let long = DateRangeInput {
            from: now - Duration::days(800),
            to: now,
        };
        assert!(resolve(Some(long), None, None, now).is_err());
        assert!(resolve(None, None, None, now).is_err());
        assert!(resolve(Some(ok), Some(RangePreset::Last7Days), None, now).is_err());
        let r = resolve(None, None, Some(RangePreset::Last30Days), now).unwrap();
        assert_eq!(r.previous_from(), now - Duration::days(60));
    }

    #[test]
    fn local_days_start_at_local_midnight() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let tz: Tz = "America/New_York".parse().unwrap();
        let r = local_days(
            LocalDaysInput {
                from: d("2026-03-01"),
                to: d("2026-03-08"),
            },
            tz,
            "days",
        )
        .unwrap();
        // EST before the change (UTC-5), EDT after it on 03-08 (UTC-4).
        assert_eq!(r.from.to_rfc3339(), "2026-03-01T05:00:00+00:00");
        assert_eq!(r.to.to_rfc3339(), "2026-03-09T04:00:00+00:00");
        let backwards = LocalDaysInput {
            from: d("2026-03-02"),
            to: d("2026-03-01"),
        };
        assert!(local_days(backwards, tz, "days").is_err());
    }
}
